"""Hydra callbacks of `python -m lunar_dqn.train` (named in `conf/config.yaml`), for what must
happen before Hydra writes anything into an output directory, or after the last job of a sweep.

- A run: its directory is claimed (one run per directory, `lunar_dqn.run.lock`) before Hydra
  writes its `.hydra/` files and `train.log` there, so a refused run changes nothing; the
  directory of a `resume=` must hold a checkpoint, or nothing is written into it.
- A sweep: refused in a sweep directory that already holds one (its jobs' directories would be
  reused); at its end, one line naming the jobs that failed or were interrupted, and exit 1.
- From then on, stop signals are requests the training loop answers with a checkpoint.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from lunar_dqn.cli import FAULT_EXIT, USER_ERRORS, fail
from lunar_dqn.errors import ConfigError
from lunar_dqn.run import signals
from lunar_dqn.run.lock import claim
from lunar_dqn.run.rundir import check_resumable, holds_run
from lunar_dqn.sweep.outcomes import job_outcomes, tally, unfinished

log = logging.getLogger(__name__)

MULTIRUN_FILE = "multirun.yaml"  # Hydra's record of a sweep, in its directory


class RunDirGuard(Callback):
    """Hydra swallows an exception a callback raises (as a warning): refusals exit here."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        signals.defer()
        run_dir = Path(config.hydra.run.dir)
        resume = config.get("resume")
        try:
            if resume is not None:
                check_resumable(Path(resume))
                if run_dir.resolve() != Path(resume).resolve():
                    raise ConfigError(f"resume={resume} continues that run in its own directory: "
                                      f"hydra.run.dir={run_dir} cannot send it elsewhere")
            claim(run_dir, resume=resume is not None)  # held until the process ends
        except USER_ERRORS as err:
            fail(str(err))

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        signals.defer()
        sweep_dir = Path(config.hydra.sweep.dir)
        if (sweep_dir / MULTIRUN_FILE).exists() or (
                sweep_dir.is_dir() and any(holds_run(p) for p in sweep_dir.iterdir())):
            fail(f"hydra.sweep.dir={sweep_dir} already holds a sweep: sweep into a new "
                 "directory (each sweep gets its own by default)")

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        outcomes = job_outcomes(Path(config.hydra.sweep.dir))
        for line in tally(outcomes):
            log.info("%s", line)
        message = unfinished(outcomes)
        if message is not None:
            fail(message, FAULT_EXIT)
