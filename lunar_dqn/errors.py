"""What can stop a command, as exceptions that import nothing heavy: each user-facing message is
one line, which the commands print as `error: <message>`."""

from __future__ import annotations

import signal


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
