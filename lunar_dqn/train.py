"""Train a DQN lander: `train(cfg, run_dir)` for code, `python -m lunar_dqn.train` for people."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from lunar_dqn.checkpoint import load_checkpoint
from lunar_dqn.cli import DIVERGED_EXIT, USER_ERRORS, fail, run_hydra_app
from lunar_dqn.config import default_config, register_configs
from lunar_dqn.errors import CheckpointError, ConfigError, Diverged, Interrupted
from lunar_dqn.logger import flatten
from lunar_dqn.trainer import CHECKPOINT, SUMMARY_FILE, Trainer

log = logging.getLogger(__name__)

# What may change when a run is resumed: budgets and conveniences, never the learning itself.
SAFE_ON_RESUME = ("train.max_env_steps", "train.max_episodes", "train.stop_when_solved",
                  "train.checkpoint_every", "train.saved_network",
                  "logger.progress_bar", "logger.log_every_steps", "logger.video", "torch_threads",
                  "env.vectorization_mode")


def train(cfg: Any, run_dir: Path, resume: bool = False) -> dict[str, Any]:
    """Train on `cfg` (a composed config), writing everything under `run_dir`; with `resume`,
    continue the run whose checkpoint is there."""
    trainer = Trainer(cfg, run_dir, resume=resume)
    try:
        return trainer.run()
    finally:
        trainer.close()


def resume_config(run_dir: Path, overrides: list[str], current: DictConfig) -> DictConfig:
    """The config a run was trained with, plus the overrides that are safe to change."""
    if not run_dir.is_dir():
        raise CheckpointError(f"resume={str(run_dir)!r}: no such run directory")
    if not (run_dir / CHECKPOINT).is_file():
        raise CheckpointError(f"resume={str(run_dir)!r}: no {CHECKPOINT} there, nothing to resume")
    saved = load_checkpoint(run_dir / CHECKPOINT)["config"]
    defaults = default_config()
    cfg = OmegaConf.merge(defaults, OmegaConf.create(saved))  # keys new since: the defaults
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


def _only_hydra_files(run_dir: Path) -> bool:
    return {p.name for p in run_dir.iterdir()} <= {".hydra", "train.log"}


def _record_failure(run_dir: Path, message: str) -> None:
    (run_dir / SUMMARY_FILE).write_text(
        json.dumps({"status": "failed", "solved": False, "error": message}, indent=2) + "\n")


def _penalty(cfg: Any) -> float:
    """Twice the budget: a sweeper ranks an unsolved or failed run below every solved one."""
    return 2.0 * max(cfg.train.max_env_steps, 1)


def _objective(summary: dict[str, Any], cfg: Any) -> float:
    """Env steps to solve, or the penalty."""
    if summary.get("solved_env_steps") is not None:
        return float(summary["solved_env_steps"])
    return _penalty(cfg)


register_configs()


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float:
    """Returns the objective a sweeper minimises (see `_objective`)."""
    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    sweeping = hydra_cfg.mode == RunMode.MULTIRUN
    try:
        resume = cfg.resume is not None
        if resume:
            if sweeping:
                raise ConfigError("resume cannot be swept: resume one run at a time")
            cfg = resume_config(Path(cfg.resume), list(hydra_cfg.overrides.task), cfg)
        summary = train(cfg, run_dir, resume=resume)
    except USER_ERRORS as err:
        if sweeping:  # the other jobs go on; this one records why it failed
            log.error("%s", err)
            _record_failure(run_dir, str(err))
            return _penalty(cfg)
        resumed_here = cfg.resume is not None and run_dir.resolve() == Path(cfg.resume).resolve()
        if not resumed_here and _only_hydra_files(run_dir):
            shutil.rmtree(run_dir)  # nothing was done: leave no half-written run behind
        fail(str(err))
    except Diverged as err:
        log.error("diverged: %s; the last good checkpoint is kept in %s", err, run_dir)
        if sweeping:
            return _penalty(cfg)
        fail(f"training diverged: {err}", DIVERGED_EXIT)
    except Interrupted as err:
        log.warning("stopped by %s at a checkpoint; continue with: python -m lunar_dqn.train "
                    "resume=%s", err, run_dir)
        raise SystemExit(128 + err.signum) from None
    return _objective(summary, cfg)


if __name__ == "__main__":
    run_hydra_app(main)
