"""The Q-network: an MLP from observations to one Q-value per action."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn


def make_q_network(obs_dim: int, num_actions: int, hidden_sizes: Sequence[int]) -> nn.Sequential:
    """ReLU MLP `obs_dim -> hidden_sizes... -> num_actions` with a linear output, as in the lab."""
    layers: list[nn.Module] = []
    in_size = obs_dim
    for size in hidden_sizes:
        layers += [nn.Linear(in_size, size), nn.ReLU()]
        in_size = size
    layers.append(nn.Linear(in_size, num_actions))
    return nn.Sequential(*layers)
