"""The Python API beside the commands: `compose` a config, `load` a trained policy. Training and
evaluation are `lunar_dqn.train.train(cfg, run_dir)` and `lunar_dqn.evaluate.evaluate(path)`.

    cfg = lunar_dqn.compose("agent.tau=0.001", "seed=3")
    summary = lunar_dqn.train.train(cfg, "runs/a")
    results = lunar_dqn.evaluate.evaluate("runs/a", episodes=100)
    policy = lunar_dqn.load("runs/a")
    action = policy(obs)

Mistakes raise `lunar_dqn.errors.ConfigError` or `CheckpointError` with the commands' one-line
messages; nothing here exits the interpreter.
"""

from __future__ import annotations

from pathlib import Path

from hydra.errors import HydraException
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from lunar_dqn.cli import one_line
from lunar_dqn.config import compose_config
from lunar_dqn.errors import ConfigError
from lunar_dqn.play.evaluation import choose_subject, load_subject, options_for
from lunar_dqn.play.policy import Policy
from lunar_dqn.validation import validate

__all__ = ["compose", "load"]


def compose(*overrides: str) -> DictConfig:
    """The config `python -m lunar_dqn.train OVERRIDES...` would train with (the same
    overrides, presets included: `"experiment=seed_notebook"`), from any folder; checked."""
    try:
        cfg = compose_config(*overrides)
    except (HydraException, OmegaConfBaseException) as err:
        raise ConfigError(one_line(err)) from None
    validate(cfg)
    return cfg


def load(path: str | Path) -> Policy:
    """The greedy policy of a training run (its directory: the model `evaluate` plays, in the
    run's environment) or of a model file."""
    options = options_for(path)
    subject = choose_subject(options.run_dir, options.checkpoint)
    network, env = load_subject(subject)
    return Policy(network, subject.model, env)
