"""Greedy episodes of a Q-network on seeds never used in training, and their figures."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from lunar_dqn.config import EnvConfig
from lunar_dqn.run.envs import make_vec_env

# Training resets its sub-envs with seeds seed + i for small i; evaluation episodes use
# EVAL_SEED_BASE + k, far from any training seed.
EVAL_SEED_BASE = 1_000_000
LANDED_POINTS = 200.0


@torch.no_grad()
def greedy_returns(network: nn.Module, env_cfg: EnvConfig, episodes: int,
                   seed_base: int = EVAL_SEED_BASE) -> list[float]:
    """Points of `episodes` greedy episodes; episode k is played on seed `seed_base + k`.

    Episodes run in rounds of `env_cfg.num_envs`, each sub-env reset with its own seed, so the
    result does not depend on which episodes happen to finish first.
    """
    envs = make_vec_env(env_cfg)
    device = next(network.parameters()).device
    returns: list[float] = []
    try:
        n = envs.num_envs
        for first in range(0, episodes, n):
            obs, _ = envs.reset(seed=[seed_base + first + i for i in range(n)])
            points = np.zeros(n)
            running = np.ones(n, dtype=bool)
            while running.any():
                actions = network(torch.as_tensor(obs, device=device)).argmax(dim=1)
                obs, rewards, terminated, truncated, _ = envs.step(actions.cpu().numpy())
                points += rewards * running
                running &= ~(terminated | truncated)
            returns.extend(points[: min(n, episodes - first)].tolist())
    finally:
        envs.close()
    return returns


def summarize(returns: list[float]) -> dict[str, float]:
    points = np.asarray(returns)
    return {
        "episodes": len(points), "mean": float(points.mean()), "std": float(points.std()),
        "min": float(points.min()), "max": float(points.max()),
        "landed_share": float((points >= LANDED_POINTS).mean()),
    }
