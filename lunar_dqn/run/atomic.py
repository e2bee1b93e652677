"""Files written whole or not at all: through a temporary file beside the target, renamed over
it. A kill or a full disk mid-write leaves the previous version intact and, at worst, a
temporary file that the run's next start removes."""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

from lunar_dqn.errors import WriteFault

TMP_SUFFIX = ".tmp"


def atomic_write(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Write `path` with `write(file)`: to `.<name>.<random>.tmp` in the same folder, flushed
    to disk, then renamed over `path`. Raises WriteFault (one line) when the file system
    refuses (full, read-only...)."""
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TMP_SUFFIX)
        os.fchmod(fd, _mode())  # mkstemp's 0600 would hide the run's files from a shared group
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        _remove(tmp)
        refused = _os_error(err)
        if refused is None:
            raise
        raise WriteFault(_fault_message(path, refused)) from None


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda f: f.write(text.encode()))


def _os_error(err: BaseException | None) -> OSError | None:
    """The file system's refusal behind `err`, if any: torch.save turns a failed write into a
    RuntimeError raised while it handles the OSError."""
    while err is not None and not isinstance(err, OSError):
        err = err.__cause__ or err.__context__
    return err


def _mode() -> int:
    """The permissions `open()` would give a new file: 0666 less the process's umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _remove(tmp: str | None) -> None:
    if tmp is not None:
        Path(tmp).unlink(missing_ok=True)


def _fault_message(path: Path, err: OSError) -> str:
    reason = err.strerror or type(err).__name__
    if err.errno == errno.ENOSPC:
        reason = "the disk is full"
    kept = f"; the previous {path.name} is intact" if path.is_file() else ""
    return f"cannot write {path}: {reason}{kept}"


def remove_partial_writes(folder: Path) -> list[Path]:
    """Delete the temporary files that interrupted writes left in `folder` (call it only while
    no other process writes there: under the run's lock). Returns what was deleted."""
    leftovers = sorted(folder.glob(f".*{TMP_SUFFIX}"))
    for path in leftovers:
        path.unlink(missing_ok=True)
    return leftovers
