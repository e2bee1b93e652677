"""TensorBoard scalars, hyperparameters and the closing video for one run directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from tensorboard.compat.proto.summary_pb2 import Summary
from torch.utils.tensorboard import SummaryWriter
from torch.utils.tensorboard.summary import hparams

from lunar_dqn.config import flatten
from lunar_dqn.play.gif import animated_gif

# Tags, in CleanRL's style. Episode curves are indexed by episode number, as the lab plots them.
EPISODE_POINTS = "charts/episode_points"
AVERAGE_POINTS = "charts/avg100_points"
TD_LOSS = "losses/td_loss"
Q_MEAN = "losses/q_mean"
EPSILON = "charts/epsilon"
SPS = "charts/SPS"
EVAL_POINTS = "eval/mean_points"  # the evaluations during training, against env steps
EVAL_LANDED = "eval/landed"  # their share of episodes of 200 points or more
EPISODE_TAGS = (EPISODE_POINTS, AVERAGE_POINTS)
MODEL_VIDEO_TAG = "videos/model"  # a greedy episode of the model the run hands over

# A video in TensorBoard is an animated GIF; every 2nd frame at a quarter of each side keeps a
# LunarLander episode (600x400 frames) to about 150 KB per 300 steps in the event file.
VIDEO_EVERY, VIDEO_SHRINK = 2, 4


class Logger:
    """TensorBoard writer of one run (nothing when `enabled` is false). A resumed run first drops
    what was logged after its checkpoint: `lunar_dqn.run.resume.trim_events`."""

    def __init__(self, log_dir: Path, enabled: bool = True) -> None:
        self.writer = SummaryWriter(str(log_dir)) if enabled else None

    def episode(self, episode: int, points: float, average: float) -> None:
        if self.writer:
            self.writer.add_scalar(EPISODE_POINTS, points, episode)
            self.writer.add_scalar(AVERAGE_POINTS, average, episode)

    def scalars(self, step: int, values: dict[str, float]) -> None:
        if self.writer:
            for tag, value in values.items():
                self.writer.add_scalar(tag, value, step)

    def hyperparameters(self, config: dict[str, Any], results: dict[str, float]) -> None:
        """The config as a text table, and in the HParams tab beside the run's final figures."""
        if not self.writer:
            return
        flat = flatten(config)
        rows = "\n".join(f"|{key}|{value}|" for key, value in flat.items())
        self.writer.add_text("hyperparameters", f"|param|value|\n|-|-|\n{rows}")
        # HParams accepts only scalars and strings: lists and None become their text.
        hparam_values = {
            k: v if isinstance(v, (bool, int, float, str)) else str(v) for k, v in flat.items()
        }
        metrics = {f"final/{k}": float(v) for k, v in results.items()}
        for summary in hparams(hparam_values, metrics):
            self.writer.file_writer.add_summary(summary)
        for tag, value in metrics.items():
            self.writer.add_scalar(tag, value)

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
