"""n-step returns for a vector of environments, never reaching across an episode's end."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch

from lunar_dqn.config import AgentConfig


class Transitions(NamedTuple):
    obs: np.ndarray  # (M, obs_dim)
    actions: np.ndarray  # (M,)
    returns: np.ndarray  # (M,) sum_k gamma^k r_{t+k} over the k steps taken
    next_obs: np.ndarray  # (M, obs_dim): the state k steps later (a true state, never a reset)
    terminated: np.ndarray  # (M,) bool: the k-th step ended the episode in a terminal state
    discounts: np.ndarray  # (M,) gamma^k: the weight of the bootstrap from next_obs


def annealed_horizon(env_steps: int, n_start: int, n_end: int, gamma_start: float,
                     gamma_end: float, anneal_steps: int) -> tuple[int, float]:
    """BBF's schedule (Schwarzer et al. 2023): over `anneal_steps` env steps, n falls from
    `n_start` to `n_end` and 1 - gamma from `1 - gamma_start` to `1 - gamma_end`, both
    log-linearly (n rounded to the nearest integer); then they stay at the end values."""
    f = min(1.0, env_steps / anneal_steps)
    n = round(math.exp((1 - f) * math.log(n_start) + f * math.log(n_end)))
    one_minus_gamma = math.exp((1 - f) * math.log(1 - gamma_start) + f * math.log(1 - gamma_end))
    return n, 1.0 - one_minus_gamma


def longest_n(cfg: AgentConfig) -> int:
    """The most steps a return spans in this run: what the window must hold."""
    return cfg.n_step if cfg.horizon_anneal_steps is None else max(cfg.n_step, cfg.n_step_start)


def horizon(cfg: AgentConfig, env_steps: int) -> tuple[int, float]:
    """The n and gamma of the step taken after `env_steps` env steps: `agent.n_step` and
    `agent.gamma`, or with `agent.horizon_anneal_steps` BBF's schedule towards them. They follow
    from the counter, so a resumed run agrees."""
    if cfg.horizon_anneal_steps is None:
        return cfg.n_step, cfg.gamma
    return annealed_horizon(env_steps, cfg.n_step_start, cfg.n_step, cfg.gamma_start, cfg.gamma,
                            cfg.horizon_anneal_steps)


class NStepWindow:
    """Holds each env's last steps (up to `max_n`) and emits n-step transitions.

    Each push says the n and gamma of the moment (`n <= max_n`). Every step held that has n
    steps after it in its episode is emitted with its n-step return, so when n falls, an env can
    emit several at once; each step is emitted exactly once. When an episode ends (terminated or
    truncated), every step still held is emitted, with the shorter return that reaches the
    episode's true last state where fewer than n steps are left, so nothing crosses the
    boundary, and truncation keeps its bootstrap (`terminated` is False there). Returns and
    discounts use the gamma of the push that emits them.
    """

    def __init__(self, num_envs: int, max_n: int, obs_dim: int) -> None:
        self.max_n = max_n
        self.obs = np.zeros((num_envs, max_n, obs_dim), dtype=np.float32)
        self.actions = np.zeros((num_envs, max_n), dtype=np.int64)
        self.rewards = np.zeros((num_envs, max_n), dtype=np.float64)
        # steps held per env, in slots [max_n - length, max_n)
        self.length = np.zeros(num_envs, dtype=np.int64)

    def push(self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray,
             next_obs: np.ndarray, terminated: np.ndarray, done: np.ndarray, n: int,
             gamma: float) -> Transitions:
        """Add one vector step (with the true next observations) and return what is ready."""
        m = self.max_n
        for window in (self.obs, self.actions, self.rewards):  # newest step goes to slot m-1
            window[:, :-1] = window[:, 1:]
        self.obs[:, -1], self.actions[:, -1], self.rewards[:, -1] = obs, actions, rewards
        self.length = np.minimum(self.length + 1, m)
        powers = gamma ** np.arange(m + 1)

        parts = []
        ready = np.where(done, 0, np.maximum(self.length - n + 1, 0))  # full n-step starts
        for j in range(int(ready.max())):  # usually once: one start per env and step
            envs = np.flatnonzero(ready > j)
            start = m - self.length[envs] + j
            after = start + n  # the slot of the state n steps later; m: this step's next_obs
            returns = self.rewards[envs[:, None], start[:, None] + np.arange(n)] @ powers[:n]
            later = np.where((after < m)[:, None], self.obs[envs, np.minimum(after, m - 1)],
                             next_obs[envs])
            parts.append(Transitions(
                self.obs[envs, start], self.actions[envs, start], returns, later,
                np.zeros(len(envs), dtype=bool), np.full(len(envs), powers[n], dtype=np.float32),
            ))
        self.length -= ready
        for i in np.flatnonzero(done):  # every start still held, oldest first
            start = np.arange(m - self.length[i], m)
            left = m - start  # steps from each start to the episode's end
            span = np.minimum(left, n)  # more than n left only where n fell this very step
            returns = np.array([self.rewards[i, j:j + k] @ powers[:k]
                                for j, k in zip(start, span, strict=True)])
            at_end = span == left
            later = np.where(at_end[:, None], next_obs[i], self.obs[i, np.minimum(start + span,
                                                                                   m - 1)])
            parts.append(Transitions(
                self.obs[i, start], self.actions[i, start], returns, later,
                at_end & bool(terminated[i]), powers[span].astype(np.float32),
            ))
            self.length[i] = 0
        if not parts:
            return self._empty()
        out = Transitions(*(np.concatenate(field) for field in zip(*parts, strict=True)))
        return out._replace(returns=out.returns.astype(np.float32))

    def _empty(self) -> Transitions:
        obs_dim = self.obs.shape[2]
        return Transitions(np.zeros((0, obs_dim), np.float32), np.zeros(0, np.int64),
                           np.zeros(0, np.float32), np.zeros((0, obs_dim), np.float32),
                           np.zeros(0, bool), np.zeros(0, np.float32))

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {name: torch.from_numpy(getattr(self, name).copy())
                for name in ("obs", "actions", "rewards", "length")}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        for name in ("obs", "actions", "rewards", "length"):
            setattr(self, name, state[name].numpy().copy())
