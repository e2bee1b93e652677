"""Typed config schemas, registered in Hydra's ConfigStore, and the composed configs.

The schemas hold only types: every default value lives in one place, the YAML files under
`lunar_dqn/conf/` (one key a line, with its meaning). Hydra fills the schemas from them and
rejects unknown keys and wrong types; `lunar_dqn.validation` rejects values out of range
before any work starts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf

CONF_DIR = Path(__file__).resolve().parent / "conf"  # shipped inside the package
BACKWARDS = ("auto", "fused", "manual", "autograd")  # agent.backward: see lunar_dqn/algo/learner.py
VECTORIZATION_MODES = ("auto", "sync", "worker", "async", "envpool")  # see run/backends.py


@dataclass
class EnvConfig:
    id: str = MISSING
    num_envs: int = MISSING
    vectorization_mode: str = MISSING
    max_episode_steps: int | None = MISSING
    kwargs: dict[str, Any] = MISSING


@dataclass
class AgentConfig:
    hidden_sizes: list[int] = MISSING
    layer_norm: bool = MISSING
    dueling: bool = MISSING
    learning_rate: float = MISSING
    learning_rate_min: float = MISSING
    learning_rate_decay_steps: int | None = MISSING
    gamma: float = MISSING
    tau: float = MISSING
    target_update_every: int = MISSING
    n_step: int = MISSING
    horizon_anneal_steps: int | None = MISSING
    n_step_start: int = MISSING
    gamma_start: float = MISSING
    batch_size: int = MISSING
    replay_ratio: int = MISSING
    loss: str = MISSING
    backward: str = MISSING
    double_dqn: bool = MISSING
    reset_every: int | None = MISSING
    reset_layers: int = MISSING
    reset_shrink: float = MISSING
    max_grad_norm: float | None = MISSING
    epsilon_start: float = MISSING
    epsilon_min: float = MISSING
    epsilon_decay: float = MISSING
    epsilon_decay_steps: int | None = MISSING


@dataclass
class BufferConfig:
    capacity: int = MISSING
    prioritized: bool = MISSING
    alpha: float = MISSING
    beta_start: float = MISSING
    beta_anneal_steps: int = MISSING


@dataclass
class LoggerConfig:
    tensorboard: bool = MISSING
    log_every_steps: int = MISSING
    progress_bar: bool = MISSING
    video: bool = MISSING
    video_episodes: int = MISSING
    gif_every_steps: int | None = MISSING


@dataclass
class TrainConfig:
    max_env_steps: int = MISSING
    max_episodes: int = MISSING
    solve_score: float = MISSING
    solve_window: int = MISSING
    stop_when_solved: bool = MISSING
    checkpoint_every: int = MISSING
    saved_network: str = MISSING
    polish_env_steps: int = MISSING


@dataclass
class EvalConfig:
    every_env_steps: int | None = MISSING
    episodes: int = MISSING


@dataclass
class Config:
    env: EnvConfig = field(default_factory=EnvConfig)
    agent: AgentConfig = field(default_factory=AgentConfig)
    buffer: BufferConfig = field(default_factory=BufferConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    seed: int = MISSING
    device: str = MISSING
    torch_threads: int = MISSING
    resume: str | None = MISSING


GROUPS = {"env": EnvConfig, "agent": AgentConfig, "buffer": BufferConfig,
          "logger": LoggerConfig, "train": TrainConfig, "eval": EvalConfig}


def register_configs() -> None:
    """Schemas into Hydra's ConfigStore, and the resolvers conf/config.yaml uses to send a
    resumed run into its own directory without overwriting its saved .hydra config."""
    if not OmegaConf.has_resolver("lunar_dqn.run_dir"):
        OmegaConf.register_new_resolver(  # a missing resume dir is reported by train, not made
            "lunar_dqn.run_dir",
            lambda resume, fresh: resume if resume is not None and os.path.isdir(resume) else fresh)
        OmegaConf.register_new_resolver(
            "lunar_dqn.output_subdir", lambda resume: None if resume is not None else ".hydra")
    cs = ConfigStore.instance()
    cs.store(name="base_config", node=Config)
    for group, schema in GROUPS.items():
        cs.store(group=group, name=f"base_{group}", node=schema)


def compose_config(*overrides: str, config_name: str = "config") -> DictConfig:
    """The config `python -m lunar_dqn.train OVERRIDES...` would run with (Hydra's compose API,
    for code that calls `train` or `Trainer` directly: tests, benchmarks). `config_name` picks
    another command's config (`evaluate`, `plot`, `inspect`), whose schema must be registered."""
    register_configs()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(config_name=config_name, overrides=list(overrides))


def group_defaults(group: str) -> DictConfig:
    """One group's defaults (e.g. `env`), from the YAML file `conf/config.yaml` selects for it,
    typed by its schema: for code that reads a config outside Hydra's composition (a model file
    with no run, a run saved by a version that lacked a key)."""
    selected = [d for d in OmegaConf.load(CONF_DIR / "config.yaml").defaults
                if isinstance(d, DictConfig) and group in d]
    values = OmegaConf.load(CONF_DIR / group / f"{selected[0][group]}.yaml")
    values.pop("defaults")
    return OmegaConf.merge(GROUPS[group], values)


def default_config() -> DictConfig:
    """The config `compose_config()` gives, read from the YAML files without Hydra (which may be
    busy running a command): every group's defaults and the top-level keys."""
    top = OmegaConf.load(CONF_DIR / "config.yaml")
    for key in ("defaults", "hydra"):
        top.pop(key)
    return OmegaConf.merge(Config, {group: group_defaults(group) for group in GROUPS}, top)


def command_defaults(name: str) -> DictConfig:
    """Another command's options (`evaluate`, `plot`, `inspect`) as its YAML file sets them,
    without Hydra."""
    values = OmegaConf.load(CONF_DIR / f"{name}.yaml")
    for key in ("defaults", "hydra"):
        values.pop(key)
    return values


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """`{"agent": {"tau": 0.001}}` -> `{"agent.tau": 0.001}`."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat
