"""The training envs of each env.vectorization_mode, and what an environment's exception does:
one `error:` line, exit 1, the run's checkpoint kept and its summary saying "failed"."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from gymnasium.vector import AsyncVectorEnv, SyncVectorEnv

from conftest import REPO, env_config, run_module
from envutil import EXPLODES_AT, line_of
from lunar_dqn.errors import ConfigError, EnvFailed
from lunar_dqn.run import backends
from lunar_dqn.run.backends import OneLineFaults, make_training_envs, training_mode
from lunar_dqn.run.checkpoint import load_checkpoint
from lunar_dqn.run.env_worker import WorkerVectorEnv
from lunar_dqn.run.envpool_env import EnvPoolVectorEnv
from lunar_dqn.run.envs import make_vec_env
from lunar_dqn.run.episodes import EPISODE_START
from lunar_dqn.run.rundir import CHECKPOINT, HISTORY, SUMMARY


@pytest.mark.parametrize("mode, kind", [("sync", OneLineFaults), ("worker", WorkerVectorEnv),
                                        ("async", AsyncVectorEnv)])
def test_each_mode_builds_its_envs_with_episode_starts(counting_env_id, mode, kind):
    envs = make_training_envs(env_config(id=counting_env_id, num_envs=2,
                                         vectorization_mode=mode))
    try:
        assert isinstance(envs, kind)
        obs, infos = envs.reset(seed=0)
        assert obs[:, :2].tolist() == [[0, 0], [0, 0]] and len(infos[EPISODE_START]) == 2
        obs, *_ = envs.step(np.array([0, 1]))
        assert obs[:, :2].tolist() == [[0, 1], [0, 1]]
    finally:
        envs.close()


@pytest.mark.parametrize("platform, cores, mode", [("linux", {0, 1}, "worker"),
                                                    ("linux", {0}, "sync"),
                                                    ("darwin", {0, 1, 2, 3}, "sync")])
def test_auto_takes_the_worker_on_linux_with_a_second_core_else_sync(monkeypatch, platform,
                                                                      cores, mode):
    monkeypatch.setattr(backends.sys, "platform", platform)
    monkeypatch.setattr(backends.os, "sched_getaffinity", lambda pid: cores, raising=False)
    assert training_mode("auto") == mode
    assert [training_mode(m) for m in ("sync", "worker", "async", "envpool")] == [
        "sync", "worker", "async", "envpool"]
    envs = make_training_envs(env_config(num_envs=2, vectorization_mode="auto"))
    try:
        assert isinstance(envs, WorkerVectorEnv if mode == "worker" else OneLineFaults)
    finally:
        envs.close()


def test_auto_plays_evaluation_envs_in_this_process():
    envs = make_vec_env(env_config(num_envs=2, vectorization_mode="auto"))
    try:
        assert isinstance(envs, SyncVectorEnv)
    finally:
        envs.close()


def test_an_exception_in_a_sync_env_is_one_line_naming_it_and_where():
    envs = make_training_envs(env_config(id="ExplodingEnv-v0", num_envs=2,
                                         vectorization_mode="sync"))
    try:
        envs.reset(seed=0)
        envs.step(np.array([0, 0]))
        envs.step(np.array([0, 0]))
        with pytest.raises(EnvFailed) as failure:
            envs.step(np.array([0, 0]))
        assert str(failure.value) == ("the environment failed: ValueError: the engine exploded "
                                      f"(at envutil.py:{EXPLODES_AT} in step)")
        assert isinstance(failure.value.__cause__, ValueError)
    finally:
        envs.close()


def test_the_sync_wrapper_passes_replay_requests_through(counting_env_id):
    envs = make_training_envs(env_config(id=counting_env_id, num_envs=2,
                                         vectorization_mode="sync"))
    try:
        _, infos = envs.reset(seed=0)
        envs.set_attr("replay_request", [(start, [0, 0, 0]) for start in infos[EPISODE_START]])
        assert [o[:2].tolist() for o in envs.call("replay")] == [[1, 3], [1, 3]]
        assert envs.get_attr("replay_request") == (None, None)
    finally:
        envs.close()


FAILING_TRAIN = textwrap.dedent("""
    import sys
    sys.path.insert(0, "tests")
    import runpy
    import envutil  # registers the faulty environments
    runpy.run_module("lunar_dqn.train", run_name="__main__", alter_sys=True)  # as python -m
