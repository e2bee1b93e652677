"""env.vectorization_mode=worker: the sync vector env in one process of its own."""

import csv
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_info, threadpool_limits

from conftest import REPO, compose_config, env_config
from envutil import EXPLODES_AT, children, process_gone
from lunar_dqn.errors import ConfigError, EnvWorkerError
from lunar_dqn.run.env_worker import WorkerVectorEnv
from lunar_dqn.run.envs import make_vec_env
from lunar_dqn.run.episodes import EPISODE_START, EpisodeReplay
from lunar_dqn.run.rundir import CHECKPOINT
from lunar_dqn.run.trainer import Trainer
from lunar_dqn.train import train


def worker_envs(env_id: str = "CountingEnv-v0", num_envs: int = 3, **kwargs) -> WorkerVectorEnv:
    envs = make_vec_env(env_config(id=env_id, num_envs=num_envs, vectorization_mode="worker",
                                   **kwargs), wrappers=[EpisodeReplay])
    assert isinstance(envs, WorkerVectorEnv)
    return envs


def test_counting_env_steps_give_known_observations():
    envs = worker_envs(num_envs=2)
    try:
        obs, infos = envs.reset(seed=0)
        assert obs.tolist() == [[0] * 8, [0] * 8] and obs.dtype == np.float32
        assert len(infos[EPISODE_START]) == 2
        for t in range(1, 10):
            obs, rewards, terminated, truncated, infos = envs.step(np.array([0, 3]))
            assert obs[:, :2].tolist() == [[0, t], [0, t]]
            assert rewards.tolist() == [t, t] and not terminated.any() and not truncated.any()
            assert infos == {}
        # step 10: the time limit truncates episode 0, the next episode starts in the same step
        obs, rewards, terminated, truncated, infos = envs.step(np.array([1, 2]))
        assert obs[:, :2].tolist() == [[1, 0], [1, 0]] and rewards.tolist() == [10, 10]
        assert truncated.all() and not terminated.any()
        assert [o[:2].tolist() for o in infos["final_obs"]] == [[0, 10], [0, 10]]
        # episode 1 terminates at step 7, with its last observation kept
        for _ in range(7):
            obs, _, terminated, truncated, infos = envs.step(np.array([0, 0]))
        assert terminated.all() and not truncated.any() and obs[:, :2].tolist() == [[2, 0]] * 2
        assert [o[:2].tolist() for o in infos["final_obs"]] == [[1, 7], [1, 7]]
    finally:
        envs.close()


def test_lunar_lander_steps_and_infos_equal_the_sync_env():
    rng = np.random.default_rng(0)
    actions = rng.integers(0, 4, (1500, 4))
    results = {}
    for mode in ("sync", "worker"):
        envs = make_vec_env(env_config(num_envs=4, vectorization_mode=mode),
                            wrappers=[EpisodeReplay])
        try:
            steps = [envs.reset(seed=3)]
            steps += [envs.step(a) for a in actions]
        finally:
            envs.close()
        results[mode] = steps
    ended = 0
    for (*arrays, infos), (*worker_arrays, worker_infos) in zip(*results.values(), strict=True):
        assert all(np.array_equal(a, b) and a.dtype == b.dtype
                   for a, b in zip(arrays, worker_arrays, strict=True))
        assert infos.keys() == worker_infos.keys()
        if "final_obs" in infos:
            ended += 1
            assert all(np.array_equal(a, b) for a, b in zip(infos["final_obs"],
                                                           worker_infos["final_obs"], strict=True)
                       if a is not None)
            assert list(infos[EPISODE_START]) == list(worker_infos[EPISODE_START])
    assert ended > 5


