"""One training run: the loop and its state. What it writes goes through `finisher` (and the
names of `rundir`); how it resumes exactly is `resume`'s."""

from __future__ import annotations

import logging
import signal
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import OmegaConf
from tqdm import tqdm

from lunar_dqn.algo.agent import DQNAgent
from lunar_dqn.algo.buffer import ReplayBuffer
from lunar_dqn.algo.nstep import NStepWindow
from lunar_dqn.config import Config, validate
from lunar_dqn.errors import Diverged, Interrupted
from lunar_dqn.run import finisher
from lunar_dqn.run.checkpoint import load_checkpoint, save_checkpoint
from lunar_dqn.run.device import resolve_device
from lunar_dqn.run.envs import make_vec_env, true_next_obs
from lunar_dqn.run.evaluator import Evaluator, after_step
from lunar_dqn.run.history import EpisodeHistory
from lunar_dqn.run.logger import Logger
from lunar_dqn.run.periodic import Every, ScalarLog
from lunar_dqn.run.resume import (
    EPISODE_START,
    EpisodeReplay,
    EpisodeTracker,
    capture,
    restore,
    seed_everything,
    trim_events,
)
from lunar_dqn.run.rundir import CHECKPOINT, EVENTS_GLOB, SOLVED_MODEL

log = logging.getLogger(__name__)

LOG_EVERY_EPISODES = 100


