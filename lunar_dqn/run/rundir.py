"""The run directory's owner: the name of every file a training run (or an evaluation) writes,
and the reads of a run that the commands, the sweep report and the benchmarks use.

It imports neither torch nor gymnasium, so the report and the plot command stay light; model
files and checkpoints are read and written by `lunar_dqn.run.checkpoint`, the closing writes of
a run are made by `lunar_dqn.run.finisher`.

    <run_dir>/
    ├── .hydra/config.yaml, overrides.yaml   the composed config, the command's overrides
    ├── .lock                                held by the process training in it (run/lock.py)
    ├── train.log                            the log lines
    ├── events.out.tfevents.*                TensorBoard
    ├── checkpoint.pt                        everything needed to resume exactly
    ├── history.csv                          episode, points, window average, env steps
    ├── evaluations.csv                      the evaluations during training
    ├── summary.json                         the outcome
    ├── resumes.jsonl                        each resume: where it continued, what it changed
    ├── best_model.pt                        the best evaluated network: the model handed over
    ├── lunar_lander_model.pt                the model when it solved (the lab's name)
    ├── final_model.pt                       the model at the end
    ├── training_curve.png                   episode points and their rolling mean
    └── videos/episode-K.mp4                 the closing greedy episodes of the handed-over model
    <evaluation dir>/evaluation.json, videos/episode-K.mp4   python -m lunar_dqn.evaluate
"""

from __future__ import annotations

import csv
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException
from yaml import YAMLError

from lunar_dqn.config import group_defaults
from lunar_dqn.errors import CheckpointError, ConfigError, ReportError
from lunar_dqn.run.atomic import atomic_write_text
from lunar_dqn.run.history import EpisodeHistory

HYDRA_DIR = ".hydra"
RUN_CONFIG = Path(HYDRA_DIR) / "config.yaml"  # the composed config Hydra saved for the run
OVERRIDES = Path(HYDRA_DIR) / "overrides.yaml"  # the command line's overrides
LOG_FILE = "train.log"
EVALUATION_LOG = "evaluate.log"  # in an evaluation's directory
LOCK = ".lock"  # flock()ed for the run's lifetime: one run per directory
EVENTS_GLOB = "events.out.tfevents.*"
CHECKPOINT = "checkpoint.pt"
HISTORY = "history.csv"
EVALUATIONS = "evaluations.csv"  # one row per evaluation during training
SUMMARY = "summary.json"
RESUMES = "resumes.jsonl"  # one JSON line per resume
# summary.json's figures, which are also the run's HParams metrics (final/<name> in TensorBoard)
SUMMARY_FIGURES = ("solved", "solved_episode", "solved_env_steps", "episodes", "env_steps",
                   "gradient_steps", "wall_time_s", "avg100", "solved_wall_time_s",
                   "model_eval_points", "model_eval_landed")
BEST_MODEL = "best_model.pt"  # the best evaluated network, written when one beats the others
SOLVED_MODEL = "lunar_lander_model.pt"  # the lab's file name, written when a run solves
FINAL_MODEL = "final_model.pt"  # written at the end of every run that did not diverge
# The model a run hands over (`evaluate run_dir=` plays it): the first of these it has.
HANDED_OVER = (BEST_MODEL, SOLVED_MODEL, FINAL_MODEL)
TRAINING_CURVE = "training_curve.png"
VIDEO_DIR = "videos"
EVALUATION = "evaluation.json"  # in an evaluation's directory (or a benchmarked run's)


def episode_video(k: int) -> str:
    """Evaluation episode k's video, in an evaluation's directory (or a run's: its closing
    episodes)."""
    return f"{VIDEO_DIR}/episode-{k}.mp4"


@dataclass
class RunSettings:
    env: DictConfig  # typed by EnvConfig
    hidden_sizes: list[int]


def check_run_dir(run_dir: Path) -> None:
    if not run_dir.exists():
        raise ConfigError(f"run_dir={run_dir} does not exist")
    if not run_dir.is_dir():
        raise ConfigError(f"run_dir={run_dir} is not a directory")


