"""Episode history: every finished episode's points and the solved rule's moving window, and
its CSV form (`history.csv`)."""

from __future__ import annotations

import csv
import io
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from lunar_dqn.run.atomic import atomic_write_text

HISTORY_COLUMNS = ("episode", "points", "average", "env_steps")


@dataclass
class EpisodeHistory:
    window: int
    points: list[float] = field(default_factory=list)
    averages: list[float] = field(default_factory=list)  # window average after each episode
    env_steps: list[int] = field(default_factory=list)  # total env steps when it finished
    _recent: deque[float] = field(init=False)

    def __post_init__(self) -> None:
        self._recent = deque(self.points[-self.window:], maxlen=self.window)

    def __len__(self) -> int:
        return len(self.points)

    def add(self, points: float, env_steps: int) -> float:
        """Record an episode; return the average of the last `window` episodes."""
        self._recent.append(points)
        average = sum(self._recent) / len(self._recent)
        self.points.append(points)
        self.averages.append(average)
        self.env_steps.append(env_steps)
        return average

    @property
    def average(self) -> float:
        return self.averages[-1] if self.averages else float("nan")

    def reached(self, score: float) -> bool:
        """The lab's rule: a full window whose average is at least `score`."""
        return len(self._recent) == self.window and self.average >= score

    def write_csv(self, path: Path) -> None:
        """Written whole or not at all (see `atomic_write`)."""
        text = io.StringIO(newline="")
        writer = csv.writer(text)
        writer.writerow(HISTORY_COLUMNS)
        rows = zip(self.points, self.averages, self.env_steps, strict=True)
        for i, row in enumerate(rows, start=1):
            writer.writerow((i, *row))
        atomic_write_text(path, text.getvalue())

    @classmethod
    def read_csv(cls, path: Path, window: int) -> EpisodeHistory:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        return cls(
            window=window,
            points=[float(r["points"]) for r in rows],
            averages=[float(r["average"]) for r in rows],
            env_steps=[int(r["env_steps"]) for r in rows],
        )
