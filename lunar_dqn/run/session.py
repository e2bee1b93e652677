"""A training session's start: whether a resumed run has work left, where it continues and what
the resume changed (`resumes.jsonl`), and its TensorBoard writer with the run's HParams entry.

A run is one or more sessions: the first, then one per resume. Each session writes the run's
HParams entry with the config it runs (so a raised budget shows there as in `summary.json`);
a resumed one first trims what was logged after its checkpoint.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omegaconf import OmegaConf

from lunar_dqn.config import flatten
from lunar_dqn.errors import ConfigError
from lunar_dqn.run.logger import Logger
from lunar_dqn.run.resume import trim_events
from lunar_dqn.run.rundir import EVENTS_GLOB, SUMMARY, SUMMARY_FIGURES, append_resume

if TYPE_CHECKING:
    from lunar_dqn.config import Config
    from lunar_dqn.run.trainer import Trainer

log = logging.getLogger(__name__)

ENDED_NORMALLY = ("solved", "budget")  # summary.json's status once a run made its closing writes


def _ended_as(run_dir: Path) -> str | None:
    """The status of the run's last session, if it ended normally."""
    try:
        status = json.loads((run_dir / SUMMARY).read_text()).get("status")
    except (OSError, ValueError, AttributeError):
        return None
    return status if status in ENDED_NORMALLY else None


def check_work_left(run_dir: Path, cfg: Config, checkpoint: dict[str, Any]) -> None:
    """Refuse, in one line saying what to change, to resume a run that ended and would stop again
    at once: resuming it would redo its closing writes and nothing else. (A run stopped by a
    signal right at its end does resume: it makes the closing writes it missed.)"""
    counters, t = checkpoint["counters"], cfg.train
    episodes = len(checkpoint["history"]["points"])
    if _ended_as(run_dir) is None:
        return
    if counters["solved_episode"] is not None and t.stop_when_solved:
        raise ConfigError(
            f"resume={run_dir}: the run solved at episode {counters['solved_episode']} "
            f"({counters['solved_env_steps']} env steps) and stops when solved: add "
            "train.stop_when_solved=false (and a larger budget) to train on")
    reached = [f"train.max_env_steps={t.max_env_steps} ({counters['env_steps']} env steps)"
               ] if counters["env_steps"] >= t.max_env_steps else []
    if episodes >= t.max_episodes:
        reached.append(f"train.max_episodes={t.max_episodes} ({episodes} episodes)")
    if reached:
        raise ConfigError(f"resume={run_dir}: the run already reached its budget, "
                          f"{' and '.join(reached)}: raise it to train on")


def record_resume(trainer: Trainer, checkpoint: dict[str, Any]) -> None:
    """Say where the run continues, and add the resume to `resumes.jsonl`, with every setting
    it changed (from the checkpoint's config to this session's)."""
    before = flatten(OmegaConf.to_container(OmegaConf.create(checkpoint["config"])))
    now = flatten(dataclasses.asdict(trainer.cfg))
    changed = {key: {"from": before[key], "to": value} for key, value in now.items()
               if key in before and before[key] != value and key != "resume"}
    episodes = len(trainer.history)
    log.info("resuming %s at env step %d, episode %d%s", trainer.run_dir, trainer.env_steps,
             episodes, "; changed: " + ", ".join(
                 f"{key} {change['from']} -> {change['to']}" for key, change in changed.items())
             if changed else "")
    append_resume(trainer.run_dir, {
        "resumed_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "env_steps": trainer.env_steps, "episodes": episodes, "changed": changed})


def open_logger(trainer: Trainer, checkpoint: dict[str, Any] | None) -> Logger:
    """The run's TensorBoard writer for this session: trimmed back to the checkpoint when
    resuming, with the HParams entry of the config this session runs."""
    run_dir = trainer.run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    earlier_events = sorted(run_dir.glob(EVENTS_GLOB))
    logger = Logger(run_dir, enabled=trainer.cfg.logger.tensorboard)
    if checkpoint is not None:  # events logged after the checkpoint: the run redoes them
        trim_events(logger, earlier_events, len(trainer.history), trainer.env_steps)
        record_resume(trainer, checkpoint)
    logger.hyperparameters(dataclasses.asdict(trainer.cfg), SUMMARY_FIGURES)
    return logger
