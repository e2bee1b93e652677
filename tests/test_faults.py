"""Faults as they happen: a signal at start-up or during the closing writes, a full disk during a
checkpoint, a read-only run directory, a diverging run's checkpoints. Each ends in one line (or
a clean stop), no traceback, nothing half-written, no finished work lost."""

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from conftest import REPO, compose_config, run_module
from lunar_dqn.errors import Diverged, WriteFault
from lunar_dqn.run.checkpoint import all_finite, load_checkpoint
from lunar_dqn.run.rundir import CHECKPOINT, FINAL_MODEL, HISTORY, LOCK, SUMMARY, episode_video
from lunar_dqn.train import train

SMOKE = ("debug=smoke", "train.max_episodes=1000", "train.solve_score=1000")


def summary(run: Path) -> dict:
    return json.loads((run / SUMMARY).read_text())


# -- a full disk, a diverging run: in this process -------------------------------------------


def test_a_full_disk_during_a_checkpoint_keeps_the_previous_one(tmp_path, monkeypatch):
    run = tmp_path / "run"
    saves = []
    real_save = torch.save

    def disk_fills_up(obj, f, *args, **kwargs):
        if isinstance(obj, dict) and "counters" in obj:  # a checkpoint, not a model file
            saves.append(obj["counters"]["env_steps"])
        if len(saves) == 2 and "counters" in obj:  # the second checkpoint: the disk fills up
            f.write(b"PK\x03\x04 a beginning")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", disk_fills_up)
    with pytest.raises(WriteFault) as err:
        train(compose_config(*SMOKE, "train.max_env_steps=3000", "logger.tensorboard=false"), run)
    monkeypatch.undo()
    assert str(err.value) == (f"cannot write {run / CHECKPOINT}: the disk is full; the previous "
                              f"{CHECKPOINT} is intact")
    assert saves == [1000, 2000]
    assert load_checkpoint(run / CHECKPOINT)["counters"]["env_steps"] == 1000
    assert summary(run)["status"] == "failed" and summary(run)["error"] == str(err.value)
    assert not list(run.glob(".*.tmp")) and not (run / LOCK).exists()
    resumed = train(compose_config(*SMOKE, "train.max_env_steps=3000",
                                   "logger.tensorboard=false"), run, resume=True)
    assert resumed["status"] == "budget" and resumed["env_steps"] == 3000


def test_the_checkpoint_kept_after_divergence_has_finite_weights(tmp_path):
    """A huge learning rate makes the weights non-finite a step before the loss shows it: the
    checkpoint due then is refused, and the one before it stays."""
    run = tmp_path / "run"
    cfg = compose_config("debug=smoke", "agent.learning_rate=1e38", "agent.replay_ratio=8",
                         "train.checkpoint_every=8", "logger.tensorboard=false")
    with pytest.raises(Diverged) as err:
        train(cfg, run)
    assert str(err.value).endswith("; the last good checkpoint is kept")
    kept = load_checkpoint(run / CHECKPOINT)
    assert all_finite(kept["agent"]) and kept["counters"]["env_steps"] < summary(run)["env_steps"]
    assert summary(run)["status"] == "diverged" and not (run / FINAL_MODEL).exists()


def test_a_run_that_diverges_before_its_first_checkpoint_says_so(tmp_path):
    run = tmp_path / "run"
    with pytest.raises(Diverged) as err:
        train(compose_config("debug=smoke", "agent.learning_rate=1e6",
                             "logger.tensorboard=false"), run)
    assert str(err.value).endswith("; no checkpoint had been written yet")
    assert not (run / CHECKPOINT).exists() and summary(run)["status"] == "diverged"


# -- signals at the wrong moment, through the command ----------------------------------------


def start(run: Path, *overrides: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "lunar_dqn.train", *SMOKE, *overrides,
                             f"hydra.run.dir={run}"], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(path: Path, proc: subprocess.Popen) -> None:
    while proc.poll() is None and not path.exists():
        time.sleep(0.01)
    assert proc.poll() is None, proc.communicate()


def wait_for_handler(proc: subprocess.Popen, sig: int) -> None:
    """Until the process catches `sig` (Linux's /proc: the first lines of lunar_dqn.train set
    their handlers, before the modules that take seconds to load)."""
    status = Path(f"/proc/{proc.pid}/status")
    if not status.exists():
        pytest.skip("no /proc to see a process's signal handlers")
    while proc.poll() is None:
        caught = next(line for line in status.read_text().splitlines() if line.startswith("SigCgt"))
        if int(caught.split()[1], 16) >> (sig - 1) & 1:
            return
        time.sleep(0.002)


