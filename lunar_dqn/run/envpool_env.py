"""`env.vectorization_mode=envpool`: EnvPool's C++ LunarLander, opt-in (`pip install
'lunar_dqn[envpool]'`), stepped by a thread of its own while the trainer learns.

It is the same task as Gymnasium's (`python -m benchmarks.envpool_task` compares the returns of a
random and a heuristic policy), but not the same simulator, so what it gives up is stated:
- no `env.kwargs` (EnvPool builds LunarLander with its own defaults) and no rendering;
- episodes cannot be replayed, so a resumed run is not exact: the episodes in progress at the
  checkpoint are dropped and the envs start new ones (`episodes.restart_episodes`);
- seeds give other episodes than Gymnasium's for the same seed (the evaluation, the final video
  and `evaluate` always play Gymnasium's environment).
EnvPool resets a finished env on the step after (ignoring that step's action, reward 0); here a
finished env is reset at once instead, so every step is a real transition, as with SAME_STEP.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import VectorEnv

from lunar_dqn.config import EnvConfig
from lunar_dqn.errors import ConfigError
from lunar_dqn.run.episodes import ENVPOOL_EPISODE, EPISODE_START

THREADS = 1  # the trainer has one core; EnvPool's thread takes the other


def import_envpool(cfg: EnvConfig, render_mode: str | None) -> ModuleType:
    """EnvPool, once `cfg` asks only for what it can do; ConfigError otherwise."""
    if cfg.kwargs:
        raise ConfigError(f"env.kwargs={dict(cfg.kwargs)!r} cannot be used with "
                          "env.vectorization_mode=envpool, which builds the environment with its "
                          "own defaults: use env.vectorization_mode=worker")
    if render_mode is not None:
        raise ConfigError("env.vectorization_mode=envpool cannot render: use worker or sync")
    try:
        envpool = importlib.import_module("envpool")
    except ImportError:
        raise ConfigError("env.vectorization_mode=envpool needs EnvPool: pip install "
                          "'lunar_dqn[envpool]' (Python >= 3.11 on Linux, Windows or "
                          "Apple-silicon macOS), or use env.vectorization_mode=worker") from None
    if cfg.id not in envpool.list_all_envs():
        raise ConfigError(f"env.id={cfg.id!r} is not an EnvPool environment: use "
                          "env.vectorization_mode=worker")
    return envpool


class EnvPoolVectorEnv(VectorEnv):
    """EnvPool behind the vector env interface the trainer uses, with SAME_STEP autoreset:
    a step that ends an episode returns the next episode's first observation and the last
    one in `infos["final_obs"]`."""

    replays_episodes = False

    def __init__(self, cfg: EnvConfig, render_mode: str | None = None) -> None:
        self._envpool = import_envpool(cfg, render_mode)
        self._cfg = cfg
        reference = gym.make(cfg.id)  # Gymnasium's spaces: EnvPool's observation bounds are off
        self.single_observation_space = reference.observation_space
        self.single_action_space = reference.action_space
        self.metadata = dict(reference.metadata)  # the closing video plays Gymnasium's env
        reference.close()
        self.num_envs = cfg.num_envs
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space,
                                                              self.num_envs)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, self.num_envs)
        self.render_mode = None
        self._pool: Any = None
        n = self.num_envs
        self._obs = np.zeros((n, *self.single_observation_space.shape), np.float32)
        self._rewards = np.zeros(n)
        self._terminated = np.zeros(n, dtype=bool)
        self._truncated = np.zeros(n, dtype=bool)

    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        """With `seed`, a new pool whose env i has seed `seed + i`; else new episodes."""
        if not isinstance(seed, (int, np.integer, type(None))):
            raise ValueError("EnvPool envs take one seed (env i gets seed + i), not a list")
        if seed is not None or self._pool is None:
            self._close_pool()
            kwargs = {} if self._cfg.max_episode_steps is None else {
                "max_episode_steps": self._cfg.max_episode_steps}
            self._pool = self._envpool.make(
                self._cfg.id, env_type="gymnasium", num_envs=self.num_envs,
                batch_size=self.num_envs, num_threads=THREADS, seed=int(seed or 0), **kwargs)
        obs, info = self._pool.reset()
        self._obs[info["env_id"]] = obs
        return self._obs.copy(), {EPISODE_START: self._starts(np.ones(self.num_envs, bool))}

    def step_async(self, actions: np.ndarray) -> None:
        self._pool.send(np.asarray(actions, dtype=np.int32))

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        obs, rewards, terminated, truncated, info = self._pool.recv()
        ids = info["env_id"]
        self._obs[ids], self._rewards[ids] = obs, rewards
        self._terminated[ids], self._truncated[ids] = terminated, truncated
        done = self._terminated | self._truncated
        infos: dict[str, Any] = {}
        if done.any():
            final = np.full(self.num_envs, None, dtype=object)
            for i in np.flatnonzero(done):
                final[i] = self._obs[i].copy()
            first, reset_info = self._pool.reset(np.flatnonzero(done).astype(np.int32))
            self._obs[reset_info["env_id"]] = first
            infos = {"final_obs": final, "_final_obs": done.copy(),
                     EPISODE_START: self._starts(done), f"_{EPISODE_START}": done.copy()}
        return (self._obs.copy(), self._rewards.copy(), self._terminated.copy(),
                self._truncated.copy(), infos)

    def step(self, actions: np.ndarray) -> tuple:
        self.step_async(actions)
        return self.step_wait()

    def _starts(self, mask: np.ndarray) -> np.ndarray:
        return np.where(mask, ENVPOOL_EPISODE, None).astype(object)

    def _close_pool(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def close_extras(self, **kwargs: Any) -> None:
        self._close_pool()
