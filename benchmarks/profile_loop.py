"""Where the training loop's time goes: cProfile over a window of the real loop (`Trainer.train`) at
the lab's settings, in microseconds per env step and per gradient step.

    python -m benchmarks.profile_loop [--envs 8] [--mode sync] [--steps 20000] [--save F.prof] \\
        [-- HYDRA_OVERRIDES...]

After a warm-up, one window runs unprofiled (the true rate) and one under cProfile. For the loop
and each project function with a noticeable share, a table splits its time into its own lines
("self") and its direct calls. cProfile's cost per Python call makes Python-heavy parts look
dearer: the ratio of the two rates says by how much.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import re
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import torch

import lunar_dqn
from benchmarks.harness import (
    LAB,
    NEVER_SOLVE,
    Table,
    compose_checked,
    machine_info,
    machine_line,
    warm_up,
    window,
)
from lunar_dqn.cli import exits_on_user_error
from lunar_dqn.run.device import resolve_device
from lunar_dqn.run.trainer import Trainer

Key = tuple[str, int, str]  # pstats: (file, line, function)
PROJECT = str(Path(lunar_dqn.__file__).resolve().parent)  # the lunar_dqn actually imported
EXPAND_SHARE = 0.03  # project functions above this share of the loop get their own table
# Decorators and dispatch layers: a row names what they call, e.g. `decorate_context -> act`.
WRAPPERS = {"decorate_context", "wrapper", "inner", "_use_grad", "_wrapped_call_impl",
            "_call_impl", "maybe_fallback", "_fn"}
NAME_WIDTH = 64
TABLE = Table([("function", NAME_WIDTH), ("calls/env step", 14),
               ("us/env step", 11), ("us/grad step", 12), ("% of loop", 9)])


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile_loop",
                                     description="cProfile breakdown of the training loop.")
    parser.add_argument("--envs", type=int, default=8, help="number of envs (default 8)")
    parser.add_argument("--mode", choices=["sync", "async"], default="sync")
    parser.add_argument("--steps", type=int, default=20_000,
                        help="env steps per window (default 20000)")
    parser.add_argument("--warmup", type=int, default=2_000)
    parser.add_argument("--top", type=int, default=15,
                        help="also list this many functions by self time (default 15)")
    parser.add_argument("--save", type=Path, default=None,
                        help="write the raw profile here (for pstats or snakeviz)")
    parser.add_argument("overrides", nargs="*",
                        help=f"Hydra overrides after --, applied after {LAB}")
    return parser.parse_args(argv)


def label(key: Key) -> str:
    """`lunar_dqn/agent.py:learn`, `torch/optim/adam.py:step`, `threading.py:wait`, or a
    built-in's own name."""
    file, _, function = key
    if file == "~":
        return function
    file = re.sub(r"^.*/(site-packages|lib/python3\.\d+)/", "", file)
    return f"{file.replace(str(Path(PROJECT).parent) + '/', '')}:{function}"


def callees(stats: dict, parent: Key) -> list[tuple[Key, float, int]]:
    """Each direct call of `parent`: (function, seconds inside it from `parent`, calls)."""
    found = []
    for key, (_, _, _, _, callers) in stats.items():
        if parent in callers:
            _, n, _, cumulative = callers[parent]
            found.append((key, cumulative, n))
    return found


def describe(stats: dict, key: Key) -> str:
    """The label, and through wrappers the functions they end up in (those taking a tenth of
    the wrapper's time or more). cProfile merges every use of a shared wrapper (one
    `decorate_context` for all `@torch.no_grad` functions), so where it leads to several, all
    are named: `decorate_context -> act|targets`."""
    inner = [key]
    for _ in range(4):
        if len(inner) != 1 or inner[0][2] not in WRAPPERS:
            break
        calls = callees(stats, inner[0])
        total = sum(seconds for _, seconds, _ in calls)
        inner = [k for k, seconds, _ in calls if seconds >= 0.1 * total]
    names = sorted({k[2] for k in inner})
    return label(key) if inner == [key] or not names else f"{label(key)} -> {'|'.join(names)}"


def breakdown(stats: dict, parent: Key) -> list[tuple[str, float, int]]:
    """`parent`'s cumulative time split into its self time and each direct call's time:
    [(label, seconds, calls)], largest first."""
    _, calls, self_time, _, _ = stats[parent]
    parts = [("(self)", self_time, calls)]
    parts += [(describe(stats, key), seconds, n) for key, seconds, n in callees(stats, parent)]
    return sorted(parts, key=lambda p: -p[1])


