from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from omegaconf import DictConfig, OmegaConf

from lunar_dqn.config import CONF_DIR, AgentConfig, compose_config, group_defaults, register_configs

REPO = Path(__file__).resolve().parents[1]
# CONF_DIR and compose_config are re-exported for the tests; tests that compose through Hydra's
# API themselves need the schemas registered first.
__all__ = ["CONF_DIR", "REPO", "agent_config", "compose_config", "env_config", "run_module"]
register_configs()


def agent_config(**values) -> AgentConfig:
    """The default agent config with `values` changed, as the dataclass the agent gets; the
    plain MLP (no dueling head) unless `dueling=True`: the learners' unit tests check its math."""
    return OmegaConf.to_object(OmegaConf.merge(group_defaults("agent"), {"dueling": False},
                                               values))


def env_config(**values) -> DictConfig:
    """The default env config with `values` changed."""
    return OmegaConf.merge(group_defaults("env"), values)


def run_module(module: str, *args: str, cwd: Path,
               timeout: float = 300) -> subprocess.CompletedProcess:
    """Run `python -m MODULE ARGS` the way a user would, from `cwd`."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "HYDRA_FULL_ERROR": ""}
    return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


class CountingEnv(gym.Env):
    """Observations you can read: [episode id, step in episode, 0...]. The episode terminates
    after `terminate_at` steps for odd episodes; even ones run into the time limit."""

    def __init__(self, terminate_at: int = 7) -> None:
        self.observation_space = spaces.Box(-1e6, 1e6, (8,), np.float32)
        self.action_space = spaces.Discrete(4)
        self.terminate_at = terminate_at
        self.episode = -1
        self.t = 0

    def _obs(self) -> np.ndarray:
        return np.array([self.episode, self.t, 0, 0, 0, 0, 0, 0], dtype=np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.episode += 1
        self.t = 0
        return self._obs(), {}

    def step(self, action):
        self.t += 1
        terminated = self.episode % 2 == 1 and self.t == self.terminate_at
        return self._obs(), float(self.t), terminated, False, {}


gym.register("CountingEnv-v0", entry_point=CountingEnv, max_episode_steps=10)


@pytest.fixture
def counting_env_id() -> str:
    return "CountingEnv-v0"
