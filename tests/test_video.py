"""Episodes to see: frames, .mp4 files, GIFs for TensorBoard, and the window."""

import io
from typing import ClassVar

import gymnasium as gym
import imageio_ffmpeg
import numpy as np
import pytest
from gymnasium import spaces
from PIL import Image

from conftest import REPO, env_config, run_module
from lunar_dqn.errors import ConfigError
from lunar_dqn.play import video
from lunar_dqn.play.gif import animated_gif
from lunar_dqn.play.greedy import EVAL_SEED_BASE, greedy_returns
from lunar_dqn.play.video import check_screen, play_greedy, record_video, watch, write_mp4
from lunar_dqn.run.envs import make_env
from runutil import SHORT_EPISODES, make_run, tiny_network

SHORT = env_config(num_envs=1, max_episode_steps=SHORT_EPISODES)
LONG_EPISODE = 450  # steps: far past the 206 where a moviepy-written video lost its last frame


class LongEpisodeEnv(gym.Env):
    """Never ends by itself (its time limit cuts it). Frame k's upper half has red level
    2k mod 256, so each frame can be told apart after encoding."""

    metadata: ClassVar[dict] = {"render_modes": ["rgb_array"], "render_fps": 50}

    def __init__(self, render_mode=None) -> None:
        self.observation_space = spaces.Box(-1.0, 1.0, (8,), np.float32)
        self.action_space = spaces.Discrete(4)
        self.render_mode = render_mode
        self.t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(8, np.float32), {}

    def step(self, action):
        self.t += 1
        return np.zeros(8, np.float32), 1.0, False, False, {}

    def render(self):
        frame = np.zeros((48, 64, 3), np.uint8)
        frame[:24, :, 0] = (2 * self.t) % 256
        return frame


gym.register("LongEpisode-v0", entry_point=LongEpisodeEnv, max_episode_steps=LONG_EPISODE)


def red_levels(path) -> list[int]:
    """The upper half's mean red level of every frame of a video."""
    frames = imageio_ffmpeg.read_frames(str(path))
    meta = next(frames)
    width, height = meta["size"]
    levels = []
    for raw in frames:
        image = np.frombuffer(raw, np.uint8).reshape(height, width, 3)
        levels.append(round(float(image[4:20, 8:-8, 0].mean())))
    return levels


def test_rgb_episode_keeps_the_reset_frame_and_one_frame_per_step():
    env = make_env(SHORT, render_mode="rgb_array")
    try:
        episode = play_greedy(tiny_network([8]), env, seed=EVAL_SEED_BASE)
    finally:
        env.close()
    assert 1 <= episode.steps <= SHORT_EPISODES
    assert len(episode.frames) == episode.steps + 1
    assert episode.frames[0].shape == (400, 600, 3) and episode.frames[0].dtype == np.uint8
    assert episode.fps == 50  # LunarLander's own frame rate: the video plays in real time
    assert not np.array_equal(episode.frames[0], episode.frames[-1])


def test_recorded_mp4_has_every_frame_of_the_greedy_episode(tmp_path):
    network = tiny_network([8])
    path = tmp_path / "videos" / "episode.mp4"
    episode = record_video(network, SHORT, EVAL_SEED_BASE, path)
    frames, seconds = imageio_ffmpeg.count_frames_and_secs(str(path))
    assert frames == episode.steps + 1
    assert seconds == pytest.approx(frames / 50, abs=0.05)
    # the same episode the evaluation plays on that seed
    assert episode.points == pytest.approx(greedy_returns(network, SHORT, 1)[0])


@pytest.mark.parametrize("count", [1, 11, 207, 301])
def test_an_mp4_keeps_every_frame_whatever_the_count(tmp_path, count):
    frames = [np.full((40, 60, 3), (2 * k) % 256, np.uint8) for k in range(count)]
    write_mp4(frames, tmp_path / "v.mp4", fps=50)
    assert imageio_ffmpeg.count_frames_and_secs(str(tmp_path / "v.mp4"))[0] == count
    assert [p.name for p in tmp_path.iterdir()] == ["v.mp4"]  # no temporary file left


def test_a_long_episode_keeps_every_frame_to_the_last(tmp_path):
    path = tmp_path / "long.mp4"
    episode = record_video(tiny_network([8]), env_config(id="LongEpisode-v0", num_envs=1),
                           seed=0, path=path)
    assert episode.steps == LONG_EPISODE and len(episode.frames) == LONG_EPISODE + 1
    levels = red_levels(path)
    assert len(levels) == LONG_EPISODE + 1
    # frame k is step k's: the reset frame first, the last step's frame last (H.264 is lossy)
    expected = [(2 * k) % 256 for k in range(LONG_EPISODE + 1)]
    assert max(abs(a - b) for a, b in zip(levels, expected, strict=True)) <= 3


def test_animated_gif_keeps_every_nth_frame_shrunk_at_the_same_speed():
    frames = [np.full((40, 60, 3), 10 * k, dtype=np.uint8) for k in range(9)]
    gif = Image.open(io.BytesIO(animated_gif(frames, fps=50, every=2, shrink=4)))
    assert gif.size == (15, 10) and gif.n_frames == 5  # frames 0, 2, 4, 6, 8
    durations = []
    for k in range(gif.n_frames):
        gif.seek(k)
        durations.append(gif.info["duration"])
        assert gif.convert("RGB").getpixel((0, 0)) == (20 * k,) * 3
    assert durations == [40] * 5  # 2 frames of 20 ms each
    assert gif.info["loop"] == 0


def test_watch_plays_the_evaluation_episodes_in_a_human_window(monkeypatch):
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")  # a window without a screen
    modes = []

    def spy(cfg, render_mode=None):
        modes.append(render_mode)
        return make_env(cfg, render_mode)

    monkeypatch.setattr(video, "make_env", spy)
    network = tiny_network([8])
    seeds = [EVAL_SEED_BASE, EVAL_SEED_BASE + 1]
    episodes = watch(network, SHORT, seeds)
    assert modes == ["human"]
    assert [e.seed for e in episodes] == seeds and all(not e.frames for e in episodes)
    assert [e.points for e in episodes] == pytest.approx(greedy_returns(network, SHORT, 2))


def test_no_screen_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("SDL_VIDEODRIVER", "offscreen")  # what SDL falls back to without one
    with pytest.raises(ConfigError) as err:
        check_screen()
    assert str(err.value) == ("render=human needs a screen, and this machine has none "
                              "(record the episodes with video=true instead)")


@pytest.mark.slow
def test_evaluate_command_with_render_human(tmp_path, monkeypatch):
    run = make_run(tmp_path / "run")
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    result = run_module("lunar_dqn.evaluate", f"run_dir={run}", "episodes=1", "render=human",
                        "watch_episodes=1", f"hydra.run.dir={tmp_path / 'eval'}", cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert f"watched seed {EVAL_SEED_BASE}: " in result.stdout
    monkeypatch.setenv("SDL_VIDEODRIVER", "offscreen")
    result = run_module("lunar_dqn.evaluate", f"run_dir={run}", "episodes=1", "render=human",
                        f"hydra.run.dir={tmp_path / 'eval2'}", cwd=REPO)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: render=human needs a screen, and this machine has none (record the episodes "
        "with video=true instead)"]
