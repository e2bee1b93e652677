"""Evaluation during training, like Stable-Baselines3's EvalCallback: every `eval.every_env_steps`
env steps, when the run solves and when its polish ends, the saved network
(`train.saved_network`) plays `eval.episodes` greedy episodes in envs of its own, on the
validation seeds (`lunar_dqn.seeds`). The best evaluated network is kept, in memory and as
`best_model.pt`: the model the run hands over.

Evaluation takes no training step and draws from no generator the training uses (its envs are
reset with their own seeds, the greedy policy draws nothing), so a run trains the same with or
without it; its time is part of the loop's wall-clock.
"""

from __future__ import annotations

import copy
import csv
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from lunar_dqn.config import EnvConfig, EvalConfig
from lunar_dqn.play.greedy import LANDED_POINTS, play_side_by_side
from lunar_dqn.run.envs import make_env
from lunar_dqn.run.finisher import save_model_file, saved_network
from lunar_dqn.run.logger import EVAL_LANDED, EVAL_POINTS
from lunar_dqn.run.rundir import BEST_MODEL
from lunar_dqn.seeds import validation_seeds

if TYPE_CHECKING:
    from lunar_dqn.run.trainer import Trainer

log = logging.getLogger(__name__)

CSV_COLUMNS = ("env_steps", "mean_points", "landed_share", "min_points", "episode_steps",
               "seconds")


@dataclass
class Evaluation:
    """One evaluation: when it came (env steps), each episode's points and steps, its seconds."""
    env_steps: int
    points: list[float]
    steps: list[int]
    seconds: float

    @property
    def mean(self) -> float:
        return sum(self.points) / len(self.points)

    @property
    def landed(self) -> float:
        """The share of episodes of at least LANDED_POINTS, as `evaluate` counts them."""
        return sum(p >= LANDED_POINTS for p in self.points) / len(self.points)


class BestModel:
    """The best evaluation so far and its network's weights: the highest mean points; an equal
    mean keeps the earlier network."""

    def __init__(self) -> None:
        self.evaluation: Evaluation | None = None
        self.weights: dict[str, torch.Tensor] | None = None

    def offer(self, evaluation: Evaluation, network: nn.Module) -> bool:
        """Keep `network` if `evaluation` beats the best so far; return whether it did."""
        if self.evaluation is not None and evaluation.mean <= self.evaluation.mean:
            return False
        self.evaluation = evaluation
        self.weights = {k: v.detach().clone() for k, v in network.state_dict().items()}
        return True


class Evaluator:
    """The schedule, the envs, the evaluations so far and the best network (see the module)."""

    def __init__(self, cfg: EvalConfig, env_cfg: EnvConfig) -> None:
        self.period = cfg.every_env_steps  # None: no evaluation
        self.seeds = validation_seeds(cfg.episodes)
        self.envs = [make_env(env_cfg) for _ in self.seeds] if self.period else []
        self.next_env_steps = self.period  # the next periodic evaluation
        self.evaluations: list[Evaluation] = []
        self.best = BestModel()

    def start_at(self, env_steps: int) -> None:
        """Continue a run from `env_steps` that has no evaluation state (an older checkpoint)."""
        if self.period:
            self.next_env_steps = (env_steps // self.period + 1) * self.period

    def due(self, env_steps: int, solved_now: bool, polish_over: bool) -> bool:
        """Every `period` env steps, at the step that solved, and at the end of the polish; once
        per env step."""
        if not self.period or (self.evaluations and self.evaluations[-1].env_steps == env_steps):
            return False
        return env_steps >= self.next_env_steps or solved_now or polish_over

    def evaluate(self, network: nn.Module, env_steps: int) -> tuple[Evaluation, bool]:
        """Play the episodes; return the evaluation and whether its network is the new best."""
        start = time.perf_counter()
        points, steps = play_side_by_side(network, self.envs, self.seeds)
        evaluation = Evaluation(env_steps, points, steps, time.perf_counter() - start)
        self.evaluations.append(evaluation)
        if env_steps >= self.next_env_steps:
            self.start_at(env_steps)
        return evaluation, self.best.offer(evaluation, network)

    # -- outputs --------------------------------------------------------------------------------

    def figures(self) -> dict[str, Any]:
        """For summary.json: how many evaluations ran, and their seconds."""
        return {"evaluations": len(self.evaluations),
                "eval_time_s": round(sum(e.seconds for e in self.evaluations), 3)}

    def write_csv(self, path: Path) -> None:
        """evaluations.csv, one row per evaluation (nothing when evaluation is off)."""
        if not self.period:
            return
        with open(path, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(CSV_COLUMNS)
            for e in self.evaluations:
                writer.writerow((e.env_steps, round(e.mean, 3), e.landed, round(min(e.points), 3),
                                 sum(e.steps), round(e.seconds, 3)))

    # -- checkpoints ----------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        best = self.best.evaluation
        return {
            "next_env_steps": self.next_env_steps,
            "env_steps": torch.tensor([e.env_steps for e in self.evaluations], dtype=torch.int64),
            "points": torch.tensor([e.points for e in self.evaluations], dtype=torch.float64),
            "steps": torch.tensor([e.steps for e in self.evaluations], dtype=torch.int64),
            "seconds": torch.tensor([e.seconds for e in self.evaluations], dtype=torch.float64),
            "best": None if best is None else self.evaluations.index(best),
            "best_weights": self.best.weights,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.next_env_steps = state["next_env_steps"]
        rows = zip(state["env_steps"].tolist(), state["points"].tolist(),
                   state["steps"].tolist(), state["seconds"].tolist(), strict=True)
        self.evaluations = [Evaluation(*row) for row in rows]
        self.best = BestModel()
        if state["best"] is not None:
            self.best.evaluation = self.evaluations[state["best"]]
            self.best.weights = state["best_weights"]

    def close(self) -> None:
        for env in self.envs:
            env.close()


def after_step(trainer: Trainer) -> None:
    """What the loop calls after each vector step: evaluate when due, log it to TensorBoard and
    the log, and write best_model.pt when the network is the best so far."""
    ev, env_steps = trainer.evaluator, trainer.env_steps
    if not ev.due(env_steps, env_steps == trainer.solved_env_steps, trainer.polish_over()):
        return
    evaluation, is_best = ev.evaluate(saved_network(trainer), env_steps)
    trainer.logger.scalars(env_steps, {EVAL_POINTS: evaluation.mean,
                                       EVAL_LANDED: evaluation.landed})
    if is_best:
        save_model_file(trainer, BEST_MODEL)
    best = ev.best.evaluation
    log.info("evaluation at %d env steps: %.2f points, %d/%d landed (%.1f s); %s", env_steps,
             evaluation.mean, round(evaluation.landed * len(ev.seeds)), len(ev.seeds),
             evaluation.seconds, f"the best so far, saved {BEST_MODEL}" if is_best else
             f"the best: {best.mean:.2f} points at {best.env_steps} env steps")


def restore(trainer: Trainer, state: dict[str, Any] | None) -> None:
    """Put the evaluation state of a checkpoint back (None: one written before evaluation
    existed), and best_model.pt with it: a best found after the checkpoint is found again."""
    ev = trainer.evaluator
    if state is None:
        ev.start_at(trainer.env_steps)
    else:
        ev.load_state_dict(state)
    if ev.best.weights is None:
        (trainer.run_dir / BEST_MODEL).unlink(missing_ok=True)
        return
    network = copy.deepcopy(saved_network(trainer))
    network.load_state_dict(ev.best.weights)
    save_model_file(trainer, BEST_MODEL, network)
