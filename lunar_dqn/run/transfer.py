"""A vector step's transitions, from the envs' numpy arrays to the training device: on a GPU one
host-to-device copy a step instead of one per field."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch


def pack(fields: Sequence[np.ndarray], pin: bool = False) -> torch.Tensor:
    """The fields' rows side by side in one float32 host tensor (pinned with `pin`), exactly:
    each field holds float32 values, flags or small integers (actions, far below 2**24)."""
    n = len(fields[0])
    columns = [x.reshape(n, math.prod(x.shape[1:])) for x in fields]
    packed = torch.empty((n, sum(c.shape[1] for c in columns)), dtype=torch.float32,
                         pin_memory=pin)
    np.concatenate(columns, axis=1, out=packed.numpy(), casting="unsafe")
    return packed


def unpack(packed: torch.Tensor, fields: Sequence[np.ndarray]) -> list[torch.Tensor]:
    """`packed`'s columns as views shaped like `fields` (the buffer casts each to its dtype)."""
    widths = [math.prod(x.shape[1:]) for x in fields]
    return [part.reshape(x.shape) for part, x in
            zip(packed.split(widths, dim=1), fields, strict=True)]


def to_device(fields: Sequence[np.ndarray], device: torch.device) -> list[torch.Tensor]:
    """The fields as tensors on `device`: on the CPU they share the arrays' memory; elsewhere they
    are packed into one pinned host tensor and copied without blocking the host."""
    if device.type == "cpu":
        return [torch.from_numpy(x) for x in fields]
    packed = pack(fields, pin=device.type == "cuda")
    return unpack(packed.to(device, non_blocking=True), fields)
