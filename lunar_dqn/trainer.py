"""One training run: the loop, its state, and everything it writes into the run directory."""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import random
import signal
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import OmegaConf
from torch import nn
from tqdm import tqdm

import lunar_dqn
from lunar_dqn.agent import DQNAgent
from lunar_dqn.buffer import ReplayBuffer
from lunar_dqn.checkpoint import (
    FINAL_MODEL,
    SOLVED_MODEL,
    load_checkpoint,
    save_checkpoint,
    save_model,
)
from lunar_dqn.config import Config, validate
from lunar_dqn.envs import EPISODE_START, make_vec_env, true_next_obs
from lunar_dqn.errors import ConfigError, Diverged, Interrupted
from lunar_dqn.evaluate import EVAL_SEED_BASE
from lunar_dqn.history import HISTORY_FILE, EpisodeHistory
from lunar_dqn.logger import EPSILON, FINAL_VIDEO, Q_MEAN, SPS, TD_LOSS, Logger
from lunar_dqn.nstep import NStepWindow
from lunar_dqn.plot import write_training_curve
from lunar_dqn.provenance import git_commit
from lunar_dqn.video import record_video

log = logging.getLogger(__name__)

CHECKPOINT = "checkpoint.pt"  # everything needed to continue the run exactly
SUMMARY_FILE = "summary.json"
FINAL_VIDEO_FILE = "videos/final_model.mp4"
LOG_EVERY_EPISODES = 100


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device={name!r} is invalid: CUDA is not available on this machine "
                          "(use device=cpu or device=auto)")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def rng_states() -> dict[str, Any]:
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {"python": random.getstate(), "torch": torch.get_rng_state(),
            "numpy": (kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached)}


