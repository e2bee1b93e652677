"""`python -m lunar_dqn.plot run_dir=DIR [window=N first=N last=N rolling_mean_only=true
points_only=true out=FILE]`: redraw a run's training curve from its `history.csv`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import hydra
from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig

from lunar_dqn.cli import exits_on_user_error, run_hydra_app
from lunar_dqn.config import CONF_DIR
from lunar_dqn.errors import ConfigError
from lunar_dqn.keys import check_known_keys
from lunar_dqn.play.curve import choose_span, plot_history
from lunar_dqn.run.rundir import TRAINING_CURVE, read_points


@dataclass
class PlotConfig:
    """Types only: the defaults and their meaning are in conf/plot.yaml."""
    run_dir: str | None = MISSING
    window: int | None = MISSING
    first: int | None = MISSING
    last: int | None = MISSING
    rolling_mean_only: bool = MISSING
    points_only: bool = MISSING
    out: str | None = MISSING


ConfigStore.instance().store(name="base_plot", node=PlotConfig)


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="plot")
@exits_on_user_error
def main(cfg: DictConfig) -> None:
    check_known_keys(cfg, PlotConfig)
    if cfg.run_dir is None:
        raise ConfigError("run_dir is missing: python -m lunar_dqn.plot run_dir=DIR")
    run_dir = Path(cfg.run_dir)
    points = read_points(run_dir)
    span = choose_span(len(points), cfg.window, cfg.first, cfg.last)
    out = Path(cfg.out) if cfg.out is not None else run_dir / TRAINING_CURVE
    plot_history(points, out, span, cfg.rolling_mean_only, cfg.points_only)
    print(f"wrote {out}: episodes {span.first}-{span.last}, "
          f"rolling mean over {span.window} episodes")


def cli() -> None:
    """`lunar-dqn-plot`, `python -m lunar_dqn.plot`."""
    run_hydra_app(main, "plot", schema=PlotConfig)


if __name__ == "__main__":
    cli()
