"""TensorBoard scalars, hyperparameters and videos for one run directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from tensorboard.compat.proto.summary_pb2 import Summary
from torch.utils.tensorboard import SummaryWriter
from torch.utils.tensorboard.summary import hparams

from lunar_dqn.config import flatten
from lunar_dqn.play.gif import animated_gif

# Tags. Each group keeps one x-axis. Against env steps, in CleanRL's names, so the curves overlay
# with CleanRL's and SB3's:
EPISODIC_RETURN = "charts/episodic_return"  # each episode's points, at the env step it ended
AVERAGE_RETURN = "charts/avg100_return"  # the solved rule's window average, at the same step
EPSILON = "charts/epsilon"
SPS = "charts/SPS"
TD_LOSS = "losses/td_loss"
Q_MEAN = "losses/q_mean"
# Against the episode number, as the lab plots them:
EPISODE_POINTS = "episodes/points"
AVERAGE_POINTS = "episodes/avg100_points"
# the episode-numbered tags of runs written before they moved to their own group
EPISODE_TAGS = (EPISODE_POINTS, AVERAGE_POINTS, "charts/episode_points", "charts/avg100_points")
EVAL_POINTS = "eval/mean_points"  # the evaluations during training, against env steps
EVAL_LANDED = "eval/landed"  # their share of episodes of 200 points or more
FINAL_PREFIX = "final/"  # the run's closing figures (HParams metrics), written at its end
# Images: the closing episodes (step K: episode K) and the greedy episodes filmed during
# training (logger.gif_every_steps; step: the env step).
CLOSING_VIDEO_TAG = "videos/closing_episodes"
GREEDY_EPISODE_TAG = "videos/greedy_episode"

# A video in TensorBoard is an animated GIF; every 2nd frame at a quarter of each side keeps a
# LunarLander episode (600x400 frames) to about 150 KB per 300 steps in the event file.
VIDEO_EVERY, VIDEO_SHRINK = 2, 4


class Logger:
    """TensorBoard writer of one run (nothing when `enabled` is false). A resumed run first drops
    what was logged after its checkpoint: `lunar_dqn.run.resume.trim_events`."""

    def __init__(self, log_dir: Path, enabled: bool = True) -> None:
        self.writer = SummaryWriter(str(log_dir)) if enabled else None

    def episode(self, episode: int, points: float, average: float, env_steps: int) -> None:
        if self.writer:
            self.writer.add_scalar(EPISODE_POINTS, points, episode)
            self.writer.add_scalar(AVERAGE_POINTS, average, episode)
            self.writer.add_scalar(EPISODIC_RETURN, points, env_steps)
            self.writer.add_scalar(AVERAGE_RETURN, average, env_steps)

    def scalars(self, step: int, values: dict[str, float]) -> None:
        if self.writer:
            for tag, value in values.items():
                self.writer.add_scalar(tag, value, step)

    def hyperparameters(self, config: dict[str, Any], figures: tuple[str, ...]) -> None:
        """The config as a text table, and its entry in the HParams tab, written when the run
        (re)starts, so interrupted, failed and diverged runs are there too; `figures` name the
        metrics beside it, whose values `final_figures` adds at the end."""
        if not self.writer:
            return
        flat = flatten(config)
        rows = "\n".join(f"|{key}|{value}|" for key, value in flat.items())
        self.writer.add_text("hyperparameters", f"|param|value|\n|-|-|\n{rows}")
        # HParams accepts only scalars and strings: lists and None become their text.
        hparam_values = {
            k: v if isinstance(v, (bool, int, float, str)) else str(v) for k, v in flat.items()
        }
        experiment, session_start, _ = hparams(
            hparam_values, {f"{FINAL_PREFIX}{name}": 0.0 for name in figures})
        for summary in (experiment, session_start):
            self.writer.file_writer.add_summary(summary)
        self.writer.flush()

    def final_figures(self, figures: dict[str, float]) -> None:
        """The run's closing figures: the HParams tab's metrics."""
        for name, value in figures.items():
            self.scalars(0, {f"{FINAL_PREFIX}{name}": value})

    def video(self, tag: str, frames: list[np.ndarray], fps: float, step: int = 0) -> None:
        """An episode's frames as an animated GIF in the Images tab. (`SummaryWriter.add_video`
        needs `moviepy.editor`, which moviepy 2 removed: it writes nothing.)"""
        if not self.writer or not frames:
            return
        height, width, channels = frames[0].shape
        gif = animated_gif(frames, fps, VIDEO_EVERY, VIDEO_SHRINK)
        image = Summary.Image(height=height // VIDEO_SHRINK, width=width // VIDEO_SHRINK,
                              colorspace=channels, encoded_image_string=gif)
        self.writer.file_writer.add_summary(Summary(value=[Summary.Value(tag=tag, image=image)]),
                                            step)

    def close(self) -> None:
        if self.writer:
            self.writer.close()
