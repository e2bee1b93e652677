"""Train a DQN lander: `train(cfg, run_dir)` for code, `python -m lunar_dqn.train` for people."""

from __future__ import annotations

import json
import logging
import random
import sys
import time
from pathlib import Path
from typing import Any

import hydra
import numpy as np
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from lunar_dqn.agent import DQNAgent
from lunar_dqn.buffer import ReplayBuffer
from lunar_dqn.checkpoint import save_model
from lunar_dqn.cli import exits_on_user_error
from lunar_dqn.config import ConfigError, register_configs, validate
from lunar_dqn.envs import make_vec_env, true_next_obs
from lunar_dqn.history import HISTORY_FILE, EpisodeHistory
from lunar_dqn.logger import EPSILON, Q_MEAN, SPS, TD_LOSS, Logger

log = logging.getLogger(__name__)

SOLVED_MODEL = "lunar_lander_model.pt"  # the lab's file name, written when the run solves
FINAL_MODEL = "final_model.pt"  # written at the end of every run
SUMMARY_FILE = "summary.json"
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


class Trainer:
    """Owns one run's state: envs, agent, buffer, counters and episode history."""

    def __init__(self, cfg: Any, run_dir: Path) -> None:
        validate(cfg)
        self.cfg = cfg
        self.run_dir = run_dir
        self.device = resolve_device(cfg.device)
        torch.set_num_threads(cfg.torch_threads)
        seed_everything(cfg.seed)
        self.envs = make_vec_env(cfg.env)
        self.obs_dim = self.envs.single_observation_space.shape[0]
        self.num_actions = int(self.envs.single_action_space.n)
        self.agent = DQNAgent(self.obs_dim, self.num_actions, cfg.agent, self.device, cfg.seed)
        self.buffer = ReplayBuffer(cfg.buffer.capacity, self.obs_dim, self.device, cfg.seed + 1)
        self.history = EpisodeHistory(window=cfg.train.solve_window)
        self.env_steps = 0
        self.gradient_steps = 0
        self.pending_transitions = 0  # collected since the last gradient step
        self.solved_episode: int | None = None
        self.solved_env_steps: int | None = None
        self.solved_wall_time: float | None = None
        self.wall_time = 0.0
        self._run_start = 0.0  # perf_counter() when the current run() began
        run_dir.mkdir(parents=True, exist_ok=True)
        self.logger = Logger(run_dir, enabled=cfg.logger.tensorboard)

    # -- the loop -------------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        cfg, device, n = self.cfg, self.device, self.cfg.env.num_envs
        obs, _ = self.envs.reset(seed=cfg.seed)  # sub-env i gets seed + i
        episode_points = np.zeros(n)
        loss_sum = torch.zeros((), device=device)
        q_sum = torch.zeros((), device=device)
        updates_since_log = 0
        next_log = self.env_steps + cfg.logger.log_every_steps
        log_clock, log_steps = time.perf_counter(), self.env_steps
        show_bar = cfg.logger.progress_bar and sys.stderr.isatty()
        bar = tqdm(total=cfg.train.max_env_steps, initial=self.env_steps, unit="step",
                   dynamic_ncols=True, disable=not show_bar)
        self._run_start = time.perf_counter()
        while not self._budget_spent():
            obs_t = torch.from_numpy(obs).to(device)
            actions = self.agent.act(obs_t, self.agent.epsilon)
            next_obs, rewards, terminated, truncated, infos = self.envs.step(actions.cpu().numpy())
            done = terminated | truncated
            self.buffer.add(
                obs_t, actions, torch.from_numpy(rewards.astype(np.float32)).to(device),
                torch.from_numpy(true_next_obs(next_obs, done, infos)).to(device),
                torch.from_numpy(terminated).to(device),
            )
            self.env_steps += n
            bar.update(n)
            updates, self.pending_transitions = divmod(
                self.pending_transitions + n, cfg.agent.replay_ratio)
            if len(self.buffer) > cfg.agent.batch_size:
                for _ in range(updates):
                    loss, q_mean = self.agent.learn(self.buffer.sample(cfg.agent.batch_size))
                    loss_sum += loss
                    q_sum += q_mean
                updates_since_log += updates
                self.gradient_steps += updates
            episode_points += rewards
            if done.any() and self._finish_episodes(np.flatnonzero(done), episode_points, bar):
                break
            obs = next_obs
            if self.env_steps >= next_log:
                now = time.perf_counter()
                scalars = {EPSILON: self.agent.epsilon,
                           SPS: (self.env_steps - log_steps) / (now - log_clock)}
                if updates_since_log:
                    scalars[TD_LOSS] = (loss_sum / updates_since_log).item()
                    scalars[Q_MEAN] = (q_sum / updates_since_log).item()
                self.logger.scalars(self.env_steps, scalars)
                loss_sum.zero_()
                q_sum.zero_()
                updates_since_log = 0
                next_log += cfg.logger.log_every_steps
                log_clock, log_steps = now, self.env_steps
        self.wall_time += time.perf_counter() - self._run_start
        bar.close()
        return self._finish_run()

    def _budget_spent(self) -> bool:
        t = self.cfg.train
        return self.env_steps >= t.max_env_steps or len(self.history) >= t.max_episodes

    def _finish_episodes(self, envs_done: np.ndarray, episode_points: np.ndarray,
                         bar: tqdm) -> bool:
        """Record finished episodes in env order; return True when the run should stop."""
        t = self.cfg.train
        stop = False
        for i in envs_done:
            average = self.history.add(float(episode_points[i]), self.env_steps)
            episode_points[i] = 0.0
            self.agent.on_episodes_finished(1)
            episode = len(self.history)
            self.logger.episode(episode, self.history.points[-1], average)
            if episode % LOG_EVERY_EPISODES == 0:
                log.info("episode %d | total point average of the last %d episodes: %.2f",
                         episode, t.solve_window, average)
            if self.solved_episode is None and self.history.reached(t.solve_score):
                self.solved_episode, self.solved_env_steps = episode, self.env_steps
                self.solved_wall_time = self.wall_time + time.perf_counter() - self._run_start
                log.info("environment solved in %d episodes (%d env steps)!",
                         episode, self.env_steps)
                self._save_model(SOLVED_MODEL)
                stop = t.stop_when_solved
            if stop or len(self.history) >= t.max_episodes:
                break
        bar.set_postfix(episodes=len(self.history), avg=f"{self.history.average:.1f}",
                        eps=f"{self.agent.epsilon:.3f}", refresh=False)
        return stop

    # -- outputs --------------------------------------------------------------------------------

    def _save_model(self, name: str) -> None:
        save_model(self.run_dir / name, self.agent.online, self.obs_dim, self.num_actions,
                   list(self.cfg.agent.hidden_sizes), self.cfg.env.id)

    def summary(self) -> dict[str, Any]:
        return {
            "solved": self.solved_episode is not None,
            "solved_episode": self.solved_episode,
            "solved_env_steps": self.solved_env_steps,
            "episodes": len(self.history),
            "env_steps": self.env_steps,
            "gradient_steps": self.gradient_steps,
            "wall_time_s": round(self.wall_time, 3),
            "solved_wall_time_s": None if self.solved_wall_time is None
            else round(self.solved_wall_time, 3),
            "avg100": None if not len(self.history) else round(self.history.average, 3),
        }

    def _finish_run(self) -> dict[str, Any]:
        self._save_model(FINAL_MODEL)
        self.history.write_csv(self.run_dir / HISTORY_FILE)
        summary = self.summary()
        (self.run_dir / SUMMARY_FILE).write_text(json.dumps(summary, indent=2) + "\n")
        results = {k: float(v) for k, v in summary.items() if isinstance(v, (int, float))}
        self.logger.hyperparameters(OmegaConf.to_container(self.cfg, resolve=True), results)
        log.info("%s after %d episodes, %d env steps, %.1f s: last %d-episode average %.2f",
                 "solved" if summary["solved"] else "not solved", summary["episodes"],
                 summary["env_steps"], summary["wall_time_s"], self.cfg.train.solve_window,
                 self.history.average)
        return summary

    def close(self) -> None:
        self.logger.close()
        self.envs.close()


def train(cfg: Any, run_dir: Path) -> dict[str, Any]:
    """Train on `cfg` (a composed config), writing everything under `run_dir`."""
    trainer = Trainer(cfg, run_dir)
    try:
        return trainer.run()
    finally:
        trainer.close()


register_configs()


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
@exits_on_user_error
def main(cfg: DictConfig) -> float:
    """Returns env steps to solve (budget + 1 when unsolved): the metric a sweeper minimises."""
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    summary = train(cfg, run_dir)
    return summary["solved_env_steps"] or cfg.train.max_env_steps + 1


if __name__ == "__main__":
    main()
