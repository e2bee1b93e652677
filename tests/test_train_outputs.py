"""What a training run leaves to look at: the training curve, and a video of the model it hands
over."""

import io
import logging
import re

import imageio_ffmpeg
import pytest
import torch
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from conftest import REPO, compose_config, env_config, run_module
from lunar_dqn.play.greedy import EVAL_SEED_BASE
from lunar_dqn.play.video import play_greedy
from lunar_dqn.run.checkpoint import load_model
from lunar_dqn.run.envs import make_env
from lunar_dqn.run.logger import MODEL_VIDEO_TAG
from lunar_dqn.run.resume import resume_config
from lunar_dqn.run.rundir import (
    BEST_MODEL,
    CHECKPOINT,
    FINAL_MODEL,
    MODEL_VIDEO,
    TRAINING_CURVE,
)
from lunar_dqn.run.trainer import Trainer
from lunar_dqn.train import train


def train_in_process(run_dir, *overrides):
    trainer = Trainer(compose_config(*overrides), run_dir)
    try:
        return trainer.run()
    finally:
        trainer.close()


def test_video_switch_off_leaves_only_the_curve(tmp_path):
    summary = train_in_process(tmp_path, "debug=smoke", "logger.tensorboard=false",
                               "train.max_env_steps=400")
    assert summary["episodes"] >= 1
    assert Image.open(tmp_path / TRAINING_CURVE).size == (1000, 700)
    assert not (tmp_path / "videos").exists()


@pytest.mark.parametrize(("saved", "other"), [("target", "online"), ("online", "target")])
def test_the_model_files_hold_the_configured_network(tmp_path, saved, other):
    train_in_process(tmp_path, "debug=smoke", "logger.tensorboard=false",
                     "train.max_env_steps=600", f"train.saved_network={saved}")
    networks = torch.load(tmp_path / CHECKPOINT, weights_only=True)["agent"]  # at the end
    weights = torch.load(tmp_path / FINAL_MODEL, weights_only=True)["state_dict"]
    assert all(torch.equal(weights[k], v) for k, v in networks[saved].items())
    assert not all(torch.equal(weights[k], v) for k, v in networks[other].items())


def test_an_environment_without_frames_gets_a_warning_not_a_video(tmp_path, counting_env_id,
                                                                   caplog):
    caplog.set_level(logging.WARNING)
    train_in_process(tmp_path, f"env.id={counting_env_id}", "env.num_envs=2",
                     "train.max_env_steps=40", "logger.tensorboard=false", "logger.video=true")
    assert f"no video: {counting_env_id} cannot render frames" in caplog.messages
    assert not (tmp_path / "videos").exists()
    assert (tmp_path / TRAINING_CURVE).is_file()


def test_the_video_switch_and_the_saved_network_may_change_when_a_run_is_resumed(tmp_path):
    train(compose_config("debug=smoke", "train.max_env_steps=300", "logger.tensorboard=false"),
          tmp_path)  # debug=smoke records no video and saves the target network
    overrides = ["logger.video=true", "train.saved_network=online"]
    current = compose_config("debug=smoke", *overrides, f"resume={tmp_path}")
    resumed = resume_config(tmp_path, overrides, current)
    assert resumed.logger.video is True and resumed.train.saved_network == "online"


@pytest.mark.slow
def test_training_records_the_handed_over_model_to_mp4_and_tensorboard(tmp_path):
    run_dir = tmp_path / "run"
    result = run_module("lunar_dqn.train", "debug=smoke", "logger.video=true",
                        "env.max_episode_steps=60", f"hydra.run.dir={run_dir}", cwd=REPO)
    assert result.returncode == 0, result.stderr
    found = re.search(rf"recorded {MODEL_VIDEO} \({BEST_MODEL}\): (-?[\d.]+) points in "
                      r"(\d+) steps", result.stdout)
    assert found, result.stdout
    steps = int(found.group(2))
    frames, _ = imageio_ffmpeg.count_frames_and_secs(str(run_dir / MODEL_VIDEO))
    assert frames == steps + 1
    # it is the best evaluated network's greedy episode on the first evaluation seed
    network, _ = load_model(run_dir / BEST_MODEL)
    env = make_env(env_config(max_episode_steps=60))
    try:
        replay = play_greedy(network, env, EVAL_SEED_BASE)
    finally:
        env.close()
    assert replay.steps == steps
    assert replay.points == pytest.approx(float(found.group(1)), abs=0.01)
    # TensorBoard has it as an animated GIF: every 2nd frame, a quarter of each side
    events = next(run_dir.glob("events.out.tfevents.*"))
    acc = EventAccumulator(str(events), size_guidance={"images": 0})
    acc.Reload()
    image = acc.Images(MODEL_VIDEO_TAG)[0]
    gif = Image.open(io.BytesIO(image.encoded_image_string))
    assert gif.format == "GIF" and gif.size == (150, 100) == (image.width, image.height)
    durations = []
    for k in range(gif.n_frames):  # Pillow merges repeated frames, adding their durations
        gif.seek(k)
        durations.append(gif.info["duration"])
    assert sum(durations) == 40 * len(range(0, steps + 1, 2))
    assert Image.open(run_dir / TRAINING_CURVE).size == (1000, 700)
