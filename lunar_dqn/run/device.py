"""The device a run trains on, and the memory it has for the replay buffer."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from lunar_dqn.algo.buffer import ReplayBuffer
from lunar_dqn.errors import ConfigError

# The buffer may take at most this share of the memory available when the run starts: the
# rest of the run (networks, environments, a checkpoint's copy of the buffer) needs some too.
BUFFER_SHARE = 0.9
GIB = 2**30


def resolve_device(name: str) -> torch.device:
    """`auto` is the CPU: at this project's network sizes a GPU trains slower (an H200 took 2x
    the CPU's time per env step with the defaults, docs/benchmarks.md); `cuda` asks for one."""
    if name == "auto":
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device={name!r} is invalid: CUDA is not available on this machine "
                          "(use device=cpu or device=auto)")
    return torch.device(name)


def available_memory(device: torch.device) -> int | None:
    """Bytes free for new tensors on `device`: the GPU's free memory, or the system's available
    memory (Linux's MemAvailable, else its free pages); None if unknown."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    meminfo = Path("/proc/meminfo")
    if meminfo.is_file():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_buffer_memory(capacity: int, obs_dim: int, device: torch.device) -> None:
    """Refuse a replay buffer the device cannot hold, before allocating it."""
    nbytes = ReplayBuffer.nbytes(capacity, obs_dim)
    available = available_memory(device)
    if available is not None and nbytes > BUFFER_SHARE * available:
        raise ConfigError(
            f"buffer.capacity={capacity} is too large: the replay buffer needs "
            f"{nbytes / GIB:.1f} GiB, and {device} has {available / GIB:.1f} GiB available")
