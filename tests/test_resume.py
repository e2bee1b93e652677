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
from envutil import children, process_gone
from lunar_dqn.errors import CheckpointError, ConfigError, Diverged
from lunar_dqn.run.checkpoint import load_checkpoint, load_model, save_checkpoint
from lunar_dqn.run.logger import EPISODE_POINTS
from lunar_dqn.run.resume import resume_config
from lunar_dqn.run.rundir import BEST_MODEL, CHECKPOINT, EVALUATIONS, LOCK
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


@pytest.mark.parametrize("mode", ["sync", "async", "worker"])
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


LEVERS = {
    "dueling-fused": ("agent.dueling=true",),
    "layer-norm-dueling": ("agent.layer_norm=true", "agent.dueling=true"),
    "horizon": ("agent.horizon_anneal_steps=1500", "agent.n_step_start=5", "agent.n_step=2"),
    "resets": ("agent.reset_every=150", "agent.reset_layers=2", "agent.reset_shrink=0.8"),
    "prioritized": ("buffer.prioritized=true", "buffer.beta_anneal_steps=1500"),
}


@pytest.mark.parametrize("lever", LEVERS)
def test_resume_is_exact_with_each_lever(tmp_path, lever):
    def config(steps: int):
        return compose_config(*SMOKE, f"train.max_env_steps={steps}", *LEVERS[lever])

    train(config(2000), tmp_path / "full")
    train(config(700), tmp_path / "split")  # stops mid-schedule: n, gamma, beta still moving
    state = load_checkpoint(tmp_path / "split" / CHECKPOINT)
    if lever == "prioritized":  # the TD errors have reordered the priorities
        assert len(set(state["buffer"]["priorities"].tolist())) > 100
    train(config(2000), tmp_path / "split", resume=True)
    assert history_points(tmp_path / "split") == history_points(tmp_path / "full")
    assert evaluation_rows(tmp_path / "split") == evaluation_rows(tmp_path / "full")
    a = load_model(tmp_path / "full" / "final_model.pt")[0].state_dict()
    b = load_model(tmp_path / "split" / "final_model.pt")[0].state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_training_in_windows_writes_nothing_until_finish_and_equals_one_run(tmp_path):
    cfg = compose_config(*SMOKE, "train.max_env_steps=600", "logger.tensorboard=false")
    whole = train(cfg, tmp_path / "whole")
    trainer = Trainer(cfg, tmp_path / "windows")
    try:
        assert trainer.train(env_steps=200) == 200 and trainer.train(env_steps=250) == 250
        # no closing writes, no summary: only the lock of the run in progress
        assert [p.name for p in (tmp_path / "windows").iterdir()] == [LOCK]
        assert trainer.train() == 150  # on to the budget
        assert trainer.train(env_steps=100) == 0  # the run has ended
        summary = trainer.finish()
    finally:
        trainer.close()
    assert history_points(tmp_path / "windows") == history_points(tmp_path / "whole")
    assert summary["env_steps"] == whole["env_steps"] == 600
    assert summary["gradient_steps"] == whole["gradient_steps"] > 0
    assert (tmp_path / "windows" / "final_model.pt").is_file()
    assert not (tmp_path / "windows" / LOCK).exists()  # let go of at close


def test_resumed_tensorboard_shows_each_episode_once(tmp_path):
    run = tmp_path / "run"
    train(compose_config(*SMOKE, "train.max_env_steps=1000"), run)
    train(compose_config(*SMOKE, "train.max_env_steps=2500"), run, resume=True)
    steps = [step for step, _ in scalars(run)[EPISODE_POINTS]]
    assert steps == list(range(1, len(history_points(run)) + 1))


def test_divergence_stops_keeps_last_checkpoint_and_records_status(tmp_path, monkeypatch):
    cfg = compose_config(*SMOKE, "train.max_env_steps=3000", "train.checkpoint_every=1000")
    trainer = Trainer(cfg, tmp_path)
    real_learn = trainer.agent.learn_from

    def learn_until_step_1500(buffer, updates):
        loss, q = real_learn(buffer, updates)
        return (loss * float("nan"), q) if trainer.env_steps >= 1500 else (loss, q)

    monkeypatch.setattr(trainer.agent, "learn_from", learn_until_step_1500)
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
@pytest.mark.parametrize("mode", ["sync", "worker"])
def test_sigkill_at_random_moments_and_resume_matches_uninterrupted_run(tmp_path, mode):
    cycles = int(os.environ.get("LUNAR_DQN_KILL_CYCLES", "3"))
    budget = 3000 * (cycles + 1)  # room for every cycle to make progress before its kill
    args = (*LONG, f"train.max_env_steps={budget}", f"env.vectorization_mode={mode}")
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
        workers = children(proc.pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert all(process_gone(pid) for pid in workers)  # no env worker outlives its trainer
        kills += 1
        last_checkpoint = (run / CHECKPOINT).stat().st_mtime
        proc = start_training(run, f"resume={run}", args=args)
    assert proc.wait() == 0, proc.stdout.read()
    assert kills == cycles, f"the run finished after {kills} of {cycles} kills"
    assert history_points(run) == history_points(reference)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["env_steps"] == budget and summary["status"] == "budget"
    assert not list(run.glob(".*.tmp"))  # a write cut by a kill is cleaned at the next start
    # the evaluations during training (debug=smoke: every 500 env steps) and the best model too
    assert evaluation_rows(run) == evaluation_rows(reference)
    assert len(evaluation_rows(run)) == budget // 500
    a = load_model(reference / BEST_MODEL)[0].state_dict()
    b = load_model(run / BEST_MODEL)[0].state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


STOPPED = ("env.vectorization_mode=async", "env.num_envs=2")


@pytest.fixture(scope="module")
def never_stopped(tmp_path_factory):
    """The episode points of the run below, trained without a stop."""
    run = tmp_path_factory.mktemp("reference") / "run"
    train(compose_config(*LONG, *STOPPED), run)
    return history_points(run)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGUSR2])
