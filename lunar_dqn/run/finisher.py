"""What a run writes into its directory besides checkpoints, through the names
`lunar_dqn.run.rundir` owns: a model file when it solves, its outcome (history, evaluations and
summary), and at its end the final model, hyperparameters, training curve and video."""

from __future__ import annotations

import dataclasses
import logging
import math
from typing import TYPE_CHECKING, Any

from torch import nn

import lunar_dqn
from lunar_dqn.play.curve import write_training_curve
from lunar_dqn.play.greedy import EVAL_SEED_BASE
from lunar_dqn.play.video import record_video
from lunar_dqn.run.checkpoint import load_model, save_model
from lunar_dqn.run.logger import MODEL_VIDEO_TAG
from lunar_dqn.run.provenance import git_commit
from lunar_dqn.run.rundir import (
    BEST_MODEL,
    EVALUATIONS,
    FINAL_MODEL,
    HISTORY,
    MODEL_VIDEO,
    TRAINING_CURVE,
    handed_over,
    write_summary,
)

if TYPE_CHECKING:
    from lunar_dqn.run.trainer import Trainer

log = logging.getLogger(__name__)


def saved_network(trainer: Trainer) -> nn.Module:
    """The network the model files and the video show (`train.saved_network`)."""
    return getattr(trainer.agent, trainer.cfg.train.saved_network)


def save_model_file(trainer: Trainer, name: str, network: nn.Module | None = None) -> None:
    """`network` (default: the saved network, `train.saved_network`) as the model file `name`."""
    network = saved_network(trainer) if network is None else network
    save_model(trainer.run_dir / name, network, trainer.obs_dim, trainer.num_actions,
               list(trainer.cfg.agent.hidden_sizes), trainer.cfg.env.id)


def handed_over_figures(trainer: Trainer) -> dict[str, Any]:
    """The model the run hands over (`rundir.HANDED_OVER`), its greedy quality as the
    evaluations during training measured it (null where they did not: evaluation off), and
    whether that reaches `train.solve_score`, the bar of the sweeps' objective."""
    model = handed_over(trainer.run_dir)
    best = trainer.evaluator.best.evaluation
    if model is None or model.name != BEST_MODEL or best is None:
        best = None
    return {"model": None if model is None else model.name,
            "model_eval_env_steps": None if best is None else best.env_steps,
            "model_eval_points": None if best is None else round(best.mean, 3),
            "model_eval_landed": None if best is None else best.landed,
            "model_passes": None if best is None else best.mean >= trainer.cfg.train.solve_score}


def summary(trainer: Trainer, status: str, error: str | None = None) -> dict[str, Any]:
    history = trainer.history
    result = {
        "status": status,
        "solved": trainer.solved_episode is not None,
        "solved_episode": trainer.solved_episode,
        "solved_env_steps": trainer.solved_env_steps,
        "episodes": len(history),
        "env_steps": trainer.env_steps,
        "gradient_steps": trainer.gradient_steps,
        "wall_time_s": round(trainer.wall_time, 3),
        "avg100": None if not len(history) else round(history.average, 3),
        "version": lunar_dqn.__version__,
        "git_commit": git_commit(),
        "solved_wall_time_s": (None if trainer.solved_wall_time is None
                               else round(trainer.solved_wall_time, 3)),
        **handed_over_figures(trainer),
        **trainer.evaluator.figures(),
    }
    if error is not None:
        result["error"] = error
    return result


def write_outcome(trainer: Trainer, status: str, error: str | None = None) -> dict[str, Any]:
    """history.csv, evaluations.csv and summary.json, for a run that ended (or stopped) with
    `status`."""
    trainer.history.write_csv(trainer.run_dir / HISTORY)
    trainer.evaluator.write_csv(trainer.run_dir / EVALUATIONS)
    result = summary(trainer, status, error)
    write_summary(trainer.run_dir, result)
    return result


def finish(trainer: Trainer) -> dict[str, Any]:
    """The closing writes of a run that ended normally; returns its summary."""
    save_model_file(trainer, FINAL_MODEL)
    trainer.save_checkpoint()  # lets a finished run be continued with a larger budget
    result = write_outcome(trainer, "solved" if trainer.solved_episode is not None else "budget")
    figures = {k: float(v) for k, v in result.items()
               if isinstance(v, (int, float)) and not math.isnan(float(v))}
    trainer.logger.hyperparameters(dataclasses.asdict(trainer.cfg), figures)
    write_training_curve(trainer.history.points, trainer.run_dir / TRAINING_CURVE)
    if trainer.cfg.logger.video:
        record_model_video(trainer)
    log.info("%s after %d episodes, %d env steps, %.1f s: last %d-episode average %.2f",
             "solved" if result["solved"] else "not solved", result["episodes"],
             result["env_steps"], result["wall_time_s"], trainer.cfg.train.solve_window,
             trainer.history.average)
    return result


def record_model_video(trainer: Trainer) -> None:
    """A greedy episode of the model the run hands over, on the first evaluation seed."""
    if "rgb_array" not in trainer.envs.metadata.get("render_modes", ()):
        log.warning("no video: %s cannot render frames", trainer.cfg.env.id)
        return
    model = handed_over(trainer.run_dir)
    network, _ = load_model(model)
    episode = record_video(network, trainer.cfg.env, EVAL_SEED_BASE,
                           trainer.run_dir / MODEL_VIDEO)
    trainer.logger.video(MODEL_VIDEO_TAG, episode.frames, episode.fps)
    log.info("recorded %s (%s): %.2f points in %d steps", MODEL_VIDEO, model.name,
             episode.points, episode.steps)
