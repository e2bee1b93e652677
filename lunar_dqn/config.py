"""Typed config schemas, registered in Hydra's ConfigStore, and their validation.

The schemas hold only types: every default value lives in one place, the YAML files under
`lunar_dqn/conf/` (one key a line, with its meaning). Hydra fills the schemas from them and
rejects unknown keys and wrong types; `validate` rejects values out of range before any work
starts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf

from lunar_dqn.errors import ConfigError
from lunar_dqn.seeds import TEST_SEED_BASE, VALIDATION_SEED_BASE

CONF_DIR = Path(__file__).resolve().parent / "conf"  # shipped inside the package
BACKWARDS = ("auto", "manual", "autograd")  # agent.backward: see lunar_dqn/algo/learner.py


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
    learning_rate: float = MISSING
    learning_rate_min: float = MISSING
    learning_rate_decay_steps: int | None = MISSING
    gamma: float = MISSING
    tau: float = MISSING
    target_update_every: int = MISSING
    n_step: int = MISSING
    batch_size: int = MISSING
    replay_ratio: int = MISSING
    loss: str = MISSING
    backward: str = MISSING
    double_dqn: bool = MISSING
    max_grad_norm: float | None = MISSING
    epsilon_start: float = MISSING
    epsilon_min: float = MISSING
    epsilon_decay: float = MISSING
    epsilon_decay_steps: int | None = MISSING


@dataclass
class BufferConfig:
    capacity: int = MISSING


@dataclass
class LoggerConfig:
    tensorboard: bool = MISSING
    log_every_steps: int = MISSING
    progress_bar: bool = MISSING
    video: bool = MISSING


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


def _check(ok: bool, key: str, value: Any, allowed: str) -> None:
    if not ok:
        raise ConfigError(f"{key}={value!r} is invalid: {allowed}")


def validate(cfg: Any) -> None:
    """Check every value the schema's types cannot; raise ConfigError naming the key."""
    a, e, b, t = cfg.agent, cfg.env, cfg.buffer, cfg.train
    _check(0.0 < a.tau <= 1.0, "agent.tau", a.tau, "must be in (0, 1]")
    _check(0.0 <= a.gamma <= 1.0, "agent.gamma", a.gamma, "must be in [0, 1]")
    _check(a.learning_rate > 0, "agent.learning_rate", a.learning_rate, "must be > 0")
    _check(a.learning_rate_min > 0, "agent.learning_rate_min", a.learning_rate_min, "must be > 0")
    _check(a.learning_rate_decay_steps is None or a.learning_rate_min <= a.learning_rate,
           "agent.learning_rate_min", a.learning_rate_min,
           "must be <= agent.learning_rate when agent.learning_rate_decay_steps is set")
    _check(a.learning_rate_decay_steps is None or a.learning_rate_decay_steps >= 1,
           "agent.learning_rate_decay_steps", a.learning_rate_decay_steps, "must be >= 1 or null")
    _check(a.batch_size >= 1, "agent.batch_size", a.batch_size, "must be >= 1")
    _check(a.replay_ratio >= 1, "agent.replay_ratio", a.replay_ratio, "must be >= 1")
    _check(a.n_step >= 1, "agent.n_step", a.n_step, "must be >= 1")
    _check(a.target_update_every >= 1, "agent.target_update_every", a.target_update_every,
           "must be >= 1")
    _check(a.epsilon_decay_steps is None or a.epsilon_decay_steps >= 1,
           "agent.epsilon_decay_steps", a.epsilon_decay_steps, "must be >= 1 or null")
    _check(
        len(a.hidden_sizes) >= 1 and all(h >= 1 for h in a.hidden_sizes),
        "agent.hidden_sizes", list(a.hidden_sizes), "must be a non-empty list of sizes >= 1",
    )
    _check(a.loss in ("mse", "huber"), "agent.loss", a.loss, "must be 'mse' or 'huber'")
    _check(a.backward in BACKWARDS, "agent.backward", a.backward,
           "must be 'auto', 'manual' or 'autograd'")
    _check(
        a.max_grad_norm is None or a.max_grad_norm > 0,
        "agent.max_grad_norm", a.max_grad_norm, "must be > 0 or null",
    )
    _check(0.0 <= a.epsilon_min <= 1.0, "agent.epsilon_min", a.epsilon_min, "must be in [0, 1]")
    _check(
        a.epsilon_min <= a.epsilon_start <= 1.0,
        "agent.epsilon_start", a.epsilon_start, "must be in [agent.epsilon_min, 1]",
    )
    _check(0.0 < a.epsilon_decay <= 1.0, "agent.epsilon_decay", a.epsilon_decay,
           "must be in (0, 1]")
    _check(b.capacity >= 1, "buffer.capacity", b.capacity, "must be >= 1")
    _check(
        a.batch_size <= b.capacity,
        "agent.batch_size", a.batch_size, f"must be <= buffer.capacity ({b.capacity})",
    )
    _check(e.num_envs >= 1, "env.num_envs", e.num_envs, "must be >= 1")
    _check(
        e.vectorization_mode in ("sync", "async"),
        "env.vectorization_mode", e.vectorization_mode, "must be 'sync' or 'async'",
    )
    _check(
        e.max_episode_steps is None or e.max_episode_steps >= 1,
        "env.max_episode_steps", e.max_episode_steps, "must be >= 1 or null",
    )
    _check(t.max_env_steps >= 1, "train.max_env_steps", t.max_env_steps, "must be >= 1")
    _check(t.max_episodes >= 1, "train.max_episodes", t.max_episodes, "must be >= 1")
    _check(t.solve_window >= 1, "train.solve_window", t.solve_window, "must be >= 1")
    _check(t.checkpoint_every >= 1, "train.checkpoint_every", t.checkpoint_every, "must be >= 1")
    _check(t.saved_network in ("target", "online"), "train.saved_network", t.saved_network,
           "must be 'target' or 'online'")
    _validate_evaluation(cfg)
    log_every = cfg.logger.log_every_steps
    _check(log_every >= 1, "logger.log_every_steps", log_every, "must be >= 1")
    _check(cfg.torch_threads >= 1, "torch_threads", cfg.torch_threads, "must be >= 1")
    _check(
        cfg.device == "auto" or cfg.device == "cpu" or cfg.device.startswith("cuda"),
        "device", cfg.device, "must be 'auto', 'cpu', 'cuda' or 'cuda:N'",
    )


def _validate_evaluation(cfg: Any) -> None:
    """The evaluation during training, the polish that needs it, and the seed ranges kept apart
    (lunar_dqn.seeds)."""
    every, k, polish = cfg.eval.every_env_steps, cfg.eval.episodes, cfg.train.polish_env_steps
    _check(every is None or every >= 1, "eval.every_env_steps", every, "must be >= 1 or null")
    most = TEST_SEED_BASE - VALIDATION_SEED_BASE
    _check(1 <= k <= most, "eval.episodes", k, f"must be in [1, {most}]")
    _check(polish >= 0, "train.polish_env_steps", polish, "must be >= 0")
    _check(polish == 0 or every is not None, "train.polish_env_steps", polish,
           "needs evaluations (eval.every_env_steps) to hand the polished network over")
    _check(every is None or not VALIDATION_SEED_BASE - cfg.env.num_envs < cfg.seed
           < VALIDATION_SEED_BASE + k, "seed", cfg.seed, f"training's reset seeds (seed + i, "
           f"i < env.num_envs) would overlap the evaluation's, {VALIDATION_SEED_BASE}-"
           f"{VALIDATION_SEED_BASE + k - 1}")
