"""Finished training runs found under a directory, and the setting each one ran.

A run is a directory holding `summary.json` (see `lunar_dqn.run.rundir`). Its setting is the
command-line overrides Hydra recorded in `.hydra/overrides.yaml`, without `seed=...` and
`hydra...` overrides, so the seeds of one setting share it; a budget (or another outcome setting)
that a resume changed counts with its last value (`resumes.jsonl`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from lunar_dqn.errors import ReportError
from lunar_dqn.overrides import override_text
from lunar_dqn.run.rundir import (
    HISTORY,
    OVERRIDES,
    SUMMARY,
    read_evaluation,
    read_resumes,
    read_summary,
)

DEFAULTS_SETTING = "(defaults)"  # runs with no overrides other than the seed
NO_OVERRIDES_SETTING = "(no overrides.yaml)"
COMMON_ONLY_LABEL = "(only the common overrides)"
# what a resume may change that changes a run's outcome (the others are conveniences)
OUTCOME_KEYS = ("train.max_env_steps", "train.max_episodes", "train.stop_when_solved",
                "train.saved_network")


@dataclass(frozen=True)
class Run:
    dir: Path
    summary: dict[str, Any]
    overrides: tuple[str, ...] | None  # the setting's, sorted; None: no .hydra/overrides.yaml
    where: str  # the directory under the report's root
    evaluation: dict[str, Any] | None = None  # its evaluation.json (benchmarked runs)

    @property
    def setting(self) -> str:
        """A run without overrides.yaml (Hydra wrote none) is a setting of its own, named by its
        directory: nothing tells which other runs share its setting."""
        if self.overrides is None:
            return f"{NO_OVERRIDES_SETTING} {self.where}"
        return " ".join(self.overrides) or DEFAULTS_SETTING

    @property
    def history_path(self) -> Path:
        return self.dir / HISTORY


def override_key(override: str) -> str:
    """`+agent.tau=0.1` -> `agent.tau`; `hydra/launcher=joblib` -> `hydra/launcher`."""
    return override.split("=", 1)[0].lstrip("~+")


def setting_overrides(overrides: list[str]) -> tuple[str, ...]:
    """The overrides that define a setting, sorted."""
    return tuple(sorted(
        o for o in overrides
        if override_key(o) != "seed" and not override_key(o).startswith(("hydra.", "hydra/"))
    ))


def with_resumes(overrides: list[str], resumes: list[dict[str, Any]]) -> list[str]:
    """The command's overrides, with the outcome settings its resumes changed, last value
    last."""
    latest = {key: change["to"] for resume in resumes
              for key, change in resume.get("changed", {}).items() if key in OUTCOME_KEYS}
    return ([o for o in overrides if override_key(o) not in latest]
            + [override_text(key, value) for key, value in latest.items()])


def _read_overrides(path: Path) -> list[str]:
    try:
        overrides = OmegaConf.load(path)
    except (OSError, OmegaConfBaseException, ValueError) as err:
        raise ReportError(f"{path}: cannot read overrides ({err})") from None
    if not isinstance(overrides, ListConfig):
        raise ReportError(f"{path}: expected a list of overrides")
    return [str(o) for o in overrides]


def read_run(run_dir: Path, root: Path) -> Run:
    overrides_path = run_dir / OVERRIDES
    overrides = (setting_overrides(with_resumes(_read_overrides(overrides_path),
                                                read_resumes(run_dir)))
                 if overrides_path.is_file() else None)
    where = run_dir.relative_to(root).as_posix()
    return Run(run_dir, read_summary(run_dir), overrides, where, read_evaluation(run_dir))


def find_runs(root: Path) -> list[Run]:
    """Every run under `root` (at any depth), in path order."""
    if not root.is_dir():
        raise ReportError(f"{root}: no such directory")
    runs = [read_run(p.parent, root) for p in sorted(root.rglob(SUMMARY))]
    if not runs:
        raise ReportError(f"no {SUMMARY} under {root}: run a training or a sweep first")
    return runs


def group_by_setting(runs: list[Run]) -> dict[str, list[Run]]:
    groups: dict[str, list[Run]] = {}
    for run in runs:
        groups.setdefault(run.setting, []).append(run)
    return groups


def common_overrides(runs: list[Run]) -> frozenset[str]:
    """The overrides every run shares when the runs have more than one setting (a table names
    them once rather than in every row)."""
    recorded = [set(r.overrides) for r in runs if r.overrides is not None]
    if len({r.setting for r in runs}) < 2 or not recorded:
        return frozenset()
    return frozenset(set.intersection(*recorded))


def label(run: Run, common: frozenset[str]) -> str:
    """The run's setting without the `common` overrides."""
    if run.overrides is None or not common:
        return run.setting
    return " ".join(o for o in run.overrides if o not in common) or COMMON_ONLY_LABEL
