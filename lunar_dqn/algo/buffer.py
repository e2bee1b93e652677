"""Tensor-backed circular replay buffer, preallocated on the training device."""

from __future__ import annotations

from typing import NamedTuple

import torch


class Batch(NamedTuple):
    obs: torch.Tensor  # (B, obs_dim) float32
    actions: torch.Tensor  # (B,) int64
    rewards: torch.Tensor  # (B,) float32
    next_obs: torch.Tensor  # (B, obs_dim) float32: the true next state, never a reset state
    terminated: torch.Tensor  # (B,) float32: 1.0 only for true terminal states, not time limits
    discounts: torch.Tensor  # (B,) float32: gamma^k for a k-step transition
    weights: torch.Tensor | None = None  # (B,) importance weights of a prioritized sample
    indices: torch.Tensor | None = None  # (B,) its rows, for the priorities' update


COLUMNS = Batch._fields[:6]  # the buffer's tensors, named and ordered as a Batch's


class ReplayBuffer:
    """Fixed-capacity ring of transitions; `add` writes a vector step's N rows at once."""

    def __init__(self, capacity: int, obs_dim: int, device: torch.device, seed: int) -> None:
        self.capacity = capacity
        self.device = device
        self.obs = torch.zeros(capacity, obs_dim, device=device)
        self.next_obs = torch.zeros(capacity, obs_dim, device=device)
        self.actions = torch.zeros(capacity, dtype=torch.int64, device=device)
        self.rewards = torch.zeros(capacity, device=device)
        self.terminated = torch.zeros(capacity, device=device)
        self.discounts = torch.zeros(capacity, device=device)
        self.cursor = 0  # next row to write
        self.size = 0
        self.generator = torch.Generator(device=device)
        self.generator.manual_seed(seed)

    def __len__(self) -> int:
        return self.size

    def add(self, obs: torch.Tensor, actions: torch.Tensor, rewards: torch.Tensor,
            next_obs: torch.Tensor, terminated: torch.Tensor, discounts: torch.Tensor) -> None:
        """Write a vector step's rows. They may come from any device, as tensors or arrays: each
        is moved to the buffer's device and cast to its field's dtype."""
        values = (obs, actions, rewards, next_obs, terminated, discounts)
        n = len(obs)
        if n > self.capacity:  # only the newest `capacity` rows survive a single add
            values = tuple(x[-self.capacity:] for x in values)
            self.cursor = (self.cursor + n - self.capacity) % self.capacity
            n = self.capacity
        rows = (self.cursor + torch.arange(n, device=self.device)) % self.capacity
        for name, x in zip(COLUMNS, values, strict=True):
            field = getattr(self, name)
            field[rows] = torch.as_tensor(x, dtype=field.dtype, device=self.device)
        self.cursor = (self.cursor + n) % self.capacity
        self.size = min(self.size + n, self.capacity)

    def draw_indices(self, batch_size: int, out: torch.Tensor | None = None) -> torch.Tensor:
        """The rows of a uniform sample with replacement, drawn with the buffer's generator."""
        return torch.randint(0, self.size, (batch_size,), device=self.device,
                             generator=self.generator, out=out)

    def sample(self, batch_size: int) -> Batch:
        """Uniform sample with replacement, indices drawn on the buffer's device."""
        idx = self.draw_indices(batch_size)
        return Batch(self.obs[idx], self.actions[idx], self.rewards[idx], self.next_obs[idx],
                     self.terminated[idx], self.discounts[idx])

    @staticmethod
    def nbytes(capacity: int, obs_dim: int) -> int:
        """The memory the buffer's tensors take: two observations, an int64 action and three
        float32 columns per row."""
        return capacity * (2 * obs_dim * 4 + 8 + 3 * 4)

    def state_dict(self) -> dict:
        """Only the filled rows travel, copied into storages of their own (a slice alone would
        drag its whole storage into the file), so a young buffer makes a small checkpoint."""
        n = self.size
        return {
            "capacity": self.capacity, "cursor": self.cursor, "size": n,
            **{name: getattr(self, name)[:n].to("cpu", copy=True) for name in COLUMNS},
            "generator": self.generator.get_state(),
        }

    def load_state_dict(self, state: dict) -> None:
        if state["capacity"] != self.capacity or state["obs"].shape[1] != self.obs.shape[1]:
            raise ValueError(
                f"replay buffer shape mismatch: saved capacity {state['capacity']} x "
                f"{state['obs'].shape[1]}, configured {self.capacity} x {self.obs.shape[1]}"
            )
        n = state["size"]
        for name in COLUMNS:
            getattr(self, name)[:n] = state[name].to(self.device)
        self.cursor, self.size = state["cursor"], n
        self.generator.set_state(state["generator"])
