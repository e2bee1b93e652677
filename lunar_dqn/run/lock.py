"""One run per directory: an advisory lock on `<run_dir>/.lock`, held for the run's lifetime.

`fcntl.flock` locks belong to an open file and the kernel drops them when the process ends,
however it ends (SIGKILL included), so a killed run never blocks its own resume. The lock file is
deleted when the run lets go of it; whoever locks a file that was deleted meanwhile checks that
it still is the one at `<run_dir>/.lock` and otherwise locks the new one.
"""

from __future__ import annotations

import atexit
import errno
import fcntl
import json
import logging
import os
import socket
import time
from pathlib import Path

from lunar_dqn.errors import ConfigError, RunDirInUse
from lunar_dqn.run.atomic import remove_partial_writes
from lunar_dqn.run.rundir import LOCK, SUMMARY, holds_run

log = logging.getLogger(__name__)

# File systems whose flock() fails this way do not lock across machines (Lustre without
# `-o flock`, some NFS set-ups): the run goes on unguarded, with a warning.
UNSUPPORTED = (errno.ENOLCK, errno.ENOSYS, errno.EOPNOTSUPP)

_held: dict[Path, list[int]] = {}  # resolved run dir -> [file descriptor, claims in this process]


class Claim:
    """A process's hold on a run directory (see `claim`); `release` it once done."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.held = True

    def release(self) -> None:
        if self.held:
            self.held = False
            _release(self.run_dir)


def claim(run_dir: Path, resume: bool) -> Claim:
    """Make `run_dir` this process's to train in: refused with RunDirInUse when another process
    holds its lock, or when it already holds a run and this is not a resume. Removes what
    interrupted writes left there. A process may claim a directory it holds again (the Hydra
    entry point claims it before Hydra writes into it, then the trainer does): the lock goes
    when every claim is released."""
    key = run_dir.resolve()
    if key in _held:
        _held[key][1] += 1
        return Claim(run_dir)
    _held[key] = [_lock(run_dir), 1]
    held = Claim(run_dir)
    try:
        if not resume and holds_run(run_dir):
            raise RunDirInUse(already_a_run(run_dir))
        for path in remove_partial_writes(run_dir):
            log.info("removed %s, left by an interrupted write", path.name)
    except BaseException:
        held.release()
        raise
    return held


def _release(run_dir: Path) -> None:
    key = run_dir.resolve()
    entry = _held.get(key)
    if entry is None:
        return
    entry[1] -= 1
    if entry[1] > 0:
        return
    del _held[key]
    fd = entry[0]
    try:
        if _same_file(fd, run_dir / LOCK):
            (run_dir / LOCK).unlink()
    except OSError:
        pass  # a read-only or removed directory: the kernel still drops the lock below
    os.close(fd)


@atexit.register
def _release_all() -> None:
    """A command that exits with an error still removes its lock files."""
    for key in list(_held):
        _held[key][1] = 1
        _release(key)


def already_a_run(run_dir: Path) -> str:
    try:
        status = f" ({json.loads((run_dir / SUMMARY).read_text())['status']})"
    except (OSError, ValueError, KeyError, TypeError):
        status = ""
    return (f"{run_dir} already holds a run{status}: continue it with resume={run_dir}, "
            "or train in another directory")


def _lock(run_dir: Path) -> int:
    """Open and flock `<run_dir>/.lock`, write who holds it; return its descriptor."""
    path = run_dir / LOCK
    fd = None
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        while fd is None:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            _flock(fd, path)
            if not _same_file(fd, path):
                os.close(fd)  # its holder deleted it as we opened it: lock the one there now
                fd = None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} on {socket.gethostname()} since "
                     f"{time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode())
    except OSError as err:
        if fd is not None:
            os.close(fd)
        raise ConfigError(f"cannot write in {run_dir}: {err.strerror or err}") from None
    except RunDirInUse:
        os.close(fd)
        raise
    return fd


def _flock(fd: int, path: Path) -> None:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 300).decode(errors="replace").strip() or "another process"
        raise RunDirInUse(f"{path.parent} is in use by another run ({holder}): one run per "
                          "directory") from None
    except OSError as err:
        if err.errno not in UNSUPPORTED:
            raise
        log.warning("%s cannot be locked on this file system (%s): nothing stops another run "
                    "from using this directory at the same time", path, err.strerror)


def _same_file(fd: int, path: Path) -> bool:
    try:
        on_disk = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (held.st_dev, held.st_ino) == (on_disk.st_dev, on_disk.st_ino)
