"""Greedy evaluation: its figures, which model and settings it picks, and every wrong input."""

import json
import re

import imageio_ffmpeg
import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from conftest import REPO, compose_config, env_config, run_module
from lunar_dqn.errors import CheckpointError, ConfigError
from lunar_dqn.play.evaluation import choose_subject, evaluate, report
from lunar_dqn.play.greedy import EVAL_SEED_BASE, greedy_returns, summarize
from lunar_dqn.run.checkpoint import save_model
from lunar_dqn.run.rundir import EVALUATION, FINAL_MODEL, RUN_CONFIG, SOLVED_MODEL
from runutil import SHORT_EPISODES, WritesMarker, make_run, tiny_network

SHORT = env_config(num_envs=2, max_episode_steps=SHORT_EPISODES)


def options(**values) -> OmegaConf:
    return OmegaConf.merge(compose_config(config_name="evaluate"), values)


def test_summarize_gives_the_figures_and_counts_200_as_landed():
    summary = summarize([250.0, 150.0, 200.0, -50.0])
    assert summary == {"episodes": 4, "mean": 137.5, "std": pytest.approx(113.8804, abs=1e-4),
                       "min": -50.0, "max": 250.0, "landed_share": 0.5}


def test_report_lines():
    summary = {"episodes": 4, "mean": 137.5, "std": 114.5, "min": -50.0, "max": 250.0,
               "landed_share": 0.5}
    assert report(summary, "run/final_model.pt", "a note") == [
        "model: run/final_model.pt (a note)",
        f"episodes: 4 greedy, on seeds {EVAL_SEED_BASE}-{EVAL_SEED_BASE + 3}",
        "points: 137.50 ± 114.50 (min -50.00, max 250.00)",
        "landed: 2/4 episodes (50%) with >= 200 points",
    ]


def test_greedy_returns_do_not_depend_on_how_many_envs_play_them():
    network = tiny_network([8])
    one_by_one = greedy_returns(network, env_config(num_envs=1, max_episode_steps=SHORT_EPISODES),
                                episodes=4)
    three_wide = greedy_returns(network, env_config(num_envs=3, max_episode_steps=SHORT_EPISODES),
                                episodes=4)
    assert len(one_by_one) == 4
    assert three_wide == pytest.approx(one_by_one)
    assert len(set(one_by_one)) == 4  # four different seeds, four different episodes
    assert greedy_returns(network, SHORT, 2, seed_base=7) != pytest.approx(one_by_one[:2])


def test_evaluate_writes_the_figures_and_every_episode(tmp_path, caplog):
    run = make_run(tmp_path / "run")
    out = tmp_path / "eval"
    caplog.set_level("INFO")
    results = evaluate(options(run_dir=str(run), episodes=5, num_envs=2), out)
    expected_points = greedy_returns(tiny_network([8]), SHORT, 5)
    saved = json.loads((out / EVALUATION).read_text())
    assert saved == results
    assert saved["points"] == pytest.approx(expected_points)
    assert {k: saved[k] for k in ("episodes", "mean", "std", "min", "max", "landed_share")} == (
        pytest.approx(summarize(expected_points)))
    assert saved["model"] == str(run / SOLVED_MODEL) and saved["seed_base"] == EVAL_SEED_BASE
    assert f"model: {run / SOLVED_MODEL} (saved when the run solved)" in caplog.messages
    assert not (out / "videos").exists()


def test_unsolved_run_evaluates_its_final_model(tmp_path, caplog):
    run = make_run(tmp_path / "run", solved=False)
    caplog.set_level("INFO")
    results = evaluate(options(run_dir=str(run), episodes=1), tmp_path / "eval")
    assert results["model"] == str(run / FINAL_MODEL)
    assert (f"model: {run / FINAL_MODEL} (saved when the run ended; it did not solve)"
            in caplog.messages)


def test_a_checkpoint_uses_the_settings_of_the_run_it_belongs_to(tmp_path):
    run = make_run(tmp_path / "run", hidden_sizes=(8,))
    subject = choose_subject(None, str(run / FINAL_MODEL))
    assert subject.model == run / FINAL_MODEL and subject.hidden_sizes == [8]
    assert subject.env.max_episode_steps == SHORT_EPISODES
    other = make_run(tmp_path / "other", hidden_sizes=(16,))
    assert choose_subject(str(other), str(run / FINAL_MODEL)).hidden_sizes == [16]


