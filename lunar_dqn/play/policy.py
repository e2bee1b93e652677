"""A trained model as a policy for code: numpy observations in, greedy actions out (what SB3's
`model.predict(obs, deterministic=True)` gives)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from omegaconf import DictConfig
from torch import nn

from lunar_dqn.errors import ConfigError
from lunar_dqn.run.envs import make_env


@dataclass
class Policy:
    """`policy(obs)`: the greedy action for one observation (a numpy integer) or a batch of
    them (an array of shape (N,)); `policy.q_values(obs)` the Q-values behind it."""

    network: nn.Module
    model: Path  # the model file it was loaded from
    env: DictConfig  # the environment it was trained in (typed by EnvConfig)

    @torch.no_grad()
    def q_values(self, obs: np.ndarray) -> np.ndarray:
        batch = np.asarray(obs, dtype=np.float32)
        size = self.network[0].in_features
        if batch.ndim not in (1, 2) or batch.shape[-1] != size:
            raise ConfigError(f"observations of shape {batch.shape} do not fit the network: it "
                              f"takes ({size},) or (N, {size})")
        q = self.network(torch.from_numpy(np.atleast_2d(batch))).numpy()
        return q[0] if batch.ndim == 1 else q

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        return self.q_values(obs).argmax(axis=-1)

    def make_env(self, render_mode: str | None = None) -> gym.Env:
        """One environment as the model was trained in (e.g. `render_mode="rgb_array"`)."""
        return make_env(self.env, render_mode)
