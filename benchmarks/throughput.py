"""Throughput: env steps/s and gradient steps/s of the real training loop (`Trainer`), beside the
raw vector env's own steps/s with random actions (the loop's ceiling), for each number of envs
and vectorization mode.

    python -m benchmarks.throughput [--envs 1 4 8 16] [--modes sync async] [--steps 10000] \\
        [--repeats 3] [--out FILE.json] [-- HYDRA_OVERRIDES...]

Runs at the lab's settings (`experiment=seed_notebook`: 64-64 network, batch 64, one gradient
step per 4 transitions) with learning on and solving switched off. Each measurement is a window
of `--steps` env steps taken after a warm-up (the buffer past a mini-batch, first calls done):
the trainer's counters and loop clock are read before and after the window, so set-up and the
warm-up stay out of the figures. The table shows the median of `--repeats` windows.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gymnasium.vector import VectorEnv
from omegaconf import OmegaConf

from benchmarks.common import (
    Column,
    Table,
    compose_checked,
    machine_info,
    machine_line,
    new_bench_dir,
    now_iso,
    write_json,
)
from lunar_dqn.cli import exits_on_user_error
from lunar_dqn.config import EnvConfig
from lunar_dqn.envs import make_vec_env
from lunar_dqn.trainer import Trainer, resolve_device

LAB = "experiment=seed_notebook"
# Solving switched off; no progress bar and no final video after each window.
NEVER_SOLVE = ("train.solve_score=1e9", "train.max_episodes=1000000000",
               "logger.progress_bar=false", "logger.video=false")

TABLE = Table([
    Column("envs", 4), Column("mode", 5), Column("env steps/s", 11), Column("grad steps/s", 12),
    Column("raw env steps/s", 15), Column("loop/raw", 8),
])


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.throughput",
        description="Env and gradient steps/s of the training loop, beside the raw env's.")
    parser.add_argument("--envs", type=int, nargs="+", default=[1, 4, 8, 16],
                        help="numbers of envs (default 1 4 8 16)")
    parser.add_argument("--modes", nargs="+", choices=["sync", "async"],
                        default=["sync", "async"], help="vectorization modes (default both)")
    parser.add_argument("--steps", type=int, default=10_000,
                        help="env steps per measured window (default 10000)")
    parser.add_argument("--warmup", type=int, default=2_000,
                        help="env steps before the first window (default 2000)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="measured windows per row; the table shows their median (default 3)")
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON file (default outputs/benchmarks/<date>_<time>/throughput.json)")
    parser.add_argument("overrides", nargs="*",
                        help=f"Hydra overrides after --, applied after {LAB}")
    args = parser.parse_args(argv)
    if min(args.envs) < 1 or args.steps < 1 or args.repeats < 1 or args.warmup < 0:
        parser.error("--envs, --steps and --repeats must be >= 1, --warmup >= 0")
    return args


def random_actions(rng: np.random.Generator, envs: VectorEnv, env_steps: int) -> np.ndarray:
    """Random actions for at least `env_steps` env steps: one row per vector step."""
    return rng.integers(0, envs.single_action_space.n, (-(-env_steps // envs.num_envs),
                                                         envs.num_envs))


def raw_env_rates(env_cfg: EnvConfig, steps: int, warmup: int, repeats: int,
                  seed: int) -> list[float]:
    """Env steps/s of the vector env alone, stepping with pre-drawn random actions."""
    envs = make_vec_env(env_cfg)
    try:
        rng = np.random.default_rng(seed)
        envs.reset(seed=seed)
        for actions in random_actions(rng, envs, warmup):
            envs.step(actions)
        rates = []
        for _ in range(repeats):
            window = random_actions(rng, envs, steps)
            start = time.perf_counter()
            for actions in window:
                envs.step(actions)
            rates.append(window.size / (time.perf_counter() - start))
        return rates
    finally:
        envs.close()


def run_window(trainer: Trainer, env_steps: int,
               run: Callable[[], Any] | None = None) -> tuple[int, int, float]:
    """Let `trainer` run `env_steps` further (through `run`, default `trainer.run`): one more
    `run()` with the budget moved on. Returns the env steps, gradient steps and loop seconds it
    took; `Trainer.wall_time` clocks only the loop, not the env reset and file writes around it.
    """
    before = trainer.env_steps, trainer.gradient_steps, trainer.wall_time
    trainer.cfg.train.max_env_steps = trainer.env_steps + env_steps
    (run or trainer.run)()
    if trainer.env_steps - before[0] < env_steps:
        raise RuntimeError(f"the trainer stopped {trainer.env_steps - before[0]} env steps into a "
                           f"window of {env_steps}: it no longer runs to cfg.train.max_env_steps")
    return (trainer.env_steps - before[0], trainer.gradient_steps - before[1],
            trainer.wall_time - before[2])


def warm_up(trainer: Trainer, env_steps: int) -> None:
    """Run past the point where learning starts (a buffer of more than a mini-batch)."""
    run_window(trainer, max(env_steps, trainer.cfg.agent.batch_size + 1))


def training_rates(cfg: Any, run_dir: Path, steps: int, warmup: int,
                   repeats: int) -> list[tuple[float, float]]:
    """(env steps/s, gradient steps/s) of `Trainer.run` over `repeats` windows of `steps`."""
    trainer = Trainer(cfg, run_dir)
    try:
        warm_up(trainer, warmup)
        rates = []
        for _ in range(repeats):
            env_steps, gradient_steps, seconds = run_window(trainer, steps)
            rates.append((env_steps / seconds, gradient_steps / seconds))
        return rates
    finally:
        trainer.close()


def measure(overrides: Sequence[str], num_envs: int, mode: str, args: argparse.Namespace,
            ) -> dict[str, Any]:
    cfg = compose_checked(LAB, *overrides, f"env.num_envs={num_envs}",
                          f"env.vectorization_mode={mode}", *NEVER_SOLVE)
    raw = raw_env_rates(cfg.env, args.steps, args.warmup, args.repeats, cfg.seed)
    with tempfile.TemporaryDirectory(prefix="throughput-") as run_dir:
        loop = training_rates(cfg, Path(run_dir), args.steps, args.warmup, args.repeats)
    env_rate = statistics.median(r[0] for r in loop)
    raw_rate = statistics.median(raw)
    return {
        "num_envs": num_envs, "mode": mode,
        "env_steps_per_s": env_rate,
        "gradient_steps_per_s": statistics.median(r[1] for r in loop),
        "raw_env_steps_per_s": raw_rate,
        "loop_over_raw": env_rate / raw_rate,
        "samples": {"env_steps_per_s": [r[0] for r in loop],
                    "gradient_steps_per_s": [r[1] for r in loop],
                    "raw_env_steps_per_s": raw},
    }


def format_row(row: dict[str, Any]) -> str:
    return TABLE.row([
        str(row["num_envs"]), row["mode"], f"{row['env_steps_per_s']:.0f}",
        f"{row['gradient_steps_per_s']:.0f}", f"{row['raw_env_steps_per_s']:.0f}",
        f"{100 * row['loop_over_raw']:.0f}%",
    ])


@exits_on_user_error
def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    cfg = compose_checked(LAB, *args.overrides, *NEVER_SOLVE)
    torch.set_num_threads(cfg.torch_threads)
    out = args.out or new_bench_dir() / "throughput.json"
    machine = machine_info(resolve_device(cfg.device), cfg.torch_threads)
    doc: dict[str, Any] = {
        "benchmark": "throughput", "date": now_iso(), "arguments": sys.argv[1:],
        "overrides": [LAB, *args.overrides], "steps_per_window": args.steps,
        "warmup_steps": args.warmup, "repeats": args.repeats, "machine": machine,
        "config": OmegaConf.to_container(cfg, resolve=True), "rows": [],
    }
    print(f"throughput at {' '.join(doc['overrides'])}: median of {args.repeats} windows of "
          f"{args.steps} env steps after {args.warmup}")
    print(machine_line(machine))
    print(TABLE.header(), flush=True)
    for num_envs in args.envs:
        for mode in args.modes:
            row = measure(args.overrides, num_envs, mode, args)
            doc["rows"].append(row)
            write_json(out, doc)
            print(format_row(row), flush=True)
    print(f"wrote {out}")
    return doc


if __name__ == "__main__":
    main()
