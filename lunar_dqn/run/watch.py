"""Watch it learn: every `logger.gif_every_steps` env steps, one greedy episode of the network the
run would hand over, as an animated GIF in TensorBoard's Images tab (tag
`videos/greedy_episode`, at the env step it was filmed).

The episode is played in an environment of its own, on a seed of its own, with no random draw:
the training run is the same with or without it. `film` takes any seed, so an evaluation during
training can film one of its own episodes: replaying that episode's seed with the same network
gives the same greedy episode.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from torch import nn

from lunar_dqn.config import EnvConfig
from lunar_dqn.play.video import film
from lunar_dqn.run.logger import GREEDY_EPISODE_TAG, Logger
from lunar_dqn.run.periodic import Every

log = logging.getLogger(__name__)

# Far from training's reset seeds (seed + i) and below evaluation's (1 000 000 and up): the same
# start every time, so the GIFs show the policy change and nothing else.
WATCH_SEED = 500_000


class LearningFilm:
    """Films `network()` every `period` env steps (never when `period` is None)."""

    def __init__(self, logger: Logger, env_cfg: EnvConfig, period: int | None, env_steps: int,
                 network: Callable[[], nn.Module], can_render: bool) -> None:
        self.logger = logger
        self.env_cfg = env_cfg
        self.network = network
        self.every = Every(period, env_steps) if period is not None else None
        if self.every is not None and not can_render:
            log.warning("no greedy-episode GIFs: %s cannot render frames", env_cfg.id)
            self.every = None

    def step(self, env_steps: int) -> None:
        if self.every is not None and self.every.due(env_steps):
            self.film(WATCH_SEED, env_steps)

    def film(self, seed: int, env_steps: int) -> float:
        """Film one greedy episode on `seed` into TensorBoard at `env_steps`; its points."""
        episode = film(self.network(), self.env_cfg, seed)
        self.logger.video(GREEDY_EPISODE_TAG, episode.frames, episode.fps, step=env_steps)
        return episode.points
