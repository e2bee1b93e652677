"""One setting, seed by seed: each run's figures up to its solve (the whole run when it did not
solve) with its greedy evaluation, and their median and worst case over the seeds.

An unsolved seed only bounds its figures to solve from below, and so may the median: such keys
are listed in `lower_bounds`.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from lunar_dqn.sweep.runs import Run
from lunar_dqn.sweep.stats import censored_median
from lunar_dqn.sweep.table import wall_time_to_solve

# Figures "to solve": an unsolved seed's are lower bounds, and its worst is the largest; for the
# others the worst is the smallest. (key, format)
TO_SOLVE = (("episodes", ".0f"), ("env_steps", ".0f"), ("wall_s", ".1f"))
OTHERS = (("env_steps_per_s", ".0f"), ("eval_mean", ".1f"), ("landed_pct", ".0f"))
# Seconds of the loop spent on the evaluation during training and on the polish after the solve
# (None for runs without them); the worst is the largest.
COSTS = (("eval_s", ".1f"), ("polish_s", ".1f"))


def seed_row(seed: int, run: Run) -> dict[str, Any]:
    """One seed's figures, from its run's summary.json and evaluation.json (if any)."""
    summary, solved = run.summary, run.summary["solved"]
    wall = summary["wall_time_s"]
    to_solve = wall_time_to_solve(summary) if solved else None
    evaluation = run.evaluation or dict.fromkeys(("episodes", "mean", "std", "min"))
    return {
        "seed": seed,
        "status": summary["status"],
        "solved": solved,
        "episodes": summary["solved_episode"] if solved else summary["episodes"],
        "env_steps": summary["solved_env_steps"] if solved else summary["env_steps"],
        "wall_s": wall if to_solve is None else to_solve,
        "env_steps_per_s": summary["env_steps"] / wall if wall > 0 else 0.0,
        "eval_s": summary.get("eval_time_s"),
        "polish_s": None if to_solve is None else round(wall - to_solve, 3),
        "gradient_steps": summary["gradient_steps"],
        "eval_episodes": evaluation["episodes"],
        "eval_mean": evaluation["mean"],
        "eval_std": evaluation["std"],
        "eval_min": evaluation["min"],
        "landed_pct": None if evaluation["mean"] is None else 100.0 * evaluation["landed_share"],
        "run_dir": str(run.dir),
    }


def aggregate(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Medians and worst cases over the seeds' rows."""
    solved = [r["solved"] for r in rows]
    medians: dict[str, Any] = {"solved": sum(solved), "seeds": len(rows)}
    worst: dict[str, Any] = {"solved": sum(solved), "seeds": len(rows)}
    lower_bounds = []
    for key, _ in TO_SOLVE:
        median = censored_median([r[key] for r in rows], solved)
        medians[key] = median.value
        if median.lower_bound:
            lower_bounds.append(key)
        worst[key] = max(r[key] for r in rows)
    for keys, pick in ((OTHERS, min), (COSTS, max)):  # over the seeds that have them: a diverged
        for key, _ in keys:  # run has no greedy figures, an older one no costs
            values = [r[key] for r in rows if r.get(key) is not None]
            medians[key] = statistics.median(values) if values else None
            worst[key] = pick(values, default=None)
    return {"medians": medians, "worst": worst, "lower_bounds": lower_bounds}


def summary_cells(agg: dict[str, Any], which: str) -> dict[str, str]:
    """`aggregate`'s "medians" or "worst" figures as table cells: ">=" where unsolved seeds make
    a figure a lower bound, "-" where no seed has it."""
    values = agg[which]
    unsolved = values["solved"] < values["seeds"]
    cells = {"solved": f"{values['solved']}/{values['seeds']}"}
    for key, spec in TO_SOLVE:
        bound = key in agg["lower_bounds"] if which == "medians" else unsolved
        cells[key] = (">=" if bound else "") + format(values[key], spec)
    for key, spec in (*OTHERS, *COSTS):
        cells[key] = "-" if values.get(key) is None else format(values[key], spec)
    return cells