def set_rng_states(states: dict[str, Any]) -> None:
    random.setstate(states["python"])
    torch.set_rng_state(states["torch"])
    kind, keys, pos, has_gauss, cached = states["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))


class Trainer:
    """Owns one run's state: envs, agent, buffer, counters and episode history.

    With `resume=True` it continues the run whose checkpoint is in `run_dir`, exactly where
    that checkpoint left it.
    """

    def __init__(self, cfg: Any, run_dir: Path, resume: bool = False) -> None:
        validate(cfg)
        # Plain dataclasses: reading a DictConfig attribute in the hot loop costs microseconds.
        self.cfg: Config = OmegaConf.to_object(cfg) if OmegaConf.is_config(cfg) else cfg
        cfg = self.cfg
        self.run_dir = run_dir
        self.device = resolve_device(cfg.device)
        checkpoint = load_checkpoint(run_dir / CHECKPOINT) if resume else None
        torch.set_num_threads(cfg.torch_threads)
        seed_everything(cfg.seed)
        self.envs = make_vec_env(cfg.env)
        self.obs_dim = self.envs.single_observation_space.shape[0]
        self.num_actions = int(self.envs.single_action_space.n)
        self.agent = DQNAgent(self.obs_dim, self.num_actions, cfg.agent, self.device, cfg.seed)
        self.buffer = ReplayBuffer(cfg.buffer.capacity, self.obs_dim, self.device, cfg.seed + 1)
        self.nstep = NStepWindow(cfg.env.num_envs, cfg.agent.n_step, cfg.agent.gamma, self.obs_dim)
        self.history = EpisodeHistory(window=cfg.train.solve_window)
        self.env_steps = 0
        self.gradient_steps = 0
        self.pending_transitions = 0  # collected since the last gradient step
        self.solved_episode: int | None = None
        self.solved_env_steps: int | None = None
        self.wall_time = 0.0
        self.stop_signal: int | None = None
        self.loss_sum = torch.zeros((), device=self.device)  # since the last log line
        self.q_sum = torch.zeros((), device=self.device)
        self.updates_since_log = 0
        if checkpoint is None:
            self.obs, infos = self.envs.reset(seed=cfg.seed)  # sub-env i gets seed + i
            self.episode_points = np.zeros(cfg.env.num_envs)
            self.episode_starts: list[str] = list(infos[EPISODE_START])
            self.episode_actions: list[list[int]] = [[] for _ in range(cfg.env.num_envs)]
        else:
            self.load_state_dict(checkpoint)
        run_dir.mkdir(parents=True, exist_ok=True)
        # On resume, events written after the checkpoint are dropped: the run redoes them.
        self.logger = Logger(run_dir, enabled=cfg.logger.tensorboard,
                             resume_at=(len(self.history), self.env_steps) if resume else None)

    # -- the loop -------------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        """Train until solved or out of budget. Raises Diverged or Interrupted after writing
        what they leave behind."""
        handlers = self._catch_stop_signals()
        try:
            self._loop()
        except Diverged as err:
            self._write_summary("diverged", str(err))
            raise
        finally:
            for sig, handler in handlers.items():
                signal.signal(sig, handler)
        if self.stop_signal is not None:
            self.save_checkpoint()
            self._write_summary("interrupted")
            raise Interrupted(self.stop_signal)
        return self._finish_run()

    def _loop(self) -> None:
        cfg, device, n = self.cfg, self.device, self.cfg.env.num_envs
        obs = self.obs
        log_every, checkpoint_every = cfg.logger.log_every_steps, cfg.train.checkpoint_every
        next_log = (self.env_steps // log_every + 1) * log_every
        next_checkpoint = (self.env_steps // checkpoint_every + 1) * checkpoint_every
        log_clock, log_steps = time.perf_counter(), self.env_steps
        show_bar = cfg.logger.progress_bar and sys.stderr.isatty()
        bar = tqdm(total=cfg.train.max_env_steps, initial=self.env_steps, unit="step",
                   dynamic_ncols=True, disable=not show_bar)
        start = time.perf_counter()
        try:
            while not self._budget_spent() and self.stop_signal is None:
                actions = self.agent.act(torch.from_numpy(obs).to(device), self.agent.epsilon)
                actions_np = actions.cpu().numpy()
                next_obs, rewards, terminated, truncated, infos = self._step_while_learning(
                    actions_np)
                done = terminated | truncated
                ready = self.nstep.push(obs, actions_np, rewards,
                                        true_next_obs(next_obs, done, infos), terminated, done)
                if len(ready.obs):
                    self.buffer.add(*(torch.from_numpy(x).to(device) for x in ready))
                self.env_steps += n
                bar.update(n)
                self._track_episodes(actions_np, done, infos)
                self.episode_points += rewards
                obs = self.obs = next_obs
                stop = done.any() and self._finish_episodes(np.flatnonzero(done), bar)
                self.agent.schedule(self.env_steps, int(done.sum()))
                if stop:
                    break
                if self.env_steps >= next_log:
                    now = time.perf_counter()
                    self._log_scalars((self.env_steps - log_steps) / (now - log_clock))
                    next_log += log_every
                    log_clock, log_steps = now, self.env_steps
                if self.env_steps >= next_checkpoint:
                    self.wall_time += time.perf_counter() - start
                    start = time.perf_counter()
                    self.save_checkpoint()
                    next_checkpoint += checkpoint_every
        finally:
            self.wall_time += time.perf_counter() - start
            bar.close()

    def _step_while_learning(self, actions: np.ndarray) -> tuple:
        """The gradient steps due run while the environments step: async workers simulate in
        parallel with them. Sync envs keep the same order, so both modes give the same run."""
        overlap = hasattr(self.envs, "step_async")
        if overlap:
            self.envs.step_async(actions)
        self._learn()
        return self.envs.step_wait() if overlap else self.envs.step(actions)

    def _learn(self) -> None:
        """One gradient step per `replay_ratio` transitions collected, once the buffer holds
        more than a mini-batch. Metrics stay on the device until they are logged."""
        agent_cfg = self.cfg.agent
        updates, self.pending_transitions = divmod(
            self.pending_transitions + self.cfg.env.num_envs, agent_cfg.replay_ratio)
        if not updates or len(self.buffer) <= agent_cfg.batch_size:
            return
        for _ in range(updates):
            loss, q_mean = self.agent.learn(self.buffer.sample(agent_cfg.batch_size))
            self.loss_sum += loss
            self.q_sum += q_mean
        self.updates_since_log += updates
        self.gradient_steps += updates
        if not torch.isfinite(self.loss_sum + self.q_sum):
            raise Diverged(f"the TD loss or Q-values became non-finite at env step "
                           f"{self.env_steps} (gradient step {self.gradient_steps})")

    def _log_scalars(self, steps_per_second: float) -> None:
        scalars = {EPSILON: self.agent.epsilon, SPS: steps_per_second}
        if self.updates_since_log:
            scalars[TD_LOSS] = (self.loss_sum / self.updates_since_log).item()
            scalars[Q_MEAN] = (self.q_sum / self.updates_since_log).item()
        self.logger.scalars(self.env_steps, scalars)
        self.loss_sum.zero_()
        self.q_sum.zero_()
        self.updates_since_log = 0

    def _track_episodes(self, actions: np.ndarray, done: np.ndarray, infos: dict) -> None:
        """Keep each sub-env's episode start and actions, for EpisodeReplay on resume."""
        for i, action in enumerate(actions.tolist()):
            if done[i]:
                self.episode_starts[i] = infos[EPISODE_START][i]
                self.episode_actions[i] = []
            else:
                self.episode_actions[i].append(action)

    def _budget_spent(self) -> bool:
        t = self.cfg.train
        solved_and_done = self.solved_episode is not None and t.stop_when_solved
        return (solved_and_done or self.env_steps >= t.max_env_steps
                or len(self.history) >= t.max_episodes)

    def _finish_episodes(self, envs_done: np.ndarray, bar: tqdm) -> bool:
        """Record finished episodes in env order; return True when the run should stop."""
        t = self.cfg.train
        stop = False
        for i in envs_done:
            average = self.history.add(float(self.episode_points[i]), self.env_steps)
            self.episode_points[i] = 0.0
            episode = len(self.history)
            self.logger.episode(episode, self.history.points[-1], average)
            if episode % LOG_EVERY_EPISODES == 0:
                log.info("episode %d | total point average of the last %d episodes: %.2f",
                         episode, t.solve_window, average)
            if self.solved_episode is None and self.history.reached(t.solve_score):
                self.solved_episode, self.solved_env_steps = episode, self.env_steps
                log.info("environment solved in %d episodes (%d env steps)!",
                         episode, self.env_steps)
                self._save_model(SOLVED_MODEL)
                stop = t.stop_when_solved
            if stop or len(self.history) >= t.max_episodes:
                break
        bar.set_postfix(episodes=len(self.history), avg=f"{self.history.average:.1f}",
                        eps=f"{self.agent.epsilon:.3f}", refresh=False)
        return stop

    def _catch_stop_signals(self) -> dict[int, Any]:
        """SIGINT/SIGTERM end the loop at the next step; `run` then checkpoints."""
        def request_stop(signum: int, _frame: Any) -> None:
            self.stop_signal = signum

        return {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}

    # -- checkpoints ----------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        return {
            "config": OmegaConf.to_yaml(OmegaConf.structured(self.cfg)),
            "agent": self.agent.state_dict(),
            "buffer": self.buffer.state_dict(),
            "nstep": self.nstep.state_dict(),
            "counters": {
                "env_steps": self.env_steps, "gradient_steps": self.gradient_steps,
                "pending_transitions": self.pending_transitions,
                "solved_episode": self.solved_episode, "solved_env_steps": self.solved_env_steps,
                "wall_time": self.wall_time,
            },
            "history": {
                "points": torch.tensor(self.history.points, dtype=torch.float64),
                "averages": torch.tensor(self.history.averages, dtype=torch.float64),
                "env_steps": torch.tensor(self.history.env_steps, dtype=torch.int64),
            },
            "envs": {
                "obs": torch.from_numpy(self.obs.copy()),
                "episode_points": torch.from_numpy(self.episode_points.copy()),
                "episode_starts": list(self.episode_starts),
                "episode_actions": [list(a) for a in self.episode_actions],
            },
            "rng": rng_states(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.agent.load_state_dict(state["agent"])
        self.buffer.load_state_dict(state["buffer"])
        self.nstep.load_state_dict(state["nstep"])
        c = state["counters"]
        self.env_steps, self.gradient_steps = c["env_steps"], c["gradient_steps"]
        self.pending_transitions = c["pending_transitions"]
        self.solved_episode, self.solved_env_steps = c["solved_episode"], c["solved_env_steps"]
        self.wall_time = c["wall_time"]
        h = state["history"]
        self.history = EpisodeHistory(window=self.cfg.train.solve_window,
                                      points=h["points"].tolist(), averages=h["averages"].tolist(),
                                      env_steps=h["env_steps"].tolist())
        e = state["envs"]
        self.episode_points = e["episode_points"].numpy().copy()
        self.episode_starts = list(e["episode_starts"])
        self.episode_actions = [list(a) for a in e["episode_actions"]]
        self.obs = self._replay_envs(e["obs"].numpy())
        set_rng_states(state["rng"])

    def _replay_envs(self, saved_obs: np.ndarray) -> np.ndarray:
        self.envs.reset(seed=self.cfg.seed)
        self.envs.set_attr("replay_request",
                           list(zip(self.episode_starts, self.episode_actions, strict=True)))
        obs = np.stack(self.envs.call("replay"))
        if not np.array_equal(obs, saved_obs):
            log.warning("the replayed environments differ from the checkpoint (another Box2D "
                        "build?); the run continues from the replayed state")
        return obs

    def save_checkpoint(self) -> None:
        save_checkpoint(self.run_dir / CHECKPOINT, self.state_dict())

    # -- outputs --------------------------------------------------------------------------------

    @property
    def saved_network(self) -> nn.Module:
        """The network the model files and the video show (`train.saved_network`)."""
        return getattr(self.agent, self.cfg.train.saved_network)

    def _save_model(self, name: str) -> None:
        save_model(self.run_dir / name, self.saved_network, self.obs_dim, self.num_actions,
                   list(self.cfg.agent.hidden_sizes), self.cfg.env.id)

    def summary(self, status: str, error: str | None = None) -> dict[str, Any]:
        summary = {
            "status": status,
            "solved": self.solved_episode is not None,
            "solved_episode": self.solved_episode,
            "solved_env_steps": self.solved_env_steps,
            "episodes": len(self.history),
            "env_steps": self.env_steps,
            "gradient_steps": self.gradient_steps,
            "wall_time_s": round(self.wall_time, 3),
            "avg100": None if not len(self.history) else round(self.history.average, 3),
            "version": lunar_dqn.__version__,
            "git_commit": git_commit(),
        }
        if error is not None:
            summary["error"] = error
        return summary

    def _write_summary(self, status: str, error: str | None = None) -> dict[str, Any]:
        self.history.write_csv(self.run_dir / HISTORY_FILE)
        summary = self.summary(status, error)
        (self.run_dir / SUMMARY_FILE).write_text(json.dumps(summary, indent=2) + "\n")
        return summary

    def _finish_run(self) -> dict[str, Any]:
        self._save_model(FINAL_MODEL)
        self.save_checkpoint()  # lets a finished run be continued with a larger budget
        summary = self._write_summary("solved" if self.solved_episode is not None else "budget")
        results = {k: float(v) for k, v in summary.items()
                   if isinstance(v, (int, float)) and not math.isnan(float(v))}
        self.logger.hyperparameters(dataclasses.asdict(self.cfg), results)
        write_training_curve(self.history.points, self.run_dir)
        if self.cfg.logger.video:
            self._record_final_video()
        log.info("%s after %d episodes, %d env steps, %.1f s: last %d-episode average %.2f",
                 "solved" if summary["solved"] else "not solved", summary["episodes"],
                 summary["env_steps"], summary["wall_time_s"], self.cfg.train.solve_window,
                 self.history.average)
        return summary

    def _record_final_video(self) -> None:
        """A greedy episode of the final model on the first evaluation seed."""
        if "rgb_array" not in self.envs.metadata.get("render_modes", ()):
            log.warning("no video: %s cannot render frames", self.cfg.env.id)
            return
        episode = record_video(self.saved_network, self.cfg.env, EVAL_SEED_BASE,
                               self.run_dir / FINAL_VIDEO_FILE)
        self.logger.video(FINAL_VIDEO, episode.frames, episode.fps)
        log.info("recorded %s: %.2f points in %d steps", FINAL_VIDEO_FILE, episode.points,
                 episode.steps)

    def close(self) -> None:
        self.logger.close()
        self.envs.close()
