"""Proportional prioritized replay (`buffer.prioritized`), and the agent and buffer a run
trains with."""

from __future__ import annotations

import numpy as np
import torch

from lunar_dqn.algo.agent import DQNAgent
from lunar_dqn.algo.buffer import Batch, ReplayBuffer
from lunar_dqn.algo.sumtree import SumTree
from lunar_dqn.config import BufferConfig, Config


class PrioritizedReplayBuffer(ReplayBuffer):
    """Proportional prioritized replay (Schaul et al. 2016): row i is drawn with probability
    p_i^alpha / sum_j p_j^alpha, where p_i is its last absolute TD error plus `PRIORITY_EPSILON`
    (a new row gets the largest priority seen so far, so it is replayed soon); the sample's
    importance weights `(N * P(i))^-beta`, divided by their largest, undo the bias. beta rises
    linearly from `beta_start` to 1 over the first `beta_anneal_steps` transitions stored.

    The sum tree lives in numpy on the CPU; its uniform draws come from the buffer's seeded
    generator, and its leaves travel in the checkpoint, so a resumed run samples the same rows.
    """

    PRIORITY_EPSILON = 1e-6

    def __init__(self, capacity: int, obs_dim: int, device: torch.device, seed: int,
                 cfg: BufferConfig) -> None:
        super().__init__(capacity, obs_dim, device, seed)
        self.cfg = cfg
        self.tree = SumTree(capacity)
        self.max_priority = 1.0
        self.stored = 0  # transitions ever added: the clock of beta's schedule

    def add(self, obs: torch.Tensor, actions: torch.Tensor, rewards: torch.Tensor,
            next_obs: torch.Tensor, terminated: torch.Tensor, discounts: torch.Tensor) -> None:
        super().add(obs, actions, rewards, next_obs, terminated, discounts)
        n = min(len(obs), self.capacity)
        rows = (self.cursor - n + np.arange(n)) % self.capacity  # the rows just written
        self.tree.update(rows, self.max_priority**self.cfg.alpha)
        self.stored += len(obs)

    def beta(self) -> float:
        c = self.cfg
        return c.beta_start + min(1.0, self.stored / c.beta_anneal_steps) * (1.0 - c.beta_start)

    def sample(self, batch_size: int) -> Batch:
        """One draw in each of `batch_size` equal slices of the priorities' total (stratified)."""
        u = torch.rand(batch_size, device=self.device, generator=self.generator)
        segment = self.tree.total / batch_size
        rows = self.tree.find((np.arange(batch_size) + u.cpu().numpy()) * segment)
        probabilities = self.tree.leaves(rows) / self.tree.total
        weights = (self.size * probabilities) ** -self.beta()
        idx = torch.from_numpy(rows).to(self.device)
        return Batch(self.obs[idx], self.actions[idx], self.rewards[idx], self.next_obs[idx],
                     self.terminated[idx], self.discounts[idx],
                     torch.from_numpy(weights / weights.max()).float().to(self.device), idx)

    def update_priorities(self, indices: torch.Tensor, td_errors: torch.Tensor) -> None:
        priorities = td_errors.detach().abs().double().cpu().numpy() + self.PRIORITY_EPSILON
        self.max_priority = max(self.max_priority, float(priorities.max()))
        self.tree.update(indices.cpu().numpy(), priorities**self.cfg.alpha)

    def state_dict(self) -> dict:
        return {**super().state_dict(), "max_priority": self.max_priority, "stored": self.stored,
                "priorities": torch.from_numpy(self.tree.leaves(np.arange(self.size)))}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.max_priority, self.stored = state["max_priority"], state["stored"]
        self.tree.load_leaves(state["priorities"].numpy())


def agent_and_buffer(cfg: Config, obs_dim: int, num_actions: int, device: torch.device
                     ) -> tuple[DQNAgent, ReplayBuffer]:
    """The agent and the replay buffer (prioritized or uniform) a run of `cfg` trains with."""
    agent = DQNAgent(obs_dim, num_actions, cfg.agent, device, cfg.seed, cfg.buffer.prioritized)
    b = cfg.buffer
    buffer = (PrioritizedReplayBuffer(b.capacity, obs_dim, device, cfg.seed + 1, b)
              if b.prioritized else ReplayBuffer(b.capacity, obs_dim, device, cfg.seed + 1))
    return agent, buffer
