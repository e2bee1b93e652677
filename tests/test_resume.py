"""Checkpoints and resume: a stopped run continues exactly where it was."""

import csv
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from conftest import REPO, compose_config, run_module
from lunar_dqn.errors import CheckpointError, ConfigError, Diverged
from lunar_dqn.run.checkpoint import load_checkpoint, load_model, save_checkpoint
from lunar_dqn.run.logger import EPISODE_POINTS
from lunar_dqn.run.resume import resume_config
from lunar_dqn.run.rundir import BEST_MODEL, CHECKPOINT, EVALUATIONS
from lunar_dqn.run.trainer import Trainer
from lunar_dqn.train import train
from tbutil import scalars

SMOKE = ("debug=smoke", "train.max_episodes=1000", "train.solve_score=1000")


def history_points(run_dir: Path) -> list[float]:
    with open(run_dir / "history.csv") as f:
        return [float(row["points"]) for row in csv.DictReader(f)]


def evaluation_rows(run_dir: Path) -> list[dict[str, str]]:
    """evaluations.csv without the seconds (wall-clock differs from run to run)."""
    with open(run_dir / EVALUATIONS) as f:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(f)]


def test_same_seed_gives_the_same_episode_returns(tmp_path):
    cfg = compose_config(*SMOKE, "train.max_env_steps=2000")
    first = train(cfg, tmp_path / "a")
    second = train(cfg, tmp_path / "b")
    assert history_points(tmp_path / "a") == history_points(tmp_path / "b")
    assert first["gradient_steps"] == second["gradient_steps"] > 0
    other = train(compose_config(*SMOKE, "train.max_env_steps=2000", "seed=1"), tmp_path / "c")
    assert history_points(tmp_path / "c") != history_points(tmp_path / "a")
    assert other["episodes"] > 0


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_resume_from_checkpoint_matches_an_uninterrupted_run(tmp_path, mode):
    full = compose_config(*SMOKE, "train.max_env_steps=3000", f"env.vectorization_mode={mode}")
    train(full, tmp_path / "full")
    # stop at 1000 steps, in the middle of an episode, then resume the same run to 3000
    train(compose_config(*SMOKE, "train.max_env_steps=1000", f"env.vectorization_mode={mode}"),
          tmp_path / "split")
    state = load_checkpoint(tmp_path / "split" / CHECKPOINT)
    assert state["counters"]["env_steps"] == 1000
    assert any(len(actions) > 0 for actions in state["envs"]["episode_actions"])  # mid-episode
    summary = train(full, tmp_path / "split", resume=True)
    assert history_points(tmp_path / "split") == history_points(tmp_path / "full")
    assert summary["env_steps"] == 3000
    a = load_model(tmp_path / "full" / "final_model.pt")[0].state_dict()
    b = load_model(tmp_path / "split" / "final_model.pt")[0].state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_training_in_windows_writes_nothing_until_finish_and_equals_one_run(tmp_path):
    cfg = compose_config(*SMOKE, "train.max_env_steps=600", "logger.tensorboard=false")
    whole = train(cfg, tmp_path / "whole")
    trainer = Trainer(cfg, tmp_path / "windows")
    try:
        assert trainer.train(env_steps=200) == 200 and trainer.train(env_steps=250) == 250
        assert list((tmp_path / "windows").iterdir()) == []  # no closing writes, no summary
        assert trainer.train() == 150  # on to the budget
        assert trainer.train(env_steps=100) == 0  # the run has ended
        summary = trainer.finish()
    finally:
        trainer.close()
    assert history_points(tmp_path / "windows") == history_points(tmp_path / "whole")
    assert summary["env_steps"] == whole["env_steps"] == 600
    assert summary["gradient_steps"] == whole["gradient_steps"] > 0
    assert (tmp_path / "windows" / "final_model.pt").is_file()


