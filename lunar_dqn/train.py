"""Train a DQN lander: `train(cfg, run_dir)` for code, `python -m lunar_dqn.train` for people."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from lunar_dqn.cli import DIVERGED_EXIT, USER_ERRORS, fail, run_hydra_app
from lunar_dqn.config import register_configs
from lunar_dqn.errors import ConfigError, Diverged, Interrupted
from lunar_dqn.run.resume import resume_config
from lunar_dqn.run.rundir import only_hydra_files, write_failure
from lunar_dqn.run.trainer import Trainer
from lunar_dqn.sweep.objective import objective, unsolved_penalty

__all__ = ["main", "train"]

log = logging.getLogger(__name__)

def train(cfg: Any, run_dir: Path, resume: bool = False) -> dict[str, Any]:
    """Train on `cfg` (a composed config), writing everything under `run_dir`; with `resume`,
    continue the run whose checkpoint is there."""
    trainer = Trainer(cfg, run_dir, resume=resume)
    try:
        return trainer.run()
    finally:
        trainer.close()


register_configs()


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float:
    """Returns the objective a sweeper minimises (`lunar_dqn.sweep.objective`)."""
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
            write_failure(run_dir, str(err))
            return unsolved_penalty(cfg.train.max_env_steps)
        resumed_here = cfg.resume is not None and run_dir.resolve() == Path(cfg.resume).resolve()
        if not resumed_here and only_hydra_files(run_dir):
            shutil.rmtree(run_dir)  # nothing was done: leave no half-written run behind
        fail(str(err))
    except Diverged as err:
        log.error("diverged: %s; the last good checkpoint is kept in %s", err, run_dir)
        if sweeping:
            return unsolved_penalty(cfg.train.max_env_steps)
        fail(f"training diverged: {err}", DIVERGED_EXIT)
    except Interrupted as err:
        log.warning("stopped by %s at a checkpoint; continue with: python -m lunar_dqn.train "
                    "resume=%s", err, run_dir)
        raise SystemExit(128 + err.signum) from None
    return objective(summary, cfg.train.max_env_steps)


if __name__ == "__main__":
    run_hydra_app(main)
