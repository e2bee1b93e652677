"""`report.png`: each setting's solve-window average against env steps, across its seeds.

Every run's `history.csv` is interpolated onto one env-steps grid. The line is the median across
a setting's runs, the band their minimum to maximum. Before a run's first episode ends it has no
average (it does not count there); after its last episode it keeps its last average, so a run
that stopped when it solved counts as solved until the setting's longest run ends.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from lunar_dqn.run.rundir import read_history
from lunar_dqn.sweep.runs import Run

GRID_POINTS = 200


@dataclass(frozen=True)
class Curve:
    env_steps: np.ndarray
    median: np.ndarray
    low: np.ndarray  # minimum across runs
    high: np.ndarray  # maximum across runs
    runs: int


def averages(run: Run) -> tuple[np.ndarray, np.ndarray]:
    """(env steps, solve-window average) at the end of each episode."""
    history = read_history(run.dir)
    return np.asarray(history.env_steps, dtype=float), np.asarray(history.averages, dtype=float)


def on_grid(env_steps: np.ndarray, averages: np.ndarray, grid: np.ndarray) -> np.ndarray:
    return np.interp(grid, env_steps, averages, left=np.nan, right=averages[-1])


def learning_curves(groups: dict[str, list[Run]],
                    grid_points: int = GRID_POINTS) -> dict[str, Curve]:
    """One curve per setting with at least one non-empty history.csv, in `groups` order."""
    histories = {
        setting: [h for h in (averages(r) for r in runs if r.history_path.is_file())
                  if len(h[0])]
        for setting, runs in groups.items()
    }
    histories = {setting: hs for setting, hs in histories.items() if hs}
    if not histories:
        return {}
    end = max(steps[-1] for hs in histories.values() for steps, _ in hs)
    grid = np.linspace(0.0, end, grid_points)
    curves = {}
    for setting, hs in histories.items():
        setting_end = max(steps[-1] for steps, _ in hs)
        setting_grid = np.append(grid[grid < setting_end], setting_end)
        ys = np.vstack([on_grid(steps, averages, setting_grid) for steps, averages in hs])
        with warnings.catch_warnings():  # grid points before any run's first episode: NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            curves[setting] = Curve(setting_grid, np.nanmedian(ys, axis=0),
                                    np.nanmin(ys, axis=0), np.nanmax(ys, axis=0), len(hs))
    return curves


def save_plot(curves: dict[str, Curve], path: Path) -> None:
    fig = Figure(figsize=(9, 5.5), layout="constrained")
    ax = fig.add_subplot()
    for setting, curve in curves.items():
        (line,) = ax.plot(curve.env_steps, curve.median, label=f"{setting} (n={curve.runs})")
        ax.fill_between(curve.env_steps, curve.low, curve.high, color=line.get_color(),
                        alpha=0.2, linewidth=0)
    ax.set_xlabel("env steps")
    ax.set_ylabel("average points over the solve window (100 episodes by default)")
    ax.set_title("median across seeds (line), minimum to maximum (band)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    fig.savefig(path, dpi=120)
