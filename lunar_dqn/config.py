"""Typed config schemas, registered in Hydra's ConfigStore, and their validation.

The YAML files under `conf/` fill these schemas; Hydra rejects unknown keys and wrong
types, and `validate` rejects values out of range before any work starts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf

CONF_DIR = Path(__file__).resolve().parent / "conf"  # shipped inside the package


@dataclass
class EnvConfig:
    id: str = "LunarLander-v3"
    num_envs: int = 8
    vectorization_mode: str = "sync"  # sync | async
    max_episode_steps: int | None = None  # None: the environment's own limit (1000)
    kwargs: dict[str, Any] = field(default_factory=dict)  # gravity, enable_wind, ...


@dataclass
class AgentConfig:
    hidden_sizes: list[int] = field(default_factory=lambda: [128, 128])
    learning_rate: float = 1e-3
    learning_rate_min: float = 1e-4  # the end of the decay below
    learning_rate_decay_steps: int | None = None  # if set: linear decay over this many env steps
    gamma: float = 0.99
    tau: float = 5e-3  # soft target update: w_target <- tau * w + (1 - tau) * w_target
    target_update_every: int = 1  # gradient steps between target updates (tau=1: hard copy)
    n_step: int = 1  # returns over n steps, bootstrapped with gamma^n (the lab: 1)
    batch_size: int = 64
    replay_ratio: int = 2  # transitions collected per gradient step
    loss: str = "mse"  # mse | huber
    backward: str = "manual"  # manual (hand-written MLP gradients) | autograd: same values
    double_dqn: bool = False
    max_grad_norm: float | None = None  # None: no clipping
    epsilon_start: float = 1.0
    epsilon_min: float = 0.01
    epsilon_decay: float = 0.98  # multiplied in once per finished episode
    epsilon_decay_steps: int | None = None  # if set: linear decay over this many env steps


@dataclass
class BufferConfig:
    capacity: int = 100_000


@dataclass
class LoggerConfig:
    tensorboard: bool = True
    log_every_steps: int = 2_000  # env steps between loss / Q / epsilon / SPS scalars
    progress_bar: bool = True  # shown only when stderr is a terminal
    video: bool = True  # at the end, a greedy episode of the final model to videos/ and TensorBoard


@dataclass
class TrainConfig:
    max_env_steps: int = 1_000_000
    max_episodes: int = 3_000
    solve_score: float = 200.0
    solve_window: int = 100
    stop_when_solved: bool = True
    checkpoint_every: int = 50_000  # env steps between resumable checkpoints (and at the end)
    saved_network: str = "target"  # target (Polyak average, steadier greedy) | online (the lab)


@dataclass
class Config:
    env: EnvConfig = field(default_factory=EnvConfig)
    agent: AgentConfig = field(default_factory=AgentConfig)
    buffer: BufferConfig = field(default_factory=BufferConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    torch_threads: int = 1
    resume: str | None = None  # a run directory to continue in place


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
    cs.store(group="env", name="base_env", node=EnvConfig)
    cs.store(group="agent", name="base_agent", node=AgentConfig)
    cs.store(group="buffer", name="base_buffer", node=BufferConfig)
    cs.store(group="logger", name="base_logger", node=LoggerConfig)
    cs.store(group="train", name="base_train", node=TrainConfig)


def compose_config(*overrides: str) -> DictConfig:
    """The config `python -m lunar_dqn.train OVERRIDES...` would run with (Hydra's compose API,
    for code that calls `train` or `Trainer` directly: tests, benchmarks)."""
    register_configs()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


class ConfigError(ValueError):
    """A config value out of its allowed range; the message is one line for the user."""


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
    _check(a.backward in ("autograd", "manual"), "agent.backward", a.backward,
           "must be 'autograd' or 'manual'")
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
    log_every = cfg.logger.log_every_steps
    _check(log_every >= 1, "logger.log_every_steps", log_every, "must be >= 1")
    _check(cfg.torch_threads >= 1, "torch_threads", cfg.torch_threads, "must be >= 1")
    _check(
        cfg.device == "auto" or cfg.device == "cpu" or cfg.device.startswith("cuda"),
        "device", cfg.device, "must be 'auto', 'cpu', 'cuda' or 'cuda:N'",
    )
