"""Greedy episodes to see: recorded to .mp4 or shown in a window."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import gymnasium as gym
import imageio_ffmpeg
import numpy as np
import pygame
import torch
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
    """Every frame, in order, at `fps` (H.264), written through a temporary file.

    The frames go straight to ffmpeg. (moviepy's ImageSequenceClip added 1/fps per frame into a
    float duration and wrote int(duration * fps) frames, so the last frame was lost whenever the
    sum fell just short: at 50 fps, for 11 frames and for every episode of more than 206 steps.)
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    height, width = frames[0].shape[:2]
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    writer = imageio_ffmpeg.write_frames(str(tmp), (width, height), fps=fps, codec="libx264",
                                         macro_block_size=2, ffmpeg_log_level="error")
    writer.send(None)  # starts ffmpeg
    try:
        for frame in frames:
            writer.send(np.ascontiguousarray(frame))
    finally:
        writer.close()
    os.replace(tmp, path)


def film(network: nn.Module, env_cfg: EnvConfig, seed: int) -> Episode:
    """One greedy episode on `seed` with its frames, in an environment of its own."""
    env = make_env(env_cfg, render_mode="rgb_array")
    try:
        return play_greedy(network, env, seed)
    finally:
        env.close()


def record_video(network: nn.Module, env_cfg: EnvConfig, seed: int, path: Path) -> Episode:
    """Play one greedy episode on `seed` and write it to `path` (.mp4), one frame per step
    after the reset frame, at the environment's own frame rate (real time)."""
    episode = film(network, env_cfg, seed)
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

