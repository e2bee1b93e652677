"""What checking a checkpoint costs when a run resumes from it: the zip's CRC-32 of every member
(every byte read once more) and the key and shape checks, beside `torch.load` itself, for
checkpoints of the default network with buffers of several sizes.

    python -m benchmarks.checkpoint_load [--rows 2000 100000 1000000] [--repeats 5]

Each buffer is full (its capacity is its rows: the default capacity is 100 000) of random
transitions; the table shows the file's size and the median time of each step over `--repeats`.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

from benchmarks.harness import Table, compose_checked, machine_info, machine_line
from lunar_dqn.run.checkpoint import check_crcs
from lunar_dqn.run.integrity import checkpoint_problems
from lunar_dqn.run.rundir import CHECKPOINT
from lunar_dqn.run.trainer import Trainer


def fill(trainer: Trainer) -> None:
    rows, g = trainer.buffer.capacity, torch.Generator().manual_seed(0)
    trainer.buffer.add(torch.randn(rows, 8, generator=g), torch.randint(0, 4, (rows,), generator=g),
                       torch.randn(rows, generator=g), torch.randn(rows, 8, generator=g),
                       torch.zeros(rows), torch.full((rows,), 0.99))


def median_ms(step: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[2000, 100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    table = Table([("buffer rows", 11), ("file MB", 7), ("CRC check ms", 12),
                   ("key/shape ms", 12), ("torch.load ms", 13), ("checks / load", 13)])
    print(machine_line(machine_info(torch.device("cpu"), 1)))
    print(table.header())
    for rows in args.rows:
        cfg = compose_checked("device=cpu", "logger.tensorboard=false", f"buffer.capacity={rows}")
        with tempfile.TemporaryDirectory(prefix="checkpoint-") as run_dir:
            trainer = Trainer(cfg, Path(run_dir))
            try:
                fill(trainer)
                trainer.save_checkpoint()
                path = Path(run_dir) / CHECKPOINT
                state = torch.load(path, weights_only=True)
                crc = median_ms(lambda path=path: check_crcs(path), args.repeats)
                keys = median_ms(lambda s=state, t=trainer: checkpoint_problems(s, t),
                                 args.repeats)
                load = median_ms(lambda path=path: torch.load(path, weights_only=True),
                                 args.repeats)
                size = path.stat().st_size / 1e6
            finally:
                trainer.close()
        print(table.row([f"{rows:,}", f"{size:.1f}", f"{crc:.1f}", f"{keys:.1f}", f"{load:.1f}",
                         f"{(crc + keys) / load:.0%}"]), flush=True)


if __name__ == "__main__":
    main()
