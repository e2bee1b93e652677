"""The training envs for `env.vectorization_mode`: Gymnasium's (`sync`, `async`, `worker`), each
sub-env wrapped in `EpisodeReplay`, or EnvPool's (`envpool`); `auto` picks `worker` or `sync`.

Evaluation and videos always play Gymnasium's (`envs.make_vec_env`, `envs.make_env`): the task as
Gymnasium defines it, on the seeds it defines.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from typing import Any

from gymnasium.vector import VectorEnv, VectorWrapper

from lunar_dqn.config import EnvConfig
from lunar_dqn.errors import EnvFailed, fault_line
from lunar_dqn.run.envpool_env import EnvPoolVectorEnv
from lunar_dqn.run.envs import make_vec_env
from lunar_dqn.run.episodes import EpisodeReplay

log = logging.getLogger(__name__)


def training_mode(requested: str) -> str:
    """`auto` is `worker` on Linux when this process may use a second core (the envs then step
    while the learner trains: the same run as `sync`, about 1.3x faster, docs/benchmarks.md),
    else `sync`. macOS is left out: forking a process that has loaded torch is unsafe there."""
    if requested != "auto":
        return requested
    if sys.platform.startswith("linux") and len(os.sched_getaffinity(0)) >= 2:
        return "worker"
    return "sync"


def make_training_envs(cfg: EnvConfig) -> VectorEnv:
    mode = training_mode(cfg.vectorization_mode)
    if mode != cfg.vectorization_mode:
        log.debug("env.vectorization_mode=auto: %s", mode)
    if mode == "envpool":
        return EnvPoolVectorEnv(cfg)
    envs = make_vec_env(cfg, wrappers=[EpisodeReplay], mode=mode)
    return OneLineFaults(envs) if mode == "sync" else envs


def _guarded(method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    try:
        return method(*args, **kwargs)
    except Exception as err:
        raise EnvFailed(f"the environment failed: {fault_line(err)}") from err


class OneLineFaults(VectorWrapper):
    """The `sync` vector env, whose environments' exceptions become EnvFailed: one line naming
    the exception and where it was raised, as the env worker reports those in its process."""

    def reset(self, *, seed: int | list[int] | None = None,
              options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        return _guarded(self.env.reset, seed=seed, options=options)

    def step(self, actions: Any) -> tuple[Any, Any, Any, Any, dict[str, Any]]:
        return _guarded(self.env.step, actions)

    def call(self, name: str, *args: Any, **kwargs: Any) -> tuple[Any, ...]:
        return _guarded(self.env.call, name, *args, **kwargs)

    def get_attr(self, name: str) -> tuple[Any, ...]:
        return self.env.get_attr(name)

    def set_attr(self, name: str, values: Any) -> None:
        self.env.set_attr(name, values)
