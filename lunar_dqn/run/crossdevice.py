"""A run resumed on another device type than the one that wrote its checkpoint (trained on a
cluster's GPU, continued on a laptop's CPU, or the other way round).

Two generators live on the training device: the agent's action generator and the buffer's
sampling generator. Their states do not fit a generator of the other type: a CPU generator's
state is its Mersenne Twister (5056 bytes), a CUDA generator's its Philox seed and offset (16
bytes). Everything else a checkpoint holds is restored exactly; those two generators are seeded
afresh from a hash of their saved states: the same checkpoint resumed on the same device type
gives the same run, but not the draws the run would have made had it never stopped.
"""

from __future__ import annotations

import hashlib
import logging
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from lunar_dqn.run.trainer import Trainer

log = logging.getLogger(__name__)

CUDA_STATE_BYTES = 16  # a CUDA generator's seed and offset, 8 bytes each
CPU_STATE_BYTES = torch.Generator().get_state().numel()


def is_generator_state(value: Any) -> bool:
    """Whether `value` is a state that a CPU or a CUDA generator writes (a byte vector of its
    length); its content is checked when it is restored."""
    return (isinstance(value, torch.Tensor) and value.dtype == torch.uint8 and value.dim() == 1
            and value.numel() in (CPU_STATE_BYTES, CUDA_STATE_BYTES))


def expected_state(saved_part: Any, key: str, generator: torch.Generator) -> torch.Tensor:
    """The state a checkpoint check expects at `saved_part[key]`: the saved one where any
    device type's generator could have written it (`on_this_device` restores it), else the
    state of `generator`, the one it would be restored into."""
    saved = saved_part.get(key) if isinstance(saved_part, dict) else None
    return saved if is_generator_state(saved) else generator.get_state()


def reseeded_state(generator: torch.Generator, saved: torch.Tensor) -> torch.Tensor:
    """The state of a generator of `generator`'s device seeded from a hash of `saved`."""
    digest = hashlib.sha256(saved.contiguous().numpy().tobytes()).digest()
    fresh = torch.Generator(device=generator.device)
    fresh.manual_seed(int.from_bytes(digest[:8], "little"))
    return fresh.get_state()


def on_this_device(trainer: Trainer, state: dict[str, Any]) -> dict[str, Any]:
    """`state` (a checkpoint), with the state of each device generator that was written on
    another device type replaced by a fresh one (see the module), and one log line saying so.
    The same `state` when it was written on the trainer's own device type."""
    generators = (("agent", "action_generator", trainer.agent.action_generator),
                  ("buffer", "generator", trainer.buffer.generator))
    replaced: dict[str, Any] = {}
    for part, key, generator in generators:
        saved = state[part][key]
        if saved.numel() != generator.get_state().numel():
            replaced[part] = {**state[part], key: reseeded_state(generator, saved)}
            written_on = "cuda" if saved.numel() == CUDA_STATE_BYTES else "cpu"
    if replaced:
        log.info("the checkpoint was written on %s, the run continues on %s: weights, optimizer, "
                 "buffer, counters and every other generator are restored exactly, the action "
                 "and sampling generators are seeded afresh from their saved states (so the run "
                 "is no longer identical to one never stopped)", written_on, trainer.device.type)
    return {**state, **replaced}
