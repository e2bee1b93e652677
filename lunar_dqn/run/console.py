"""What a run shows while it trains: its progress bar, and where its log lines go when it was
started from Python (a script or a notebook) rather than by a command, or as one job of a sweep."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tqdm import tqdm

PACKAGE_LOGGER = "lunar_dqn"


def in_notebook() -> bool:
    """Whether this runs in a Jupyter kernel (its stderr is no terminal, yet shows a bar)."""
    return "ipykernel" in sys.modules


def progress_bar(total: int, initial: int, enabled: bool) -> tqdm:
    """A bar on a terminal, a widget in a notebook (a text bar there without ipywidgets),
    nothing elsewhere (log files, pipes, cluster jobs) or when not `enabled`."""
    options = {"total": total, "initial": initial, "unit": "step", "dynamic_ncols": True}
    if enabled and in_notebook():
        from tqdm.auto import tqdm as notebook_tqdm
        try:
            return notebook_tqdm(**options)
        except ImportError:  # tqdm's widget needs ipywidgets
            return tqdm(**options, file=sys.stdout)
    return tqdm(**options, disable=not (enabled and sys.stderr.isatty()))


@contextmanager
def log_lines(log_file: Path | None) -> Iterator[None]:
    """Where nothing set up logging (Hydra's commands do), the package's log lines go to stdout
    and to `log_file` (if any), as a command's would, for as long as this lasts."""
    if logging.getLogger().handlers:
        yield
        return
    logger = logging.getLogger(PACKAGE_LOGGER)
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stdout)]
    if log_file is not None:
        handlers.append(logging.FileHandler(log_file, delay=True))
    level = logger.level
    logger.setLevel(logging.INFO)
    for handler in handlers:
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    try:
        yield
    finally:
        for handler in handlers:
            logger.removeHandler(handler)
            handler.close()
        logger.setLevel(level)


class _Prefixed(logging.Formatter):
    def __init__(self, prefix: str, inner: logging.Formatter | None) -> None:
        super().__init__()
        self.prefix = prefix
        self.inner = inner or logging.Formatter()

    def format(self, record: logging.LogRecord) -> str:
        return self.prefix + self.inner.format(record)


def prefix_console_lines(prefix: str) -> None:
    """Start every line the console handlers print with `prefix` (a sweep's job number: parallel
    jobs print into one terminal). Log files, one per job, stay as they are."""
    for handler in logging.getLogger().handlers:
        if type(handler) is logging.StreamHandler and not isinstance(handler.formatter, _Prefixed):
            handler.setFormatter(_Prefixed(prefix, handler.formatter))
