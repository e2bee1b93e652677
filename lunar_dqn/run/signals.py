"""Stop signals as requests: SIGINT (Ctrl-C), SIGTERM and SIGUSR2 (the warning Slurm sends,
through submitit, before a job's time limit) are recorded, and the training loop stops at its
next step, where it can write a checkpoint, instead of wherever the signal lands.

Whoever handled a signal before (submitit's handler requeues the job) is kept, so the Hydra
entry point can `chain` to it once the checkpoint is written.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGUSR2)

_requested: int | None = None
_previous: dict[int, Any] = {}  # the handlers before ours, while ours are installed
_depth = 0  # nested `deferred` scopes (a permanent `defer` counts as one that never ends)


def _record(signum: int, _frame: FrameType | None) -> None:
    global _requested
    if _requested is None:
        _requested = signum


def _exit_now(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def exit_quietly() -> None:
    """Until `defer`: a stop signal ends the process at once, with no traceback. For a command
    that has written nothing yet (loading its modules, composing its config)."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, _exit_now)


def requested() -> int | None:
    """The first stop signal received since the outermost `deferred` scope began, if any."""
    return _requested


def _install() -> None:
    """Signal handlers can only be set from the main thread; elsewhere signals keep theirs."""
    global _depth
    if _depth == 0 and threading.current_thread() is threading.main_thread():
        for sig in STOP_SIGNALS:
            _previous[sig] = signal.signal(sig, _record)
    _depth += 1


def defer() -> None:
    """From now on, for the rest of the process: stop signals are requests."""
    _install()


@contextmanager
def deferred() -> Iterator[None]:
    """Within: stop signals are requests (`requested`). The outermost scope restores the
    handlers that were there before and forgets the request."""
    global _depth, _requested
    _install()
    try:
        yield
    finally:
        _depth -= 1
        if _depth == 0:
            for sig, previous in _previous.items():  # None: set outside Python
                signal.signal(sig, signal.SIG_DFL if previous is None else previous)
            _previous.clear()
            _requested = None


def chain(signum: int) -> None:
    """Call the Python handler that `signum` had before ours (submitit's checkpoint-and-requeue
    for SIGUSR2), if any. Python's own SIGINT handler is not called: it would only raise
    KeyboardInterrupt over a run that already stopped."""
    previous = _previous.get(signum)
    if callable(previous) and previous not in (signal.default_int_handler, _exit_now, _record):
        previous(signum, None)