def test_a_lone_checkpoint_plays_the_environment_it_was_trained_on(tmp_path):
    path = tmp_path / "model.pt"
    save_model(path, tiny_network([8]), 8, 4, [8], "LunarLander-v3")
    subject = choose_subject(None, str(path))
    assert subject.env is None and subject.hidden_sizes is None
    results = evaluate(options(checkpoint=str(path), episodes=1), tmp_path / "eval")
    assert results["episodes"] == 1 and results["model"] == str(path)


@pytest.mark.parametrize("values, message", [
    ({}, "nothing to evaluate: give run_dir=DIR (a training run) or checkpoint=FILE "
         "(a model file)"),
    ({"run_dir": "x", "episodes": 0}, "episodes=0 is invalid: must be >= 1"),
    ({"run_dir": "x", "num_envs": 0}, "num_envs=0 is invalid: must be >= 1"),
    ({"run_dir": "x", "watch_episodes": -1}, "watch_episodes=-1 is invalid: must be >= 1"),
    ({"run_dir": "x", "render": "window"}, "render=window is invalid: must be 'human' or null"),
])
def test_bad_options(tmp_path, values, message):
    with pytest.raises(ConfigError) as err:
        evaluate(options(**values), tmp_path / "eval")
    assert str(err.value) == message


def test_wrong_run_directories(tmp_path):
    def error(run_dir):
        with pytest.raises((ConfigError, CheckpointError)) as err:
            evaluate(options(run_dir=str(run_dir)), tmp_path / "eval")
        return str(err.value)

    assert error(tmp_path / "nope") == f"run_dir={tmp_path / 'nope'} does not exist"
    (tmp_path / "file").write_text("x")
    assert error(tmp_path / "file") == f"run_dir={tmp_path / 'file'} is not a directory"
    (tmp_path / "empty").mkdir()
    assert error(tmp_path / "empty") == (
        f"run_dir={tmp_path / 'empty'} is not a training run: it has no {RUN_CONFIG}")
    run = make_run(tmp_path / "run")
    (run / SOLVED_MODEL).unlink()
    (run / FINAL_MODEL).unlink()
    assert error(run) == (f"run_dir={run} has no model file (best_model.pt, {SOLVED_MODEL}, "
                          f"{FINAL_MODEL})")
    (run / RUN_CONFIG).write_text("env: [unclosed\n")
    assert error(run).startswith(f"{run / RUN_CONFIG} is not a readable training config: ")
    (run / RUN_CONFIG).write_text("seed: 0\n")
    assert error(run).startswith(f"{run / RUN_CONFIG} is not a readable training config: ")


def test_model_of_another_shape_than_the_run_config(tmp_path):
    run = make_run(tmp_path / "run", hidden_sizes=(8,))
    save_model(run / SOLVED_MODEL, tiny_network([16]), 8, 4, [16], "LunarLander-v3")
    with pytest.raises(CheckpointError) as err:
        evaluate(options(run_dir=str(run)), tmp_path / "eval")
    assert str(err.value) == (f"{run / SOLVED_MODEL} holds a network of hidden sizes [16], "
                              "but the config asks for [8]")


def test_model_of_another_environment_than_the_run_config(tmp_path):
    run = make_run(tmp_path / "run")
    save_model(run / SOLVED_MODEL, tiny_network([8]), 8, 4, [8], "LunarLander-v2")
    with pytest.raises(CheckpointError) as err:
        evaluate(options(run_dir=str(run)), tmp_path / "eval")
    assert str(err.value) == (f"{run / SOLVED_MODEL} was trained on LunarLander-v2, but the "
                              "run's config plays LunarLander-v3")


# -- the command, as a user runs it ------------------------------------------------------------

def assert_one_error_line(result):
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    return lines[0]


@pytest.mark.slow
def test_command_prints_figures_and_writes_evaluation_and_videos(tmp_path):
    run = make_run(tmp_path / "run")
    out = tmp_path / "eval"
    result = run_module("lunar_dqn.evaluate", f"run_dir={run}", "episodes=3", "num_envs=2",
                        "video=true", "watch_episodes=2", f"hydra.run.dir={out}", cwd=REPO)
    assert result.returncode == 0, result.stderr
    saved = json.loads((out / EVALUATION).read_text())
    assert saved["episodes"] == 3 and len(saved["points"]) == 3
    assert f"points: {saved['mean']:.2f} ± {saved['std']:.2f}" in result.stdout
    assert f"model: {run / SOLVED_MODEL} (saved when the run solved)" in result.stdout
    for k in range(2):
        video = out / "videos" / f"episode-{k}.mp4"
        found = re.search(rf"recorded {video}: seed {EVAL_SEED_BASE + k}, (-?[\d.]+) points "
                          rf"in (\d+) steps", result.stdout)
        assert found, result.stdout
        # the video is evaluation episode k: same seed, same points
        assert float(found.group(1)) == pytest.approx(saved["points"][k], abs=0.01)
        frames, _ = imageio_ffmpeg.count_frames_and_secs(str(video))
        assert frames == int(found.group(2)) + 1  # the reset frame, then one per step