""")


# What an env failure names under the default env.vectorization_mode=auto on this machine.
AUTO_WHERE = " in the env worker process" if training_mode("auto") == "worker" else ""


def train_with_faulty_env(*args: str) -> subprocess.CompletedProcess:
    flags = [a for a in args if a.startswith("-")]  # Hydra's flags before the overrides
    overrides = [a for a in args if not a.startswith("-")]
    return subprocess.run([sys.executable, "-c", FAILING_TRAIN, *flags, "debug=smoke", *overrides],
                          cwd=REPO, capture_output=True, text=True, timeout=180)


@pytest.mark.slow
@pytest.mark.parametrize("mode, where", [("sync", ""), ("worker", " in the env worker process")])
def test_an_env_exception_ends_training_with_one_line_and_keeps_the_checkpoint(tmp_path, mode,
                                                                                where):
    run = tmp_path / "run"
    done = train_with_faulty_env("env.id=LateExplodingEnv-v0", f"env.vectorization_mode={mode}",
                                 "train.max_episodes=1000", "train.solve_score=1000",
                                 f"hydra.run.dir={run}")
    assert done.returncode == 1
    message = (f"the environment failed{where}: ValueError: the engine exploded "
               f"(at envutil.py:{EXPLODES_AT} in step)")
    assert done.stderr.splitlines() == [f"error: {message}"]
    summary = json.loads((run / SUMMARY).read_text())
    assert summary["status"] == "failed" and summary["error"] == message
    assert 1000 < summary["env_steps"] < 2000 and (run / HISTORY).is_file()
    assert load_checkpoint(run / CHECKPOINT)["counters"]["env_steps"] == 1000


@pytest.mark.slow
def test_an_env_that_fails_before_training_leaves_no_run_directory(tmp_path):
    run = tmp_path / "run"
    done = train_with_faulty_env("env.id=BrokenResetEnv-v0", f"hydra.run.dir={run}")
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"error: the environment failed{AUTO_WHERE}: OSError: no engine (at envutil.py:"
        f"{line_of('raise OSError')} in reset)"]
    assert not run.exists()


@pytest.mark.slow
def test_in_a_sweep_a_failing_env_is_recorded_and_the_sweep_goes_on(tmp_path):
    done = train_with_faulty_env("-m", "env.id=LateExplodingEnv-v0,BrokenResetEnv-v0",
                                 "train.max_episodes=1000", "train.solve_score=1000",
                                 f"hydra.sweep.dir={tmp_path}")
    exploded = f"ValueError: the engine exploded (at envutil.py:{EXPLODES_AT} in step)"
    no_engine = f"OSError: no engine (at envutil.py:{line_of('raise OSError')} in reset)"
    assert done.returncode == 1  # every job failed, and the second ran after the first did
    failed = f"the environment failed{AUTO_WHERE}"
    assert done.stderr.splitlines() == [
        f"error: 2 of 2 jobs failed: job 0 (env.id=LateExplodingEnv-v0): {failed}: {exploded}; "
        f"job 1 (env.id=BrokenResetEnv-v0): {failed}: {no_engine}"]
    during, before = (json.loads((tmp_path / job / SUMMARY).read_text()) for job in ("0", "1"))
    assert during["status"] == "failed" and during["env_steps"] > 1000
    assert during["error"] == f"{failed}: {exploded}"
    assert before == {"status": "failed", "solved": False, "error": f"{failed}: {no_engine}"}


# -- envpool's refusals, which need no EnvPool --------------------------------------------


def test_options_envpool_lacks_are_refused_with_one_line():
    with pytest.raises(ConfigError, match=r"env.kwargs=\{'gravity': -5.0\} cannot be used with "
                                          r"env.vectorization_mode=envpool"):
        EnvPoolVectorEnv(env_config(vectorization_mode="envpool", kwargs={"gravity": -5.0}))
    with pytest.raises(ConfigError, match="envpool cannot render"):
        EnvPoolVectorEnv(env_config(vectorization_mode="envpool"), render_mode="rgb_array")


def test_a_missing_envpool_is_refused_with_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "envpool", None)  # what an absent package looks like
    with pytest.raises(ConfigError, match=r"needs EnvPool: pip install 'lunar_dqn\[envpool\]'"):
        EnvPoolVectorEnv(env_config(vectorization_mode="envpool"))


@pytest.mark.slow
def test_env_kwargs_with_envpool_is_one_error_line(tmp_path):
    result = run_module("lunar_dqn.train", "debug=smoke", "env.vectorization_mode=envpool",
                        "+env.kwargs.enable_wind=true", f"hydra.run.dir={tmp_path / 'run'}",
                        cwd=REPO)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: env.kwargs={'enable_wind': True} cannot be used with "
        "env.vectorization_mode=envpool, which builds the environment with its own defaults: "
        "use env.vectorization_mode=worker"]
    assert not (tmp_path / "run").exists()
