"""The Q-network: an MLP from observations to one Q-value per action, optionally with LayerNorm
in its hidden layers and a dueling head."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class DuelingHead(nn.Module):
    """`Q(s, a) = V(s) + A(s, a) - mean_a' A(s, a')` from the last hidden layer (Wang et al.
    2016): one linear value stream and one linear advantage stream."""

    def __init__(self, in_size: int, num_actions: int) -> None:
        super().__init__()
        self.value = nn.Linear(in_size, 1)
        self.advantage = nn.Linear(in_size, num_actions)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        advantage = self.advantage(h)
        return self.value(h) + advantage - advantage.mean(dim=1, keepdim=True)


def make_q_network(obs_dim: int, num_actions: int, hidden_sizes: Sequence[int],
                   layer_norm: bool = False, dueling: bool = False) -> nn.Sequential:
    """ReLU MLP `obs_dim -> hidden_sizes... -> num_actions` with a linear output, as in the lab.

    `layer_norm` puts a LayerNorm (with its gain and bias) between each hidden layer's linear map
    and its ReLU, as PQN does; `dueling` replaces the linear output by a `DuelingHead`.
    """
    layers: list[nn.Module] = []
    in_size = obs_dim
    for size in hidden_sizes:
        layers.append(nn.Linear(in_size, size))
        if layer_norm:
            layers.append(nn.LayerNorm(size))
        layers.append(nn.ReLU())
        in_size = size
    layers.append(DuelingHead(in_size, num_actions) if dueling else nn.Linear(in_size, num_actions))
    return nn.Sequential(*layers)


def architecture(network: nn.Module) -> dict[str, bool]:
    """`make_q_network`'s options that built `network`: what a model file records."""
    return {"layer_norm": any(isinstance(m, nn.LayerNorm) for m in network.modules()),
            "dueling": any(isinstance(m, DuelingHead) for m in network.modules())}
