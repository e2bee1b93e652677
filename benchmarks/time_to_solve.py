"""Time to solve: K seeds of a config, each trained to the lab's solved rule, then the saved model
played greedily on fresh episodes.

    python -m benchmarks.time_to_solve --seeds 0-9 [--eval-episodes 100] [--out FILE.json] \\
        [-- HYDRA_OVERRIDES...]

Each seed trains in a fresh `python -m lunar_dqn.train` process, exactly as a user runs it, into
`<dir>/seed<k>/` (default dir: `outputs/benchmarks/<date>_<time>/`, so `tensorboard --logdir
outputs` shows the runs). A process per seed rather than `train()` in this process, because
nothing then carries over from one seed to the next: not the RNGs or torch's thread pools, and
not one-time costs that a run pays on its own (torch.compile caches, CUDA context, lazy kernel
set-up) and that later seeds would skip in-process. The interpreter's start-up (a few seconds)
is outside the figures: wall-clock is the run's own training loop (`summary.json`'s
`wall_time_s`), as the SB3 anchor times only `model.learn`; the whole process time is recorded
as `process_s`.

The evaluation runs here, on the model file the run saved when it solved (`final_model.pt` if it
did not), on episodes seeded apart from training (`lunar_dqn.evaluate`). A run that diverges
(exit code 3, no final model) is a row of its own, "diverged", with no greedy figures; any other
failure stops the benchmark.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf

import lunar_dqn
from benchmarks.common import (
    Column,
    Table,
    add_seeds_option,
    censored_median,
    compose_checked,
    machine_info,
    machine_line,
    new_bench_dir,
    now_iso,
    write_json,
)
from lunar_dqn.checkpoint import load_model
from lunar_dqn.cli import DIVERGED_EXIT, exits_on_user_error
from lunar_dqn.errors import CheckpointError
from lunar_dqn.evaluate import greedy_returns, summarize
from lunar_dqn.rundir import find_model, read_run_settings
from lunar_dqn.trainer import SUMMARY_FILE, resolve_device

# Every run stops when it solves, prints no progress bar into its log and records no video
# (`python -m lunar_dqn.evaluate run_dir=... video=true` makes one afterwards).
FORCED_OVERRIDES = ("train.stop_when_solved=true", "logger.progress_bar=false",
                    "logger.video=false")
OWNED_KEYS = {"seed": "--seeds", "hydra.run.dir": "--dir"}
EVAL_ENVS = 10  # evaluation episodes played at once; the result does not depend on it

TABLE = Table([
    Column("seed", 6), Column("solved", 8), Column("episodes", 8), Column("env steps", 10),
    Column("wall s", 8), Column("env steps/s", 11), Column("greedy mean", 11),
    Column("landed %", 8),
])
# The columns of the "median" and "worst" rows: (row key, format). Episodes, env steps and
# wall-clock are "to solve": an unsolved run's figure is a lower bound, and its worst is the
# largest; for the others the worst is the smallest.
TO_SOLVE = (("episodes", ".0f"), ("env_steps", ".0f"), ("wall_s", ".1f"))
OTHERS = (("env_steps_per_s", ".0f"), ("eval_mean", ".1f"), ("landed_pct", ".0f"))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.time_to_solve",
        description="Train K seeds to the solved rule; evaluate each saved model greedily.")
    add_seeds_option(parser)
    parser.add_argument("--eval-episodes", type=int, default=100,
                        help="greedy episodes per saved model (default 100)")
    parser.add_argument("--dir", type=Path, default=None,
                        help="folder for the runs (default outputs/benchmarks/<date>_<time>)")
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON file (default <dir>/time_to_solve.json)")
    parser.add_argument("overrides", nargs="*",
                        help="Hydra overrides after --, e.g. -- experiment=seed_notebook")
    args = parser.parse_args(argv)
    if args.eval_episodes < 1:
        parser.error("--eval-episodes must be >= 1")
    for override in args.overrides:
        key = override.split("=", 1)[0].lstrip("+~")
        if key in OWNED_KEYS:
            parser.error(f"{key} is set by the benchmark: use {OWNED_KEYS[key]}")
    return args


def run_overrides(overrides: Sequence[str], seed: int) -> list[str]:
    """The overrides one seed's run gets: the user's, then the benchmark's (last wins)."""
    return [*overrides, *FORCED_OVERRIDES, f"seed={seed}"]


def hydra_value(key: str, path: Path) -> str:
    """`key='path'`, quoted so that characters of Hydra's grammar (`=`, `,`, spaces) in a
    folder name stay part of the value."""
    escaped = str(path).replace("'", "\\'")
    return f"{key}='{escaped}'"


def train_in_subprocess(overrides: list[str], run_dir: Path) -> float:
    """`python -m lunar_dqn.train OVERRIDES` into `run_dir`, with this process's lunar_dqn
    first on the path; returns the whole process's seconds."""
    run_dir.mkdir(parents=True, exist_ok=True)
    source_root = str(Path(lunar_dqn.__file__).resolve().parents[1])
    env = {**os.environ,
           "PYTHONPATH": os.pathsep.join(filter(None, [source_root, os.environ.get("PYTHONPATH")]))}
    start = time.perf_counter()
    with open(run_dir / "process.log", "w") as log:
        result = subprocess.run(
            [sys.executable, "-m", "lunar_dqn.train", *overrides,
             hydra_value("hydra.run.dir", run_dir)],
            stdout=log, stderr=subprocess.STDOUT, env=env, check=False)
    seconds = time.perf_counter() - start
    if result.returncode not in (0, DIVERGED_EXIT):
        tail = (run_dir / "process.log").read_text().strip().splitlines()[-5:]
        sys.exit(f"error: training exited with code {result.returncode} in {run_dir}:\n"
                 + "\n".join(tail))
    return seconds


