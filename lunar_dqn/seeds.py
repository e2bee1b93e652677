"""The environment seed ranges, kept apart so that no episode is used for two jobs.

- Training resets its sub-envs with `seed + i` (i < `env.num_envs`) once, then from their RNGs.
- The evaluation during training (`eval.*`, the validation set that picks the model a run hands
  over) plays episode k of every evaluation on `VALIDATION_SEED_BASE + k`.
- `python -m lunar_dqn.evaluate` (the test set) plays episode k on `TEST_SEED_BASE + k`, so its
  figures measure a model on episodes that chose nothing.
"""

from __future__ import annotations

VALIDATION_SEED_BASE = 900_000
TEST_SEED_BASE = 1_000_000


def validation_seeds(episodes: int) -> list[int]:
    return [VALIDATION_SEED_BASE + k for k in range(episodes)]
