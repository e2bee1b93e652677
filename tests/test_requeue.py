"""Cluster time limits: a job whose run needs longer than its limit gets SIGUSR2 before it
(submitit's warning), checkpoints, is requeued with the same overrides into the same directory,
continues from its checkpoint, and ends with the history of a run that was never stopped."""

import csv
import json
import time

import pytest

from conftest import REPO, compose_config, run_module
from lunar_dqn.run.trainer import Trainer

SMOKE = ("debug=smoke", "train.max_episodes=100000", "train.solve_score=1000",
         "logger.tensorboard=false")
LIMIT_S = 60  # hydra.launcher.timeout_min=1; submitit_local warns 30 s before it
TRAIN_S = 40  # the run's budget takes about this long here: more than one job's 30 s


def env_steps_per_second(run_dir) -> float:
    """debug=smoke's speed on this machine now, over 2000 env steps after a warm-up."""
    trainer = Trainer(compose_config(*SMOKE), run_dir)
    try:
        trainer.train(env_steps=500)
        start = time.perf_counter()
        trainer.train(env_steps=2000)
        return 2000 / (time.perf_counter() - start)
    finally:
        trainer.close()


def history(run) -> list[tuple[str, str]]:
    with open(run / "history.csv") as f:
        return [(row["points"], row["env_steps"]) for row in csv.DictReader(f)]


@pytest.mark.slow
def test_a_run_longer_than_its_time_limit_finishes_by_requeues_as_if_never_stopped(tmp_path):
    budget = max(4000, round(env_steps_per_second(tmp_path / "speed") * TRAIN_S / 1000) * 1000)
    args = (*SMOKE, f"train.max_env_steps={budget}")
    sweep = tmp_path / "sweep"
    result = run_module("lunar_dqn.train", "-m", "hydra/launcher=submitit_local",
                        "hydra.launcher.timeout_min=1", "+hydra.launcher.max_num_timeout=5",
                        *args, f"hydra.sweep.dir={sweep}", cwd=REPO, timeout=7 * LIMIT_S)
    assert result.returncode == 0, result.stderr
    reference = run_module("lunar_dqn.train", *args, f"hydra.run.dir={tmp_path / 'reference'}",
                           cwd=REPO)
    assert reference.returncode == 0, reference.stderr
    job = sweep / "0"
    summary = json.loads((job / "summary.json").read_text())
    assert summary["status"] == "budget" and summary["env_steps"] == budget
    log = (job / "train.log").read_text()
    requeues = log.count("a requeued job: continuing from the checkpoint")
    assert requeues >= 1, log
    assert log.count("stopped by SIGUSR2 at a checkpoint") == requeues
    assert history(job) == history(tmp_path / "reference")
    assert "sweep: 1 jobs: 1 budget" in result.stdout
