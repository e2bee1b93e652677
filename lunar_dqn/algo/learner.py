"""Which code computes the TD loss's gradients (`agent.backward`): the hand-written backward
pass where it covers the network, else autograd.

The hand-written pass (`backward.py`) knows one shape of network, a stack of biased Linear
layers with a ReLU between each two; any other layer (a LayerNorm, a dueling head) would get
wrong gradients silently. So the choice is made here, once, from the network's modules.
"""

from __future__ import annotations

import logging

from torch import nn

from lunar_dqn.errors import ConfigError

log = logging.getLogger(__name__)


def manual_backward_covers(network: nn.Module) -> bool:
    """Linear, ReLU, Linear, ..., ReLU, Linear (biased Linear layers), and nothing else."""
    if not isinstance(network, nn.Sequential) or len(network) % 2 == 0:
        return False
    return all(
        type(m) is nn.Linear and m.bias is not None if i % 2 == 0 else type(m) is nn.ReLU
        for i, m in enumerate(network)
    )


def choose_backward(network: nn.Module, requested: str) -> str:
    """`manual` or `autograd` for `agent.backward=requested` (auto, manual or autograd).

    auto: manual where it covers the network, else autograd with a log line saying so.
    manual for a network it does not cover: a ConfigError.
    """
    if requested == "autograd":
        return "autograd"
    if manual_backward_covers(network):
        return "manual"
    layers = " -> ".join(type(m).__name__ for m in network.children()) or type(network).__name__
    if requested == "manual":
        raise ConfigError(f"agent.backward=manual cannot train this network ({layers}): the "
                          "hand-written backward pass covers only Linear layers with a ReLU "
                          "between each two; use agent.backward=auto or autograd")
    log.info("agent.backward=auto: the hand-written backward pass does not cover this network "
             "(%s), so it trains through autograd", layers)
    return "autograd"
