"""What every command does with a user's mistake: one line on stderr and a non-zero exit."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

from hydra.errors import HydraException
from omegaconf.errors import OmegaConfBaseException

from lunar_dqn.arguments import check_arguments
from lunar_dqn.errors import CheckpointError, ConfigError
from lunar_dqn.helptext import render

USAGE_ERROR_EXIT = 2
DIVERGED_EXIT = 3  # training stopped on a non-finite loss or Q-value
USER_ERRORS = (ConfigError, CheckpointError)

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, code: int = USAGE_ERROR_EXIT) -> NoReturn:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(code)


def exits_on_user_error(fn: F) -> F:
    """Turn ConfigError / CheckpointError into `error: <message>` and exit 2, no traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except USER_ERRORS as err:
            fail(str(err))

    return wrapper  # type: ignore[return-value]


def one_line(err: BaseException) -> str:
    """Hydra's and OmegaConf's multi-line messages, folded into one line with their cause."""
    lines = []
    for line in str(err).splitlines():
        if line.startswith(("Config search path", "    full_key", "    object_type")):
            break
        if line.strip():
            lines.append(line.strip())
    message = " ".join(lines)
    cause = err.__cause__
    if cause is not None and str(cause).strip():
        message += f" ({str(cause).strip().splitlines()[0]})"
    return message


def run_hydra_app(main: Callable[[], Any], command: str) -> None:
    """Run a `@hydra.main` function so that a config Hydra rejects (unknown key, wrong type,
    unknown preset) or an output directory it cannot write ends in one line and exit 2.
    With HYDRA_FULL_ERROR=1 the full traceback is shown instead. `--help` shows the command's
    own options (`lunar_dqn.helptext`); `--hydra-help` is Hydra's."""
    argv = sys.argv[1:]
    if "--help" in argv or "-h" in argv:
        print(render(command))
        return
    try:
        check_arguments(command, argv)
    except ConfigError as err:
        fail(str(err))
    wants_traceback = os.environ.get("HYDRA_FULL_ERROR") == "1"
    os.environ["HYDRA_FULL_ERROR"] = "1"  # let Hydra's errors reach us rather than print them
    try:
        main()
    except (HydraException, OmegaConfBaseException, OSError) as err:
        if wants_traceback:
            raise
        fail(one_line(err))
