"""Our time to solve beside the SB3 anchor's, seed by seed, and the ratio of the medians.

    python -m benchmarks.side_by_side OURS.json ANCHOR.jsonl

OURS.json comes from `benchmarks.time_to_solve`, ANCHOR.jsonl from `benchmarks.anchor`; only
seeds in both count. Both wall-clocks time the training loop alone. A seed that did not solve
gives a lower bound on its time to solve; the medians and the ratio say when they are bounds.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.harness import Table, machine_line, read_result
from lunar_dqn.sweep.stats import Median, censored_median

TABLE = Table([("seed", 6), ("ours", 4), ("env steps", 9), ("wall s", 7), ("greedy", 6),
               ("anchor", 6), ("env steps", 9), ("wall s", 7), ("greedy", 6),
               ("anchor/ours", 11)])


def ratio(anchor: Median, ours: Median) -> str:
    """anchor / ours, marked as a bound when either side is one: a longer anchor time or a
    shorter one of ours only makes it larger."""
    value = f"{anchor.value / ours.value:.1f}x" if ours.value > 0 else "inf"
    if anchor.lower_bound and ours.lower_bound:
        return f"?({value})"
    if anchor.lower_bound:
        return f">={value}"
    if ours.lower_bound:
        return f"<={value}"
    return value


def load(ours_path: Path, anchor_path: Path) -> tuple[dict[str, Any], dict[int, dict[str, Any]],
                                                      dict[int, dict[str, Any]]]:
    doc = read_result(ours_path, "time_to_solve")
    records = [json.loads(line) for line in anchor_path.read_text().splitlines() if line.strip()]
    # a seed run twice: the later line counts
    return doc, {row["seed"]: row for row in doc["rows"]}, {r["seed"]: r for r in records}


def compare(ours: dict[int, dict[str, Any]], anchor: dict[int, dict[str, Any]]) -> list[str]:
    """The table's lines for the seeds both sides ran."""
    seeds = sorted(ours.keys() & anchor.keys())
    if not seeds:
        raise SystemExit("error: the two files share no seed")
    lines = [TABLE.header()]
    for seed in seeds:
        o, a = ours[seed], anchor[seed]
        lines.append(TABLE.row([
            str(seed), "yes" if o["solved"] else "no", str(o["env_steps"]), f"{o['wall_s']:.1f}",
            f"{o['eval_mean']:.0f}", "yes" if a["solved"] else "no", str(a["steps"]),
            f"{a['train_wall_s']:.1f}", f"{a['eval_mean']:.0f}",
            ratio(Median(a["train_wall_s"], not a["solved"]),
                  Median(o["wall_s"], not o["solved"])),
        ]))
    def median(side: dict[int, dict[str, Any]], key: str) -> Median:
        return censored_median([side[s][key] for s in seeds], [side[s]["solved"] for s in seeds])

    ours_wall, anchor_wall = median(ours, "wall_s"), median(anchor, "train_wall_s")
    ours_steps, anchor_steps = median(ours, "env_steps"), median(anchor, "steps")
    solved = [sum(side[s]["solved"] for s in seeds) for side in (ours, anchor)]
    lines += [TABLE.rule(), TABLE.row([
        "median", f"{solved[0]}/{len(seeds)}", ours_steps.format(".0f"), ours_wall.format(".1f"),
        "", f"{solved[1]}/{len(seeds)}", anchor_steps.format(".0f"), anchor_wall.format(".1f"),
        "", ratio(anchor_wall, ours_wall),
    ])]
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.side_by_side",
                                     description="Our time to solve beside the SB3 anchor's.")
    parser.add_argument("ours", type=Path, help="JSON from benchmarks.time_to_solve")
    parser.add_argument("anchor", type=Path, help="JSON lines from benchmarks.anchor")
    args = parser.parse_args(argv)
    doc, ours, anchor = load(args.ours, args.anchor)
    missing = sorted(ours.keys() ^ anchor.keys())
    print(f"ours: {' '.join(doc['overrides']) or '(defaults)'}, {doc['date']}")
    print(f"  {machine_line(doc['machine'])}")
    dates = sorted(r["date"] for r in anchor.values())
    print(f"anchor: {len(anchor)} run(s), {dates[0]} to {dates[-1]}")
    for machine in sorted({json.dumps(r["machine"], sort_keys=True) for r in anchor.values()}):
        print(f"  {machine_line(json.loads(machine))}")
    if missing:
        print(f"seeds in only one file, left out: {missing}")
    print("\n".join(compare(ours, anchor)))


if __name__ == "__main__":
    main()
