"""The number a hyperparameter search minimises for one run, from its summary.json.

Env steps to solve, plus a penalty where the model the run hands over was measured below the bar
(`model_passes` false: its greedy evaluation during training scored under `train.solve_score`),
so a setting that solves fast and then hands over a lander that crashes does not win:

- solved, and the handed-over model reached the bar (or was not evaluated): env steps to solve;
- solved, but the handed-over model missed the bar: env steps to solve + `max_env_steps`;
- not solved, failed or diverged: 2 x `max_env_steps`.

Since env steps to solve never exceed the budget, every run of the first kind ranks ahead of
every run of the second, and those ahead of the third.
"""

from __future__ import annotations

from typing import Any


def unsolved_penalty(max_env_steps: int) -> float:
    """What a run that did not solve (or failed, or diverged) scores."""
    return 2.0 * max(max_env_steps, 1)


def objective(summary: dict[str, Any], max_env_steps: int) -> float:
    """See the module."""
    if not summary.get("solved") or summary.get("solved_env_steps") is None:
        return unsolved_penalty(max_env_steps)
    missed = summary.get("model_passes") is False
    return float(summary["solved_env_steps"]) + (max(max_env_steps, 1) if missed else 0.0)
