"""Train a DQN lander: `train(cfg, run_dir)` for code, `python -m lunar_dqn.train` (or
`lunar-dqn-train`) for people."""

from __future__ import annotations

from lunar_dqn.run import signals

if __name__ == "__main__":  # Ctrl-C while the modules below load: a quiet exit, no traceback
    signals.exit_quietly()

import logging
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from lunar_dqn.cli import DIVERGED_EXIT, FAULT_EXIT, USER_ERRORS, fail, run_hydra_app
from lunar_dqn.config import CONF_DIR, Config, register_configs
from lunar_dqn.errors import ConfigError, Diverged, EnvFailed, Interrupted, WriteFault
from lunar_dqn.overrides import overrides_from_defaults
from lunar_dqn.run.console import log_lines, prefix_console_lines
from lunar_dqn.run.requeue import hand_over, is_requeued, under_submitit
from lunar_dqn.run.resume import resume_config
from lunar_dqn.run.rundir import (
    LOG_FILE,
    RUN_CONFIG,
    SUMMARY,
    remove_empty_log,
    remove_unused,
    save_run_config,
    write_failure,
)
from lunar_dqn.run.trainer import Trainer
from lunar_dqn.sweep.objective import objective, unsolved_penalty
from lunar_dqn.validation import validate

__all__ = ["cli", "main", "train"]

log = logging.getLogger(__name__)


def train(cfg: Any, run_dir: str | Path, resume: bool = False) -> dict[str, Any]:
    """Train on `cfg` (`lunar_dqn.compose(...)`) into `run_dir`, a full run directory that the
    commands read (its config in `.hydra/config.yaml`); return the run's summary.

    With `resume`, continue the run in `run_dir` from its checkpoint: `cfg` may change only what
    `python -m lunar_dqn.train resume=DIR` lets change (budgets and conveniences). Otherwise
    `run_dir` must not hold a run already, and no other process may be training in it. Mistakes
    raise ConfigError or CheckpointError (one line each); a run that diverges raises Diverged,
    one stopped by SIGINT/SIGTERM/SIGUSR2 Interrupted, each after saving what it leaves behind."""
    run_dir = Path(run_dir)
    if resume:
        cfg = resume_config(run_dir, overrides_from_defaults(cfg), cfg)
    return run_training(cfg, run_dir, resume)


def run_training(cfg: Any, run_dir: Path, resume: bool) -> dict[str, Any]:
    """`train`, with `cfg` already the run's (a resume's config checked)."""
    validate(cfg)
    existed = run_dir.exists()
    with log_lines(run_dir / LOG_FILE):
        try:
            trainer = Trainer(cfg, run_dir, resume=resume)
        except BaseException:
            if not existed:
                remove_unused(run_dir)  # nothing was done: leave no half-written run behind
            raise
        try:
            if not (run_dir / RUN_CONFIG).is_file():  # started from Python, not by Hydra
                save_run_config(run_dir, cfg, overrides_from_defaults(trainer.cfg))
            log.info("run directory: %s", run_dir.resolve())
            summary = trainer.run()
        finally:
            trainer.close()
        log.info("the run's files are in %s", run_dir.resolve())
    return summary


def _record_failure(run_dir: Path, message: str, resume: bool) -> None:
    """A sweep job that failed records why in its own summary.json, unless it was continuing a
    run, whose summary stays as that run left it."""
    if not resume:
        try:
            write_failure(run_dir, message)
        except WriteFault as err:
            log.error("%s", err)


register_configs()


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")
def main(cfg: DictConfig) -> float:
    """Returns the objective a sweeper minimises (`lunar_dqn.sweep.objective`). In a sweep, a
    job that fails records its error and returns, so the other jobs go on."""
    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    sweeping = hydra_cfg.mode == RunMode.MULTIRUN
    if sweeping:  # parallel jobs print into one terminal
        prefix_console_lines(f"[job {hydra_cfg.job.num}] ")
    requeued = sweeping and cfg.resume is None and is_requeued(run_dir)
    resume = cfg.resume is not None or requeued
    with signals.deferred():
        try:
            validate(cfg)
            if resume:
                if sweeping and not requeued:
                    raise ConfigError("resume cannot be swept: resume one run at a time")
                cfg = resume_config(Path(cfg.resume or run_dir), list(hydra_cfg.overrides.task),
                                    cfg)
                if requeued:
                    log.info("a requeued job: continuing from the checkpoint in %s", run_dir)
            return objective(run_training(cfg, run_dir, resume), cfg.train.max_env_steps)
        except USER_ERRORS as err:
            if sweeping:
                log.error("%s", err)
                _record_failure(run_dir, str(err), resume)
                return unsolved_penalty(cfg.train.max_env_steps)
            # nothing was done: leave no half-written run behind, nothing in the resumed one
            if resume:
                remove_empty_log(run_dir)
            else:
                remove_unused(run_dir)
            fail(str(err))
        except (WriteFault, EnvFailed) as err:  # faults: in summary.json, if the trainer could
            log.error("%s", err)
            if sweeping:
                if not (run_dir / SUMMARY).is_file():  # it failed before training began
                    _record_failure(run_dir, str(err), resume)
                return unsolved_penalty(cfg.train.max_env_steps)
            if not resume:
                remove_unused(run_dir)  # it failed before training began: leave nothing
            fail(str(err), FAULT_EXIT)
        except Diverged as err:
            log.error("diverged: %s", err)
            if sweeping:
                return unsolved_penalty(cfg.train.max_env_steps)
            fail(f"training diverged: {err}", DIVERGED_EXIT)
        except Interrupted as err:
            log.warning("stopped by %s at a checkpoint; continue with: python -m lunar_dqn.train "
                        "resume=%s", err, run_dir)
            if not (sweeping and under_submitit()):
                raise SystemExit(128 + err.signum) from None
            hand_over(err.signum)  # submitit requeues the job (and ends this process)...
            # ...or it will not: the job ends as interrupted
            return unsolved_penalty(cfg.train.max_env_steps)
        except Exception as err:
            if not sweeping:
                raise
            log.exception("this job failed; the sweep goes on")
            _record_failure(run_dir, f"{type(err).__name__}: {err}", resume)
            return unsolved_penalty(cfg.train.max_env_steps)


def cli() -> None:
    """`lunar-dqn-train`, `python -m lunar_dqn.train`."""
    run_hydra_app(main, "train", schema=Config)


if __name__ == "__main__":
    cli()