def test_resumed_tensorboard_shows_each_episode_once(tmp_path):
    run = tmp_path / "run"
    train(compose_config(*SMOKE, "train.max_env_steps=1000"), run)
    train(compose_config(*SMOKE, "train.max_env_steps=2500"), run, resume=True)
    steps = [step for step, _ in scalars(run)[EPISODE_POINTS]]
    assert steps == list(range(1, len(history_points(run)) + 1))


def test_divergence_stops_keeps_last_checkpoint_and_records_status(tmp_path, monkeypatch):
    cfg = compose_config(*SMOKE, "train.max_env_steps=3000", "train.checkpoint_every=1000")
    trainer = Trainer(cfg, tmp_path)
    real_learn = trainer.agent.learn

    def learn_until_step_1500(batch):
        loss, q = real_learn(batch)
        return (loss * float("nan"), q) if trainer.env_steps >= 1500 else (loss, q)

    monkeypatch.setattr(trainer.agent, "learn", learn_until_step_1500)
    with pytest.raises(Diverged, match=r"non-finite at env step 150[0-4] "):
        try:
            trainer.run()
        finally:
            trainer.close()
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["status"] == "diverged" and "non-finite at env step 150" in summary["error"]
    assert load_checkpoint(tmp_path / CHECKPOINT)["counters"]["env_steps"] == 1000
    assert not (tmp_path / "final_model.pt").exists()


def test_resume_takes_the_runs_config_and_refuses_changes_to_what_it_learns_with(tmp_path):
    run = tmp_path / "run"
    trained_with = (*SMOKE, "agent.tau=0.001", "logger.tensorboard=false")
    train(compose_config(*trained_with, "train.max_env_steps=200"), run)

    def resumed(*overrides: str):
        overrides = (f"resume={run}", *overrides)
        return resume_config(run, list(overrides), compose_config(*overrides))

    for overrides, message in [
        (["agent.tau=0.005"], "agent.tau=0.005 cannot be given with resume: the run was trained "
                              "with 0.001; only train.max_env_steps, "),
        (["debug=smoke", "agent.gamma=0.5"], "agent.gamma=0.5 cannot be given with resume"),
        (["+env.kwargs.gravity=-5.0"], "env.kwargs.gravity=-5.0 cannot be given with resume: "
                                       "the run was trained with None"),
        (["experiment=seed_notebook"], "env.num_envs=1 cannot be given with resume: the run was "
                                       "trained with 2"),
    ]:
        with pytest.raises(ConfigError) as err:
            resumed(*overrides)
        assert str(err.value).startswith(message)
    # the run's own command, in full or in part, with a new budget
    for overrides in (trained_with, ("agent.tau=0.001",), ()):
        cfg = resumed(*overrides, "train.max_env_steps=400")
        assert (cfg.agent.tau, cfg.buffer.capacity, cfg.train.max_env_steps) == (0.001, 2000, 400)
        assert cfg.resume == str(run)


def test_keys_a_runs_version_did_not_have_take_todays_defaults(tmp_path):
    run = tmp_path / "run"
    train(compose_config(*SMOKE, "train.max_env_steps=200", "logger.tensorboard=false"), run)
    state = load_checkpoint(run / CHECKPOINT)
    saved = OmegaConf.create(state["config"])
    del saved.agent["double_dqn"]
    state["config"] = OmegaConf.to_yaml(saved)
    torch.save(state, run / CHECKPOINT)
    cfg = resume_config(run, [f"resume={run}"], compose_config(f"resume={run}"))
    assert cfg.agent.double_dqn is False and list(cfg.agent.hidden_sizes) == [16, 16]


