"""Reading a finished training run back: its directory, its environment settings, its model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException
from yaml import YAMLError

from lunar_dqn.checkpoint import FINAL_MODEL, SOLVED_MODEL
from lunar_dqn.config import group_defaults
from lunar_dqn.errors import CheckpointError, ConfigError

RUN_CONFIG = Path(".hydra") / "config.yaml"  # the composed config Hydra saved for the run


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


def find_model(run_dir: Path) -> Path:
    """The model saved when the run solved, else the one saved when it ended."""
    check_run_dir(run_dir)
    for name in (SOLVED_MODEL, FINAL_MODEL):
        if (run_dir / name).is_file():
            return run_dir / name
    raise CheckpointError(f"run_dir={run_dir} has no model file ({SOLVED_MODEL} or "
                          f"{FINAL_MODEL})")
