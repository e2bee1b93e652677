"""What can stop a command, as exceptions that import nothing heavy: each user-facing message is
one line, which the commands print as `error: <message>`."""

from __future__ import annotations

import signal


class ConfigError(ValueError):
    """A config value or command option that cannot be used."""


class CheckpointError(RuntimeError):
    """A model or checkpoint file that cannot be used."""


class ReportError(ValueError):
    """A sweep directory the report cannot read."""


class Diverged(RuntimeError):
    """The TD loss or a Q-value stopped being finite."""


class Interrupted(RuntimeError):
    """SIGINT or SIGTERM: the run saved a checkpoint and stopped."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