@pytest.mark.slow
def test_ctrl_c_while_the_command_loads_exits_quietly_and_writes_nothing(tmp_path):
    proc = start(tmp_path / "run", "train.max_env_steps=400")
    wait_for_handler(proc, signal.SIGUSR2)  # Python catches SIGINT from the start, not SIGUSR2
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGINT
    assert (out, err) == ("", "")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_ctrl_c_once_hydra_has_written_stops_at_a_checkpoint(tmp_path):
    run = tmp_path / "run"
    proc = start(run, "train.max_env_steps=400")
    wait_for(run / ".hydra" / "config.yaml", proc)  # Hydra's writes: the run starts right after
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGINT, err
    assert "Traceback" not in out + err
    assert f"continue with: python -m lunar_dqn.train resume={run}" in out
    stopped = summary(run)
    assert stopped["status"] == "interrupted"
    assert load_checkpoint(run / CHECKPOINT)["counters"]["env_steps"] == stopped["env_steps"]
    resumed = run_module("lunar_dqn.train", f"resume={run}", cwd=REPO)
    assert resumed.returncode == 0, resumed.stderr
    assert summary(run)["env_steps"] == 400


@pytest.mark.slow
def test_ctrl_c_during_the_closing_writes_lets_them_finish(tmp_path):
    run = tmp_path / "run"
    proc = start(run, "train.max_env_steps=400", "logger.video=true")
    wait_for(run / FINAL_MODEL, proc)  # the first closing write; the video comes last
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "Traceback" not in out + err
    assert "stopped by SIGINT during the closing writes: the run is complete, without its " \
           "videos" in out
    assert summary(run)["status"] == "budget" and summary(run)["env_steps"] == 400
    assert len((run / HISTORY).read_text().splitlines()) == summary(run)["episodes"] + 1
    assert load_checkpoint(run / CHECKPOINT)["counters"]["env_steps"] == 400
    assert not (run / episode_video(0)).exists() and not list(run.glob(".*.tmp"))


# -- a real full disk, a real read-only file system (a tmpfs in a mount namespace) -----------

MOUNT = ("mount -t tmpfs -o size={size} tmpfs {mnt} && {setup}"
         "{python} -m lunar_dqn.train {args} > {out} 2> {err}; echo $? > {rc}; {after}")


def in_tmpfs(tmp_path: Path, size: str, args: str, setup: str = "",
             after: str = "true") -> tuple[int, str, str]:
    """Run the command in a tmpfs of `size` mounted at `tmp_path/mnt`, in a mount namespace of
    its own (`unshare`: no root needed where user namespaces are allowed)."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare is not installed")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    files = {name: tmp_path / name for name in ("out", "err", "rc")}
    script = MOUNT.format(size=size, mnt=mnt, setup=setup, python=sys.executable, args=args,
                          after=after, **files)
    probe = subprocess.run(["unshare", "-rm", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"no mount namespace here: {probe.stderr.decode().strip()}")
    result = subprocess.run(["unshare", "-rm", "sh", "-c", script], cwd=REPO,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return int(files["rc"].read_text()), files["out"].read_text(), files["err"].read_text()


@pytest.mark.slow
def test_a_really_full_disk_during_a_checkpoint_is_one_line(tmp_path):
    run = tmp_path / "mnt" / "run"
    # 300 KiB hold the checkpoint at 1000 env steps, not a second one beside it
    rc, out, err = in_tmpfs(tmp_path, "300k", " ".join((
        *SMOKE, "train.max_env_steps=5000", "logger.tensorboard=false", f"hydra.run.dir={run}")),
        after=f"cp -r {run} {tmp_path / 'kept'}")
    assert rc == 1
    assert err.splitlines() == [f"error: cannot write {run / CHECKPOINT}: the disk is full; the "
                                f"previous {CHECKPOINT} is intact"]
    assert "Traceback" not in out
    kept = tmp_path / "kept"
    assert load_checkpoint(kept / CHECKPOINT)["counters"]["env_steps"] == 1000
    assert summary(kept)["status"] == "failed" and not list(kept.glob(".*.tmp"))


@pytest.mark.slow
def test_resume_into_a_read_only_directory_is_one_line(tmp_path):
    finished = tmp_path / "finished"
    train(compose_config(*SMOKE, "train.max_env_steps=200"), finished)
    run = tmp_path / "mnt" / "run"
    rc, out, err = in_tmpfs(
        tmp_path, "4m", f"resume={run} train.max_env_steps=400",
        setup=f"cp -r {finished} {run} && mount -o remount,ro {tmp_path / 'mnt'} && ")
    assert rc == 2
    assert err.splitlines() == [f"error: cannot write in {run}: Read-only file system"]
    assert out == ""
