"""Cluster time limits, through submitit (Hydra's `submitit_slurm` and `submitit_local`
launchers). Before a job's time limit, submitit sends SIGUSR2: the run stops at a checkpoint
like on SIGTERM, then hands the signal to submitit's own handler, which requeues the job with
the same overrides into the same directory; that job finds its checkpoint there and continues
from it exactly, as `resume=` does."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from lunar_dqn.run import signals
from lunar_dqn.run.rundir import CHECKPOINT

log = logging.getLogger(__name__)


def under_submitit() -> bool:
    """Whether this process is a job that submitit started (it sets this for its jobs)."""
    return bool(os.environ.get("SUBMITIT_EXECUTOR"))


def is_requeued(run_dir: Path) -> bool:
    """A job of a submitit sweep whose directory already holds a checkpoint is that same job,
    requeued: the sweep refused a directory that held other runs when it started."""
    return under_submitit() and (run_dir / CHECKPOINT).is_file()


def hand_over(signum: int) -> None:
    """After the checkpoint: let submitit's handler of `signum` requeue the job (it ends this
    process). When it will not (no time-outs left, or not a time-limit signal), log why and
    return: the job ends as interrupted, and the sweep names it."""
    try:
        signals.chain(signum)
    except Exception as err:  # submitit raises UncompletedJobError when it does not requeue
        log.warning("not requeued: %s", err)
