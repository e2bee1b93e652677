"""Greedy episodes to see: recorded to .mp4 or shown in a window."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import gymnasium as gym
import numpy as np
import pygame
import torch
from moviepy import ImageSequenceClip
from torch import nn

from lunar_dqn.config import EnvConfig
from lunar_dqn.errors import ConfigError
from lunar_dqn.run.envs import make_env

DEFAULT_FPS = 30  # for environments that do not say their frame rate


@dataclass
class Episode:
    seed: int
    points: float = 0.0
    steps: int = 0
    fps: int = DEFAULT_FPS
    frames: list[np.ndarray] = field(default_factory=list)  # (H, W, 3) uint8, rgb_array only


@torch.no_grad()
def play_greedy(network: nn.Module, env: gym.Env, seed: int) -> Episode:
    """One greedy episode from `env.reset(seed=seed)`. With `render_mode="rgb_array"` it keeps
    the reset frame and one frame per step (steps + 1 frames); "human" draws them itself."""
    device = next(network.parameters()).device
    keep_frames = env.render_mode == "rgb_array"
    episode = Episode(seed=seed, fps=env.metadata.get("render_fps", DEFAULT_FPS))
    obs, _ = env.reset(seed=seed)
    if keep_frames:
        episode.frames.append(env.render())
    done = False
    while not done:
        q_values = network(torch.as_tensor(obs, device=device).unsqueeze(0))
        obs, reward, terminated, truncated, _ = env.step(int(q_values.argmax()))
        episode.points += float(reward)
        episode.steps += 1
        done = terminated or truncated
        if keep_frames:
            episode.frames.append(env.render())
    return episode


def write_mp4(frames: list[np.ndarray], path: Path, fps: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    clip = ImageSequenceClip(frames, fps=fps)
    clip.write_videofile(str(path), codec="libx264", audio=False, logger=None)
    clip.close()


def record_video(network: nn.Module, env_cfg: EnvConfig, seed: int, path: Path) -> Episode:
    """Play one greedy episode on `seed` and write it to `path` (.mp4), one frame per step
    after the reset frame, at the environment's own frame rate (real time)."""
    env = make_env(env_cfg, render_mode="rgb_array")
    try:
        episode = play_greedy(network, env, seed)
    finally:
        env.close()
    write_mp4(episode.frames, path, episode.fps)
    return episode


def check_screen() -> None:
    """Fail early, with a way out, where a window cannot be shown: SDL falls back to its
    invisible "offscreen" driver on a machine without a display."""
    try:
        pygame.display.init()
        driver = pygame.display.get_driver()
    except pygame.error as err:
        raise ConfigError(f"render=human needs a screen: {err} "
                          "(record the episodes with video=true instead)") from None
    finally:
        pygame.display.quit()
    if driver == "offscreen":
        raise ConfigError("render=human needs a screen, and this machine has none "
                          "(record the episodes with video=true instead)")


def watch(network: nn.Module, env_cfg: EnvConfig, seeds: list[int]) -> list[Episode]:
    """Play greedy episodes in a window, in real time (see `check_screen`)."""
    env = make_env(env_cfg, render_mode="human")
    try:
        return [play_greedy(network, env, seed) for seed in seeds]
    finally:
        env.close()

