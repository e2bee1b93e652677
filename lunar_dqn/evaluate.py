"""Greedy evaluation of a trained Q-network on seeds never used in training.

`python -m lunar_dqn.evaluate run_dir=DIR` (or `checkpoint=FILE`; `lunar-dqn-evaluate`) plays
`episodes` greedy episodes, prints their figures and writes `evaluation.json`; `video=true`
records episodes to .mp4 and `render=human` shows them in a window. From Python:
`lunar_dqn.evaluate.evaluate("runs/a", episodes=100)`. The work is `lunar_dqn.play.evaluation`'s.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hydra
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from lunar_dqn.cli import USER_ERRORS, exits_on_user_error, run_hydra_app
from lunar_dqn.config import CONF_DIR
from lunar_dqn.play import evaluation
from lunar_dqn.play.greedy import EVAL_SEED_BASE
from lunar_dqn.run.console import log_lines
from lunar_dqn.run.rundir import remove_unused

__all__ = ["cli", "evaluate", "main"]


def evaluate(path: str | Path, episodes: int = 100, *, seed_base: int = EVAL_SEED_BASE,
             num_envs: int = 8, out_dir: str | Path | None = None) -> dict[str, Any]:
    """Play `episodes` greedy episodes (episode k on seed `seed_base + k`) of a training run's
    model (a run directory: the model the command plays, in the run's environment) or of a model
    file; return the figures `evaluation.json` holds, writing it into `out_dir` if given.
    Mistakes raise ConfigError or CheckpointError with the command's one-line message."""
    options = evaluation.options_for(path, episodes=episodes, seed_base=seed_base,
                                     num_envs=num_envs)
    with log_lines(None):
        return evaluation.evaluate(options, Path(out_dir) if out_dir is not None else None)


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="evaluate")
@exits_on_user_error
def main(cfg: DictConfig) -> None:
    torch.set_num_threads(1)  # the network is tiny: more threads only wait on each other
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        evaluation.evaluate(cfg, out_dir)
    except USER_ERRORS:
        remove_unused(out_dir)  # a refused evaluation leaves no empty output directory
        raise


def cli() -> None:
    """`lunar-dqn-evaluate`, `python -m lunar_dqn.evaluate`."""
    run_hydra_app(main, "evaluate", schema=evaluation.EvaluateConfig)


if __name__ == "__main__":
    cli()
