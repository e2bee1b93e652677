"""What every command does with a user's mistake: one line on stderr and a non-zero exit."""

from __future__ import annotations

import functools
import os
import re
import sys
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

from hydra.errors import HydraException
from omegaconf.errors import OmegaConfBaseException

from lunar_dqn.arguments import check_arguments
from lunar_dqn.errors import CheckpointError, ConfigError, WriteFault
from lunar_dqn.helptext import render
from lunar_dqn.keys import known_keys, unknown_key

FAULT_EXIT = 1  # a fault of the machine: a full disk, a read-only file system
USAGE_ERROR_EXIT = 2
DIVERGED_EXIT = 3  # training stopped on a non-finite loss, Q-value or weight
USER_ERRORS = (ConfigError, CheckpointError)
# Hydra's error for a key its schema lacks, which advises adding it with `+`
UNKNOWN_OVERRIDE = re.compile(r"Could not override '([^']+)'\.\s+To append to your config use \+")

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, code: int = USAGE_ERROR_EXIT) -> NoReturn:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(code)


def exits_on_user_error(fn: F) -> F:
    """Turn ConfigError / CheckpointError into `error: <message>` and exit 2, a file that
    cannot be written into the same line and exit 1; no traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except USER_ERRORS as err:
            fail(str(err))
        except WriteFault as err:
            fail(str(err), FAULT_EXIT)

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


def hydra_error(err: BaseException, schema: type | None) -> str:
    """Hydra's error as one line; for a key the command's `schema` lacks, our own line naming
    the closest known key instead of Hydra's advice to add the typo with `+`."""
    unknown = UNKNOWN_OVERRIDE.match(str(err))
    if unknown is None or unknown.group(1).startswith("hydra."):
        return one_line(err)
    return unknown_key(unknown.group(1), known_keys(schema) if schema is not None else set())


def run_hydra_app(main: Callable[[], Any], command: str, schema: type | None = None) -> None:
    """Run a `@hydra.main` function so that a config Hydra rejects (unknown key, wrong type,
    unknown preset) or an output directory it cannot write ends in one line and exit 2.
    `schema`: the command's config dataclass, whose keys a misspelt one is compared with.
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
        fail(hydra_error(err, schema))
