"""The sweep report's content: per setting, the solved share, the env steps and wall-clock to
solve (median, mean, bootstrap CI) and the greedy quality of the models the runs hand over,
ranked; as a Markdown table, a CSV file and curves."""

from __future__ import annotations

import csv
import math
import statistics
import textwrap
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lunar_dqn.sweep.curves import learning_curves, save_plot
from lunar_dqn.sweep.runs import Run, common_overrides, find_runs, group_by_setting, label
from lunar_dqn.sweep.stats import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, Spread, spread

REPORT_MD = "report.md"
REPORT_CSV = "report.csv"
REPORT_PNG = "report.png"
NORMAL_OUTCOMES = ("solved", "budget")  # summary.json's status when a run ended normally
CSV_COLUMNS = (
    "setting", "runs", "solved", "solved_share",
    "env_steps_to_solve_median", "env_steps_to_solve_mean",
    "env_steps_to_solve_ci95_low", "env_steps_to_solve_ci95_high",
    "wall_s_to_solve_median", "wall_s_to_solve_mean",
    "wall_s_to_solve_ci95_low", "wall_s_to_solve_ci95_high",
    "final_avg100_mean", "model_eval_points_median", "models_below_bar", "other_outcomes",
)
MD_HEADER = (
    "| setting | runs | solved | env steps to solve: median | mean | 95% CI of mean "
    "| wall-clock to solve (s): median | mean | 95% CI of mean | final avg100: mean "
    "| model eval points: median | models below the bar | other outcomes |\n"
    "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|"
)
NONE = "-"


@dataclass(frozen=True)
class SettingReport:
    setting: str  # all its overrides but the seed (in report.csv)
    label: str  # without the overrides common to every run (in report.md and report.png)
    runs: int
    solved: int
    env_steps: Spread | None  # env steps to solve, over solved runs only
    wall_time_s: Spread | None  # wall-clock seconds to solve, over runs that stopped solved
    final_avg100: float | None  # mean over all runs of the last solve-window average
    model_points: float | None  # median greedy mean of the handed-over models (evaluated ones)
    below_bar: int  # solved runs whose handed-over model was measured below the bar
    other_outcomes: str  # e.g. "1 diverged, 2 failed": runs that did not end normally

    @property
    def solved_share(self) -> float:
        return self.solved / self.runs

    @property
    def passed_share(self) -> float:
        """Runs that solved and hand over a model not measured below the bar (the objective's
        best class, `lunar_dqn.sweep.objective`)."""
        return (self.solved - self.below_bar) / self.runs


def wall_time_to_solve(summary: dict) -> float | None:
    """The loop's seconds until the run solved: `solved_wall_time_s`; for a run written before
    that key, its `wall_time_s` if it stopped when it solved (train.stop_when_solved)."""
    if isinstance(summary.get("solved_wall_time_s"), (int, float)):
        return summary["solved_wall_time_s"]
    stopped = summary.get("env_steps") == summary["solved_env_steps"]
    return summary["wall_time_s"] if stopped and isinstance(
        summary.get("wall_time_s"), (int, float)) else None


def summarize(runs: list[Run], common: frozenset[str] = frozenset()) -> SettingReport:
    """`runs`: the runs of one setting."""
    solved = [r.summary for r in runs if r.summary["solved"]]
    finals = [r.summary["avg100"] for r in runs if r.summary.get("avg100") is not None]
    model_points = [r.summary["model_eval_points"] for r in runs
                    if isinstance(r.summary.get("model_eval_points"), (int, float))]
    walls = [wall_time_to_solve(s) for s in solved]
    outcomes = Counter(r.summary.get("status") for r in runs
                       if r.summary.get("status") not in (None, *NORMAL_OUTCOMES))
    return SettingReport(
        setting=runs[0].setting,
        label=label(runs[0], common),
        runs=len(runs),
        solved=len(solved),
        env_steps=spread([s["solved_env_steps"] for s in solved]),
        wall_time_s=spread([w for w in walls if w is not None]),
        final_avg100=sum(finals) / len(finals) if finals else None,
        model_points=statistics.median(model_points) if model_points else None,
        below_bar=sum(s.get("model_passes") is False for s in solved),
        other_outcomes=", ".join(f"{n} {status}" for status, n in sorted(outcomes.items())),
    )


