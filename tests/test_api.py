"""The Python API, as a notebook uses it: compose a config, train into a full run directory,
evaluate a run or a model file, load a greedy policy."""

import json
import os
import subprocess
import sys
import types

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

import lunar_dqn
from conftest import REPO, compose_config, env_config, run_module
from lunar_dqn.errors import ConfigError
from lunar_dqn.play.greedy import greedy_returns
from lunar_dqn.run.console import progress_bar
from lunar_dqn.run.rundir import EVALUATION, FINAL_MODEL, OVERRIDES, RUN_CONFIG, SOLVED_MODEL
from runutil import SHORT_EPISODES, make_run, tiny_network


def test_importing_the_package_loads_neither_torch_nor_gymnasium():
    code = ("import sys, lunar_dqn; print(sorted(m for m in ('torch', 'gymnasium', 'hydra') "
            "if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                            text=True, timeout=120)
    assert result.stdout.strip() == "[]", result.stderr


def test_compose_takes_the_command_lines_overrides_and_refuses_mistakes_in_one_line():
    overrides = ("experiment=seed_notebook", "agent.batch_size=32", "seed=3")
    assert lunar_dqn.compose(*overrides) == compose_config(*overrides)
    for override, message in [
        ("agent.tau=5", "agent.tau=5.0 is invalid: must be in (0, 1]"),
        ("agent.taux=1", "Could not override 'agent.taux'."),
        ("experiment=nope", "In 'config': Could not find 'experiment/nope'"),
    ]:
        with pytest.raises(ConfigError) as err:
            lunar_dqn.compose(override)
        assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_a_run_trained_from_python_is_a_full_run_directory_that_resumes(tmp_path):
    run = tmp_path / "a"
    cfg = lunar_dqn.compose("debug=smoke", "agent.tau=0.001", "logger.tensorboard=false")
    summary = lunar_dqn.train.train(cfg, str(run))
    assert summary == json.loads((run / "summary.json").read_text())
    assert summary["episodes"] == 8  # debug=smoke's budget
    # its config, as evaluate and resume read it, and the overrides the report groups it by
    assert OmegaConf.load(run / RUN_CONFIG) == cfg
    overrides = list(OmegaConf.load(run / OVERRIDES))
    assert "agent.tau=0.001" in overrides and "agent.hidden_sizes=[16,16]" in overrides
    assert compose_config(*overrides) == cfg
    # resumed from Python: only what a resume may change
    with pytest.raises(ConfigError, match=r"^agent\.tau=0\.002 cannot be given with resume"):
        lunar_dqn.train.train(lunar_dqn.compose("debug=smoke", "agent.tau=0.002"), run,
                              resume=True)
    more = lunar_dqn.train.train(lunar_dqn.compose("train.max_episodes=12"), run, resume=True)
    assert more["episodes"] == 12 and more["max_episodes"] == 12
    assert OmegaConf.load(run / RUN_CONFIG) == cfg  # .hydra/ stays as first written


def test_evaluate_plays_a_run_or_a_model_file_and_returns_the_figures(tmp_path, monkeypatch):
    run = make_run(tmp_path / "run")
    monkeypatch.chdir(tmp_path)
    results = lunar_dqn.evaluate.evaluate(run, episodes=3, num_envs=2, seed_base=5)
    expected = greedy_returns(tiny_network([8]), env_config(num_envs=2,
                              max_episode_steps=SHORT_EPISODES), 3, seed_base=5)
    assert results["points"] == pytest.approx(expected)
    assert results["seed_base"] == 5 and results["model"] == str(run / SOLVED_MODEL)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # nothing written
    from_file = lunar_dqn.evaluate.evaluate(run / FINAL_MODEL, episodes=3, seed_base=5,
                                            out_dir=tmp_path / "eval")
    assert from_file["points"] == results["points"]  # same weights, the run's settings
    assert json.loads((tmp_path / "eval" / EVALUATION).read_text()) == from_file
    with pytest.raises(ConfigError) as err:
        lunar_dqn.evaluate.evaluate(tmp_path / "nope")
    assert str(err.value) == (f"{tmp_path / 'nope'} does not exist: give a training run's "
                              "directory or a model file")
    with pytest.raises(ConfigError, match=r"^seed_base=-1 is invalid"):
        lunar_dqn.evaluate.evaluate(run, seed_base=-1)


def test_load_gives_greedy_actions_numpy_in_numpy_out(tmp_path):
    run = make_run(tmp_path / "run")
    policy = lunar_dqn.load(run)
    assert policy.model == run / SOLVED_MODEL
    assert policy.env.max_episode_steps == SHORT_EPISODES  # the run's environment
    env = policy.make_env()
    try:
        obs, _ = env.reset(seed=1)
        next_obs, *_ = env.step(0)
    finally:
        env.close()
    network = tiny_network([8])
    batch = np.stack([obs, next_obs])
    with torch.no_grad():
        expected = network(torch.from_numpy(batch)).argmax(dim=1).numpy()
    action = policy(obs)
    assert isinstance(action, np.integer) and action == expected[0]
    actions = policy(batch)
    assert isinstance(actions, np.ndarray) and actions.shape == (2,)
    assert actions.tolist() == expected.tolist()
    assert policy.q_values(obs).shape == (4,) and policy.q_values(batch).shape == (2, 4)
    assert lunar_dqn.load(run / FINAL_MODEL)(batch).tolist() == expected.tolist()
    with pytest.raises(ConfigError) as err:
        policy(obs[:7])
    assert str(err.value) == ("observations of shape (7,) do not fit the network: it takes (8,) "
                              "or (N, 8)")


def test_the_progress_bar_shows_in_a_notebook_and_only_on_a_terminal_elsewhere(monkeypatch):
    assert progress_bar(100, 0, enabled=True).disable  # pytest's stderr is no terminal
    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    assert not progress_bar(100, 0, enabled=True).disable
    assert progress_bar(100, 0, enabled=False).disable


NOTEBOOK = """
import json
import lunar_dqn

cfg = lunar_dqn.compose("debug=smoke", "logger.video=true", "logger.video_episodes=1",
                        "env.max_episode_steps=60")
summary = lunar_dqn.train.train(cfg, "runs/a")
results = lunar_dqn.evaluate.evaluate("runs/a", episodes=4)
policy = lunar_dqn.load("runs/a")
env = policy.make_env()
obs, _ = env.reset(seed=0)
print("RESULT", json.dumps({"episodes": summary["episodes"], "mean": results["mean"],
                            "action": int(policy(obs))}))
"""


@pytest.mark.slow
def test_a_notebook_style_script_from_another_folder_and_the_commands_read_its_run(tmp_path):
    (tmp_path / "notebook.py").write_text(NOTEBOOK)
    result = subprocess.run([sys.executable, "notebook.py"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stderr
    run = tmp_path / "runs" / "a"
    lines = result.stdout.splitlines()
    # its log lines show with no logging set up, and go to train.log as a command's do
    assert lines[0] == f"run directory: {run}"
    assert any(line.startswith("recorded videos/episode-0.mp4: seed 1000000, ") for line in lines)
    assert (run / "train.log").read_text().splitlines() == lines[:-5]  # not evaluate's lines
    found = json.loads(lines[-1].removeprefix("RESULT "))
    assert found["episodes"] == 8 and found["action"] in range(4)
    evaluated = run_module("lunar_dqn.evaluate", "run_dir=runs/a", "episodes=4", cwd=tmp_path)
    assert evaluated.returncode == 0, evaluated.stderr
    assert f"points: {found['mean']:.2f} ± " in evaluated.stdout
    reported = run_module("lunar_dqn.report", "runs", cwd=tmp_path)
    assert reported.returncode == 0, reported.stderr
    assert "| debug=smoke" not in reported.stdout and "env.max_episode_steps=60" in reported.stdout
