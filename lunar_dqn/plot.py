"""The training curve: each episode's points and their rolling mean, as the lab's `plot_history`.

`python -m lunar_dqn.plot run_dir=DIR [window=N first=N last=N rolling_mean_only=true
points_only=true out=FILE]` redraws it from a run's `history.csv`.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import hydra
import numpy as np
from hydra.core.config_store import ConfigStore
from matplotlib import ticker
from matplotlib.figure import Figure
from omegaconf import MISSING, DictConfig

from lunar_dqn.cli import exits_on_user_error, run_hydra_app
from lunar_dqn.errors import ConfigError
from lunar_dqn.history import HISTORY_FILE, EpisodeHistory
from lunar_dqn.rundir import check_run_dir

TRAINING_CURVE = "training_curve.png"


@dataclass
class PlotConfig:
    """Types only: the defaults and their meaning are in conf/plot.yaml."""
    run_dir: str | None = MISSING
    window: int | None = MISSING
    first: int | None = MISSING
    last: int | None = MISSING
    rolling_mean_only: bool = MISSING
    points_only: bool = MISSING
    out: str | None = MISSING


def rolling_mean(points: np.ndarray, window: int) -> np.ndarray:
    """Mean of each run of `window` consecutive values: len(points) - window + 1 values, the
    first one at index window - 1 (pandas' `rolling(window).mean()` without its leading NaNs)."""
    sums = np.cumsum(np.concatenate(([0.0], points)))
    return (sums[window:] - sums[:-window]) / window


@dataclass(frozen=True)
class Span:
    """Episodes `first..last` (1-based, inclusive) and the rolling mean's window."""
    first: int
    last: int
    window: int


def choose_span(total: int, window: int | None = None, first: int | None = None,
                last: int | None = None) -> Span:
    """Fill in the defaults (all episodes, a window of 10% of them) and check the choices."""
    if total == 0:
        raise ConfigError("the run has no finished episodes to plot")
    first = 1 if first is None else first
    last = total if last is None else last
    if not 1 <= first <= total:
        raise ConfigError(f"first={first} is invalid: must be between 1 and {total} "
                          "(the run's episodes)")
    if not first <= last <= total:
        raise ConfigError(f"last={last} is invalid: must be between first ({first}) and {total}")
    shown = last - first + 1
    window = max(1, shown // 10) if window is None else window
    if not 1 <= window <= shown:
        raise ConfigError(f"window={window} is invalid: must be between 1 and {shown} "
                          "(the episodes plotted)")
    return Span(first, last, window)


def plot_history(points: list[float], out: Path, span: Span, rolling_mean_only: bool = False,
                 points_only: bool = False) -> None:
    """Draw `span` of `points` to `out` (PNG) in the lab's colours: cyan points, magenta
    rolling mean, on black."""
    if rolling_mean_only and points_only:
        raise ConfigError("rolling_mean_only=true and points_only=true exclude each other")
    shown = np.asarray(points[span.first - 1:span.last], dtype=float)
    episodes = np.arange(span.first, span.last + 1)
    fig = Figure(figsize=(10, 7), facecolor="white")
    ax = fig.add_subplot()
    if not rolling_mean_only:
        ax.plot(episodes, shown, linewidth=1, color="cyan", label="points")
    if not points_only:
        ax.plot(episodes[span.window - 1:], rolling_mean(shown, span.window), linewidth=2,
                color="magenta", label=f"rolling mean ({span.window} episodes)")
    ax.set_facecolor("black")
    ax.grid()
    ax.set_xlabel("episode", color="black", fontsize=30)
    ax.set_ylabel("total points", color="black", fontsize=30)
    ax.yaxis.set_major_formatter(ticker.StrMethodFormatter("{x:,.0f}"))
    ax.legend(loc="lower right", facecolor="black", labelcolor="white")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png")


def write_training_curve(points: list[float], run_dir: Path) -> Path | None:
    """The end-of-training plot with the defaults; None when no episode finished."""
    if not points:
        return None
    out = run_dir / TRAINING_CURVE
    plot_history(points, out, choose_span(len(points)))
    return out


def read_points(run_dir: Path) -> list[float]:
    check_run_dir(run_dir)
    path = run_dir / HISTORY_FILE
    if not path.is_file():
        raise ConfigError(f"run_dir={run_dir} has no {HISTORY_FILE}: is it a training run?")
    try:
        return EpisodeHistory.read_csv(path, window=1).points
    except (KeyError, ValueError, TypeError, csv.Error) as err:
        raise ConfigError(f"{path} is not a readable episode history ({type(err).__name__}: "
                          f"{err})") from None


ConfigStore.instance().store(name="base_plot", node=PlotConfig)


@hydra.main(version_base="1.3", config_path="conf", config_name="plot")
@exits_on_user_error
def main(cfg: DictConfig) -> None:
    if cfg.run_dir is None:
        raise ConfigError("run_dir is missing: python -m lunar_dqn.plot run_dir=DIR")
    run_dir = Path(cfg.run_dir)
    points = read_points(run_dir)
    span = choose_span(len(points), cfg.window, cfg.first, cfg.last)
    out = Path(cfg.out) if cfg.out is not None else run_dir / TRAINING_CURVE
    plot_history(points, out, span, cfg.rolling_mean_only, cfg.points_only)
    print(f"wrote {out}: episodes {span.first}-{span.last}, "
          f"rolling mean over {span.window} episodes")


if __name__ == "__main__":
    run_hydra_app(main)
