"""The work a training loop does every so many env steps, as small objects it calls: when a
period comes due, and the TD loss / Q / epsilon / steps-per-second scalars."""

from __future__ import annotations

import time

import torch

from lunar_dqn.run.logger import EPSILON, Q_MEAN, SPS, TD_LOSS, Logger


class Every:
    """Due each time the env steps reach the next multiple of `period` after `env_steps`."""

    def __init__(self, period: int, env_steps: int) -> None:
        self.period = period
        self.next = (env_steps // period + 1) * period

    def due(self, env_steps: int) -> bool:
        if env_steps < self.next:
            return False
        self.next += self.period
        return True


class ScalarLog:
    """The TD loss and mean Q summed on the device since the last log (no sync per gradient
    step), logged with epsilon and the loop's env steps per second every `period` env steps."""

    def __init__(self, logger: Logger, period: int, device: torch.device) -> None:
        self.logger = logger
        self.period = period
        self.loss_sum = torch.zeros((), device=device)
        self.q_sum = torch.zeros((), device=device)
        self.updates = 0  # gradient steps since the last log
        self.every = Every(period, 0)
        self.clock, self.clock_steps = time.perf_counter(), 0

    def start(self, env_steps: int) -> None:
        """The loop (re)starts at `env_steps`: the period and the rate count from here."""
        self.every = Every(self.period, env_steps)
        self.clock, self.clock_steps = time.perf_counter(), env_steps

    def add(self, loss: torch.Tensor, q_mean: torch.Tensor) -> None:
        self.loss_sum += loss
        self.q_sum += q_mean

    def finite(self) -> bool:
        """Whether every loss and Q since the last log is finite (this syncs the device)."""
        return bool(torch.isfinite(self.loss_sum + self.q_sum))

    def step(self, env_steps: int, epsilon: float) -> None:
        if not self.every.due(env_steps):
            return
        now = time.perf_counter()
        scalars = {EPSILON: epsilon, SPS: (env_steps - self.clock_steps) / (now - self.clock)}
        if self.updates:
            scalars[TD_LOSS] = (self.loss_sum / self.updates).item()
            scalars[Q_MEAN] = (self.q_sum / self.updates).item()
        self.logger.scalars(env_steps, scalars)
        self.loss_sum.zero_()
        self.q_sum.zero_()
        self.updates = 0
        self.clock, self.clock_steps = now, env_steps
