"""Summary statistics over seeds: median, mean, a bootstrap confidence interval of the mean, and
the median of runs some of which did not finish."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 0  # fixed, so a report is reproducible
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Spread:
    """`ci_low`/`ci_high` are None for fewer than two values: one value gives no interval."""

    n: int
    median: float
    mean: float
    ci_low: float | None
    ci_high: float | None


def bootstrap_mean_ci(values: Sequence[float], resamples: int = BOOTSTRAP_RESAMPLES,
                      confidence: float = CONFIDENCE,
                      seed: int = BOOTSTRAP_SEED) -> tuple[float, float]:
    """Percentile bootstrap: resample the values with replacement `resamples` times and take
    the central `confidence` share of the resampled means."""
    x = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, len(x), size=(resamples, len(x)))].mean(axis=1)
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def spread(values: Sequence[float]) -> Spread | None:
    """None for no values."""
    if not values:
        return None
    x = np.asarray(values, dtype=float)
    low, high = bootstrap_mean_ci(x) if len(x) >= 2 else (None, None)
    return Spread(len(x), float(np.median(x)), float(x.mean()), low, high)


@dataclass(frozen=True)
class Median:
    """A median over runs, some of which may have stopped before finishing (e.g. unsolved within
    the budget): their values are lower bounds, so the median may be one too."""

    value: float
    lower_bound: bool

    def format(self, spec: str) -> str:
        return (">=" if self.lower_bound else "") + format(self.value, spec)


def censored_median(values: Sequence[float], finished: Sequence[bool]) -> Median:
    """Median of `values`; exact only if it stays the same whatever the unfinished runs'
    true values are (all at least their recorded value)."""
    observed = statistics.median(values)
    worst_case = statistics.median(v if done else math.inf
                                   for v, done in zip(values, finished, strict=True))
    return Median(observed, lower_bound=worst_case != observed)
