"""Several time-to-solve results side by side: one row per file, the first as the baseline.

    python -m benchmarks.compare BASELINE.json OTHER.json ... [--seeds 0-4]

Each file comes from `benchmarks.time_to_solve` (e.g. the defaults, then one lever changed at a
time) and its row is named by its overrides. The medians are the package's
(`lunar_dqn.sweep.seeds.aggregate`), recomputed over the seeds that
every file has (or `--seeds`, which every file must have), so the rows compare the same seeds;
`>=` marks a figure that unsolved seeds make a lower bound. "slowest" is the most env steps a seed
took to solve; the last column is the row's median env steps to solve against the baseline's.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.harness import Table, machine_line, parse_seeds, read_result
from lunar_dqn.cli import exits_on_user_error, fail
from lunar_dqn.sweep.seeds import aggregate, summary_cells


def common_seeds(docs: Sequence[dict[str, Any]], wanted: list[int] | None) -> list[int]:
    shared = set.intersection(*({row["seed"] for row in doc["rows"]} for doc in docs))
    if wanted is None:
        if not shared:
            fail("the files have no seed in common")
        return sorted(shared)
    missing = sorted(set(wanted) - shared)
    if missing:
        fail(f"seed(s) {', '.join(map(str, missing))} missing from some of the files")
    return wanted


def summary_row(doc: dict[str, Any], seeds: list[int]) -> dict[str, Any]:
    """The medians of `doc` over `seeds`, as strings for the table; env steps also as a number."""
    agg = aggregate([row for row in doc["rows"] if row["seed"] in seeds])
    median, worst = summary_cells(agg, "medians"), summary_cells(agg, "worst")
    keys = ("solved", "episodes", "env_steps", "slowest", "wall_s", "eval_mean", "landed_pct")
    cells = {**median, "slowest": worst["env_steps"]}
    return {"cells": [" ".join(doc["overrides"]) or "(defaults)", *(cells[k] for k in keys)],
            "env_steps": agg["medians"]["env_steps"]}


@exits_on_user_error
def main(argv: Sequence[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.compare",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("files", type=Path, nargs="+", help="time_to_solve JSON files")
    parser.add_argument("--seeds", type=parse_seeds, default=None,
                        help="e.g. 0-4 (default: the seeds every file has)")
    args = parser.parse_args(argv)
    docs = [read_result(path, "time_to_solve") for path in args.files]
    seeds = common_seeds(docs, args.seeds)
    rows = [summary_row(doc, seeds) for doc in docs]
    for row in rows:
        row["cells"].append(f"{row['env_steps'] / rows[0]['env_steps']:.2f}x")
    table = Table([("overrides", max(len(row["cells"][0]) for row in rows)),
                   ("solved", 6), ("episodes", 8), ("env steps", 9),
                   ("slowest", 7), ("wall s", 6), ("greedy mean", 11),
                   ("landed %", 8), ("env steps vs first", 18)])
    print(f"medians over seeds {', '.join(map(str, seeds))}")
    for info in {machine_line(doc["machine"]) for doc in docs}:
        print(info)
    print(table.header())
    for row in rows:
        print(table.row(row["cells"]))
    return rows


if __name__ == "__main__":
    main()
