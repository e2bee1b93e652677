"""How the jobs of a sweep ended, for the sweep's last lines: how many ended each way, and by
name (their overrides) the jobs that diverged (an outcome, as in a search), failed (an error)
or were interrupted (their work is kept: they can be resumed)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import yaml

from lunar_dqn.run.rundir import HYDRA_DIR, OVERRIDES, SUMMARY
from lunar_dqn.sweep.runs import override_key

UNFINISHED = ("failed", "interrupted")  # a sweep with such jobs did not do all its work


@dataclass(frozen=True)
class JobOutcome:
    name: str  # "job 3 (agent.tau=0.01 seed=1)": the overrides not common to every job
    dir: Path
    status: str  # summary.json's, or "failed" when the job left none
    error: str | None


def _overrides(job_dir: Path) -> list[str]:
    """The job's own overrides (Hydra's `hydra...` ones left out)."""
    try:
        overrides = [str(o) for o in yaml.safe_load((job_dir / OVERRIDES).read_text()) or []]
    except (OSError, yaml.YAMLError, TypeError):
        return []
    return [o for o in overrides if not override_key(o).startswith(("hydra.", "hydra/"))]


def _order(path: Path) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in path.parts)


def job_outcomes(sweep_dir: Path) -> list[JobOutcome]:
    """One outcome per job directory (a directory Hydra wrote `.hydra/` into) under the sweep,
    in job order."""
    jobs = sorted((p.parent for p in sweep_dir.rglob(HYDRA_DIR) if p.is_dir()), key=_order)
    overrides = {job: _overrides(job) for job in jobs}
    common = set.intersection(*(set(o) for o in overrides.values())) if len(jobs) > 1 else set()
    outcomes = []
    for job in jobs:
        own = " ".join(o for o in overrides[job] if o not in common)
        name = f"job {job.relative_to(sweep_dir).as_posix()}" + (f" ({own})" if own else "")
        try:
            summary = json.loads((job / SUMMARY).read_text())
            status, error = str(summary["status"]), summary.get("error")
        except (OSError, ValueError, KeyError, TypeError):
            status, error = "failed", f"no readable {SUMMARY}: the job ended without one"
        outcomes.append(JobOutcome(name, job, status, error))
    return outcomes


def tally(outcomes: list[JobOutcome]) -> list[str]:
    """Log lines: the count of each outcome, then each diverged job with its reason."""
    counts = Counter(o.status for o in outcomes)
    lines = [f"sweep: {len(outcomes)} jobs: "
             + ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))]
    lines += [f"diverged: {o.name}: {o.error}" for o in outcomes if o.status == "diverged"]
    return lines


def unfinished(outcomes: list[JobOutcome]) -> str | None:
    """One line naming the jobs that failed (with their error) and those interrupted (with the
    command that continues them), or None when every job ran to its end."""
    parts = []
    failed = [o for o in outcomes if o.status == "failed"]
    if failed:
        parts.append(f"{len(failed)} of {len(outcomes)} jobs failed: "
                     + "; ".join(f"{o.name}: {o.error}" for o in failed))
    stopped = [o for o in outcomes if o.status == "interrupted"]
    if stopped:
        parts.append(f"{len(stopped)} of {len(outcomes)} jobs were interrupted: "
                     + "; ".join(f"{o.name} (continue it with: python -m lunar_dqn.train "
                                 f"resume={o.dir})" for o in stopped))
    return "; ".join(parts) or None
