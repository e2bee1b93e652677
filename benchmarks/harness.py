"""What the benchmarks share: seed lists, configs checked before any run, fixed-width tables,
the machine line with its calibration and load, output folders and JSON files, runs in fresh
`python -m lunar_dqn.train` processes, and timed windows of the training loop."""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

import lunar_dqn
from lunar_dqn.cli import DIVERGED_EXIT, fail, one_line
from lunar_dqn.config import compose_config
from lunar_dqn.run.device import resolve_device
from lunar_dqn.run.trainer import Trainer
from lunar_dqn.validation import validate

BENCH_ROOT = Path("outputs") / "benchmarks"  # beside Hydra's outputs/runs: one TensorBoard logdir
LAB = "experiment=seed_notebook"  # the lab's network, batch and update rate
# Learning on, solving and the evaluation during training switched off; no progress bar, no
# closing video: the loop alone.
NEVER_SOLVE = ("train.solve_score=1e9", "train.max_episodes=1000000000",
               "eval.every_env_steps=null", "train.polish_env_steps=0", "logger.progress_bar=false",
               "logger.video=false")
CALIBRATION_SECONDS = 1.5
# Runs to the solved rule stop when they solve, print no progress bar into their log and record
# no video (`python -m lunar_dqn.evaluate run_dir=... video=true` makes one afterwards).
TO_SOLVE_OVERRIDES = ("train.stop_when_solved=true", "logger.progress_bar=false",
                      "logger.video=false")
OWNED_KEYS = {"seed": "--seeds", "hydra.run.dir": "--dir"}  # what such a benchmark sets itself


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


def add_seeds_option(parser: argparse.ArgumentParser) -> None:
    """`--seeds`, with the same default wherever seeds are compared (ours and the anchor's)."""
    parser.add_argument("--seeds", type=parse_seeds, default=parse_seeds("0-9"),
                        help="e.g. 0-9 or 0,2,5 (default 0-9)")


def refuse_owned_keys(parser: argparse.ArgumentParser, overrides: Sequence[str],
                      owned: dict[str, str]) -> None:
    """A usage error (exit 2) for an override of a key the benchmark sets: `owned` maps each to
    the option that sets it."""
    for override in overrides:
        key = override.split("=", 1)[0].lstrip("+~")
        if key in owned:
            parser.error(f"{key} is set by the benchmark: use {owned[key]}")


def compose_checked(*overrides: str) -> DictConfig:
    """`compose_config`, validated; a bad override ends the benchmark with one line (exit 2)
    before any run starts."""
    try:
        cfg = compose_config(*overrides)
    except (HydraException, OmegaConfBaseException) as err:
        fail(one_line(err))
    validate(cfg)
    return cfg


class Table:
    """Right-aligned fixed-width columns, (name, width) each, so rows can be printed one at a
    time as runs finish."""

    def __init__(self, columns: Sequence[tuple[str, int]]) -> None:
        self.names = [name for name, _ in columns]
        self.widths = [max(width, len(name)) for name, width in columns]

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


def calibration(seconds: float = CALIBRATION_SECONDS) -> float:
    """Raw steps/s of one LunarLander env with random actions on this host, now: figures from
    different days or machines compare through it."""
    env = gym.make("LunarLander-v3")
    rng = np.random.default_rng(0)
    steps = 0
    try:
        env.reset(seed=0)
        start = time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds:
            for action in rng.integers(0, 4, 1000).tolist():
                _, _, terminated, truncated, _ = env.step(action)
                if terminated or truncated:
                    env.reset()
            steps += 1000
        return steps / elapsed
    finally:
        env.close()


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
        "calibration_env_steps_per_s": round(calibration()),
        "load_average": [round(x, 1) for x in os.getloadavg()],  # 1, 5, 15 min, at the start
    }


def machine_line(info: dict[str, Any]) -> str:
    gpu = f", GPU {info['gpu']}" if info["gpu"] else ""
    calibrated = info.get("calibration_env_steps_per_s")
    line = (f"machine: {info['cpu']}, {info['cores']} cores, torch {info['torch']}, "
            f"{info['torch_threads']} torch thread(s), device {info['device']}{gpu}")
    if calibrated is not None:
        line += f"; calibration: {calibrated} LunarLander steps/s (one env, random actions)"
    if info.get("load_average") is not None:
        line += f"; load average {', '.join(map(str, info['load_average']))} (1, 5, 15 min)"
    return line


def new_bench_dir(root: Path = BENCH_ROOT) -> Path:
    # microseconds, as in the run directories: two benchmarks started in one second get two folders
    path = root / datetime.now().strftime("%Y-%m-%d_%H-%M-%S.%f")
    path.mkdir(parents=True, exist_ok=False)
    return path


def now_iso() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


def new_result(benchmark: str, cfg: DictConfig, **fields: Any) -> dict[str, Any]:
    """A result's JSON document: which benchmark, when, with what, on which machine; no rows."""
    return {"benchmark": benchmark, "date": now_iso(), "arguments": sys.argv[1:], **fields,
            "machine": machine_info(resolve_device(cfg.device), cfg.torch_threads),
            "config": OmegaConf.to_container(cfg, resolve=True), "rows": []}


def read_result(path: Path, benchmark: str) -> dict[str, Any]:
    """A benchmark's JSON file, which must be a `benchmark` result (else one line, exit 2)."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        fail(f"cannot read {path}: {err}")
    if doc.get("benchmark") != benchmark:
        fail(f"{path} is not a {benchmark} result")
    return doc


def write_json(path: Path, doc: dict[str, Any]) -> None:
    """Write through a temporary file, so a benchmark killed mid-write keeps its last table."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n")
    tmp.replace(path)


def run_overrides(overrides: Sequence[str], seed: int) -> list[str]:
    """The overrides one seed's run to the solved rule gets: the user's, then the benchmark's
    (last wins)."""
    return [*overrides, *TO_SOLVE_OVERRIDES, f"seed={seed}"]


def hydra_value(key: str, path: Path) -> str:
    """`key='path'`, quoted so that characters of Hydra's grammar (`=`, `,`, spaces) in a
    folder name stay part of the value."""
    escaped = str(path).replace("'", "\\'")
    return f"{key}='{escaped}'"


def train_in_subprocess(overrides: list[str], run_dir: Path) -> float:
    """`python -m lunar_dqn.train OVERRIDES` into `run_dir`, with this process's lunar_dqn
    first on the path; returns the whole process's seconds. A diverged run (exit code 3) is a
    result; any other failure stops the benchmark with the end of its log."""
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


def window(trainer: Trainer, env_steps: int) -> tuple[int, int, float]:
    """Train `env_steps` more (no closing writes); the env steps, gradient steps and loop seconds
    it took (`Trainer.wall_time` clocks only the loop)."""
    before = trainer.gradient_steps, trainer.wall_time
    taken = trainer.train(env_steps=env_steps)
    if taken < env_steps:
        raise RuntimeError(f"the trainer stopped {taken} env steps into a window of {env_steps}: "
                           "the run ended (solved or out of budget)")
    return taken, trainer.gradient_steps - before[0], trainer.wall_time - before[1]


def warm_up(trainer: Trainer, env_steps: int) -> None:
    """Run past the point where learning starts (a buffer of more than a mini-batch)."""
    window(trainer, max(env_steps, trainer.cfg.agent.batch_size + 1))
