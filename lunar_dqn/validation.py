"""Values a config's types cannot check: ranges, combinations, seed ranges kept apart. Each
mistake is one ConfigError naming the key, raised before any work starts."""

from __future__ import annotations

from typing import Any

from lunar_dqn.config import BACKWARDS, VECTORIZATION_MODES, Config
from lunar_dqn.errors import ConfigError
from lunar_dqn.keys import check_known_keys
from lunar_dqn.seeds import TEST_SEED_BASE, VALIDATION_SEED_BASE


def _check(ok: bool, key: str, value: Any, allowed: str) -> None:
    if not ok:
        raise ConfigError(f"{key}={value!r} is invalid: {allowed}")


SEEDS = 2**32  # NumPy's global seed must be below this


def validate(cfg: Any) -> None:
    """Refuse keys no schema knows and every value the schema's types cannot check; raise
    ConfigError naming the key."""
    check_known_keys(cfg, Config)
    a, e, b, t = cfg.agent, cfg.env, cfg.buffer, cfg.train
    _check(0 <= cfg.seed < SEEDS, "seed", cfg.seed, f"must be in [0, {SEEDS - 1}]")
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
    _check(a.horizon_anneal_steps is None or a.horizon_anneal_steps >= 1,
           "agent.horizon_anneal_steps", a.horizon_anneal_steps, "must be >= 1 or null")
    if a.horizon_anneal_steps is not None:  # the schedule interpolates log(n) and log(1 - gamma)
        _check(a.n_step_start >= 1, "agent.n_step_start", a.n_step_start, "must be >= 1")
        _check(0.0 <= a.gamma_start < 1.0, "agent.gamma_start", a.gamma_start,
               "must be in [0, 1) when agent.horizon_anneal_steps is set")
        _check(a.gamma < 1.0, "agent.gamma", a.gamma,
               "must be < 1 when agent.horizon_anneal_steps is set")
    _check(a.reset_every is None or a.reset_every >= 1, "agent.reset_every", a.reset_every,
           "must be >= 1 or null")
    layers = len(a.hidden_sizes) + 1
    _check(0 <= a.reset_layers <= layers, "agent.reset_layers", a.reset_layers,
           f"must be in [0, {layers}] (the network's layers, its output included)")
    _check(0.0 <= a.reset_shrink <= 1.0, "agent.reset_shrink", a.reset_shrink,
           "must be in [0, 1]")
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
           "must be 'auto', 'fused', 'manual' or 'autograd'")
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
    _check(0.0 <= b.alpha <= 1.0, "buffer.alpha", b.alpha, "must be in [0, 1]")
    _check(0.0 <= b.beta_start <= 1.0, "buffer.beta_start", b.beta_start, "must be in [0, 1]")
    _check(b.beta_anneal_steps >= 1, "buffer.beta_anneal_steps", b.beta_anneal_steps,
           "must be >= 1")
    _check(
        a.batch_size <= b.capacity,
        "agent.batch_size", a.batch_size, f"must be <= buffer.capacity ({b.capacity})",
    )
    _check(e.num_envs >= 1, "env.num_envs", e.num_envs, "must be >= 1")
    _check(
        e.vectorization_mode in VECTORIZATION_MODES, "env.vectorization_mode",
        e.vectorization_mode, "must be 'auto', 'sync', 'worker', 'async' or 'envpool'",
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
    log_every, lg = cfg.logger.log_every_steps, cfg.logger
    _check(log_every >= 1, "logger.log_every_steps", log_every, "must be >= 1")
    _check(lg.video_episodes >= 1, "logger.video_episodes", lg.video_episodes, "must be >= 1")
    _check(lg.gif_every_steps is None or lg.gif_every_steps >= 1, "logger.gif_every_steps",
           lg.gif_every_steps, "must be >= 1 or null")
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
    _check(polish == 0 or every is not None or not cfg.train.stop_when_solved,
           "train.polish_env_steps", polish,
           "needs evaluations (eval.every_env_steps) to hand the polished network over: "
           "without them, set train.polish_env_steps=0")
    _check(every is None or not VALIDATION_SEED_BASE - cfg.env.num_envs < cfg.seed
           < VALIDATION_SEED_BASE + k, "seed", cfg.seed, f"training's reset seeds (seed + i, "
           f"i < env.num_envs) would overlap the evaluation's, {VALIDATION_SEED_BASE}-"
           f"{VALIDATION_SEED_BASE + k - 1}")
