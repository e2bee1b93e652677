"""n-step returns for a vector of environments, never reaching across an episode's end."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch


class Transitions(NamedTuple):
    obs: np.ndarray  # (M, obs_dim)
    actions: np.ndarray  # (M,)
    returns: np.ndarray  # (M,) sum_k gamma^k r_{t+k} over the k steps taken
    next_obs: np.ndarray  # (M, obs_dim): the state k steps later (a true state, never a reset)
    terminated: np.ndarray  # (M,) bool: the k-th step ended the episode in a terminal state
    discounts: np.ndarray  # (M,) gamma^k: the weight of the bootstrap from next_obs


class NStepWindow:
    """Holds each env's last n steps and emits n-step transitions.

    Every step, an env with n steps in its window emits the oldest one with an n-step return.
    When an episode ends (terminated or truncated), every step still in the window is emitted
    with the shorter return that reaches the episode's true last state, so nothing crosses the
    boundary, and truncation keeps its bootstrap (`terminated` is False there).
    """

    def __init__(self, num_envs: int, n: int, gamma: float, obs_dim: int) -> None:
        self.n, self.gamma = n, gamma
        self.obs = np.zeros((num_envs, n, obs_dim), dtype=np.float32)
        self.actions = np.zeros((num_envs, n), dtype=np.int64)
        self.rewards = np.zeros((num_envs, n), dtype=np.float64)
        self.length = np.zeros(num_envs, dtype=np.int64)  # steps held; slots [n - length, n)
        self.powers = gamma ** np.arange(n + 1)

    def push(self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray,
             next_obs: np.ndarray, terminated: np.ndarray, done: np.ndarray) -> Transitions:
        """Add one vector step (with the true next observations) and return what is ready."""
        n = self.n
        for window in (self.obs, self.actions, self.rewards):  # newest step goes to slot n-1
            window[:, :-1] = window[:, 1:]
        self.obs[:, -1], self.actions[:, -1], self.rewards[:, -1] = obs, actions, rewards
        self.length = np.minimum(self.length + 1, n)

        full = (self.length == n) & ~done
        parts = [Transitions(
            self.obs[full, 0], self.actions[full, 0], self.rewards[full] @ self.powers[:n],
            next_obs[full], np.zeros(int(full.sum()), dtype=bool),
            np.full(int(full.sum()), self.powers[n], dtype=np.float32),
        )]
        for i in np.flatnonzero(done):
            first = n - self.length[i]
            k = np.arange(first, n)  # every start still in the window, oldest first
            steps = n - k  # steps from each start to the episode's end
            returns = np.array([self.rewards[i, j:] @ self.powers[: n - j] for j in k])
            parts.append(Transitions(
                self.obs[i, first:], self.actions[i, first:], returns,
                np.repeat(next_obs[i][None], len(k), axis=0),
                np.full(len(k), bool(terminated[i])), self.powers[steps].astype(np.float32),
            ))
            self.length[i] = 0
        ready = Transitions(*(np.concatenate(field) for field in zip(*parts, strict=True)))
        return ready._replace(returns=ready.returns.astype(np.float32))

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {name: torch.from_numpy(getattr(self, name).copy())
                for name in ("obs", "actions", "rewards", "length")}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        for name in ("obs", "actions", "rewards", "length"):
            setattr(self, name, state[name].numpy().copy())
