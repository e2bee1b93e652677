"""Fake training runs for the evaluation, plot and video tests: a saved config, a tiny untrained
model and a history, in seconds instead of a training."""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

import torch
from omegaconf import OmegaConf
from torch import nn

from conftest import compose_config
from lunar_dqn.algo.networks import make_q_network
from lunar_dqn.run.checkpoint import save_model
from lunar_dqn.run.history import EpisodeHistory
from lunar_dqn.run.rundir import FINAL_MODEL, HISTORY, RUN_CONFIG, SOLVED_MODEL

SHORT_EPISODES = 30  # env.max_episode_steps of the fake runs: every episode is quick


def tiny_network(hidden_sizes: list[int], seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    return make_q_network(8, 4, hidden_sizes)


def make_run(run_dir: Path, hidden_sizes: tuple[int, ...] = (8,), solved: bool = True,
             points: tuple[float, ...] = (-120.0, -80.0, 10.0, 150.0, 230.0)) -> Path:
    """A run directory as `python -m lunar_dqn.train` leaves it, with a tiny untrained model
    (both files hold the same weights; only the solved one when `solved`)."""
    cfg = compose_config(f"agent.hidden_sizes=[{','.join(map(str, hidden_sizes))}]",
                         f"env.max_episode_steps={SHORT_EPISODES}", "env.num_envs=2")
    (run_dir / RUN_CONFIG).parent.mkdir(parents=True)
    OmegaConf.save(cfg, run_dir / RUN_CONFIG)
    network = tiny_network(list(hidden_sizes))
    for name in (SOLVED_MODEL, FINAL_MODEL) if solved else (FINAL_MODEL,):
        save_model(run_dir / name, network, 8, 4, list(hidden_sizes), "LunarLander-v3")
    history = EpisodeHistory(window=100)
    for k, p in enumerate(points):
        history.add(p, env_steps=100 * (k + 1))
    history.write_csv(run_dir / HISTORY)
    return run_dir


class WritesMarker:
    """Unpickling this opens (creates) the marker file: code runs if the loader is unsafe."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


def member_data_offset(path: Path, name: str) -> tuple[int, int]:
    """Where the bytes of zip member `name` start in the file, and how many there are."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(name)
    with open(path, "rb") as f:
        f.seek(info.header_offset + 26)
        name_length, extra_length = struct.unpack("<HH", f.read(4))
    return info.header_offset + 30 + name_length + extra_length, info.file_size


def flip_byte(path: Path, offset: int) -> None:
    """Damage a file as a bad disk or a careless edit would: one bit of one byte."""
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))
