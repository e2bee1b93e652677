"""Periodic network resets (Nikishin et al. 2022; D'Oro et al. 2023): the last layers drawn
afresh, the others shrunk toward a fresh draw ("shrink and perturb", Ash & Adams 2020)."""

from __future__ import annotations

import torch
from torch import nn

from lunar_dqn.algo.networks import DuelingHead


def layer_groups(network: nn.Sequential) -> list[list[nn.Parameter]]:
    """The network's parameters by layer, input first: a hidden layer is its Linear map with the
    LayerNorm after it; the output (a Linear or a DuelingHead) is the last layer."""
    groups: list[list[nn.Parameter]] = []
    for module in network:
        params = list(module.parameters())
        if not params:
            continue
        if isinstance(module, (nn.Linear, DuelingHead)) or not groups:
            groups.append(params)
        else:  # a LayerNorm belongs to the Linear before it
            groups[-1].extend(params)
    return groups


@torch.no_grad()
def reset_layers(network: nn.Sequential, fresh: nn.Sequential, optimizer: torch.optim.Optimizer,
                 last: int, shrink: float) -> None:
    """Copy the last `last` layers of `fresh` (a newly initialised network of the same shape)
    into `network`; move the others to `shrink * w + (1 - shrink) * w_fresh` (1.0 leaves them).
    Adam forgets its moments and step count for every parameter that changed."""
    groups, fresh_groups = layer_groups(network), layer_groups(fresh)
    cut = len(groups) - last
    for k, (params, new) in enumerate(zip(groups, fresh_groups, strict=True)):
        if k < cut and shrink == 1.0:
            continue
        for p, q in zip(params, new, strict=True):
            if k >= cut:
                p.copy_(q)
            else:
                p.lerp_(q, 1.0 - shrink)
            optimizer.state.pop(p, None)  # Adam starts this parameter's statistics anew
