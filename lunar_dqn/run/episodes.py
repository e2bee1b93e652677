"""Each sub-env's current episode, and how a resumed run gets it back: replayed exactly from how
it began and the actions since (Gymnasium's envs), or, where that cannot be done (EnvPool's),
dropped for a new one."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import VectorEnv

if TYPE_CHECKING:
    from lunar_dqn.run.trainer import Trainer

log = logging.getLogger(__name__)

EPISODE_START = "episode_start"  # the reset info key EpisodeReplay adds


class EpisodeReplay(gym.Wrapper):
    """Lets a sub-env be rebuilt in the middle of an episode, for exact resumes.

    Box2D's world cannot be saved, but it is deterministic: how the episode began (the reset
    seed, or the RNG state before an unseeded reset) plus the actions taken since rebuild it.
    The start is reported in the reset info, so the trainer keeps it without asking the
    worker processes of an async vector env.
    """

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.replay_request: tuple[str, list[int]] | None = None  # set through `set_attr`

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[Any, dict]:
        rng = self.env.unwrapped.np_random.bit_generator.state
        obs, info = self.env.reset(seed=seed, options=options)
        return obs, {**info, EPISODE_START: json.dumps({"seed": seed, "rng": rng})}

    def replay(self) -> np.ndarray:
        """Rebuild the episode in `replay_request`; return its current observation."""
        assert self.replay_request is not None, "set replay_request first"
        start, actions = self.replay_request
        record = json.loads(start)
        if record["seed"] is None:
            self.env.unwrapped.np_random.bit_generator.state = record["rng"]
        obs, _ = self.reset(seed=record["seed"])
        for action in actions:
            obs, *_ = self.env.step(action)
        self.replay_request = None
        return obs


class EpisodeTracker:
    """Each sub-env's current episode: how it began and the actions taken since."""

    def __init__(self, starts: list[str], actions: list[list[int]] | None = None) -> None:
        self.starts = list(starts)
        self.actions = [list(a) for a in actions] if actions is not None else [[] for _ in starts]

    def track(self, actions: np.ndarray, done: np.ndarray, infos: dict) -> None:
        for i, action in enumerate(actions.tolist()):
            if done[i]:
                self.starts[i] = infos[EPISODE_START][i]
                self.actions[i] = []
            else:
                self.actions[i].append(action)

    def state_dict(self) -> dict[str, Any]:
        return {"episode_starts": list(self.starts),
                "episode_actions": [list(a) for a in self.actions]}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> EpisodeTracker:
        return cls(state["episode_starts"], state["episode_actions"])

    def replay(self, envs: VectorEnv, seed: int, saved_obs: np.ndarray) -> np.ndarray:
        """Rebuild every sub-env's episode; return the observations (checked against the
        checkpoint's)."""
        envs.reset(seed=seed)
        envs.set_attr("replay_request", list(zip(self.starts, self.actions, strict=True)))
        obs = np.stack(envs.call("replay"))
        if not np.array_equal(obs, saved_obs):
            log.warning("the replayed environments differ from the checkpoint (another Box2D "
                        "build?); the run continues from the replayed state")
        return obs


ENVPOOL_EPISODE = "envpool"  # the start recorded for an EnvPool episode, which cannot be replayed


def can_replay(envs: VectorEnv, starts: list[str]) -> bool:
    """Whether `envs` can rebuild the episodes that began at `starts`: Gymnasium's can, unless
    an episode was EnvPool's; EnvPool's never can."""
    return getattr(envs, "replays_episodes", True) and ENVPOOL_EPISODE not in starts


def continue_episodes(trainer: Trainer, saved_obs: np.ndarray) -> np.ndarray:
    """Put a resumed trainer's envs back into the episodes of its checkpoint (whose observations
    were `saved_obs`), or start new ones where they cannot be replayed; the observations."""
    if can_replay(trainer.envs, trainer.episodes.starts):
        return trainer.episodes.replay(trainer.envs, trainer.cfg.seed, saved_obs)
    return restart_episodes(trainer)


def restart_episodes(trainer: Trainer) -> np.ndarray:
    """The episodes in progress at the checkpoint are dropped (their transitions so far stay in
    the buffer, those still in the n-step window are lost, their points never count as
    episodes), and every env starts a new one, on seeds that depend on the env step so that no
    episode repeats."""
    log.warning("the %d episodes in progress at the checkpoint cannot be replayed (EnvPool ran "
                "them or runs now): they are dropped and new ones start, so this resume is not "
                "exact", trainer.envs.num_envs)
    obs, infos = trainer.envs.reset(seed=trainer.cfg.seed + trainer.env_steps)
    trainer.episode_points[:] = 0.0
    trainer.episodes = EpisodeTracker(infos[EPISODE_START])
    trainer.nstep.length[:] = 0  # the window's steps led nowhere now
    return obs