@pytest.mark.slow
def test_command_default_output_directory(tmp_path):
    run = make_run(tmp_path / "run")
    result = run_module("lunar_dqn.evaluate", f"run_dir={run}", "episodes=1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    found = list((tmp_path / "outputs" / "evaluations").glob(f"*/*/{EVALUATION}"))
    assert len(found) == 1


BAD_MODELS = {
    "missing": "model file not found: {model}",
    "corrupt": "{model} is not a readable PyTorch file (corrupt, truncated or another format)",
    "truncated": "{model} is not a readable PyTorch file (corrupt, truncated or another format)",
    "not-a-model": "{model} is not a lunar_dqn model file",
    "other-shape": "{model} holds a network of hidden sizes [16], but the config asks for [8]",
    "code-in-pickle": "{model} was refused: it would run code (" + open.__module__
                      + ".open) when loaded; lunar_dqn files hold only tensors and plain values",
    "non-finite": "{model} holds non-finite weights (NaN or inf): the run that wrote it diverged",
}


@pytest.mark.slow
@pytest.mark.parametrize("case", BAD_MODELS)
def test_command_refuses_bad_models_with_one_line(tmp_path, case):
    run = make_run(tmp_path / "run", hidden_sizes=(8,))
    model = tmp_path / "model.pt"
    marker = tmp_path / "code-ran"
    if case == "corrupt":
        model.write_bytes(np.random.default_rng(0).bytes(4096))
    elif case == "truncated":
        model.write_bytes((run / FINAL_MODEL).read_bytes()[:1000])
    elif case == "not-a-model":
        torch.save(tiny_network([8]).state_dict(), model)
    elif case == "other-shape":
        save_model(model, tiny_network([16]), 8, 4, [16], "LunarLander-v3")
    elif case == "code-in-pickle":
        torch.save({"format": "lunar_dqn.model", "state_dict": WritesMarker(marker)}, model)
    elif case == "non-finite":  # what a diverged run would have saved before this was refused
        data = torch.load(run / FINAL_MODEL, weights_only=True)
        data["state_dict"]["0.weight"][0, 0] = float("nan")
        torch.save(data, model)
    result = run_module("lunar_dqn.evaluate", f"run_dir={run}", f"checkpoint={model}",
                        f"hydra.run.dir={tmp_path / 'eval'}", cwd=REPO)
    assert assert_one_error_line(result) == "error: " + BAD_MODELS[case].format(model=model)
    assert not marker.exists()
    assert not (tmp_path / "eval").exists()  # a refused evaluation leaves no directory


@pytest.mark.slow
def test_command_wrong_run_dir_and_option(tmp_path):
    out = f"hydra.run.dir={tmp_path / 'eval'}"
    line = assert_one_error_line(
        run_module("lunar_dqn.evaluate", f"run_dir={tmp_path / 'nope'}", out, cwd=REPO))
    assert line == f"error: run_dir={tmp_path / 'nope'} does not exist"
    line = assert_one_error_line(
        run_module("lunar_dqn.evaluate", f"run_dir={tmp_path}", "render=window", out, cwd=REPO))
    assert line == "error: render=window is invalid: must be 'human' or null"
    line = assert_one_error_line(
        run_module("lunar_dqn.evaluate", f"run_dir={tmp_path}", "episodes=many", out, cwd=REPO))
    assert line.startswith("error: Error merging override episodes=many")
    line = assert_one_error_line(
        run_module("lunar_dqn.evaluate", f"run_dir={tmp_path}", "+episods=3", out, cwd=REPO))
    assert line == "error: episods is not a config key (did you mean episodes?)"
    assert not (tmp_path / "eval").exists()
    for options in ((f"run_dir={tmp_path / 'nope'}",), ()):  # into outputs/evaluations/<date>/
        assert assert_one_error_line(
            run_module("lunar_dqn.evaluate", *options, cwd=tmp_path)).startswith("error: ")
        assert sorted(p.name for p in tmp_path.iterdir()) == []  # not even an empty folder
