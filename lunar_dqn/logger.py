"""TensorBoard scalars and hyperparameters for one run directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch.utils.tensorboard import SummaryWriter
from torch.utils.tensorboard.summary import hparams

# Tags, in CleanRL's style. Episode curves are indexed by episode number, as the lab plots them.
EPISODE_POINTS = "charts/episode_points"
AVERAGE_POINTS = "charts/avg100_points"
TD_LOSS = "losses/td_loss"
Q_MEAN = "losses/q_mean"
EPSILON = "charts/epsilon"
SPS = "charts/SPS"


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


class Logger:
    def __init__(self, log_dir: Path, enabled: bool = True, purge_step: int | None = None) -> None:
        self.writer = SummaryWriter(str(log_dir), purge_step=purge_step) if enabled else None

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

    def close(self) -> None:
        if self.writer:
            self.writer.close()
