"""Real runs with each learner side by side: every seed trained to the lab's solved rule once per
`agent.backward` value, the learners taking turns run by run (their order rotating from seed to
seed), so a busy machine slows them alike.

    python -m benchmarks.learners --seeds 0-2 [--learners fused,manual,autograd] \\
        [--dir DIR] [--out FILE.json] [-- HYDRA_OVERRIDES...]

Each run is a fresh `python -m lunar_dqn.train` process into an ordinary run directory
`<dir>/<learner>/seed<k>/` (not evaluated: `benchmarks.time_to_solve` does that). The learners
compute the same values to float precision, so the env steps to solve should agree (a rounding
difference can flip a greedy action and change a run); the seconds show what each learner costs:
the training loop's (`summary.json`, the learner's set-up included) and the whole process's.
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

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
from lunar_dqn.sweep.runs import read_run
from lunar_dqn.sweep.seeds import aggregate, seed_row, summary_cells

TABLE = Table([("seed", 6), ("learner", 8), ("solved", 6), ("env steps", 10),
               ("gradient steps", 14), ("loop s", 8), ("process s", 9)])


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.learners",
                                     description=__doc__.splitlines()[0])
    add_seeds_option(parser)
    parser.add_argument("--learners", default="fused,manual,autograd",
                        help="agent.backward values, comma-separated (default "
                             "fused,manual,autograd)")
    parser.add_argument("--dir", type=Path, default=None,
                        help="folder for the runs (default outputs/benchmarks/<date>_<time>)")
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON file (default <dir>/learners.json)")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides after --")
    args = parser.parse_args(argv)
    args.learners = args.learners.split(",")
    refuse_owned_keys(parser, args.overrides, {**OWNED_KEYS, "agent.backward": "--learners"})
    return args


def turn_order(learners: list[str], seed_index: int) -> list[str]:
    """The learners rotated by one place per seed, so none always runs first."""
    k = seed_index % len(learners)
    return learners[k:] + learners[:k]


def learner_overrides(overrides: Sequence[str], learner: str, seed: int) -> list[str]:
    return run_overrides([*overrides, f"agent.backward={learner}"], seed)


def medians(rows: Sequence[dict[str, Any]], learner: str) -> dict[str, Any]:
    """One learner's median row: ">=" where unsolved seeds make a figure a lower bound."""
    mine = [r for r in rows if r["learner"] == learner]
    cells = summary_cells(aggregate(mine), "medians")
    bound = ">=" if cells["env_steps"].startswith(">=") else ""
    return {"learner": learner, "solved": cells["solved"], "env_steps": cells["env_steps"],
            "gradient_steps": f"{bound}{statistics.median(r['gradient_steps'] for r in mine):.0f}",
            "wall_s": cells["wall_s"],
            "process_s": f"{statistics.median(r['process_s'] for r in mine):.1f}"}


def format_row(seed: str, row: dict[str, Any]) -> str:
    return TABLE.row([seed, row["learner"], row["solved"], row["env_steps"],
                      row["gradient_steps"], row["wall_s"], row["process_s"]])


def cells(row: dict[str, Any]) -> dict[str, Any]:
    return {"learner": row["learner"], "solved": "yes" if row["solved"] else row["status"],
            "env_steps": str(row["env_steps"]), "gradient_steps": str(row["gradient_steps"]),
            "wall_s": f"{row['wall_s']:.1f}", "process_s": f"{row['process_s']:.1f}"}


@exits_on_user_error
def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    # every run's config, composed and validated before any run starts
    first, *_ = [compose_checked(*learner_overrides(args.overrides, learner, 0))
                 for learner in args.learners]
    bench_dir = args.dir or new_bench_dir()
    out = args.out or bench_dir / "learners.json"
    doc = new_result("learners", first, overrides=list(args.overrides),
                     forced_overrides=list(TO_SOLVE_OVERRIDES), learners=args.learners)
    print(f"learners side by side: {len(args.seeds)} seed(s), {', '.join(args.learners)}; "
          f"overrides: {' '.join(args.overrides) or '(defaults)'}; runs in {bench_dir}")
    print(machine_line(doc["machine"]))
    print(TABLE.header(), flush=True)
    for index, seed in enumerate(args.seeds):
        for learner in turn_order(args.learners, index):
            run_dir = bench_dir / learner / f"seed{seed}"
            process_s = train_in_subprocess(learner_overrides(args.overrides, learner, seed),
                                            run_dir)
            row = {**seed_row(seed, read_run(run_dir, bench_dir)), "learner": learner,
                   "process_s": round(process_s, 3)}
            doc["rows"].append(row)
            write_json(out, doc)
            print(format_row(str(seed), cells(row)), flush=True)
    doc["medians"] = [medians(doc["rows"], learner) for learner in args.learners]
    write_json(out, doc)
    print(TABLE.rule())
    for row in doc["medians"]:
        print(format_row("median", row))
    print(f"wrote {out}")
    return doc


if __name__ == "__main__":
    main()