def read_run_settings(run_dir: Path) -> RunSettings:
    """The run's environment settings and network shape, from its saved config. Only these are
    read, so runs written by older or newer versions (other keys) still load."""
    check_run_dir(run_dir)
    path = run_dir / RUN_CONFIG
    if not path.is_file():
        raise ConfigError(f"run_dir={run_dir} is not a training run: it has no {RUN_CONFIG}")
    try:
        saved = OmegaConf.load(path)
        env = OmegaConf.merge(group_defaults("env"), saved.env)
        hidden_sizes = [int(size) for size in saved.agent.hidden_sizes]
    except (YAMLError, OmegaConfBaseException, AttributeError, TypeError, ValueError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConfigError(f"{path} is not a readable training config: {reason}") from None
    return RunSettings(env=env, hidden_sizes=hidden_sizes)


def handed_over(run_dir: Path) -> Path | None:
    """The model the run hands over: the best evaluated network, else the one saved when it
    solved, else the one saved when it ended; None when it has none of them."""
    return next((run_dir / name for name in HANDED_OVER if (run_dir / name).is_file()), None)


def find_model(run_dir: Path) -> Path:
    """`handed_over`, for a command: a missing model is an error."""
    check_run_dir(run_dir)
    model = handed_over(run_dir)
    if model is None:
        raise CheckpointError(f"run_dir={run_dir} has no model file ({', '.join(HANDED_OVER)})")
    return model


def read_points(run_dir: Path) -> list[float]:
    """Every finished episode's points, for the plot command."""
    check_run_dir(run_dir)
    path = run_dir / HISTORY
    if not path.is_file():
        raise ConfigError(f"run_dir={run_dir} has no {HISTORY}: is it a training run?")
    try:
        return EpisodeHistory.read_csv(path, window=1).points
    except (KeyError, ValueError, TypeError, csv.Error) as err:
        raise ConfigError(f"{path} is not a readable episode history ({type(err).__name__}: "
                          f"{err})") from None


def read_history(run_dir: Path) -> EpisodeHistory:
    """The history for the report (the window only matters while training)."""
    path = run_dir / HISTORY
    try:
        return EpisodeHistory.read_csv(path, window=1)
    except (OSError, KeyError, ValueError) as err:
        raise ReportError(f"{path}: cannot read the history ({err!r})") from None


def write_json(path: Path, doc: dict[str, Any]) -> None:
    atomic_write_text(path, json.dumps(doc, indent=2) + "\n")


def write_summary(run_dir: Path, summary: dict[str, Any]) -> None:
    write_json(run_dir / SUMMARY, summary)


def write_failure(run_dir: Path, message: str) -> None:
    """The summary of a sweep job that failed before or while training."""
    write_summary(run_dir, {"status": "failed", "solved": False, "error": message})


def read_summary(run_dir: Path) -> dict[str, Any]:
    """A run's summary.json, checked for what the report needs."""
    path = run_dir / SUMMARY
    try:
        summary = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise ReportError(f"{path}: cannot read JSON ({err})") from None
    if not isinstance(summary, dict) or not isinstance(summary.get("solved"), bool):
        raise ReportError(f"{path}: no solved: true/false in it")
    if summary["solved"] and not isinstance(summary.get("solved_env_steps"), (int, float)):
        raise ReportError(f"{path}: solved, but solved_env_steps is not a number")
    return summary


def read_evaluation(run_dir: Path) -> dict[str, Any] | None:
    """The run's evaluation.json (benchmarked runs have one), or None."""
    path = run_dir / EVALUATION
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise ReportError(f"{path}: cannot read JSON ({err})") from None


def holds_run(run_dir: Path) -> bool:
    """Whether a run has trained in `run_dir`: it holds what only training writes."""
    return any((run_dir / name).exists() for name in (CHECKPOINT, SUMMARY, FINAL_MODEL,
                                                       SOLVED_MODEL))


def check_resumable(run_dir: Path) -> None:
    """`resume=run_dir` can continue it: a directory holding a checkpoint."""
    if not run_dir.is_dir():
        raise CheckpointError(f"resume={str(run_dir)!r}: no such run directory")
    if not (run_dir / CHECKPOINT).is_file():
        raise CheckpointError(f"resume={str(run_dir)!r}: no {CHECKPOINT} there, nothing to resume")


def remove_empty_log(run_dir: Path) -> None:
    """A resume refused before it logged anything leaves no empty train.log (Hydra opens one)."""
    log = run_dir / LOG_FILE
    if log.is_file() and log.stat().st_size == 0:
        log.unlink()


def remove_unused(out_dir: Path) -> None:
    """Remove the directory of a command that failed before doing anything, when it holds
    nothing but what Hydra (and the lock) put there, and then its parents left empty under the
    working directory (a date folder made for it), so that a failed command leaves nothing."""
    if not out_dir.is_dir() or not {p.name for p in out_dir.iterdir()} <= {
            HYDRA_DIR, LOG_FILE, EVALUATION_LOG, LOCK}:
        return
    shutil.rmtree(out_dir, ignore_errors=True)
    cwd = Path.cwd().resolve()
    parent = out_dir.resolve().parent
    while parent != cwd and cwd in parent.parents and not any(parent.iterdir()):
        parent.rmdir()
        parent = parent.parent


def save_run_config(run_dir: Path, cfg: Any, overrides: list[str]) -> None:
    """What Hydra saves for a run it starts, for a run started from Python: the composed config
    (which evaluate and resume read) and the overrides that differ from the defaults (which the
    sweep report groups runs by)."""
    (run_dir / HYDRA_DIR).mkdir(parents=True, exist_ok=True)
    OmegaConf.save(cfg, run_dir / RUN_CONFIG)
    OmegaConf.save(OmegaConf.create(overrides), run_dir / OVERRIDES)


def read_resumes(run_dir: Path) -> list[dict[str, Any]]:
    """The run's resumes, oldest first (none: an empty list)."""
    path = run_dir / RESUMES
    if not path.is_file():
        return []
    try:
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    except (OSError, ValueError) as err:
        raise ReportError(f"{path}: cannot read JSON lines ({err})") from None


def append_resume(run_dir: Path, record: dict[str, Any]) -> None:
    with open(run_dir / RESUMES, "a") as f:
        f.write(json.dumps(record) + "\n")

