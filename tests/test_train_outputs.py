"""What a training run leaves to look at: the training curve, and videos of the model it hands
over."""

import io
import logging
import re

import imageio_ffmpeg
import pytest
import torch
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from conftest import REPO, compose_config, run_module
from lunar_dqn.evaluate import evaluate
from lunar_dqn.play.greedy import EVAL_SEED_BASE
from lunar_dqn.run.logger import CLOSING_VIDEO_TAG
from lunar_dqn.run.resume import resume_config
from lunar_dqn.run.rundir import BEST_MODEL, CHECKPOINT, FINAL_MODEL, TRAINING_CURVE
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


def gif_durations(encoded: bytes) -> list[int]:
    gif = Image.open(io.BytesIO(encoded))
    assert gif.format == "GIF"
    durations = []
    for k in range(gif.n_frames):  # Pillow merges repeated frames, adding their durations
        gif.seek(k)
        durations.append(gif.info["duration"])
    return durations


@pytest.mark.slow
def test_training_ends_with_the_handed_over_models_episodes_to_mp4_and_tensorboard(tmp_path):
    run_dir = tmp_path / "run"
    result = run_module("lunar_dqn.train", "debug=smoke", "logger.video=true",
                        "logger.video_episodes=2", "env.max_episode_steps=60",
                        f"hydra.run.dir={run_dir}", cwd=REPO)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    # the run names its directory first and last
    assert lines[0].endswith(f"run directory: {run_dir}")
    assert lines[-1].endswith(f"the run's files are in {run_dir}")
    found = re.findall(r"recorded videos/episode-(\d)\.mp4: seed (\d+), (-?[\d.]+) points in "
                       r"(\d+) steps, (landed|not landed)", result.stdout)
    assert [(int(k), int(seed)) for k, seed, *_ in found] == [(0, EVAL_SEED_BASE),
                                                               (1, EVAL_SEED_BASE + 1)]
    # they are the evaluation's first episodes of the model it plays (the best evaluated one)
    evaluation = evaluate(run_dir, episodes=2)
    assert evaluation["model"] == str(run_dir / BEST_MODEL)
    assert [float(points) for *_, points, _, _ in found] == pytest.approx(evaluation["points"],
                                                                           abs=0.01)
    assert [landed == "landed" for *_, landed in found] == [p >= 200 for p in evaluation["points"]]
    assert (f"closing episodes of {BEST_MODEL}: {sum(p >= 200 for p in evaluation['points'])} "
            "of 2 landed") in result.stdout
    events = next(run_dir.glob("events.out.tfevents.*"))
    acc = EventAccumulator(str(events), size_guidance={"images": 0})
    acc.Reload()
    images = acc.Images(CLOSING_VIDEO_TAG)
    assert [image.step for image in images] == [0, 1]
    for k, (_, _, _, steps, _) in enumerate(found):
        frames, _ = imageio_ffmpeg.count_frames_and_secs(str(run_dir / f"videos/episode-{k}.mp4"))
        assert frames == int(steps) + 1
        # in TensorBoard: every 2nd frame, a quarter of each side
        assert (images[k].width, images[k].height) == (150, 100)
        assert sum(gif_durations(images[k].encoded_image_string)) == 40 * len(
            range(0, int(steps) + 1, 2))
    assert Image.open(run_dir / TRAINING_CURVE).size == (1000, 700)
