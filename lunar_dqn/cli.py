"""What every command does with a user's mistake: one line on stderr and exit code 2."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from lunar_dqn.checkpoint import CheckpointError
from lunar_dqn.config import ConfigError

USAGE_ERROR_EXIT = 2
USER_ERRORS = (ConfigError, CheckpointError)

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(USAGE_ERROR_EXIT)


def exits_on_user_error(fn: F) -> F:
    """Turn ConfigError / CheckpointError into `error: <message>` and exit 2, no traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except USER_ERRORS as err:
            fail(str(err))

    return wrapper  # type: ignore[return-value]
