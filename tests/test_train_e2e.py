"""End-to-end runs through `python -m lunar_dqn.train`, as a user types them."""

import csv
import json

import pytest

from conftest import REPO, run_module
from lunar_dqn.run.logger import AVERAGE_POINTS, EPISODE_POINTS, EPSILON, Q_MEAN, SPS, TD_LOSS
from tbutil import scalars

pytestmark = pytest.mark.slow

SUMMARY_KEYS = {"solved", "solved_episode", "solved_env_steps", "episodes", "env_steps",
                "wall_time_s", "avg100"}


def test_short_training_run_writes_summary_models_history_and_tensorboard(tmp_path):
    run_dir = tmp_path / "run"
    result = run_module("lunar_dqn.train", "debug=smoke", "agent.tau=0.001",
                        f"hydra.run.dir={run_dir}", cwd=REPO)
    assert result.returncode == 0, result.stderr
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary.keys() >= SUMMARY_KEYS
    # debug=smoke stops at 8 episodes; its window of 5 "solves" at a score of -1000
    assert summary["episodes"] == 8 and summary["solved"] and summary["solved_episode"] == 5
    assert summary["env_steps"] <= 3000 and summary["wall_time_s"] > 0
    assert (run_dir / "lunar_lander_model.pt").is_file() and (run_dir / "final_model.pt").is_file()
    with open(run_dir / "history.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 8
    assert summary["avg100"] == pytest.approx(
        sum(float(r["points"]) for r in rows[-5:]) / 5, abs=1e-3)
    tags = scalars(run_dir)
    assert {EPISODE_POINTS, AVERAGE_POINTS, TD_LOSS, Q_MEAN, EPSILON, SPS} <= tags.keys()
    assert [step for step, _ in tags[EPISODE_POINTS]] == list(range(1, 9))
    assert [v for _, v in tags[EPISODE_POINTS]] == pytest.approx([float(r["points"]) for r in rows])
    assert (run_dir / ".hydra" / "config.yaml").is_file()
    assert "tau: 0.001" in (run_dir / ".hydra" / "config.yaml").read_text()


def test_budget_stop_writes_unsolved_summary(tmp_path):
    run_dir = tmp_path / "run"
    result = run_module("lunar_dqn.train", "debug=smoke", "train.solve_score=1000",
                        "train.max_env_steps=400", f"hydra.run.dir={run_dir}", cwd=REPO)
    assert result.returncode == 0, result.stderr
    summary = json.loads((run_dir / "summary.json").read_text())
    assert not summary["solved"] and summary["solved_episode"] is None
    assert summary["solved_env_steps"] is None and summary["env_steps"] == 400
    assert (run_dir / "final_model.pt").is_file()
    assert not (run_dir / "lunar_lander_model.pt").exists()


def test_multirun_sweep_gives_each_job_its_own_directory(tmp_path):
    sweep_dir = tmp_path / "sweep"
    result = run_module("lunar_dqn.train", "-m", "debug=smoke", "agent.tau=0.001,0.005",
                        f"hydra.sweep.dir={sweep_dir}", cwd=REPO)
    assert result.returncode == 0, result.stderr
    for job, tau in (("0", "0.001"), ("1", "0.005")):
        job_dir = sweep_dir / job
        assert json.loads((job_dir / "summary.json").read_text())["episodes"] == 8
        assert f"tau: {tau}" in (job_dir / ".hydra" / "config.yaml").read_text()
        assert EPISODE_POINTS in scalars(job_dir)


def test_default_output_location_is_outputs_runs(tmp_path):
    result = run_module("lunar_dqn.train", "debug=smoke", "train.max_env_steps=100", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    summaries = list((tmp_path / "outputs" / "runs").glob("*/*/summary.json"))
    assert len(summaries) == 1
