"""Is EnvPool's LunarLander the task Gymnasium defines? The returns of the same policies in both.

    python -m benchmarks.envpool_task [--episodes 1000] [--envs 8] [--out FILE.json]

Plays `--episodes` episodes of a uniformly random policy and of Gymnasium's own heuristic lander
(`gymnasium.envs.box2d.lunar_lander.heuristic`, the discrete version, vectorised) in Gymnasium's
environment and through `env.vectorization_mode=envpool`, and prints per policy and backend the
mean return with its 95% confidence interval, the standard deviation, the share of episodes of
200 points or more and the mean length; then the difference of the means in standard errors
(Welch) with its two-sided p-value. Different simulators cannot give the same episodes, so the
question is statistical: a p-value far below 0.05 means the tasks differ.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gymnasium.vector import VectorEnv

from benchmarks.common import (
    Column,
    Table,
    machine_info,
    machine_line,
    new_bench_dir,
    now_iso,
    write_json,
)
from lunar_dqn.backends import make_training_envs
from lunar_dqn.cli import exits_on_user_error
from lunar_dqn.config import EnvConfig
from lunar_dqn.evaluate import LANDED_POINTS

Policy = Callable[[np.ndarray, np.random.Generator], np.ndarray]

TABLE = Table([
    Column("policy", 9), Column("backend", 9), Column("episodes", 8), Column("mean", 7),
    Column("95% CI of mean", 17), Column("std", 6), Column(">= 200", 6), Column("steps", 6),
])


def random_policy(obs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return rng.integers(0, 4, len(obs))


def heuristic_policy(obs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Gymnasium's `heuristic` for the discrete lander, on a batch of observations."""
    x, y, vx, vy, angle, angular_velocity, left, right = obs.T
    angle_target = np.clip(x * 0.5 + vx * 1.0, -0.4, 0.4)
    hover_target = 0.55 * np.abs(x)
    angle_todo = (angle_target - angle) * 0.5 - angular_velocity * 1.0
    hover_todo = (hover_target - y) * 0.5 - vy * 0.5
    contact = (left != 0) | (right != 0)
    angle_todo = np.where(contact, 0.0, angle_todo)
    hover_todo = np.where(contact, -vy * 0.5, hover_todo)
    actions = np.zeros(len(obs), dtype=np.int64)
    actions[angle_todo < -0.05] = 3
    actions[angle_todo > 0.05] = 1
    actions[(hover_todo > np.abs(angle_todo)) & (hover_todo > 0.05)] = 2
    return actions


POLICIES: dict[str, Policy] = {"random": random_policy, "heuristic": heuristic_policy}


def play(envs: VectorEnv, policy: Policy, episodes: int, seed: int) -> tuple[list[float],
                                                                                list[int]]:
    """Returns and lengths of the first `episodes` episodes to end; each env keeps playing."""
    rng = np.random.default_rng(seed)
    obs, _ = envs.reset(seed=seed)
    points, steps = np.zeros(envs.num_envs), np.zeros(envs.num_envs, dtype=np.int64)
    returns: list[float] = []
    lengths: list[int] = []
    while len(returns) < episodes:
        obs, rewards, terminated, truncated, _ = envs.step(policy(obs, rng))
        points += rewards
        steps += 1
        for i in np.flatnonzero(terminated | truncated):
            returns.append(float(points[i]))
            lengths.append(int(steps[i]))
            points[i], steps[i] = 0.0, 0
    return returns[:episodes], lengths[:episodes]


def describe(returns: Sequence[float], lengths: Sequence[int]) -> dict[str, Any]:
    mean, std = statistics.fmean(returns), statistics.stdev(returns)
    half = 1.96 * std / math.sqrt(len(returns))
    return {"episodes": len(returns), "mean": mean, "ci95": [mean - half, mean + half],
            "std": std, "landed_share": float(np.mean(np.asarray(returns) >= LANDED_POINTS)),
            "mean_steps": statistics.fmean(lengths), "returns": list(returns)}


def welch(a: dict[str, Any], b: dict[str, Any]) -> tuple[float, float]:
    """Difference of the means in standard errors, and its two-sided p-value (normal
    approximation: hundreds of episodes per side)."""
    se = math.sqrt(a["std"] ** 2 / a["episodes"] + b["std"] ** 2 / b["episodes"])
    z = (b["mean"] - a["mean"]) / se
    return z, math.erfc(abs(z) / math.sqrt(2))


def format_row(policy: str, backend: str, row: dict[str, Any]) -> str:
    low, high = row["ci95"]
    return TABLE.row([policy, backend, str(row["episodes"]), f"{row['mean']:.1f}",
                      f"{low:.1f} to {high:.1f}", f"{row['std']:.1f}",
                      f"{100 * row['landed_share']:.0f}%", f"{row['mean_steps']:.0f}"])


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.envpool_task",
                                     description="Returns of the same policies in Gymnasium's "
                                                 "and EnvPool's LunarLander.")
    parser.add_argument("--episodes", type=int, default=1000, help="per policy and backend")
    parser.add_argument("--envs", type=int, default=8, help="envs played side by side")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON file (default outputs/benchmarks/<date>_<time>/"
                             "envpool_task.json)")
    args = parser.parse_args(argv)
    if args.episodes < 2 or args.envs < 1:
        parser.error("--episodes must be >= 2 and --envs >= 1")
    return args


@exits_on_user_error
def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    out = args.out or new_bench_dir() / "envpool_task.json"
    machine = machine_info(torch.device("cpu"), torch.get_num_threads())
    doc: dict[str, Any] = {"benchmark": "envpool_task", "date": now_iso(),
                           "arguments": sys.argv[1:], "machine": machine, "rows": []}
    print(f"LunarLander-v3, {args.episodes} episodes per policy and backend, {args.envs} envs, "
          f"seed {args.seed}")
    print(machine_line(machine))
    print(TABLE.header(), flush=True)
    modes = {"gymnasium": "sync", "envpool": "envpool"}
    for policy_name, policy in POLICIES.items():
        results = {}
        for backend, mode in modes.items():
            envs = make_training_envs(EnvConfig(num_envs=args.envs, vectorization_mode=mode))
            start = time.perf_counter()
            try:
                results[backend] = describe(*play(envs, policy, args.episodes, args.seed))
            finally:
                envs.close()
            results[backend]["seconds"] = time.perf_counter() - start
            print(format_row(policy_name, backend, results[backend]), flush=True)
        z, p = welch(results["gymnasium"], results["envpool"])
        print(f"{policy_name}: envpool - gymnasium = "
              f"{results['envpool']['mean'] - results['gymnasium']['mean']:+.1f} points, "
              f"{z:+.2f} standard errors, p = {p:.3f}", flush=True)
        doc["rows"].append({"policy": policy_name, **results, "z": z, "p_value": p})
        write_json(out, doc)
    print(f"wrote {out}")
    return doc


if __name__ == "__main__":
    main()