def package(key: Key) -> str:
    """The library a function's own time is spent in; built-ins by their owner's name."""
    file, _, function = key
    if file == "~":
        return next((owner for owner in ("torch", "Box2D", "numpy") if owner in function),
                    "python built-ins")
    if file.startswith("<frozen") or ("/lib/python3." in file and "site-packages" not in file):
        return "python stdlib"
    return label(key).split("/", 1)[0]


def format_parts(title: str, parts: list[tuple[str, float, int | None]], env_steps: int,
                 gradient_steps: int, loop_seconds: float, min_share: float = 0.002) -> str:
    lines = [title, TABLE.header()]
    rest = 0.0
    for name, seconds, calls in parts:
        if seconds < min_share * loop_seconds:
            rest += seconds
            continue
        lines.append(TABLE.row([
            name[-NAME_WIDTH:], "" if calls is None else f"{calls / env_steps:.3f}",
            f"{1e6 * seconds / env_steps:.1f}",
            f"{1e6 * seconds / max(gradient_steps, 1):.1f}", f"{100 * seconds / loop_seconds:.1f}",
        ]))
    if rest:
        lines.append(TABLE.row(["(smaller calls)", "", f"{1e6 * rest / env_steps:.1f}",
                                f"{1e6 * rest / max(gradient_steps, 1):.1f}",
                                f"{100 * rest / loop_seconds:.1f}"]))
    return "\n".join(lines)


@exits_on_user_error
def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    cfg = compose_checked(LAB, *args.overrides, f"env.num_envs={args.envs}",
                          f"env.vectorization_mode={args.mode}", *NEVER_SOLVE)
    torch.set_num_threads(cfg.torch_threads)
    profiler = cProfile.Profile()
    with tempfile.TemporaryDirectory(prefix="profile-") as run_dir:
        trainer = Trainer(cfg, Path(run_dir))
        try:
            warm_up(trainer, args.warmup)
            plain = window(trainer, args.steps)
            env_steps, gradient_steps, profiled_seconds = profiler.runcall(
                window, trainer, args.steps)
        finally:
            trainer.close()
    if args.save:
        profiler.dump_stats(args.save)
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    code = Trainer.train.__code__
    loop = (code.co_filename, code.co_firstlineno, code.co_name)
    loop_seconds = stats[loop][3]
    print(f"profile of the training loop at {' '.join([LAB, *args.overrides])} "
          f"env.num_envs={args.envs} env.vectorization_mode={args.mode}")
    print(machine_line(machine_info(resolve_device(cfg.device), cfg.torch_threads)))
    plain_rate, profiled_rate = plain[0] / plain[2], env_steps / profiled_seconds
    print(f"window of {env_steps} env steps, {gradient_steps} gradient steps; unprofiled "
          f"{plain_rate:.0f} env steps/s, profiled {profiled_rate:.0f} (cProfile makes the loop "
          f"{plain_rate / profiled_rate:.2f}x slower)")
    project = sorted((k for k in stats if k[0].startswith(PROJECT) and k != loop
                      and stats[k][3] >= EXPAND_SHARE * loop_seconds),
                     key=lambda k: -stats[k][3])
    for key in [loop, *project]:
        print()
        print(format_parts(f"{label(key)}: {1e6 * stats[key][3] / env_steps:.1f} us/env step",
                           breakdown(stats, key), env_steps, gradient_steps, loop_seconds))
    self_by_package: dict[str, float] = {}
    for key, (_, _, self_time, _, _) in stats.items():
        self_by_package[package(key)] = self_by_package.get(package(key), 0.0) + self_time
    print()
    print(format_parts("self time by library (cProfile's own cost lands on the callers)",
                       sorted(((name, t, None) for name, t in self_by_package.items()),
                              key=lambda p: -p[1]), env_steps, gradient_steps, loop_seconds))
    print(f"\ntop {args.top} by self time")
    by_self = sorted(stats, key=lambda k: -stats[k][2])[:args.top]
    print(format_parts("", [(label(k), stats[k][2], stats[k][1]) for k in by_self], env_steps,
                       gradient_steps, loop_seconds, min_share=0).lstrip("\n"))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
