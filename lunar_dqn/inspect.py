"""One environment step as the lab's table: `python -m lunar_dqn.inspect action=2 seed=0`.

It resets LunarLander on `seed`, takes `action` once and prints the initial state, the action by
its label, the next state, the reward and whether the episode ended, floats to 3 decimals.
"""

from __future__ import annotations

from dataclasses import dataclass

import hydra
from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig

from lunar_dqn.cli import exits_on_user_error, run_hydra_app
from lunar_dqn.config import CONF_DIR
from lunar_dqn.keys import check_known_keys
from lunar_dqn.play.onestep import format_table, one_step, parse_action


@dataclass
class InspectConfig:
    """Types only: the defaults and their meaning are in conf/inspect.yaml."""
    action: str = MISSING  # 0-3, or a label such as "Fire main engine" (any case)
    seed: int = MISSING


ConfigStore.instance().store(name="base_inspect", node=InspectConfig)


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="inspect")
@exits_on_user_error
def main(cfg: DictConfig) -> None:
    check_known_keys(cfg, InspectConfig)
    print(format_table(one_step(parse_action(cfg.action), cfg.seed)))


def cli() -> None:
    """`lunar-dqn-inspect`, `python -m lunar_dqn.inspect`."""
    run_hydra_app(main, "inspect", schema=InspectConfig)


if __name__ == "__main__":
    cli()
