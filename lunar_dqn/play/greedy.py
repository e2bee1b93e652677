"""Greedy episodes of a Q-network on seeds never used in training, and their figures."""

from __future__ import annotations

from collections.abc import Sequence

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from lunar_dqn.config import EnvConfig
from lunar_dqn.run.envs import make_vec_env
from lunar_dqn.seeds import TEST_SEED_BASE

# `evaluate`'s episodes: far from any training or validation seed (lunar_dqn.seeds).
EVAL_SEED_BASE = TEST_SEED_BASE
LANDED_POINTS = 200.0  # a greedy episode of at least this many points landed


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


@torch.no_grad()
def play_side_by_side(network: nn.Module, envs: Sequence[gym.Env],
                      seeds: Sequence[int]) -> tuple[list[float], list[int]]:
    """One greedy episode in each env (env i reset with `seeds[i]`), all stepped together with
    one forward pass per step over the envs still playing. An env whose episode has ended is not
    stepped again (a vector env would play on), so the cost is the sum of the episodes' lengths.
    Returns each episode's points and steps."""
    device = next(network.parameters()).device
    obs = np.stack([env.reset(seed=seed)[0] for env, seed in zip(envs, seeds, strict=True)])
    points, steps = [0.0] * len(envs), [0] * len(envs)
    playing = list(range(len(envs)))
    while playing:
        actions = network(torch.as_tensor(obs[playing], device=device)).argmax(dim=1)
        still = []
        for i, action in zip(playing, actions.tolist(), strict=True):
            obs[i], reward, terminated, truncated, _ = envs[i].step(action)
            points[i] += float(reward)
            steps[i] += 1
            if not (terminated or truncated):
                still.append(i)
        playing = still
    return points, steps


def summarize(returns: list[float]) -> dict[str, float]:
    points = np.asarray(returns)
    return {
        "episodes": len(points), "mean": float(points.mean()), "std": float(points.std()),
        "min": float(points.min()), "max": float(points.max()),
        "landed_share": float((points >= LANDED_POINTS).mean()),
    }