def test_env_options_reach_the_worker_sub_envs():
    envs = worker_envs("LunarLander-v3", num_envs=2, kwargs={"gravity": -5.0},
                       max_episode_steps=50)
    try:
        assert envs.get_attr("gravity") == (-5.0, -5.0)
        assert envs.metadata["render_modes"] == ["human", "rgb_array"]
        envs.set_attr("replay_request", [(json.dumps({"seed": 7, "rng": None}), [2, 2])] * 2)
        replayed = envs.call("replay")
        fresh = make_vec_env(env_config(num_envs=1, kwargs={"gravity": -5.0}))
        try:
            fresh.reset(seed=7)
            for _ in range(2):
                expected, *_ = fresh.step(np.array([2]))
        finally:
            fresh.close()
        assert np.array_equal(replayed[0], expected[0]) and np.array_equal(replayed[1], expected[0])
    finally:
        envs.close()


def test_trainer_transitions_never_cross_episodes_in_the_worker(tmp_path):
    cfg = compose_config("env.id=CountingEnv-v0", "env.num_envs=3", "train.max_env_steps=300",
                         "buffer.capacity=1000", "agent.batch_size=8", "logger.tensorboard=false",
                         "train.max_episodes=1000", "env.vectorization_mode=worker")
    trainer = Trainer(cfg, tmp_path)
    try:
        trainer.run()
        b, n = trainer.buffer, len(trainer.buffer)
        obs, nxt, term = b.obs[:n].numpy(), b.next_obs[:n].numpy(), b.terminated[:n].numpy()
    finally:
        trainer.close()
    assert n == 300
    assert np.array_equal(nxt[:, 0], obs[:, 0]) and np.array_equal(nxt[:, 1], obs[:, 1] + 1)
    odd = nxt[:, 0] % 2 == 1
    assert np.array_equal(term.astype(bool), odd & (nxt[:, 1] == 7))
    assert nxt[:, 1].max() == 10 and term[~odd].sum() == 0


def history_rows(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / "history.csv") as f:
        return list(csv.DictReader(f))


def test_a_smoke_run_is_the_same_as_with_sync_envs(tmp_path):
    runs = {}
    for mode in ("sync", "worker"):
        cfg = compose_config("debug=smoke", "train.max_episodes=1000", "train.solve_score=1000",
                             "train.max_env_steps=2500", f"env.vectorization_mode={mode}")
        runs[mode] = train(cfg, tmp_path / mode)
    assert history_rows(tmp_path / "sync") == history_rows(tmp_path / "worker")
    assert len(history_rows(tmp_path / "sync")) >= 5
    assert runs["sync"]["gradient_steps"] == runs["worker"]["gradient_steps"] > 0


def test_an_env_exception_is_one_error_and_the_worker_stays_closable():
    envs = worker_envs("ExplodingEnv-v0", num_envs=2)
    envs.reset(seed=0)
    envs.step(np.array([0, 0]))
    envs.step(np.array([0, 0]))
    envs.step_async(np.array([0, 0]))
    with pytest.raises(EnvWorkerError) as failure:
        envs.step_wait()
    message = str(failure.value)
    assert "\n" not in message
    assert message.startswith("the environment failed in the env worker process: ValueError: "
                              f"the engine exploded (at envutil.py:{EXPLODES_AT} in step)")
    with pytest.raises(EnvWorkerError, match="ValueError"):  # it still answers, and fails again
        envs.step(np.array([0, 0]))
    envs.close()
    assert process_gone(envs._pid, timeout=0)


def test_close_is_idempotent_and_ends_the_worker_even_mid_step():
    envs = worker_envs()
    envs.reset(seed=0)
    envs.step_async(np.array([0, 1, 2]))  # never waited for, as when the learner raises
    envs.close()
    assert envs.closed and process_gone(envs._pid, timeout=0)
    envs.close()
    assert envs.closed


def test_a_forked_copy_of_the_trainer_leaves_the_worker_alone():
    envs = worker_envs()
    try:
        envs.reset(seed=0)
        pid = os.fork()
        if pid == 0:  # as in a process forked later (a sweep's job, an async env's worker)
            envs.close()
            os._exit(0)
        os.waitpid(pid, 0)
        obs, *_ = envs.step(np.array([0, 0, 0]))
        assert obs[:, 1].tolist() == [1, 1, 1]
    finally:
        envs.close()


