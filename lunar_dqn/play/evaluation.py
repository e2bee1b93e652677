"""Greedy evaluation of a trained model, as `python -m lunar_dqn.evaluate` runs it: which model
and settings, the figures, `evaluation.json`, and the episodes to watch."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException
from torch import nn

from lunar_dqn.config import command_defaults, group_defaults
from lunar_dqn.errors import CheckpointError, ConfigError
from lunar_dqn.keys import check_known_keys
from lunar_dqn.play.greedy import EVAL_SEED_BASE, LANDED_POINTS, greedy_returns, summarize
from lunar_dqn.play.video import check_screen, record_video, watch
from lunar_dqn.run.checkpoint import load_model
from lunar_dqn.run.rundir import (
    BEST_MODEL,
    EVALUATION,
    FINAL_MODEL,
    RUN_CONFIG,
    SOLVED_MODEL,
    episode_video,
    find_model,
    read_run_settings,
    write_json,
)

log = logging.getLogger(__name__)

# How a run's model was chosen (lunar_dqn.run.rundir.HANDED_OVER), for the report.
CHOSEN = {BEST_MODEL: "the best network of the evaluations during training",
          SOLVED_MODEL: "saved when the run solved",
          FINAL_MODEL: "saved when the run ended; it did not solve"}


@dataclass
class EvaluateConfig:
    """Types only: the defaults and their meaning are in conf/evaluate.yaml."""
    run_dir: str | None = MISSING
    checkpoint: str | None = MISSING
    episodes: int = MISSING
    seed_base: int = MISSING
    num_envs: int = MISSING
    video: bool = MISSING
    render: str | None = MISSING
    watch_episodes: int = MISSING


@dataclass
class Subject:
    """What is evaluated: a model file, and the environment and shape it must fit."""
    model: Path
    env: DictConfig | None  # typed by EnvConfig; None: the environment's defaults
    hidden_sizes: list[int] | None  # None: no config to check the file against
    note: str  # how the model was chosen, for the report


def options_for(path: str | Path, **values: Any) -> DictConfig:
    """The command's options to evaluate `path` (a run directory or a model file), with
    `values` changed."""
    path = Path(path)
    if path.is_dir():
        values["run_dir"] = str(path)
    elif path.exists():
        values["checkpoint"] = str(path)
    else:
        raise ConfigError(f"{path} does not exist: give a training run's directory or a model "
                          "file")
    try:
        return OmegaConf.merge(EvaluateConfig, command_defaults("evaluate"), values)
    except OmegaConfBaseException as err:
        raise ConfigError(str(err).splitlines()[0]) from None


def validate_options(cfg: Any) -> None:
    check_known_keys(cfg, EvaluateConfig)
    if cfg.run_dir is None and cfg.checkpoint is None:
        raise ConfigError("nothing to evaluate: give run_dir=DIR (a training run) or "
                          "checkpoint=FILE (a model file)")
    for key in ("episodes", "num_envs", "watch_episodes"):
        if cfg[key] < 1:
            raise ConfigError(f"{key}={cfg[key]} is invalid: must be >= 1")
    if not 0 <= cfg.seed_base < 2**32 - cfg.episodes:
        raise ConfigError(f"seed_base={cfg.seed_base} is invalid: must be >= 0, and the last "
                          f"episode's seed below 2**32")
    if cfg.render not in (None, "human"):
        raise ConfigError(f"render={cfg.render} is invalid: must be 'human' or null")


def choose_subject(run_dir: str | None, checkpoint: str | None) -> Subject:
    """run_dir: the model the run hands over (its best evaluated, else its solved, else its final
    one). checkpoint: that file, with the config of run_dir if given, else of the run directory
    it sits in, else the environment's defaults."""
    if checkpoint is None:
        run = Path(run_dir)
        settings = read_run_settings(run)
        model = find_model(run)
        return Subject(model, settings.env, settings.hidden_sizes, CHOSEN[model.name])
    model = Path(checkpoint)
    config_dir = Path(run_dir) if run_dir is not None else model.parent
    if run_dir is not None or (config_dir / RUN_CONFIG).is_file():
        settings = read_run_settings(config_dir)
        return Subject(model, settings.env, settings.hidden_sizes,
                       f"with the settings of run {config_dir}")
    return Subject(model, None, None, "with the environment's default settings")


def load_subject(subject: Subject) -> tuple[nn.Module, Any]:
    """The network, and the environment config to play it in (checked to fit each other)."""
    network, meta = load_model(subject.model, subject.hidden_sizes)
    env = subject.env if subject.env is not None else OmegaConf.merge(
        group_defaults("env"), {"id": meta["env_id"]})
    if meta["env_id"] != env.id:
        raise CheckpointError(f"{subject.model} was trained on {meta['env_id']}, but the run's "
                              f"config plays {env.id}")
    return network, env


def report(summary: dict[str, float], model: Path, note: str,
           seed_base: int = EVAL_SEED_BASE) -> list[str]:
    n = summary["episodes"]
    landed = round(summary["landed_share"] * n)
    return [
        f"model: {model} ({note})",
        f"episodes: {n} greedy, on seeds {seed_base}-{seed_base + n - 1}",
        f"points: {summary['mean']:.2f} ± {summary['std']:.2f} "
        f"(min {summary['min']:.2f}, max {summary['max']:.2f})",
        f"landed: {landed}/{n} episodes ({summary['landed_share']:.0%}) with >= "
        f"{LANDED_POINTS:.0f} points",
    ]


def evaluate(cfg: Any, out_dir: Path | None) -> dict[str, Any]:
    """Evaluate as `python -m lunar_dqn.evaluate` does (`cfg`: its options), writing
    `evaluation.json` and any videos into `out_dir` (None: nothing); return the figures."""
    validate_options(cfg)
    if out_dir is None and cfg.video:
        raise ConfigError("video=true needs an output directory for the videos")
    if cfg.render == "human":
        check_screen()  # fail before the evaluation, not after it
    subject = choose_subject(cfg.run_dir, cfg.checkpoint)
    network, env = load_subject(subject)
    env_cfg = OmegaConf.merge(env, {"num_envs": cfg.num_envs})
    returns = greedy_returns(network, env_cfg, cfg.episodes, cfg.seed_base)
    results = {"model": str(subject.model), "seed_base": cfg.seed_base,
               **summarize(returns), "points": returns}
    for line in report(results, subject.model, subject.note, cfg.seed_base):
        log.info(line)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        write_json(out_dir / EVALUATION, results)
        log.info("wrote %s", out_dir / EVALUATION)
    seeds = [cfg.seed_base + k for k in range(cfg.watch_episodes)]
    if cfg.video:
        for k, seed in enumerate(seeds):
            path = out_dir / episode_video(k)
            episode = record_video(network, env_cfg, seed, path)
            log.info("recorded %s: seed %d, %.2f points in %d steps", path, seed,
                     episode.points, episode.steps)
    if cfg.render == "human":
        for episode in watch(network, env_cfg, seeds):
            log.info("watched seed %d: %.2f points in %d steps", episode.seed, episode.points,
                     episode.steps)
    return results


ConfigStore.instance().store(name="base_evaluate", node=EvaluateConfig)
