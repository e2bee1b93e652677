"""Environments that misbehave on purpose, registered for the env backend tests, and a look at
the processes a backend leaves behind."""

import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from threadpoolctl import threadpool_info

from conftest import CountingEnv


class ExplodingEnv(CountingEnv):
    """CountingEnv whose third step in its episode `episode` (its first by default) raises, as
    a faulty environment would."""

    def __init__(self, episode: int = 0) -> None:
        super().__init__()
        self.explodes_in = episode

    def step(self, action):
        if self.episode == self.explodes_in and self.t == 2:
            raise ValueError("the engine\nexploded")
        return super().step(action)


class BrokenResetEnv(CountingEnv):
    def reset(self, *, seed=None, options=None):
        raise OSError("no engine")


def line_of(text: str) -> int:
    """The number of the line of this file where `text` is (an error message names it)."""
    lines = Path(__file__).read_text().splitlines()
    return next(number for number, line in enumerate(lines, 1) if text in line)


EXPLODES_AT = line_of('raise ValueError("the engine')


class DictObsEnv(CountingEnv):
    def __init__(self) -> None:
        super().__init__()
        self.observation_space = spaces.Dict({"x": spaces.Box(-1, 1, (2,), np.float32)})


class ThreadReportingEnv(CountingEnv):
    def thread_counts(self) -> tuple[int, list[int]]:
        """Run in the worker: the threads torch and each BLAS / OpenMP library may use."""
        return torch.get_num_threads(), [pool["num_threads"] for pool in threadpool_info()]


gym.register("ExplodingEnv-v0", entry_point=ExplodingEnv, max_episode_steps=10)
# with 2 envs, episode 80 comes after env step 1000: a smoke run's first checkpoint
gym.register("LateExplodingEnv-v0", entry_point=ExplodingEnv, max_episode_steps=10,
             kwargs={"episode": 80})
gym.register("BrokenResetEnv-v0", entry_point=BrokenResetEnv)
gym.register("DictObsEnv-v0", entry_point=DictObsEnv)
gym.register("ThreadReportingEnv-v0", entry_point=ThreadReportingEnv)


def process_gone(pid: int, timeout: float = 10.0) -> bool:
    """True once `pid` has exited (a zombie no one has reaped yet counts as exited)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state in ("Z", "X"):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid`."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found