def evaluate_run(run_dir: Path, episodes: int) -> dict[str, float] | None:
    """Greedy figures of the run's model (solved, else final) in the run's own environment
    settings; None when it has none (the run diverged)."""
    try:
        model_file = find_model(run_dir)
    except CheckpointError:
        return None
    settings = read_run_settings(run_dir)
    network, _ = load_model(model_file, settings.hidden_sizes)
    env_cfg = OmegaConf.merge(settings.env, {"num_envs": min(EVAL_ENVS, episodes),
                                             "vectorization_mode": "sync"})
    return summarize(greedy_returns(network, env_cfg, episodes))


def make_row(seed: int, summary: dict[str, Any], process_s: float,
             evaluation: dict[str, float] | None, run_dir: Path) -> dict[str, Any]:
    """One seed's figures: up to the solve when it solved, the whole run when not."""
    solved = summary["solved"]
    wall = summary["wall_time_s"]
    evaluation = evaluation or dict.fromkeys(("episodes", "mean", "std", "min"))
    return {
        "seed": seed,
        "status": summary["status"],
        "solved": solved,
        "episodes": summary["solved_episode"] if solved else summary["episodes"],
        "env_steps": summary["solved_env_steps"] if solved else summary["env_steps"],
        "wall_s": wall,
        "env_steps_per_s": summary["env_steps"] / wall if wall > 0 else 0.0,
        "gradient_steps": summary["gradient_steps"],
        "process_s": round(process_s, 3),
        "eval_episodes": evaluation["episodes"],
        "eval_mean": evaluation["mean"],
        "eval_std": evaluation["std"],
        "eval_min": evaluation["min"],
        "landed_pct": None if evaluation["mean"] is None else 100.0 * evaluation["landed_share"],
        "run_dir": str(run_dir),
    }


def optional(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def format_row(row: dict[str, Any]) -> str:
    solved = "yes" if row["solved"] else "diverged" if row["status"] == "diverged" else "no"
    return TABLE.row([
        str(row["seed"]), solved, str(row["episodes"]), str(row["env_steps"]),
        f"{row['wall_s']:.1f}", f"{row['env_steps_per_s']:.0f}",
        optional(row["eval_mean"], ".1f"), optional(row["landed_pct"], ".0f"),
    ])


def aggregate(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Medians and worst cases over the seeds. The "to solve" figures of unsolved seeds are lower
    bounds, and so are medians they can raise: those keys are listed in `lower_bounds`."""
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
    for key, _ in OTHERS:  # over the seeds that have them: a diverged run has no greedy figures
        values = [r[key] for r in rows if r[key] is not None]
        medians[key] = statistics.median(values) if values else None
        worst[key] = min(values, default=None)
    return {"medians": medians, "worst": worst, "lower_bounds": lower_bounds}


def format_summary_rows(agg: dict[str, Any]) -> list[str]:
    """The "median" and "worst" rows ("worst": slowest to solve, lowest rate and greedy scores;
    ">=" marks a figure that unsolved seeds make a lower bound)."""
    lines = []
    for label, values in (("median", agg["medians"]), ("worst", agg["worst"])):
        unsolved = values["solved"] < values["seeds"]
        cells = [label, f"{values['solved']}/{values['seeds']}"]
        for key, spec in TO_SOLVE:
            bound = key in agg["lower_bounds"] if label == "median" else unsolved
            cells.append((">=" if bound else "") + format(values[key], spec))
        cells += [optional(values[key], spec) for key, spec in OTHERS]
        lines.append(TABLE.row(cells))
    return lines


@exits_on_user_error
def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    # every seed's config, composed and validated before any run starts
    first, *_ = [compose_checked(*run_overrides(args.overrides, seed)) for seed in args.seeds]
    torch.set_num_threads(first.torch_threads)  # the evaluation's, like the runs'
    bench_dir = args.dir or new_bench_dir()
    out = args.out or bench_dir / "time_to_solve.json"
    machine = machine_info(resolve_device(first.device), first.torch_threads)
    doc: dict[str, Any] = {
        "benchmark": "time_to_solve", "date": now_iso(), "arguments": sys.argv[1:],
        "overrides": list(args.overrides), "forced_overrides": list(FORCED_OVERRIDES),
        "eval_episodes": args.eval_episodes, "machine": machine,
        "config": OmegaConf.to_container(first, resolve=True), "rows": [],
    }
    print(f"time to solve: {len(args.seeds)} seed(s), overrides: "
          f"{' '.join(args.overrides) or '(defaults)'}; runs in {bench_dir}")
    print(machine_line(machine))
    print(TABLE.header(), flush=True)
    for seed in args.seeds:
        run_dir = bench_dir / f"seed{seed}"
        process_s = train_in_subprocess(run_overrides(args.overrides, seed), run_dir)
        summary = json.loads((run_dir / SUMMARY_FILE).read_text())
        evaluation = evaluate_run(run_dir, args.eval_episodes)
        row = make_row(seed, summary, process_s, evaluation, run_dir)
        doc["rows"].append(row)
        doc.update(aggregate(doc["rows"]))
        write_json(out, doc)
        print(format_row(row), flush=True)
    print("\n".join([TABLE.rule(), *format_summary_rows(doc)]))
    print(f"wrote {out}")
    return doc


if __name__ == "__main__":
    main()
