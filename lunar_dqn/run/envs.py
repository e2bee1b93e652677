"""Environment factories, and the true next observation that keeps transitions within episodes."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv

from lunar_dqn.config import EnvConfig
from lunar_dqn.errors import ConfigError
from lunar_dqn.run.env_worker import WorkerVectorEnv
from lunar_dqn.run.signals import STOP_SIGNALS


def check_env_id(env_id: str) -> None:
    if env_id not in gym.registry:
        close = [name for name in gym.registry if env_id.split("-")[0].lower() in name.lower()]
        hint = f" (did you mean {', '.join(close[:3])}?)" if close else ""
        raise ConfigError(f"env.id={env_id!r} is not a registered Gymnasium environment{hint}")


@contextmanager
def _workers_ignore_signals(active: bool) -> Iterator[None]:
    """Async workers inherit ignored stop signals, so Ctrl-C or a cluster's SIGTERM or SIGUSR2
    reaches only the trainer, which checkpoints and closes them itself."""
    if not active:
        yield
        return
    saved = {sig: signal.signal(sig, signal.SIG_IGN) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def _make_kwargs(cfg: EnvConfig, render_mode: str | None) -> dict[str, Any]:
    check_env_id(cfg.id)
    kwargs: dict[str, Any] = dict(cfg.kwargs)
    if cfg.max_episode_steps is not None:
        kwargs["max_episode_steps"] = cfg.max_episode_steps
    if render_mode is not None:
        kwargs["render_mode"] = render_mode
    return kwargs


def _invalid_kwargs(cfg: EnvConfig, err: Exception) -> ConfigError:
    """An option the environment's constructor does not take, or a value it refuses."""
    reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return ConfigError(f"env.kwargs={dict(cfg.kwargs)!r} is invalid for {cfg.id}: {reason}")


def check_env(cfg: EnvConfig) -> None:
    """Build one environment in this process with the config's options before any work: a
    value it refuses (its own assertion, e.g. LunarLander's gravity range) is one line here,
    not a traceback from a worker process; and DQN needs a discrete action space
    (`continuous=true` gives LunarLander a continuous one)."""
    try:
        env = gym.make(cfg.id, **_make_kwargs(cfg, None))
    except (TypeError, AssertionError, ValueError) as err:
        raise _invalid_kwargs(cfg, err) from None
    try:
        if not isinstance(env.action_space, spaces.Discrete):
            raise ConfigError(
                f"env.kwargs={dict(cfg.kwargs)!r} is invalid for {cfg.id}: its action space is "
                f"then {env.action_space}, and DQN needs discrete actions")
    finally:
        env.close()


def make_vec_env(cfg: EnvConfig, render_mode: str | None = None,
                 wrappers: Sequence[Callable[[gym.Env], gym.Env]] = (),
                 mode: str | None = None) -> VectorEnv:
    """`num_envs` copies of `cfg.id` that reset a finished sub-env within the same step, each
    wrapped in `wrappers` (training adds `episodes.EpisodeReplay`).

    SAME_STEP autoreset returns the reset observation in the step that ended the episode and
    the true last observation in `infos["final_obs"]`, so every step is a real transition.
    `mode` (default `cfg.vectorization_mode`): `worker` runs the `sync` vector env in a process
    of its own; `envpool` and `auto` (training only, see `backends.make_training_envs`) get
    Gymnasium's `sync` envs here.
    """
    check_env(cfg)
    mode = mode or cfg.vectorization_mode
    gym_mode = "async" if mode == "async" else "sync"
    with _workers_ignore_signals(gym_mode == "async"):
        envs = gym.make_vec(
            cfg.id, num_envs=cfg.num_envs, vectorization_mode=gym_mode,
            vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP},
            wrappers=list(wrappers), **_make_kwargs(cfg, render_mode),
        )
    return WorkerVectorEnv(envs) if mode == "worker" else envs


def make_env(cfg: EnvConfig, render_mode: str | None = None) -> gym.Env:
    """One copy of `cfg.id` (`num_envs` ignored), for watching or recording episodes: unlike
    the vector env, it shows an episode's last frame before any reset."""
    check_env(cfg)
    return gym.make(cfg.id, **_make_kwargs(cfg, render_mode))


def true_next_obs(next_obs: np.ndarray, done: np.ndarray, infos: dict[str, Any]) -> np.ndarray:
    """The observation each transition really led to: `final_obs` where an episode ended
    (the vector env already shows the next episode's first observation there)."""
    if not done.any():
        return next_obs
    fixed = next_obs.copy()
    for i in np.flatnonzero(done):
        fixed[i] = infos["final_obs"][i]
    return fixed
