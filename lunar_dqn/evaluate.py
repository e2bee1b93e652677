"""Greedy evaluation of a trained Q-network on seeds never used in training.

`python -m lunar_dqn.evaluate run_dir=DIR` (or `checkpoint=FILE`) plays `episodes` greedy
episodes, prints their figures and writes `evaluation.json`; `video=true` records episodes to
.mp4 and `render=human` shows them in a window. The work is `lunar_dqn.play.evaluation`'s.
"""

from __future__ import annotations

from pathlib import Path

import hydra
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from lunar_dqn.cli import USER_ERRORS, exits_on_user_error, run_hydra_app
from lunar_dqn.play.evaluation import EvaluateConfig, evaluate
from lunar_dqn.run.rundir import remove_unused

__all__ = ["evaluate", "main"]


@hydra.main(version_base="1.3", config_path="conf", config_name="evaluate")
@exits_on_user_error
def main(cfg: DictConfig) -> None:
    torch.set_num_threads(1)  # the network is tiny: more threads only wait on each other
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        evaluate(cfg, out_dir)
    except USER_ERRORS:
        remove_unused(out_dir)  # a refused evaluation leaves no empty output directory
        raise


if __name__ == "__main__":
    run_hydra_app(main, schema=EvaluateConfig)
