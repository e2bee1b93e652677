"""Exact resume, in one place: what a resumed run may change, how its TensorBoard events are
trimmed back to the checkpoint, every random generator's state, and the trainer's whole state
(its environments are rebuilt in the middle of their episodes by `lunar_dqn.run.episodes`).

A run resumed from its checkpoint continues as if it had never stopped: on CPU, a run killed at
any moment and resumed gives the same episodes, env steps and weights as one never stopped
(tests/test_resume.py kills runs at random moments to check it).
"""

from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from tensorboard.backend.event_processing.event_file_loader import RawEventFileLoader
from tensorboard.compat.proto.event_pb2 import Event

from lunar_dqn.config import default_config, flatten
from lunar_dqn.errors import ConfigError
from lunar_dqn.run import evaluator
from lunar_dqn.run.checkpoint import load_checkpoint
from lunar_dqn.run.crossdevice import on_this_device
from lunar_dqn.run.episodes import EpisodeTracker, continue_episodes
from lunar_dqn.run.history import EpisodeHistory
from lunar_dqn.run.logger import EPISODE_TAGS, FINAL_PREFIX, GREEDY_EPISODE_TAG, Logger
from lunar_dqn.run.rundir import CHECKPOINT, check_resumable

if TYPE_CHECKING:
    from lunar_dqn.run.trainer import Trainer

log = logging.getLogger(__name__)

# What may change when a run is resumed: budgets, conveniences and the device (see
# `crossdevice`), never the learning itself.
SAFE_ON_RESUME = ("train.max_env_steps", "train.max_episodes", "train.stop_when_solved",
                  "train.checkpoint_every", "train.saved_network", "train.polish_env_steps",
                  "logger.progress_bar", "logger.log_every_steps", "logger.video",
                  "logger.video_episodes", "logger.gif_every_steps", "torch_threads",
                  "env.vectorization_mode", "agent.backward", "device")


# What a run written before these keys existed had in effect, whatever today's defaults are.
LEGACY = {"agent.dueling": False, "agent.layer_norm": False}


def resume_config(run_dir: Path, overrides: list[str], current: DictConfig) -> DictConfig:
    """The config a run was trained with, plus the overrides that are safe to change."""
    check_resumable(run_dir)
    saved = OmegaConf.create(load_checkpoint(run_dir / CHECKPOINT)["config"])
    defaults = default_config()
    cfg = OmegaConf.merge(defaults, saved)
    # keys new since the run's version: what it had in effect (LEGACY), else what the command
    # sets (its presets, else the defaults)
    new_keys = flatten(OmegaConf.to_container(defaults)).keys() - flatten(
        OmegaConf.to_container(saved)).keys()
    for key in new_keys:
        value = LEGACY[key] if key in LEGACY else OmegaConf.select(current, key)
        OmegaConf.update(cfg, key, value, merge=False)
    keys = [o.split("=", 1)[0].lstrip("+~") for o in overrides]
    # Repeating the run's own command is fine; changing what it learns with is not. What the
    # command set: the keys it names, and any that it moved off the defaults (presets).
    now, then, default = (flatten(OmegaConf.to_container(c)) for c in (current, cfg, defaults))
    for key, value in sorted(now.items(), key=lambda item: item[0] not in keys):
        named = any(key == k or key.startswith(f"{k}.") for k in keys)
        if (key not in (*SAFE_ON_RESUME, "resume") and (named or value != default.get(key))
                and value != then.get(key)):
            raise ConfigError(
                f"{key}={value!r} cannot be given with resume: the run was trained with "
                f"{then.get(key)!r}; only {', '.join(SAFE_ON_RESUME)} may change")
    for key in keys:
        if key in SAFE_ON_RESUME:
            OmegaConf.update(cfg, key, OmegaConf.select(current, key), merge=False)
    cfg.resume = str(run_dir)
    return cfg


# -- TensorBoard -------------------------------------------------------------------------------


