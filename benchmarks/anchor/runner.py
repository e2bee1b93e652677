"""The peer anchor: Stable-Baselines3's DQN with rl-baselines3-zoo's LunarLander settings
(`benchmarks/anchor/sb3_dqn_lunar.py`), run seed by seed in a virtual environment of its own.

    python -m benchmarks.anchor --seeds 0-9 [--budget 500000] [--out FILE.jsonl]
    python -m benchmarks.anchor --setup-only          # only create .venv-anchor/

The first call creates `.venv-anchor/` in the repository (ignored by git) from
`benchmarks/anchor/requirements.txt`, so SB3 never enters the project's environment. Each
seed's JSON line (the anchor's own, plus the budget, the date and the machine) is appended to the
output file as soon as the seed finishes; `python -m benchmarks.side_by_side` compares it with a
time-to-solve JSON of the same seeds.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from benchmarks.harness import (
    add_seeds_option,
    machine_info,
    machine_line,
    new_bench_dir,
    now_iso,
)

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
ANCHOR = HERE / "sb3_dqn_lunar.py"
DEFAULT_VENV = REPO / ".venv-anchor"
REQUIREMENTS = HERE / "requirements.txt"
ANCHOR_THREADS = 1  # the anchor script calls torch.set_num_threads(1)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.anchor",
                                     description="Run the SB3 DQN anchor for a list of seeds.")
    add_seeds_option(parser)
    parser.add_argument("--budget", type=int, default=500_000,
                        help="env steps per seed before giving up (default 500000)")
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON-lines file, appended to (default "
                             "outputs/benchmarks/<date>_<time>/anchor.jsonl)")
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV,
                        help="its virtual environment, created if missing (default .venv-anchor)")
    parser.add_argument("--setup-only", action="store_true",
                        help="create the virtual environment, run nothing")
    return parser.parse_args(argv)


def ensure_venv(venv: Path) -> Path:
    """The anchor's Python, creating its virtual environment on first use (and finishing an
    install that stopped half-way)."""
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    ready = subprocess.run([str(python), "-c", "import stable_baselines3, Box2D"],
                           capture_output=True, check=False).returncode == 0
    if not ready:
        print(f"installing {REQUIREMENTS.relative_to(REPO)} into {venv}", flush=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "-r", str(REQUIREMENTS)],
                       check=True)
    return python


def anchor_versions(python: Path) -> dict[str, str]:
    """Versions inside the anchor's environment, for the machine record."""
    code = ("import json, platform, torch, stable_baselines3 as sb3; print(json.dumps({'torch': "
            "torch.__version__, 'stable_baselines3': sb3.__version__, "
            "'python': platform.python_version()}))")
    result = subprocess.run([str(python), "-c", code], capture_output=True, text=True,
                            check=True)
    return json.loads(result.stdout)


def run_seed(python: Path, anchor: Path, seed: int, budget: int) -> dict[str, Any]:
    """One anchor run; its last stdout line is its JSON result."""
    result = subprocess.run([str(python), str(anchor), str(seed), str(budget)],
                            capture_output=True, text=True, check=False)
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or not lines:
        sys.exit(f"error: anchor seed {seed} exited with code {result.returncode}:\n"
                 + "\n".join(result.stderr.strip().splitlines()[-5:]))
    return json.loads(lines[-1])


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    python = ensure_venv(args.venv)
    if args.setup_only:
        print(f"ready: {python}")
        return
    out = args.out or new_bench_dir() / "anchor.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    machine = {**machine_info(torch.device("cpu"), ANCHOR_THREADS), **anchor_versions(python)}
    print(f"anchor {ANCHOR.name}: seeds {args.seeds}, budget {args.budget} env steps")
    print(machine_line(machine), flush=True)
    for seed in args.seeds:
        record = {**run_seed(python, ANCHOR, seed, args.budget), "budget": args.budget,
                  "date": now_iso(), "machine": machine}
        with open(out, "a") as f:
            f.write(json.dumps(record) + "\n")
        print(json.dumps({k: v for k, v in record.items() if k != "machine"}), flush=True)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
