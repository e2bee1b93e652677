"""Vector environment factory and the step bookkeeping that keeps transitions within episodes."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv

from lunar_dqn.config import ConfigError, EnvConfig


def check_env_id(env_id: str) -> None:
    if env_id not in gym.registry:
        close = [name for name in gym.registry if env_id.split("-")[0].lower() in name.lower()]
        hint = f" (did you mean {', '.join(close[:3])}?)" if close else ""
        raise ConfigError(f"env.id={env_id!r} is not a registered Gymnasium environment{hint}")


def make_vec_env(cfg: EnvConfig, render_mode: str | None = None) -> VectorEnv:
    """`num_envs` copies of `cfg.id` that reset a finished sub-env within the same step.

    SAME_STEP autoreset returns the reset observation in the step that ended the episode and
    the true last observation in `infos["final_obs"]`, so every step is a real transition.
    """
    check_env_id(cfg.id)
    kwargs: dict[str, Any] = dict(cfg.kwargs)
    if cfg.max_episode_steps is not None:
        kwargs["max_episode_steps"] = cfg.max_episode_steps
    if render_mode is not None:
        kwargs["render_mode"] = render_mode
    try:
        return gym.make_vec(
            cfg.id, num_envs=cfg.num_envs, vectorization_mode=cfg.vectorization_mode,
            vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP}, **kwargs,
        )
    except TypeError as err:  # an option the environment's constructor does not take
        raise ConfigError(
            f"env.kwargs={dict(cfg.kwargs)!r} is invalid for {cfg.id}: {err}") from None


def true_next_obs(next_obs: np.ndarray, done: np.ndarray, infos: dict[str, Any]) -> np.ndarray:
    """The observation each transition really led to: `final_obs` where an episode ended
    (the vector env already shows the next episode's first observation there)."""
    if not done.any():
        return next_obs
    fixed = next_obs.copy()
    for i in np.flatnonzero(done):
        fixed[i] = infos["final_obs"][i]
    return fixed