def ranked(reports: list[SettingReport]) -> list[SettingReport]:
    """Best first: the highest share of runs that solved with a model not below the bar, then
    the highest solved share, then the fewest median env steps to solve."""
    return sorted(reports, key=lambda r: (
        -r.passed_share, -r.solved_share, r.env_steps.median if r.env_steps else math.inf,
        r.setting))


def _csv_number(x: float | None) -> str:
    return "" if x is None else repr(round(x, 3))


def _spread_cells(s: Spread | None) -> list[float | None]:
    return [None] * 4 if s is None else [s.median, s.mean, s.ci_low, s.ci_high]


def write_csv(reports: list[SettingReport], path: Path) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(CSV_COLUMNS)
        for r in reports:
            numbers = [r.solved_share, *_spread_cells(r.env_steps),
                       *_spread_cells(r.wall_time_s), r.final_avg100, r.model_points]
            writer.writerow([r.setting, r.runs, r.solved, *map(_csv_number, numbers),
                             r.below_bar, r.other_outcomes])


def _md_spread(s: Spread | None, fmt: Callable[[float], str]) -> list[str]:
    if s is None:
        return [NONE] * 3
    ci = NONE if s.ci_low is None or s.ci_high is None else f"{fmt(s.ci_low)} to {fmt(s.ci_high)}"
    return [fmt(s.median), fmt(s.mean), ci]


def markdown(reports: list[SettingReport], root: Path, common: frozenset[str]) -> str:
    runs = sum(r.runs for r in reports)
    shared = f" Common to every run: `{' '.join(sorted(common))}`." if common else ""
    notes = (
        f"{runs} runs in {len(reports)} settings (a setting: the overrides without `seed`), "
        "best first: highest share of runs that solved and hand over a model not below the "
        "bar, then highest solved share, then fewest median env steps to solve."
        f"{shared} Env steps and wall-clock to solve count solved runs only (the training "
        "loop's seconds until it solved). 95% CI: percentile "
        f"bootstrap of the mean ({BOOTSTRAP_RESAMPLES:,} resamples, seed {BOOTSTRAP_SEED}), "
        "shown from two solved runs on. Final avg100: the mean over all runs of the last "
        "solve-window average. Model eval points: the median greedy mean of the models the "
        "runs hand over, as their evaluations during training measured them; models below the "
        "bar: solved runs whose model scored under train.solve_score there. Other outcomes: "
        "runs that failed, diverged or were interrupted (their summary.json status); they "
        "count as not solved."
    )
    lines = [f"# Sweep report: {root}", "", textwrap.fill(notes, width=100), "", MD_HEADER]
    for r in reports:
        cells = [
            r.label.replace("|", "\\|"),
            str(r.runs),
            f"{r.solved}/{r.runs} ({r.solved_share:.0%})",
            *_md_spread(r.env_steps, lambda x: f"{x:,.0f}"),
            *_md_spread(r.wall_time_s, lambda x: f"{x:,.1f}"),
            NONE if r.final_avg100 is None else f"{r.final_avg100:.1f}",
            NONE if r.model_points is None else f"{r.model_points:.1f}",
            str(r.below_bar),
            r.other_outcomes or NONE,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_report(root: Path) -> str:
    """Write report.md, report.csv and report.png (when any run has a history) into `root`;
    return what to print."""
    runs = find_runs(root)
    common = common_overrides(runs)
    groups = group_by_setting(runs)
    reports = ranked([summarize(setting_runs, common) for setting_runs in groups.values()])
    text = markdown(reports, root, common)
    (root / REPORT_MD).write_text(text)
    write_csv(reports, root / REPORT_CSV)
    written = [root / REPORT_MD, root / REPORT_CSV]
    curves = learning_curves({r.label: groups[r.setting] for r in reports})
    if curves:
        save_plot(curves, root / REPORT_PNG)
        written.append(root / REPORT_PNG)
    else:
        (root / REPORT_PNG).unlink(missing_ok=True)  # an older report's picture would mislead
        text += "\nno history.csv with episodes: report.png not written\n"
    return text + "\nwrote " + ", ".join(map(str, written))
