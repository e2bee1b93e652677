"""One training run: the loop and its state. What it writes goes through `finisher` (and the
names of `rundir`); how it resumes exactly is `resume`'s."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import OmegaConf
from tqdm import tqdm

from lunar_dqn.algo.nstep import NStepWindow, horizon, longest_n
from lunar_dqn.algo.prioritized import agent_and_buffer
from lunar_dqn.config import Config
from lunar_dqn.errors import Diverged, EnvFailed, Interrupted, WriteFault
from lunar_dqn.run import finisher, signals
from lunar_dqn.run.backends import make_training_envs
from lunar_dqn.run.checkpoint import load_checkpoint, save_checkpoint
from lunar_dqn.run.console import progress_bar
from lunar_dqn.run.device import check_buffer_memory, resolve_device
from lunar_dqn.run.envs import true_next_obs
from lunar_dqn.run.episodes import EPISODE_START, EpisodeTracker
from lunar_dqn.run.evaluator import Evaluator, after_step
from lunar_dqn.run.history import EpisodeHistory
from lunar_dqn.run.integrity import restore_checked
from lunar_dqn.run.lock import claim
from lunar_dqn.run.periodic import Every, ScalarLog
from lunar_dqn.run.resume import capture, seed_everything
from lunar_dqn.run.rundir import CHECKPOINT, SOLVED_MODEL
from lunar_dqn.run.session import check_work_left, open_logger
from lunar_dqn.run.transfer import to_device
from lunar_dqn.run.watch import LearningFilm
from lunar_dqn.validation import validate

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
        self.run_dir = run_dir
        self.device = resolve_device(self.cfg.device)
        self.claim = claim(run_dir, resume)  # one run per directory, until `close`
        try:
            self._build(self.cfg, run_dir, resume)
        except BaseException:
            self.close()
            raise

    def _build(self, cfg: Config, run_dir: Path, resume: bool) -> None:
        checkpoint = load_checkpoint(run_dir / CHECKPOINT) if resume else None
        torch.set_num_threads(cfg.torch_threads)
        seed_everything(cfg.seed)
        self.envs = make_training_envs(cfg.env)
        self.obs_dim = self.envs.single_observation_space.shape[0]
        self.num_actions = int(self.envs.single_action_space.n)
        check_buffer_memory(cfg.buffer.capacity, self.obs_dim, self.device)
        self.agent, self.buffer = agent_and_buffer(cfg, self.obs_dim, self.num_actions, self.device)
        self.nstep = NStepWindow(cfg.env.num_envs, longest_n(cfg.agent), self.obs_dim)
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
        if checkpoint is None:
            self.obs, infos = self.envs.reset(seed=cfg.seed)  # sub-env i gets seed + i
            self.episode_points = np.zeros(cfg.env.num_envs)
            self.episodes = EpisodeTracker(infos[EPISODE_START])
        else:
            restore_checked(self, checkpoint, run_dir / CHECKPOINT,  # damaged: refused
                            before=lambda: check_work_left(run_dir, cfg, checkpoint))
        self.logger = open_logger(self, checkpoint)
        self.scalars = ScalarLog(self.logger, cfg.logger.log_every_steps, self.device)
        self.watch = LearningFilm(self.logger, cfg.env, cfg.logger.gif_every_steps, self.env_steps,
                                  lambda: finisher.saved_network(self),
                                  "rgb_array" in self.envs.metadata.get("render_modes", ()))

    # -- the loop -------------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        """Train until solved or out of budget, make the closing writes, return the summary. A
        stop signal (SIGINT, SIGTERM, SIGUSR2) ends the loop at its next step with a checkpoint
        and raises Interrupted. Raises Diverged, WriteFault or EnvFailed after recording them."""
        with signals.deferred():
            try:
                self.train()
                if signals.requested() is None:
                    return self.finish()
                self.save_checkpoint()
                finisher.write_outcome(self, "interrupted")
            except (Diverged, WriteFault, EnvFailed) as err:
                raise finisher.record_failure(self, err) from None
            raise Interrupted(signals.requested())

    def finish(self) -> dict[str, Any]:
        return finisher.finish(self)  # the closing writes

    def train(self, env_steps: int | None = None) -> int:
        """Train `env_steps` more env steps (None: no limit of its own), stopping sooner when the
        run ends (solved, out of budget) or a stop signal came; writes only the periodic
        checkpoints. Returns the env steps taken."""
        first = self.env_steps
        until = None if env_steps is None else first + env_steps
        checkpoints = Every(self.cfg.train.checkpoint_every, self.env_steps)
        self.scalars.start(self.env_steps)
        bar = progress_bar(self.cfg.train.max_env_steps, self.env_steps,
                           self.cfg.logger.progress_bar)
        self._clock = time.perf_counter()
        try:
            while not self._budget_spent() and signals.requested() is None and (
                    until is None or self.env_steps < until):
                stop = self._step(bar)
                after_step(self)  # the evaluation during training, when due
                if stop:
                    break
                self.scalars.step(self.env_steps, self.agent.epsilon)
                self.watch.step(self.env_steps)
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
                                terminated, done, *horizon(self.cfg.agent, self.env_steps))
        if len(ready.obs):
            self.buffer.add(*to_device(ready, device))  # on a GPU: one copy
        self.env_steps += self.cfg.env.num_envs
        bar.update(self.cfg.env.num_envs)
        self.episodes.track(actions_np, done, infos)
        self.episode_points += rewards
        self.obs = next_obs
        stop = done.any() and self._finish_episodes(np.flatnonzero(done), bar)
        self.agent.schedule(self.env_steps, int(done.sum()))
        return bool(stop)

    def _step_while_learning(self, actions: np.ndarray) -> tuple:
        """Learn while the envs step (the worker, async workers and EnvPool simulate meanwhile;
        sync envs keep the same order, so every Gymnasium mode gives the same run)."""
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
        self.scalars.add(*self.agent.learn_from(self.buffer, updates))
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
            self.logger.episode(episode, self.history.points[-1], average, self.env_steps)
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
                if t.stop_when_solved and t.polish_env_steps:
                    log.info("polishing: %d env steps more, the best evaluated network handed "
                             "over (train.polish_env_steps=0 stops here)", t.polish_env_steps)
            if stop or len(self.history) >= t.max_episodes:
                break
        bar.set_postfix(episodes=len(self.history), avg=f"{self.history.average:.1f}",
                        eps=f"{self.agent.epsilon:.3f}", refresh=False)
        return stop

    # -- checkpoints ----------------------------------------------------------------------------

    def save_checkpoint(self) -> None:
        """Only finite weights are saved (Diverged otherwise): the last good checkpoint stays."""
        save_checkpoint(self.run_dir / CHECKPOINT, capture(self))

    def close(self) -> None:
        """Stop the environments and the logger; let go of the run directory."""
        for part in ("logger", "envs", "evaluator"):
            if hasattr(self, part):
                getattr(self, part).close()
        self.claim.release()
