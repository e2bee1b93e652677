"""Throughput: env steps/s and gradient steps/s of the real training loop (`Trainer`), beside the
raw vector env's own steps/s with random actions (the loop's ceiling), for each number of envs
and vectorization mode.

    python -m benchmarks.throughput [--envs 1 4 8 16] [--modes sync worker async envpool] \\
        [--steps 10000] [--repeats 3] [--interleave] [--out FILE.json] [-- HYDRA_OVERRIDES...]

At the lab's settings (64-64 network, batch 64, one gradient step per 4 transitions), learning
on, solving off: after a warm-up, windows of `--steps` env steps (`Trainer.train(env_steps=N)`),
timed by the trainer's own counters and loop clock; the table shows the median of `--repeats`.
With `--interleave`, the modes' trainers (same seeds) are built side by side and take their
windows in turn, so that a change in the machine's load falls on every mode alike.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks.harness import (
    LAB,
    NEVER_SOLVE,
    Table,
    compose_checked,
    machine_line,
    new_bench_dir,
    new_result,
    warm_up,
    window,
    write_json,
)
from lunar_dqn.cli import exits_on_user_error
from lunar_dqn.config import VECTORIZATION_MODES, EnvConfig
from lunar_dqn.run.backends import make_training_envs
from lunar_dqn.run.trainer import Trainer

TABLE = Table([("envs", 4), ("mode", 7), ("env steps/s", 11), ("grad steps/s", 12),
               ("raw env steps/s", 15), ("loop/raw", 8)])


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.throughput",
        description="Env and gradient steps/s of the training loop, beside the raw env's.")
    parser.add_argument("--envs", type=int, nargs="+", default=[1, 4, 8, 16],
                        help="numbers of envs (default 1 4 8 16)")
    parser.add_argument("--modes", nargs="+", choices=VECTORIZATION_MODES,
                        default=["sync", "async"], help="vectorization modes (default sync async)")
    parser.add_argument("--interleave", action="store_true",
                        help="the modes' windows in turn, not one mode after the other")
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


def raw_env_rates(env_cfg: EnvConfig, steps: int, warmup: int, repeats: int,
                  seed: int) -> list[float]:
    """Env steps/s of the training envs alone, stepping with pre-drawn random actions."""
    envs = make_training_envs(env_cfg)
    rng = np.random.default_rng(seed)
    rates = []
    try:
        envs.reset(seed=seed)
        for k in range(repeats + 1):  # the first: the warm-up
            shape = (-(-(steps if k else warmup) // envs.num_envs), envs.num_envs)
            actions = rng.integers(0, envs.single_action_space.n, shape)
            start = time.perf_counter()
            for row in actions:
                envs.step(row)
            rates.append(actions.size / (time.perf_counter() - start))
        return rates[1:]
    finally:
        envs.close()


def training_rates(cfgs: Sequence[Any], steps: int, warmup: int, repeats: int,
                   interleave: bool) -> list[list[tuple[float, float]]]:
    """Per config, (env steps/s, gradient steps/s) of the training loop over `repeats` windows
    of `steps`: one config after the other, or all built at once and taking windows in turn."""
    rates: list[list[tuple[float, float]]] = [[] for _ in cfgs]
    groups = [list(range(len(cfgs)))] if interleave else [[i] for i in range(len(cfgs))]
    for group in groups:
        with contextlib.ExitStack() as stack:
            trainers = {}
            for i in group:
                run_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="throughput-"))
                trainers[i] = Trainer(cfgs[i], Path(run_dir))
                stack.callback(trainers[i].close)
                warm_up(trainers[i], warmup)
            for _ in range(repeats):
                for i, trainer in trainers.items():
                    env_steps, gradient_steps, seconds = window(trainer, steps)
                    rates[i].append((env_steps / seconds, gradient_steps / seconds))
    return rates


def measure(overrides: Sequence[str], num_envs: int, modes: Sequence[str],
            args: argparse.Namespace) -> list[dict[str, Any]]:
    cfgs = [compose_checked(LAB, *overrides, f"env.num_envs={num_envs}",
                            f"env.vectorization_mode={mode}", *NEVER_SOLVE) for mode in modes]
    raws = [raw_env_rates(cfg.env, args.steps, args.warmup, args.repeats, cfg.seed)
            for cfg in cfgs]
    loops = training_rates(cfgs, args.steps, args.warmup, args.repeats, args.interleave)
    return [row(num_envs, mode, loop, raw) for mode, loop, raw in zip(modes, loops, raws,
                                                                      strict=True)]


def row(num_envs: int, mode: str, loop: list[tuple[float, float]], raw: list[float],
        ) -> dict[str, Any]:
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
    doc = new_result("throughput", cfg, overrides=[LAB, *args.overrides],
                     steps_per_window=args.steps, warmup_steps=args.warmup, repeats=args.repeats,
                     interleave=args.interleave)
    print(f"throughput at {' '.join(doc['overrides'])}: median of {args.repeats} windows of "
          f"{args.steps} env steps after {args.warmup}")
    print(machine_line(doc["machine"]))
    print(TABLE.header(), flush=True)
    for num_envs in args.envs:
        for result in measure(args.overrides, num_envs, args.modes, args):
            doc["rows"].append(result)
            write_json(out, doc)
            print(format_row(result), flush=True)
    print(f"wrote {out}")
    return doc


if __name__ == "__main__":
    main()
