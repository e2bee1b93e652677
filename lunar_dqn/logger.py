"""TensorBoard scalars and hyperparameters for one run directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from tensorboard.backend.event_processing.event_file_loader import RawEventFileLoader
from tensorboard.compat.proto.event_pb2 import Event
from tensorboard.compat.proto.summary_pb2 import Summary
from torch.utils.tensorboard import SummaryWriter
from torch.utils.tensorboard.summary import hparams

from lunar_dqn.video import animated_gif

# Tags, in CleanRL's style. Episode curves are indexed by episode number, as the lab plots them.
EPISODE_POINTS = "charts/episode_points"
AVERAGE_POINTS = "charts/avg100_points"
TD_LOSS = "losses/td_loss"
Q_MEAN = "losses/q_mean"
EPSILON = "charts/epsilon"
SPS = "charts/SPS"
EPISODE_TAGS = (EPISODE_POINTS, AVERAGE_POINTS)
FINAL_VIDEO = "videos/final_model"

# A video in TensorBoard is an animated GIF; every 2nd frame at a quarter of each side keeps a
# LunarLander episode (600x400 frames) to about 150 KB per 300 steps in the event file.
VIDEO_EVERY, VIDEO_SHRINK = 2, 4


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """`{"agent": {"tau": 0.001}}` -> `{"agent.tau": 0.001}`."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def _logged_before(event: Event, episodes: int, env_steps: int) -> bool:
    """Whether a scalar event belongs to the run up to (`episodes`, `env_steps`). Text,
    hparams and final figures are written at the end of a run, so they never do."""
    values = event.summary.value
    if len(values) != 1 or not values[0].HasField("simple_value"):
        return False
    tag = values[0].tag
    if tag.startswith("final/"):
        return False
    return event.step <= (episodes if tag in EPISODE_TAGS else env_steps)


class Logger:
    """TensorBoard writer of one run. With `resume_at=(episodes, env_steps)`, the run's
    earlier event files are rewritten without what was logged after that point, so a resumed
    run shows each episode once. (TensorBoard's purge_step cannot: it takes one step for all
    tags, and episode tags count episodes while the others count env steps.)"""

    def __init__(self, log_dir: Path, enabled: bool = True,
                 resume_at: tuple[int, int] | None = None) -> None:
        earlier = sorted(log_dir.glob("events.out.tfevents.*"))
        self.writer = SummaryWriter(str(log_dir)) if enabled else None
        if self.writer and resume_at is not None:
            self._keep_events_until(earlier, *resume_at)

    def _keep_events_until(self, earlier: list[Path], episodes: int, env_steps: int) -> None:
        assert self.writer is not None
        for path in earlier:
            for record in RawEventFileLoader(str(path)).Load():
                event = Event.FromString(record)
                if _logged_before(event, episodes, env_steps):
                    self.writer.file_writer.add_event(event)
        self.writer.flush()
        for path in earlier:
            path.unlink()

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