def _logged_before(event: Event, episodes: int, env_steps: int) -> bool:
    """Whether an event belongs to the run up to (`episodes`, `env_steps`): its scalars and the
    greedy episodes filmed while training. Each session writes its own text and HParams entry,
    final figures and closing videos are written at the end: those never do."""
    values = event.summary.value
    if len(values) != 1:
        return False
    tag = values[0].tag
    if values[0].HasField("image"):
        return tag == GREEDY_EPISODE_TAG and event.step <= env_steps
    if not values[0].HasField("simple_value") or tag.startswith(FINAL_PREFIX):
        return False
    return event.step <= (episodes if tag in EPISODE_TAGS else env_steps)


def trim_events(logger: Logger, earlier: list[Path], episodes: int, env_steps: int) -> None:
    """Rewrite the `earlier` event files of a resumed run into the logger's new one without what
    was logged after its checkpoint (at `episodes`, `env_steps`), so each episode shows once.
    (TensorBoard's purge_step cannot: it takes one step for all tags, and episode tags count
    episodes while the others count env steps.)"""
    if logger.writer is None:
        return
    for path in earlier:
        for record in RawEventFileLoader(str(path)).Load():
            event = Event.FromString(record)
            if _logged_before(event, episodes, env_steps):
                logger.writer.file_writer.add_event(event)
    logger.writer.flush()
    for path in earlier:
        path.unlink()


# -- random generators, and a trainer's whole state ------------------------------------------


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def rng_states() -> dict[str, Any]:
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {"python": random.getstate(), "torch": torch.get_rng_state(),
            "numpy": (kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached)}


def set_rng_states(states: dict[str, Any]) -> None:
    random.setstate(states["python"])
    torch.set_rng_state(states["torch"])
    kind, keys, pos, has_gauss, cached = states["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))


def capture(trainer: Trainer) -> dict[str, Any]:
    """Everything `restore` needs to continue `trainer` exactly: the checkpoint's content."""
    history = trainer.history
    return {
        "config": OmegaConf.to_yaml(OmegaConf.structured(trainer.cfg)),
        "agent": trainer.agent.state_dict(),
        "buffer": trainer.buffer.state_dict(),
        "nstep": trainer.nstep.state_dict(),
        "counters": {
            "env_steps": trainer.env_steps, "gradient_steps": trainer.gradient_steps,
            "pending_transitions": trainer.pending_transitions,
            "solved_episode": trainer.solved_episode,
            "solved_env_steps": trainer.solved_env_steps, "wall_time": trainer.wall_time,
            "solved_wall_time": trainer.solved_wall_time,
        },
        "evaluation": trainer.evaluator.state_dict(),
        "history": {"points": torch.tensor(history.points, dtype=torch.float64),
                    "averages": torch.tensor(history.averages, dtype=torch.float64),
                    "env_steps": torch.tensor(history.env_steps, dtype=torch.int64)},
        "envs": {"obs": torch.from_numpy(trainer.obs.copy()),
                 "episode_points": torch.from_numpy(trainer.episode_points.copy()),
                 **trainer.episodes.state_dict()},
        "rng": rng_states(),
    }


def restore(trainer: Trainer, state: dict[str, Any]) -> None:
    """Put `trainer` (freshly built from the run's config) back where `capture` took it (on
    another device type, as `crossdevice` says)."""
    state = on_this_device(trainer, state)
    trainer.agent.load_state_dict(state["agent"])
    trainer.buffer.load_state_dict(state["buffer"])
    trainer.nstep.load_state_dict(state["nstep"])
    c = state["counters"]
    trainer.env_steps, trainer.gradient_steps = c["env_steps"], c["gradient_steps"]
    trainer.pending_transitions = c["pending_transitions"]
    trainer.solved_episode, trainer.solved_env_steps = c["solved_episode"], c["solved_env_steps"]
    trainer.wall_time, trainer.solved_wall_time = c["wall_time"], c.get("solved_wall_time")
    h = state["history"]
    trainer.history = EpisodeHistory(
        window=trainer.cfg.train.solve_window, points=h["points"].tolist(),
        averages=h["averages"].tolist(), env_steps=h["env_steps"].tolist())
    e = state["envs"]
    trainer.episode_points = e["episode_points"].numpy().copy()
    trainer.episodes = EpisodeTracker.from_state(e)
    trainer.obs = continue_episodes(trainer, e["obs"].numpy())
    set_rng_states(state["rng"])
    evaluator.restore(trainer, state.get("evaluation"))  # None: a checkpoint from before it
