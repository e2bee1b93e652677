"""A PyTorch Deep Q-Learning agent for Gymnasium's LunarLander.

    import lunar_dqn
    cfg = lunar_dqn.compose("agent.tau=0.001")            # the command line's overrides
    summary = lunar_dqn.train.train(cfg, "runs/a")         # a full run directory
    results = lunar_dqn.evaluate.evaluate("runs/a", episodes=100)
    policy = lunar_dqn.load("runs/a")                      # obs (or a batch) -> greedy actions

Importing the package loads nothing heavy: each name loads its module on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"
__all__ = ["compose", "evaluate", "load", "train"]

_API = ("compose", "load")  # functions of lunar_dqn.api
_MODULES = ("train", "evaluate", "plot", "inspect", "report", "api", "errors", "config")


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module("lunar_dqn.api"), name)
    if name in _MODULES:  # `lunar_dqn.train` is the module: its `train` function trains
        return importlib.import_module(f"lunar_dqn.{name}")
    raise AttributeError(f"module 'lunar_dqn' has no attribute {name!r}")
