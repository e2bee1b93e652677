"""What a run writes into its directory besides checkpoints, through the names
`lunar_dqn.run.rundir` owns: a model file when it solves, its outcome (history, evaluations and
summary), and at its end the final model, closing figures, training curve and closing episodes'
videos."""

from __future__ import annotations

import logging
import math
import signal
from typing import TYPE_CHECKING, Any

from torch import nn

import lunar_dqn
from lunar_dqn.errors import Diverged, EnvFailed, WriteFault
from lunar_dqn.play.curve import write_training_curve
from lunar_dqn.play.greedy import EVAL_SEED_BASE, LANDED_POINTS
from lunar_dqn.play.video import record_video
from lunar_dqn.run import signals
from lunar_dqn.run.checkpoint import load_model, save_model
from lunar_dqn.run.logger import CLOSING_VIDEO_TAG
from lunar_dqn.run.provenance import git_commit
from lunar_dqn.run.rundir import (
    BEST_MODEL,
    CHECKPOINT,
    EVALUATIONS,
    FINAL_MODEL,
    HISTORY,
    SUMMARY_FIGURES,
    TRAINING_CURVE,
    episode_video,
    find_model,
    handed_over,
    write_summary,
)

if TYPE_CHECKING:
    from lunar_dqn.run.trainer import Trainer

log = logging.getLogger(__name__)


def saved_network(trainer: Trainer) -> nn.Module:
    """The network the model files show (`train.saved_network`)."""
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
        # the budget this (last) session of the run had: a resume may have raised it
        "max_env_steps": trainer.cfg.train.max_env_steps,
        "max_episodes": trainer.cfg.train.max_episodes,
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


def record_failure(trainer: Trainer, err: Diverged | WriteFault | EnvFailed
                   ) -> Diverged | WriteFault | EnvFailed:
    """Record a run that diverged, could not write a file or whose environment failed as such in
    its summary (if the file system still lets it), and return the error to raise, saying what
    is left to resume."""
    status = "failed"
    if isinstance(err, Diverged):
        status = "diverged"
        kept = ("the last good checkpoint is kept" if (trainer.run_dir / CHECKPOINT).is_file()
                else "no checkpoint had been written yet")
        err = Diverged(f"{err}; {kept}")
    try:
        write_outcome(trainer, status, str(err))
    except WriteFault as also:
        log.error("the summary could not record it either: %s", also)
    return err


def finish(trainer: Trainer) -> dict[str, Any]:
    """The closing writes of a run that ended normally; returns its summary."""
    save_model_file(trainer, FINAL_MODEL)
    trainer.save_checkpoint()  # lets a finished run be continued with a larger budget
    result = write_outcome(trainer, "solved" if trainer.solved_episode is not None else "budget")
    trainer.logger.final_figures({
        name: float(result[name]) for name in SUMMARY_FIGURES
        if result[name] is not None and not math.isnan(float(result[name]))})
    write_training_curve(trainer.history.points, trainer.run_dir / TRAINING_CURVE)
    log.info("%s after %d episodes, %d env steps, %.1f s: last %d-episode average %.2f",
             "solved" if result["solved"] else "not solved", result["episodes"],
             result["env_steps"], result["wall_time_s"], trainer.cfg.train.solve_window,
             trainer.history.average)
    if trainer.cfg.logger.video and signals.requested() is None:
        record_closing_episodes(trainer)
    elif trainer.cfg.logger.video:
        log.info("stopped by %s during the closing writes: the run is complete, without its "
                 "videos", signal.Signals(signals.requested()).name)
    return result


def record_closing_episodes(trainer: Trainer) -> None:
    """Greedy episodes of the model `python -m lunar_dqn.evaluate run_dir=` plays, on its first
    seeds: what the user watches is what the evaluation counts."""
    if "rgb_array" not in trainer.envs.metadata.get("render_modes", ()):
        log.warning("no video: %s cannot render frames", trainer.cfg.env.id)
        return
    model = find_model(trainer.run_dir)
    network, _ = load_model(model)
    count = trainer.cfg.logger.video_episodes
    landed, points = 0, []
    for k in range(count):
        seed = EVAL_SEED_BASE + k
        episode = record_video(network, trainer.cfg.env, seed, trainer.run_dir / episode_video(k))
        trainer.logger.video(CLOSING_VIDEO_TAG, episode.frames, episode.fps, step=k)
        landed += episode.points >= LANDED_POINTS
        points.append(episode.points)
        log.info("recorded %s: seed %d, %.2f points in %d steps, %s", episode_video(k), seed,
                 episode.points, episode.steps,
                 "landed" if episode.points >= LANDED_POINTS else "not landed")
    log.info("closing episodes of %s: %d of %d landed, %.2f points on average (100 episodes: "
             "python -m lunar_dqn.evaluate run_dir=%s)", model.name, landed, count,
             sum(points) / count, trainer.run_dir)
