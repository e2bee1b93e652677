"""One run per directory: a lock held for the run's lifetime, dropped by the kernel however the
process ends; a directory that holds a run takes only a resume of it."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from conftest import REPO, compose_config, run_module
from lunar_dqn.errors import RunDirInUse
from lunar_dqn.run.checkpoint import load_checkpoint
from lunar_dqn.run.lock import claim
from lunar_dqn.run.rundir import CHECKPOINT, LOCK, RUN_CONFIG, SUMMARY
from lunar_dqn.train import train

HOLD = ("import sys, time; from pathlib import Path; from lunar_dqn.run.lock import claim; "
        "claim(Path(sys.argv[1]), resume=False); print('held', flush=True); time.sleep(600)")


def hold_in_another_process(run_dir) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(run_dir)], cwd=REPO,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "held\n"
    return proc


def test_a_claim_is_held_until_released_and_leaves_nothing(tmp_path):
    run = tmp_path / "run"
    first = claim(run, resume=False)
    assert (run / LOCK).read_text().startswith(f"pid {os.getpid()} on ")
    again = claim(run, resume=False)  # the same process may claim it again (Hydra, then trainer)
    first.release()
    first.release()  # a claim lets go once
    assert (run / LOCK).exists()
    again.release()
    assert list(run.iterdir()) == []


def test_another_process_is_refused_until_the_holder_dies_even_by_sigkill(tmp_path):
    run = tmp_path / "run"
    holder = hold_in_another_process(run)
    try:
        with pytest.raises(RunDirInUse) as err:
            claim(run, resume=False)
        assert str(err.value).startswith(f"{run} is in use by another run (pid {holder.pid} on ")
        assert str(err.value).endswith("): one run per directory")
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert (run / LOCK).exists()  # left by the killed process; its lock went with it
    claim(run, resume=False).release()
    assert not (run / LOCK).exists()


def test_a_directory_that_holds_a_run_takes_only_a_resume(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / SUMMARY).write_text(json.dumps({"status": "budget"}))
    with pytest.raises(RunDirInUse) as err:
        claim(run, resume=False)
    assert str(err.value) == (f"{run} already holds a run (budget): continue it with "
                              f"resume={run}, or train in another directory")
    assert [p.name for p in run.iterdir()] == [SUMMARY]  # no lock file left behind
    claim(run, resume=True).release()


def test_what_interrupted_writes_left_is_removed_at_the_next_start(tmp_path, caplog):
    run = tmp_path / "run"
    run.mkdir()
    (run / CHECKPOINT).write_bytes(b"the last good one")
    (run / f".{CHECKPOINT}.x8y_2k.tmp").write_bytes(b"half a checkpoint")
    (run / ".summary.json.abc.tmp").write_text("{")
    with caplog.at_level("INFO"):
        claim(run, resume=True).release()
    assert [p.name for p in run.iterdir()] == [CHECKPOINT]
    assert f"removed .{CHECKPOINT}.x8y_2k.tmp, left by an interrupted write" in caplog.text


def test_the_python_api_follows_the_same_rule(tmp_path):
    cfg = compose_config("debug=smoke", "train.max_env_steps=200", "logger.tensorboard=false")
    train(cfg, tmp_path / "run")
    with pytest.raises(RunDirInUse, match=r"already holds a run \(budget\): continue it with"):
        train(cfg, tmp_path / "run")
    holder = hold_in_another_process(tmp_path / "other")
    try:
        with pytest.raises(RunDirInUse, match="is in use by another run"):
            train(cfg, tmp_path / "other")
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert not (tmp_path / "other" / SUMMARY).exists()


def start(run_dir, log, *overrides) -> subprocess.Popen:
    """A run with a budget far beyond the test; its output into `log` (.out and .err)."""
    return subprocess.Popen(
        [sys.executable, "-m", "lunar_dqn.train", "debug=smoke", "train.max_env_steps=1000000",
         "train.max_episodes=100000", "train.solve_score=1000", *overrides,
         f"hydra.run.dir={run_dir}"],
        cwd=REPO, stdout=log.with_suffix(".out").open("w"),
        stderr=log.with_suffix(".err").open("w"))


@pytest.mark.slow
def test_two_runs_started_together_in_one_directory_the_second_is_refused(tmp_path):
    run = tmp_path / "run"
    taus = {"a": 0.002, "b": 0.004}
    procs = {name: start(run, tmp_path / name, f"agent.tau={tau}") for name, tau in taus.items()}
    while all(p.poll() is None for p in procs.values()):
        time.sleep(0.05)
    loser = next(name for name, p in procs.items() if p.poll() is not None)
    winner = "b" if loser == "a" else "a"
    assert procs[loser].returncode == 2
    assert (tmp_path / loser).with_suffix(".err").read_text().splitlines() == [
        f"error: {run} is in use by another run (pid {procs[winner].pid} on "
        f"{socket.gethostname()} since {(run / LOCK).read_text().split(' since ')[1].strip()}): "
        "one run per directory"]
    while not (run / CHECKPOINT).exists():
        time.sleep(0.05)
    procs[winner].send_signal(signal.SIGTERM)
    assert procs[winner].wait(timeout=120) == 128 + signal.SIGTERM
    # the directory is the winner's alone: its config, its checkpoint, its summary
    assert f"tau: {taus[winner]}" in (run / RUN_CONFIG).read_text()
    assert f"tau: {taus[winner]}" in load_checkpoint(run / CHECKPOINT)["config"]
    assert json.loads((run / SUMMARY).read_text())["status"] == "interrupted"
    assert not (run / LOCK).exists()
    # a new run there is refused before it writes anything; its resume is welcome
    before = {p.name: p.stat().st_mtime for p in run.rglob("*")}
    result = run_module("lunar_dqn.train", "debug=smoke", f"hydra.run.dir={run}", cwd=REPO)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"error: {run} already holds a run (interrupted): continue it with resume={run}, or "
        "train in another directory"]
    assert {p.name: p.stat().st_mtime for p in run.rglob("*")} == before
