"""Where a run's code came from: the git commit of the checkout, when there is one."""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path


@functools.cache
def git_commit() -> str | None:
    """The commit of the checkout lunar_dqn runs from, with `-dirty` for uncommitted changes;
    None outside a git checkout."""
    source = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty", "--abbrev=40"],
                             cwd=source, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None
