"""What can stop a command, as exceptions that import nothing heavy: each user-facing message is
one line, which the commands print as `error: <message>`."""

from __future__ import annotations

import os
import signal
import traceback


class ConfigError(ValueError):
    """A config value or command option that cannot be used."""


class CheckpointError(RuntimeError):
    """A model or checkpoint file that cannot be used."""


class RunDirInUse(ConfigError):
    """A run directory that another process is training in, or that holds a run already."""


class WriteFault(RuntimeError):
    """A file of the run could not be written (a full disk, a read-only file system...); the
    previous version of that file, if any, is intact."""


class ReportError(ValueError):
    """A sweep directory the report cannot read."""


class Diverged(RuntimeError):
    """The TD loss, a Q-value or the weights stopped being finite."""


class Interrupted(RuntimeError):
    """SIGINT, SIGTERM or SIGUSR2 (a cluster's time-limit warning): the run saved a checkpoint
    and stopped."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class EnvFailed(RuntimeError):
    """An environment raised while the trainer stepped, reset or replayed it: a fault, not the
    user's mistake. The message is one line (`fault_line`)."""


class EnvWorkerError(EnvFailed):
    """The environments failed inside the env worker process, or the process itself ended."""


def fault_line(err: BaseException) -> str:
    """`ValueError: the message (at file.py:LINE in function)`: the exception and the innermost
    place that raised it, on one line."""
    frames = traceback.extract_tb(err.__traceback__)
    where = (f" (at {os.path.basename(frames[-1].filename)}:{frames[-1].lineno} in "
             f"{frames[-1].name})" if frames else "")
    message = " ".join(str(err).split()) or "no message"
    return f"{type(err).__name__}: {message}{where}"
