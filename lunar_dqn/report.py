"""`python -m lunar_dqn.report [DIR]` (or `lunar-dqn-report`): which setting of a sweep solves
fastest, and how surely.

Reads every `summary.json` under DIR (default `outputs`, i.e. every run and sweep), groups the
runs by setting (their overrides without the seed, see `lunar_dqn.sweep.runs`), prints a table
and writes `report.md`, `report.csv` and `report.png` into DIR (`lunar_dqn.sweep.table`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lunar_dqn.cli import fail
from lunar_dqn.errors import ReportError
from lunar_dqn.helptext import invocation
from lunar_dqn.sweep.table import write_report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog=invocation("report"),
        description="Compare the settings of a sweep: solved share, env steps and wall-clock "
                    "to solve (median, mean, 95%% bootstrap CI), learning curves.")
    parser.add_argument("dir", nargs="?", type=Path, default=Path("outputs"),
                        help="a sweep directory, or any directory of runs (default: outputs)")
    args = parser.parse_args(argv)
    try:
        print(write_report(args.dir))
    except ReportError as err:
        fail(str(err))
    except OSError as err:
        fail(f"cannot write the report into {args.dir}: {err}")


if __name__ == "__main__":
    main()
