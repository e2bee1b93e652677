"""The run directory's owner: the name of every file a training run (or an evaluation) writes,
and the reads of a run that the commands, the sweep report and the benchmarks use.

It imports neither torch nor gymnasium, so the report and the plot command stay light; model
files and checkpoints are read and written by `lunar_dqn.run.checkpoint`, the closing writes of
a run are made by `lunar_dqn.run.finisher`.

    <run_dir>/
    ├── .hydra/config.yaml, overrides.yaml   the composed config, the command's overrides
    ├── train.log                            the log lines
    ├── events.out.tfevents.*                TensorBoard
    ├── checkpoint.pt                        everything needed to resume exactly
    ├── history.csv                          episode, points, window average, env steps
    ├── evaluations.csv                      the evaluations during training
    ├── summary.json                         the outcome
    ├── best_model.pt                        the best evaluated network
    ├── lunar_lander_model.pt                the model when it solved (the lab's name)
    ├── final_model.pt                       the model at the end
    ├── training_curve.png                   episode points and their rolling mean
    └── videos/model.mp4                     a greedy episode of the model the run hands over
    <evaluation dir>/evaluation.json, videos/episode-K.mp4   python -m lunar_dqn.evaluate
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException
from yaml import YAMLError

from lunar_dqn.config import group_defaults
from lunar_dqn.errors import CheckpointError, ConfigError, ReportError
from lunar_dqn.run.history import EpisodeHistory

HYDRA_DIR = ".hydra"
RUN_CONFIG = Path(HYDRA_DIR) / "config.yaml"  # the composed config Hydra saved for the run
OVERRIDES = Path(HYDRA_DIR) / "overrides.yaml"  # the command line's overrides
LOG_FILE = "train.log"
EVENTS_GLOB = "events.out.tfevents.*"
CHECKPOINT = "checkpoint.pt"
HISTORY = "history.csv"
EVALUATIONS = "evaluations.csv"  # one row per evaluation during training
SUMMARY = "summary.json"
BEST_MODEL = "best_model.pt"  # the best evaluated network, written when one beats the others
SOLVED_MODEL = "lunar_lander_model.pt"  # the lab's file name, written when a run solves
FINAL_MODEL = "final_model.pt"  # written at the end of every run that did not diverge
# The model a run hands over (`evaluate run_dir=` plays it): the first of these it has.
HANDED_OVER = (BEST_MODEL, SOLVED_MODEL, FINAL_MODEL)
TRAINING_CURVE = "training_curve.png"
VIDEO_DIR = "videos"
MODEL_VIDEO = f"{VIDEO_DIR}/model.mp4"  # a greedy episode of the model the run hands over
EVALUATION = "evaluation.json"  # in an evaluation's directory (or a benchmarked run's)


def episode_video(k: int) -> str:
    """Evaluation episode k's video, in an evaluation's directory."""
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
    path.write_text(json.dumps(doc, indent=2) + "\n")


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


def only_hydra_files(run_dir: Path) -> bool:
    """Whether a run directory holds nothing but what Hydra wrote before the run started."""
    return {p.name for p in run_dir.iterdir()} <= {HYDRA_DIR, LOG_FILE}
