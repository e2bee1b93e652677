"""Sweeps through Hydra's launcher and sweeper plugins: joblib, submitit, Optuna, Slurm config."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import optuna
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf

from conftest import CONF_DIR, REPO, run_module
from lunar_dqn import report
from lunar_dqn.sweep.objective import objective

SMOKE_EPISODES = 8  # debug=smoke stops after 8 episodes


def compose_with_hydra(*overrides: str) -> DictConfig:
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides), return_hydra_config=True)


def job_summaries(sweep_dir: Path, jobs: int) -> list[dict[str, Any]]:
    assert sorted(p.parent.name for p in sweep_dir.glob("*/summary.json")) == [
        str(i) for i in range(jobs)]
    return [json.loads((sweep_dir / str(i) / "summary.json").read_text()) for i in range(jobs)]


def assert_smoke_job(summary: dict[str, Any]) -> None:
    assert summary["status"] == "solved" and summary["episodes"] == SMOKE_EPISODES


def test_slurm_launcher_config_sets_the_documented_options():
    launcher = compose_with_hydra("hydra/launcher=slurm", "hydra.launcher.partition=cpu",
                                  "hydra.launcher.gpus_per_node=1").hydra.launcher
    assert launcher._target_.endswith("submitit_launcher.SlurmLauncher")
    assert (launcher.partition, launcher.timeout_min, launcher.cpus_per_task,
            launcher.gpus_per_node, launcher.mem_gb) == ("cpu", 60, 1, 1, 2)


def test_optuna_search_config_minimises_over_a_seeded_tpe_search_space():
    sweeper = compose_with_hydra("hparams_search=optuna").hydra.sweeper
    assert sweeper._target_.endswith("optuna_sweeper.OptunaSweeper")
    assert sweeper.direction == "minimize"
    assert sweeper.sampler._target_ == "optuna.samplers.TPESampler"
    assert sweeper.sampler.seed == 0
    assert set(sweeper.params) == {"agent.learning_rate", "agent.tau", "agent.batch_size",
                                   "agent.hidden_sizes", "agent.double_dqn"}
    assert compose_with_hydra().hydra.sweeper._target_.endswith("BasicSweeper")


@pytest.mark.parametrize(("summary", "value"), [
    ({"solved": True, "solved_env_steps": 90_000, "model_passes": True}, 90_000),
    ({"solved": True, "solved_env_steps": 90_000, "model_passes": None}, 90_000),  # not evaluated
    ({"solved": True, "solved_env_steps": 90_000}, 90_000),  # a summary from before the key
    ({"solved": True, "solved_env_steps": 90_000, "model_passes": False}, 1_090_000),
    ({"solved": False, "solved_env_steps": None, "model_passes": True}, 2_000_000),
    ({"status": "failed", "solved": False, "error": "agent.tau=5.0 is invalid"}, 2_000_000),
])
def test_the_objective_is_env_steps_to_solve_with_a_penalty_for_a_model_below_the_bar(summary,
                                                                                       value):
    assert objective(summary, max_env_steps=1_000_000) == value


def test_the_objective_ranks_good_models_then_bad_models_then_unsolved_runs():
    def score(steps: int | None, passes: bool | None) -> float:
        return objective({"solved": steps is not None, "solved_env_steps": steps,
                          "model_passes": passes}, max_env_steps=500)

    good, bad = [score(s, True) for s in (1, 499, 500)], [score(s, False) for s in (1, 500)]
    assert max(good) < min(bad) and max(bad) <= score(None, None) == 1000


@pytest.mark.slow
def test_joblib_sweep_runs_every_job_and_the_report_compares_them(tmp_path, capsys):
    sweep_dir = tmp_path / "sweep"
    result = run_module("lunar_dqn.train", "-m", "hydra/launcher=joblib", "debug=smoke",
                        "seed=0,1", f"hydra.sweep.dir={sweep_dir}", cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert "Joblib.Parallel(n_jobs=-1" in result.stdout
    for job in (0, 1):  # each job's lines say which job wrote them
        assert any(line.startswith(f"[job {job}] [") and "run directory: " in line
                   for line in result.stdout.splitlines()), result.stdout
    summaries = job_summaries(sweep_dir, 2)
    for summary in summaries:
        assert_smoke_job(summary)
    report.main([str(sweep_dir)])
    steps = sorted(s["solved_env_steps"] for s in summaries)
    mean = f"{sum(steps) / 2:,.0f}"
    assert f"| debug=smoke | 2 | 2/2 (100%) | {mean} | {mean} | {steps[0]:,} to {steps[1]:,} |" \
        in capsys.readouterr().out
    assert (sweep_dir / "report.png").is_file()


@pytest.mark.slow
def test_submitit_local_sweep_runs_every_job_through_submitit(tmp_path):
    sweep_dir = tmp_path / "sweep"
    result = run_module("lunar_dqn.train", "-m", "hydra/launcher=submitit_local", "debug=smoke",
                        "seed=0,1", f"hydra.sweep.dir={sweep_dir}", cwd=REPO)
    assert result.returncode == 0, result.stderr
    for summary in job_summaries(sweep_dir, 2):
        assert_smoke_job(summary)
    # submitit pickled each job's result next to its logs
    assert len(list((sweep_dir / ".submitit").glob("*/*_result.pkl"))) == 2


def sampled(job_dir: Path) -> dict[str, str]:
    overrides = OmegaConf.load(job_dir / ".hydra" / "overrides.yaml")
    return dict(str(o).split("=", 1) for o in overrides)


@pytest.mark.slow
def test_optuna_search_minimises_env_steps_to_solve(tmp_path):
    sweep_dir = tmp_path / "search"
    result = run_module("lunar_dqn.train", "-m", "hparams_search=optuna", "debug=smoke",
                        "hydra.sweeper.n_trials=2", f"hydra.sweep.dir={sweep_dir}", cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert "setup plugin alembic" not in result.stdout
    summaries = job_summaries(sweep_dir, 2)
    best = OmegaConf.load(sweep_dir / "optimization_results.yaml")
    assert best.best_value == min(s["solved_env_steps"] for s in summaries)
    for job in range(2):
        params = sampled(sweep_dir / str(job))
        assert 1e-4 <= float(params["agent.learning_rate"]) <= 3e-3
        assert 5e-4 <= float(params["agent.tau"]) <= 2e-2
        assert params["agent.batch_size"] in {"32", "64", "128"}
        assert params["agent.hidden_sizes"] in {"[64,64]", "[128,128]", "[256,256]"}
        config = OmegaConf.load(sweep_dir / str(job) / ".hydra" / "config.yaml")
        assert config.agent.batch_size == int(params["agent.batch_size"])


@pytest.mark.slow
def test_optuna_scores_an_unsolved_trial_at_twice_the_budget(tmp_path):
    sweep_dir = tmp_path / "search"
    result = run_module("lunar_dqn.train", "-m", "hparams_search=optuna", "debug=smoke",
                        "train.solve_score=1000", "train.max_env_steps=400",
                        "hydra.sweeper.n_trials=1", f"hydra.sweep.dir={sweep_dir}", cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert not job_summaries(sweep_dir, 1)[0]["solved"]
    # lunar_dqn.train's penalty: twice train.max_env_steps, behind every solved trial
    assert OmegaConf.load(sweep_dir / "optimization_results.yaml").best_value == 2 * 400


@pytest.mark.slow
def test_an_optuna_study_stored_in_sqlite_persists_and_the_next_search_continues_it(tmp_path):
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    for seed, search in enumerate(("first", "second")):
        result = run_module("lunar_dqn.train", "-m", "hparams_search=optuna", "debug=smoke",
                            "hydra.sweeper.n_trials=1", f"hydra.sweeper.storage={storage}",
                            f"hydra.sweeper.sampler.seed={seed}",
                            f"hydra.sweep.dir={tmp_path / search}", cwd=REPO)
        assert result.returncode == 0, result.stderr
    assert sampled(tmp_path / "first" / "0") != sampled(tmp_path / "second" / "0")
    study = optuna.load_study(study_name="lunar_dqn", storage=storage)
    assert [trial.number for trial in study.trials] == [0, 1]
    assert all(trial.state == optuna.trial.TrialState.COMPLETE for trial in study.trials)
    assert [trial.value for trial in study.trials] == [
        json.loads((tmp_path / search / "0" / "summary.json").read_text())["solved_env_steps"]
        for search in ("first", "second")]
