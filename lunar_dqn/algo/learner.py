"""Which learner computes the gradient step (`agent.backward`), decided once from the network and
the device: the one rule for `auto` and for a learner named explicitly.

- `fused` (`fused.py`): the whole step in numpy on views of the torch weights; CPU, float32.
- `manual` (`backward.py`): the TD loss's gradients written out, then torch's Adam; any device.
- `autograd`: any network, any device.

The first two know one shape of network, a stack of biased Linear layers with a ReLU between each
two (the fused learner also a `DuelingHead` in the last one's place); any other layer (a
LayerNorm, say) would get wrong gradients silently. So `auto` takes the first of fused, manual,
autograd that covers the network and device (with a log line when that is autograd), and a
learner named for a network or device it does not cover is refused.
"""

from __future__ import annotations

import logging

import torch
from torch import nn

from lunar_dqn.algo.networks import DuelingHead
from lunar_dqn.errors import ConfigError

log = logging.getLogger(__name__)

LEARNERS = ("fused", "manual", "autograd")  # fastest first
RELU_MLP = "biased Linear layers with a ReLU between each two"
COVERS = {"fused": f"float32 {RELU_MLP} (the last may be a dueling head), on CPU",
          "manual": RELU_MLP}
NAMES = {"fused": "the fused learner", "manual": "the hand-written backward pass"}


def relu_mlp_layers(network: nn.Module, dueling: bool = False
                    ) -> list[nn.Linear | DuelingHead] | None:
    """The Linear layers of an `nn.Sequential` Linear, ReLU, Linear, ..., ReLU, Linear (biases
    on), the last of them a `DuelingHead` if `dueling` allows it; None for any other network."""
    if not isinstance(network, nn.Sequential) or len(network) % 2 == 0:
        return None
    last = len(network) - 1
    if not all(type(m) is nn.ReLU if i % 2 else
               (type(m) is nn.Linear and m.bias is not None)
               or (dueling and i == last and type(m) is DuelingHead)
               for i, m in enumerate(network)):
        return None
    return list(network)[::2]


def covers(learner: str, network: nn.Module, device: torch.device) -> bool:
    """Whether `learner` computes the right step for `network` on `device`."""
    if learner == "autograd":
        return True
    if relu_mlp_layers(network, dueling=learner == "fused") is None:
        return False
    return learner == "manual" or (
        device.type == "cpu" and all(p.dtype == torch.float32 for p in network.parameters()))


def describe(network: nn.Module) -> str:
    return " -> ".join(type(m).__name__ for m in network.children()) or type(network).__name__


def choose_backward(network: nn.Module, requested: str, device: torch.device) -> str:
    """`fused`, `manual` or `autograd` for `agent.backward=requested` (`auto` or one of them).

    auto: fused on CPU for float32 ReLU MLPs (dueling or not), manual for other plain ReLU MLPs
    (on a GPU, say), else autograd with a log line saying so. A learner named for a network or
    device it does not cover: a ConfigError.
    """
    if requested == "auto":
        chosen = next(name for name in LEARNERS if covers(name, network, device))
        if chosen == "autograd":
            log.info("agent.backward=auto: neither the fused learner nor the hand-written "
                     "backward pass covers this network (%s) on %s, so it trains through "
                     "autograd", describe(network), device)
        return chosen
    if not covers(requested, network, device):
        raise ConfigError(
            f"agent.backward={requested} cannot train this network ({describe(network)}) on "
            f"{device}: {NAMES[requested]} covers only {COVERS[requested]}; use "
            "agent.backward=auto or autograd")
    return requested
