"""What the benchmarks share: seed lists, medians of runs that may not have finished,
fixed-width tables, the machine they ran on, and their output folders and JSON files."""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import torch
from hydra.errors import HydraException
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from lunar_dqn.cli import fail, one_line
from lunar_dqn.config import compose_config, validate

BENCH_ROOT = Path("outputs") / "benchmarks"  # beside Hydra's outputs/runs: one TensorBoard logdir


def parse_seeds(text: str) -> list[int]:
    """`"0-9"` -> 0..9, `"0,2,5"` -> [0, 2, 5]; parts combine: `"0-2,7"` -> [0, 1, 2, 7]."""
    seeds: list[int] = []
    for part in text.split(","):
        first, dash, last = part.strip().partition("-")
        if not first.isdigit() or (dash and not last.isdigit()):
            raise argparse.ArgumentTypeError(
                f"invalid seed list {text!r}: use a range like 0-9 or a list like 0,2,5")
        lo, hi = int(first), int(last) if dash else int(first)
        if hi < lo:
            raise argparse.ArgumentTypeError(f"invalid seed range {part.strip()!r}: {hi} < {lo}")
        seeds.extend(range(lo, hi + 1))
    if len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"seed list {text!r} names a seed twice")
    return seeds


def compose_checked(*overrides: str) -> DictConfig:
    """`compose_config`, validated; a bad override ends the benchmark with one line (exit 2)
    before any run starts."""
    try:
        cfg = compose_config(*overrides)
    except (HydraException, OmegaConfBaseException) as err:
        fail(one_line(err))
    validate(cfg)
    return cfg


def add_seeds_option(parser: argparse.ArgumentParser) -> None:
    """`--seeds`, with the same default wherever seeds are compared (ours and the anchor's)."""
    parser.add_argument("--seeds", type=parse_seeds, default=parse_seeds("0-9"),
                        help="e.g. 0-9 or 0,2,5 (default 0-9)")


@dataclass(frozen=True)
class Median:
    """A median over runs, some of which may have stopped before finishing (e.g. unsolved within
    the budget): their values are lower bounds, so the median may be one too."""

    value: float
    lower_bound: bool

    def format(self, spec: str) -> str:
        return (">=" if self.lower_bound else "") + format(self.value, spec)


def censored_median(values: Sequence[float], finished: Sequence[bool]) -> Median:
    """Median of `values`; exact only if it stays the same whatever the unfinished runs'
    true values are (all at least their recorded value)."""
    observed = statistics.median(values)
    worst_case = statistics.median(v if done else math.inf
                                   for v, done in zip(values, finished, strict=True))
    return Median(observed, lower_bound=worst_case != observed)


@dataclass(frozen=True)
class Column:
    name: str
    width: int


class Table:
    """Right-aligned fixed-width columns, so rows can be printed one at a time as runs finish."""

    def __init__(self, columns: Sequence[Column]) -> None:
        self.widths = [max(c.width, len(c.name)) for c in columns]
        self.names = [c.name for c in columns]

    def row(self, cells: Sequence[str]) -> str:
        return "  ".join(cell.rjust(w) for cell, w in zip(cells, self.widths, strict=True))

    def rule(self) -> str:
        return "-" * len(self.row(self.names))

    def header(self) -> str:
        return f"{self.row(self.names)}\n{self.rule()}"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info(device: torch.device, torch_threads: int) -> dict[str, Any]:
    """The machine a benchmark ran on, as its JSON records it."""
    return {
        "cpu": cpu_model(),
        "cores": len(os.sched_getaffinity(0)),
        "torch": torch.__version__,
        "torch_threads": torch_threads,
        "device": str(device),
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "python": platform.python_version(),
    }


def machine_line(info: dict[str, Any]) -> str:
    gpu = f", GPU {info['gpu']}" if info["gpu"] else ""
    return (f"machine: {info['cpu']}, {info['cores']} cores, torch {info['torch']}, "
            f"{info['torch_threads']} torch thread(s), device {info['device']}{gpu}")


def new_bench_dir(root: Path = BENCH_ROOT) -> Path:
    # microseconds, as in the run directories: two benchmarks started in one second get two folders
    path = root / datetime.now().strftime("%Y-%m-%d_%H-%M-%S.%f")
    path.mkdir(parents=True, exist_ok=False)
    return path


def now_iso() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


def write_json(path: Path, doc: dict[str, Any]) -> None:
    """Write through a temporary file, so a benchmark killed mid-write keeps its last table."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n")
    tmp.replace(path)
