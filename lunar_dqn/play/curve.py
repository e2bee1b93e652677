"""The training curve: each episode's points and their rolling mean, as the lab's `plot_history`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib import ticker
from matplotlib.figure import Figure

from lunar_dqn.errors import ConfigError


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


def write_training_curve(points: list[float], out: Path) -> bool:
    """The end-of-training plot with the defaults; nothing (False) when no episode finished."""
    if not points:
        return False
    plot_history(points, out, choose_span(len(points)))
    return True