def test_a_dead_worker_is_an_error_not_a_hang():
    envs = worker_envs()
    try:
        envs.reset(seed=0)
        os.kill(envs._pid, signal.SIGKILL)
        with pytest.raises(EnvWorkerError,
                           match=r"env worker process \(pid \d+\) ended unexpectedly "
                                 r"\(killed by SIGKILL\)"):
            envs.step(np.array([0, 0, 0]))
    finally:
        envs.close()


def test_the_worker_ignores_sigint_and_sigterm():
    envs = worker_envs()
    try:
        envs.reset(seed=0)
        for sig in (signal.SIGINT, signal.SIGTERM):
            os.kill(envs._pid, sig)
        time.sleep(0.2)
        obs, *_ = envs.step(np.array([0, 0, 0]))
        assert obs[:, 1].tolist() == [1, 1, 1]
    finally:
        envs.close()


def test_a_worker_started_from_another_thread_ignores_sigint_too():
    made = []
    thread = threading.Thread(target=lambda: made.append(worker_envs()))
    thread.start()
    thread.join()
    envs = made[0]
    try:
        envs.reset(seed=0)
        os.kill(envs._pid, signal.SIGINT)
        time.sleep(0.2)
        obs, *_ = envs.step(np.array([0, 0, 0]))
        assert obs[:, 1].tolist() == [1, 1, 1]
    finally:
        envs.close()


def test_the_worker_keeps_torch_and_blas_to_one_thread():
    with threadpool_limits(2):  # a trainer that allows itself two threads
        torch_threads = torch.get_num_threads()
        torch.set_num_threads(2)
        try:
            envs = worker_envs("ThreadReportingEnv-v0", num_envs=1)
        finally:
            torch.set_num_threads(torch_threads)
        assert {pool["num_threads"] for pool in threadpool_info()} == {2}
    try:
        (torch_threads, pools), = envs.call("thread_counts")
        assert torch_threads == 1 and pools and set(pools) == {1}
    finally:
        envs.close()


def test_observation_spaces_other_than_arrays_are_refused():
    with pytest.raises(ConfigError, match=r"env.vectorization_mode=worker needs array "
                                          r"observations, not Dict: use sync or async"):
        worker_envs("DictObsEnv-v0", num_envs=1)


def test_without_fork_the_worker_is_refused(monkeypatch):
    monkeypatch.delattr(os, "fork")
    with pytest.raises(ConfigError, match=r"env.vectorization_mode=worker needs os.fork "
                                          r"\(Linux, macOS\): use sync"):
        worker_envs()


@pytest.mark.slow
def test_the_worker_exits_when_its_parent_is_killed(tmp_path):
    script = textwrap.dedent("""
        import sys, time
        sys.path.insert(0, "tests")
        from conftest import env_config
        from lunar_dqn.run.envs import make_vec_env
        envs = make_vec_env(env_config(num_envs=2, vectorization_mode="worker"))
        envs.reset(seed=0)
        print(envs._pid, flush=True)
        time.sleep(600)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, stdout=subprocess.PIPE,
                              text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    worker = int(parent.stdout.readline())
    assert not process_gone(worker, timeout=0.5)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    assert process_gone(worker)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_to_the_process_group_stops_the_run_at_a_checkpoint(tmp_path, sig):
    run = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "lunar_dqn.train", "debug=smoke", "train.max_episodes=1000",
         "train.solve_score=1000", "train.max_env_steps=200000", "train.checkpoint_every=500",
         "env.vectorization_mode=worker", f"hydra.run.dir={run}"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True)
    while proc.poll() is None and not (run / CHECKPOINT).exists():
        time.sleep(0.02)
    workers = children(proc.pid)
    os.killpg(proc.pid, sig)  # what a terminal's Ctrl-C does: the whole foreground group
    assert proc.wait(timeout=60) == 128 + sig
    output = proc.stdout.read()
    assert "Traceback" not in output and f"resume={run}" in output
    assert json.loads((run / "summary.json").read_text())["status"] == "interrupted"
    assert len(workers) == 1 and process_gone(workers[0], timeout=0)