def test_stop_signals_checkpoint_exit_cleanly_and_resume_exactly(tmp_path, sig, never_stopped):
    """SIGUSR2 is what Slurm (through submitit) sends before a job's time limit."""
    run = tmp_path / "run"
    proc = start_training(run, *STOPPED)
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
    assert history_points(run) == never_stopped


# -- what a resume says and records ----------------------------------------------------------

SOLVES = ("debug=smoke", "train.max_episodes=1000", "train.stop_when_solved=true",
          "logger.tensorboard=false")  # debug=smoke "solves" once its window of 5 episodes is full


def test_a_resume_says_where_it_continues_and_records_what_it_changed(tmp_path, caplog):
    run = tmp_path / "run"
    train(compose_config(*SMOKE, "train.max_env_steps=1000", "logger.tensorboard=false"), run)
    episodes = len(history_points(run))
    caplog.set_level("INFO")
    summary = train(compose_config(*SMOKE, "train.max_env_steps=1600", "logger.tensorboard=false",
                                   "train.checkpoint_every=800"), run, resume=True)
    assert (f"resuming {run} at env step 1000, episode {episodes}; changed: "
            "train.max_env_steps 1000 -> 1600, train.checkpoint_every 1000 -> 800"
            in caplog.messages)
    records = [json.loads(line) for line in (run / "resumes.jsonl").read_text().splitlines()]
    assert len(records) == 1
    assert (records[0]["env_steps"], records[0]["episodes"]) == (1000, episodes)
    assert records[0]["changed"] == {"train.max_env_steps": {"from": 1000, "to": 1600},
                                     "train.checkpoint_every": {"from": 1000, "to": 800}}
    # the summary has the budget the run ran with at its end
    assert (summary["max_env_steps"], summary["env_steps"]) == (1600, 1600)
    saved = json.loads((run / "summary.json").read_text())
    assert saved["max_env_steps"] == 1600 and saved["max_episodes"] == 1000


def test_a_solved_run_resumed_with_a_larger_budget_says_what_to_add(tmp_path):
    run = tmp_path / "run"
    first = train(compose_config(*SOLVES, "train.max_env_steps=3000"), run)
    assert first["status"] == "solved" and first["solved_episode"] == 5
    before = {p.name: p.stat().st_mtime_ns for p in run.iterdir()}
    with pytest.raises(ConfigError) as err:
        train(compose_config(*SOLVES, "train.max_env_steps=6000"), run, resume=True)
    assert str(err.value) == (
        f"resume={run}: the run solved at episode 5 ({first['solved_env_steps']} env steps) and "
        "stops when solved: add train.stop_when_solved=false (and a larger budget) to train on")
    assert {p.name: p.stat().st_mtime_ns for p in run.iterdir()} == before  # nothing touched
    # with that, it trains on from where it stopped
    more = train(compose_config(*SOLVES, "train.max_env_steps=1600",
                                "train.stop_when_solved=false"), run, resume=True)
    assert more["env_steps"] == 1600 and more["solved_episode"] == 5


def test_a_run_at_the_end_of_its_budget_says_which_budget_to_raise(tmp_path):
    run = tmp_path / "run"
    train(compose_config(*SMOKE, "train.max_env_steps=400", "logger.tensorboard=false"), run)
    with pytest.raises(ConfigError) as err:
        train(compose_config(*SMOKE, "train.max_env_steps=400", "logger.tensorboard=false"), run,
              resume=True)
    assert str(err.value) == (f"resume={run}: the run already reached its budget, "
                              "train.max_env_steps=400 (400 env steps): raise it to train on")


def test_an_interrupted_run_that_had_reached_its_end_resumes_to_its_closing_writes(tmp_path):
    run = tmp_path / "run"
    cfg = compose_config(*SMOKE, "train.max_env_steps=400", "logger.tensorboard=false")
    trainer = Trainer(cfg, run)
    try:
        trainer.train()  # to the budget; then a signal came before the closing writes
        trainer.save_checkpoint()
    finally:
        trainer.close()
    assert not (run / "summary.json").exists()
    summary = train(cfg, run, resume=True)
    assert summary["status"] == "budget" and (run / "final_model.pt").is_file()


def test_training_into_a_directory_that_holds_a_run_is_refused(tmp_path):
    run = tmp_path / "run"
    cfg = compose_config(*SMOKE, "train.max_env_steps=200", "logger.tensorboard=false")
    train(cfg, run)
    with pytest.raises(ConfigError) as err:
        train(cfg, run)
    assert str(err.value) == (f"{run} already holds a run (budget): continue it with "
                              f"resume={run}, or train in another directory")
