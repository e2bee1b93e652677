"""Time to solve: K seeds of a config, each trained to the lab's solved rule (and its polish, if
any), then the model the run hands over played greedily on fresh episodes.

    python -m benchmarks.time_to_solve --seeds 0-9 [--eval-episodes 100] [--out FILE.json] \\
        [-- HYDRA_OVERRIDES...]

Each seed trains in a fresh `python -m lunar_dqn.train` process (nothing carries over: RNGs,
thread pools, one-time costs such as compile caches) into an ordinary run directory
`<dir>/seed<k>/` (default dir `outputs/benchmarks/<date>_<time>/`, which TensorBoard and
`python -m lunar_dqn.report` read), then is evaluated as `python -m lunar_dqn.evaluate
run_dir=<run>` does it, into `<run>/evaluation.json`. Wall-clock is the run's training loop
until it solved (`summary.json`'s `solved_wall_time_s`, as the SB3 anchor times only
`model.learn`), evaluations during training included; "eval s" is their share of the whole loop
and "polish s" the loop's time after the solve; the whole process is `process_s`. A diverged run
(exit code 3) is a row "diverged" (with greedy figures if it hands over a model from before it
diverged); any other failure stops the benchmark. Rows, medians and worst cases are
`lunar_dqn.sweep.seeds`'.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf

from benchmarks.harness import (
    OWNED_KEYS,
    TO_SOLVE_OVERRIDES,
    Table,
    add_seeds_option,
    compose_checked,
    machine_line,
    new_bench_dir,
    new_result,
    refuse_owned_keys,
    run_overrides,
    train_in_subprocess,
    write_json,
)
from lunar_dqn.cli import exits_on_user_error
from lunar_dqn.config import compose_config
from lunar_dqn.errors import CheckpointError
from lunar_dqn.play.evaluation import evaluate
from lunar_dqn.run.rundir import find_model
from lunar_dqn.sweep.runs import read_run
from lunar_dqn.sweep.seeds import COSTS, OTHERS, TO_SOLVE, aggregate, seed_row, summary_cells

EVAL_ENVS = 10  # evaluation episodes played at once; the result does not depend on it

TABLE = Table([("seed", 6), ("solved", 8), ("episodes", 8), ("env steps", 10), ("wall s", 8),
               ("env steps/s", 11), ("greedy mean", 11), ("landed %", 8), ("eval s", 6),
               ("polish s", 8)])


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
    refuse_owned_keys(parser, args.overrides, OWNED_KEYS)
    return args


def evaluate_run(run_dir: Path, episodes: int) -> None:
    """`<run_dir>/evaluation.json`, as `python -m lunar_dqn.evaluate run_dir=<run_dir>` writes it;
    nothing for a run without a model (it diverged)."""
    try:
        find_model(run_dir)
    except CheckpointError:
        return
    options = OmegaConf.merge(compose_config(config_name="evaluate"), {
        "run_dir": str(run_dir), "episodes": episodes, "num_envs": min(EVAL_ENVS, episodes)})
    evaluate(options, run_dir)


def format_row(row: dict[str, Any]) -> str:
    solved = "yes" if row["solved"] else "diverged" if row["status"] == "diverged" else "no"
    greedy = [("-" if row.get(key) is None else format(row[key], spec)) for key, spec in
              (("eval_mean", ".1f"), ("landed_pct", ".0f"), *COSTS)]
    return TABLE.row([str(row["seed"]), solved, str(row["episodes"]), str(row["env_steps"]),
                      f"{row['wall_s']:.1f}", f"{row['env_steps_per_s']:.0f}", *greedy])


def format_summary_rows(agg: dict[str, Any]) -> list[str]:
    """The "median" and "worst" rows ("worst": slowest to solve, lowest rate and greedy scores;
    ">=" marks a figure that unsolved seeds make a lower bound)."""
    keys = ("solved", *(key for key, _ in (*TO_SOLVE, *OTHERS, *COSTS)))
    return [TABLE.row([label, *(cells[key] for key in keys)])
            for label, cells in (("median", summary_cells(agg, "medians")),
                                 ("worst", summary_cells(agg, "worst")))]


@exits_on_user_error
def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    # every seed's config, composed and validated before any run starts
    first, *_ = [compose_checked(*run_overrides(args.overrides, seed)) for seed in args.seeds]
    torch.set_num_threads(first.torch_threads)  # the evaluation's, like the runs'
    bench_dir = args.dir or new_bench_dir()
    out = args.out or bench_dir / "time_to_solve.json"
    doc = new_result("time_to_solve", first, overrides=list(args.overrides),
                     forced_overrides=list(TO_SOLVE_OVERRIDES), eval_episodes=args.eval_episodes)
    print(f"time to solve: {len(args.seeds)} seed(s), overrides: "
          f"{' '.join(args.overrides) or '(defaults)'}; runs in {bench_dir}")
    print(machine_line(doc["machine"]))
    print(TABLE.header(), flush=True)
    for seed in args.seeds:
        run_dir = bench_dir / f"seed{seed}"
        process_s = train_in_subprocess(run_overrides(args.overrides, seed), run_dir)
        evaluate_run(run_dir, args.eval_episodes)
        row = {**seed_row(seed, read_run(run_dir, bench_dir)), "process_s": round(process_s, 3)}
        doc["rows"].append(row)
        doc.update(aggregate(doc["rows"]))
        write_json(out, doc)
        print(format_row(row), flush=True)
    print("\n".join([TABLE.rule(), *format_summary_rows(doc)]))
    print(f"wrote {out}")
    return doc


if __name__ == "__main__":
    main()