class Trainer:
    """Owns one run's state: envs, agent, buffer, counters and episode history.

    `run()` trains until the run ends and makes its closing writes; `train(env_steps=N)` trains
    N more env steps (or until the run's end, if sooner) and writes nothing, so a benchmark can
    time windows of the loop; `finish()` makes the closing writes. With `resume=True` it
    continues the run whose checkpoint is in `run_dir`, exactly where that checkpoint left it.
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
        self.envs = make_vec_env(cfg.env, wrappers=[EpisodeReplay])
        self.obs_dim = self.envs.single_observation_space.shape[0]
        self.num_actions = int(self.envs.single_action_space.n)
        self.agent = DQNAgent(self.obs_dim, self.num_actions, cfg.agent, self.device, cfg.seed)
        self.buffer = ReplayBuffer(cfg.buffer.capacity, self.obs_dim, self.device, cfg.seed + 1)
        self.nstep = NStepWindow(cfg.env.num_envs, cfg.agent.n_step, cfg.agent.gamma, self.obs_dim)
        self.history = EpisodeHistory(window=cfg.train.solve_window)
        self.evaluator = Evaluator(cfg.eval, cfg.env)
        self.env_steps = 0
        self.gradient_steps = 0
        self.pending_transitions = 0  # collected since the last gradient step
        self.solved_episode: int | None = None
        self.solved_env_steps: int | None = None
        self.solved_wall_time: float | None = None  # the loop's seconds when it solved
        self.wall_time = 0.0  # seconds in the loop
        self._clock = time.perf_counter()  # the loop's time is counted from here
        self.stop_signal: int | None = None
        if checkpoint is None:
            self.obs, infos = self.envs.reset(seed=cfg.seed)  # sub-env i gets seed + i
            self.episode_points = np.zeros(cfg.env.num_envs)
            self.episodes = EpisodeTracker(infos[EPISODE_START])
        else:
            restore(self, checkpoint)
        run_dir.mkdir(parents=True, exist_ok=True)
        earlier_events = sorted(run_dir.glob(EVENTS_GLOB))
        self.logger = Logger(run_dir, enabled=cfg.logger.tensorboard)
        if checkpoint is not None:  # events logged after the checkpoint: the run redoes them
            trim_events(self.logger, earlier_events, len(self.history), self.env_steps)
        self.scalars = ScalarLog(self.logger, cfg.logger.log_every_steps, self.device)

    # -- the loop -------------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        """Train until solved or out of budget, then make the closing writes and return the
        summary. Raises Diverged or Interrupted after writing what they leave behind."""
        handlers = {sig: signal.signal(sig, self._request_stop)
                    for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.train()
        except Diverged as err:
            finisher.write_outcome(self, "diverged", str(err))
            raise
        finally:
            for sig, handler in handlers.items():
                signal.signal(sig, handler)
        if self.stop_signal is not None:
            self.save_checkpoint()
            finisher.write_outcome(self, "interrupted")
            raise Interrupted(self.stop_signal)
        return self.finish()

    def finish(self) -> dict[str, Any]:
        """The closing writes (final model, checkpoint, history, summary, curve, video)."""
        return finisher.finish(self)

    def _request_stop(self, signum: int, _frame: Any) -> None:
        """SIGINT/SIGTERM end the loop at the next step; `run` then checkpoints."""
        self.stop_signal = signum

    def train(self, env_steps: int | None = None) -> int:
        """Train `env_steps` more env steps (None: no limit of its own), stopping sooner when the
        run ends (solved, out of budget) or a stop signal came; writes only the periodic
        checkpoints. Returns the env steps taken."""
        first = self.env_steps
        until = None if env_steps is None else first + env_steps
        checkpoints = Every(self.cfg.train.checkpoint_every, self.env_steps)
        self.scalars.start(self.env_steps)
        show_bar = self.cfg.logger.progress_bar and sys.stderr.isatty()
        bar = tqdm(total=self.cfg.train.max_env_steps, initial=self.env_steps, unit="step",
                   dynamic_ncols=True, disable=not show_bar)
        self._clock = time.perf_counter()
        try:
            while not self._budget_spent() and self.stop_signal is None and (
                    until is None or self.env_steps < until):
                stop = self._step(bar)
                after_step(self)  # the evaluation during training, when due
                if stop:
                    break
                self.scalars.step(self.env_steps, self.agent.epsilon)
                if checkpoints.due(self.env_steps):
                    self._tick()
                    self.save_checkpoint()
        finally:
            self._tick()
            bar.close()
        return self.env_steps - first

    def _tick(self) -> float:
        """Add the loop's time since the last tick to `wall_time`; return it."""
        now = time.perf_counter()
        self.wall_time += now - self._clock
        self._clock = now
        return self.wall_time

    def _step(self, bar: tqdm) -> bool:
        """One vector step: act, step the envs (learning meanwhile), store what is ready, book
        finished episodes. Returns True when the run should stop (solved)."""
        device, obs = self.device, self.obs
        actions = self.agent.act(torch.from_numpy(obs).to(device), self.agent.epsilon)
        actions_np = actions.cpu().numpy()
        next_obs, rewards, terminated, truncated, infos = self._step_while_learning(actions_np)
        done = terminated | truncated
        ready = self.nstep.push(obs, actions_np, rewards, true_next_obs(next_obs, done, infos),
                                terminated, done)
        if len(ready.obs):
            self.buffer.add(*(torch.from_numpy(x).to(device) for x in ready))
        self.env_steps += self.cfg.env.num_envs
        bar.update(self.cfg.env.num_envs)
        self.episodes.track(actions_np, done, infos)
        self.episode_points += rewards
        self.obs = next_obs
        stop = done.any() and self._finish_episodes(np.flatnonzero(done), bar)
        self.agent.schedule(self.env_steps, int(done.sum()))
        return bool(stop)

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
            self.scalars.add(*self.agent.learn(self.buffer.sample(agent_cfg.batch_size)))
        self.scalars.updates += updates
        self.gradient_steps += updates
        if not self.scalars.finite():
            raise Diverged(f"the TD loss or Q-values became non-finite at env step "
                           f"{self.env_steps} (gradient step {self.gradient_steps})")

    def _budget_spent(self) -> bool:
        t = self.cfg.train
        return (self.polish_over() or self.env_steps >= t.max_env_steps
                or len(self.history) >= t.max_episodes)

    def polish_over(self) -> bool:
        """Solved, stopping when solved, and trained `train.polish_env_steps` since."""
        t = self.cfg.train
        return (t.stop_when_solved and self.solved_env_steps is not None
                and self.env_steps >= self.solved_env_steps + t.polish_env_steps)

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
                finisher.save_model_file(self, SOLVED_MODEL)
                self.solved_wall_time = self._tick()
                stop = t.stop_when_solved and not t.polish_env_steps
            if stop or len(self.history) >= t.max_episodes:
                break
        bar.set_postfix(episodes=len(self.history), avg=f"{self.history.average:.1f}",
                        eps=f"{self.agent.epsilon:.3f}", refresh=False)
        return stop

    def save_checkpoint(self) -> None:
        """Everything needed to continue exactly (`resume.capture`)."""
        save_checkpoint(self.run_dir / CHECKPOINT, capture(self))

    def close(self) -> None:
        self.logger.close()
        self.envs.close()
        self.evaluator.close()