class RunsCode:
    """Unpickling this would create a marker file: a weights-only load must refuse it."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize("loader", [load_checkpoint, load_model])
def test_file_that_would_run_code_is_refused_without_running_it(tmp_path, loader):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pt"
    torch.save({"format": "lunar_dqn.checkpoint", "payload": RunsCode(marker)}, evil)
    with pytest.raises(CheckpointError, match="refused"):
        loader(evil)
    assert not marker.exists()
    with open(evil, "rb") as f:  # the file really does run code when fully unpickled
        torch.load(f, weights_only=False)
    assert marker.exists()


def test_corrupt_and_foreign_checkpoints_are_clear_errors(tmp_path):
    (tmp_path / "junk.pt").write_bytes(os.urandom(200))
    with pytest.raises(CheckpointError, match="not a readable PyTorch file"):
        load_checkpoint(tmp_path / "junk.pt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="not a lunar_dqn training checkpoint"):
        load_checkpoint(tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "missing.pt")


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / CHECKPOINT
    save_checkpoint(path, {"n": 1})

    def crash(*args, **kwargs):
        raise KeyboardInterrupt  # a kill in the middle of writing

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, {"n": 2})
    monkeypatch.undo()
    assert load_checkpoint(path)["n"] == 1
    assert [p.name for p in tmp_path.iterdir()] == [CHECKPOINT]


# -- through the command line, as a user or a cluster would stop it --------------------------

LONG = ("debug=smoke", "train.max_episodes=1000", "train.solve_score=1000",
        "train.max_env_steps=6000", "train.checkpoint_every=500", "env.vectorization_mode=sync")


def start_training(run_dir: Path, *extra: str, args: tuple[str, ...] = LONG) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "lunar_dqn.train", *args, *extra,
                             f"hydra.run.dir={run_dir}"], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_for_checkpoint(run_dir: Path, proc: subprocess.Popen, newer_than: float = 0.0) -> None:
    """Until the run writes a checkpoint (newer than `newer_than`, an mtime) or ends."""
    path = run_dir / CHECKPOINT
    while proc.poll() is None and not (path.exists() and path.stat().st_mtime > newer_than):
        time.sleep(0.02)


@pytest.mark.slow
def test_sigkill_at_random_moments_and_resume_matches_uninterrupted_run(tmp_path):
    cycles = int(os.environ.get("LUNAR_DQN_KILL_CYCLES", "3"))
    budget = 3000 * (cycles + 1)  # room for every cycle to make progress before its kill
    args = (*LONG, f"train.max_env_steps={budget}")
    reference = tmp_path / "reference"
    assert run_module("lunar_dqn.train", *args, f"hydra.run.dir={reference}",
                      cwd=REPO).returncode == 0
    run = tmp_path / "killed"
    rng = random.Random(0)
    proc = start_training(run, args=args)
    kills, last_checkpoint = 0, 0.0
    for _ in range(cycles):
        wait_for_checkpoint(run, proc, newer_than=last_checkpoint)  # progress since the last kill
        time.sleep(rng.uniform(0.0, 0.5))  # then a random moment: mid-step, mid-write, ...
        if proc.poll() is not None:
            break
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        last_checkpoint = (run / CHECKPOINT).stat().st_mtime
        proc = start_training(run, f"resume={run}", args=args)
    assert proc.wait() == 0, proc.stdout.read()
    assert kills == cycles, f"the run finished after {kills} of {cycles} kills"
    assert history_points(run) == history_points(reference)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["env_steps"] == budget and summary["status"] == "budget"
    # the evaluations during training (debug=smoke: every 500 env steps) and the best model too
    assert evaluation_rows(run) == evaluation_rows(reference)
    assert len(evaluation_rows(run)) == budget // 500
    a = load_model(reference / BEST_MODEL)[0].state_dict()
    b = load_model(run / BEST_MODEL)[0].state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_sigint_checkpoint_and_exit_cleanly(tmp_path, sig):
    run = tmp_path / "run"
    proc = start_training(run, "env.vectorization_mode=async", "env.num_envs=2")
    wait_for_checkpoint(run, proc)
    proc.send_signal(sig)
    assert proc.wait(timeout=60) == 128 + sig
    output = proc.stdout.read()
    assert "Traceback" not in output and f"resume={run}" in output
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "interrupted"
    stopped_at = load_checkpoint(run / CHECKPOINT)["counters"]["env_steps"]
    assert stopped_at == summary["env_steps"] < 6000
    resumed = run_module("lunar_dqn.train", f"resume={run}", cwd=REPO)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads((run / "summary.json").read_text())["env_steps"] == 6000
