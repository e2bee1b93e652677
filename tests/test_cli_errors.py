"""Every user mistake gets one line on stderr, a non-zero exit, no traceback and no
half-written run directory."""

import json
import os

import pytest
import torch

from conftest import REPO, run_module

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad")
    (root / "corrupt_run").mkdir()
    (root / "corrupt_run" / "checkpoint.pt").write_bytes(os.urandom(300))
    (root / "foreign_run").mkdir()
    torch.save({"weights": torch.zeros(3)}, root / "foreign_run" / "checkpoint.pt")
    (root / "empty_run").mkdir()
    (root / "a_file").write_text("not a directory")
    return root


BAD_INPUTS = [
    ("agent.tau=5", "agent.tau=5.0 is invalid: must be in (0, 1]"),
    ("agent.tau=0", "agent.tau=0.0 is invalid"),
    ("agent.gamma=1.5", "agent.gamma=1.5 is invalid: must be in [0, 1]"),
    ("agent.learning_rate=-0.1", "agent.learning_rate"),
    ("agent.batch_size=0", "agent.batch_size=0 is invalid"),
    ("buffer.capacity=32 agent.batch_size=64", "must be <= buffer.capacity (32)"),
    ("buffer.capacity=0", "buffer.capacity"),
    ("env.num_envs=0", "env.num_envs=0 is invalid: must be >= 1"),
    ("env.id=LunarLander-v2", "not a registered Gymnasium environment"),
    ("+env.kwargs.gravityy=-5", "env.kwargs"),
    # CUDA hidden from the run (below), and a tiny budget should it see a GPU all the same
    ("device=cuda train.max_env_steps=8", "CUDA is not available"),
    ("experiment=nope", "Could not find 'experiment/nope'"),
    ("agent.taux=0.1", "agent.taux is not a config key (did you mean agent.tau?)"),
    ("+agent.learning_rat=0.01", "agent.learning_rat is not a config key (did you mean "
                                 "agent.learning_rate?)"),
    ("+seedx=3", "seedx is not a config key (did you mean seed?)"),
    ("+foo=1", "foo is not a config key"),
    ("seed=-1", "seed=-1 is invalid: must be in [0, 4294967295]"),
    ("seed=4294967296", "seed=4294967296 is invalid"),
    ("seed=99999999999999999999", "seed=99999999999999999999 is invalid"),
    ("+env.kwargs.gravity=5.0", "gravity (current value: 5.0) must be between -12 and 0"),
    ("+env.kwargs.continuous=true", "DQN needs discrete actions"),
    ("buffer.capacity=10000000000", "buffer.capacity=10000000000 is too large: the replay "
                                    "buffer needs 782.3 GiB"),
    ("agent.batch_size=big", "agent.batch_size=big"),
    ("agent.loss=l1", "agent.loss='l1' is invalid"),
    ("train.max_env_steps=-5", "train.max_env_steps"),
    ("resume={root}/missing_run", "no such run directory"),
    ("resume={root}/empty_run", "no checkpoint.pt there"),
    ("resume={root}/corrupt_run", "not a readable PyTorch file"),
    ("resume={root}/foreign_run", "not a lunar_dqn training checkpoint"),
    ("resume={root}/foreign_run hydra.run.dir={root}/elsewhere",
     "continues that run in its own directory: hydra.run.dir={root}/elsewhere cannot send it"),
    ("hydra.run.dir={root}/a_file/run", "Not a directory"),  # unwritable, even for root
]


@pytest.mark.parametrize("args, message", BAD_INPUTS, ids=[a for a, _ in BAD_INPUTS])
def test_bad_input_gives_one_clear_line(args, message, bad_files, tmp_path, monkeypatch):
    if "device=cuda" in args:  # on a GPU machine too: the run must not see one
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    args = args.format(root=bad_files).split()
    if not any(a.startswith(("hydra.run.dir", "resume")) for a in args):  # a resume: its own
        args.append(f"hydra.run.dir={tmp_path / 'run'}")
    before = sorted(bad_files.rglob("*"))
    result = run_module("lunar_dqn.train", *args, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert message.format(root=bad_files) in lines[0]
    assert "Traceback" not in result.stdout + result.stderr
    assert "To append to your config use" not in result.stderr  # never Hydra's advice
    assert list(tmp_path.iterdir()) == []  # no run directory, no outputs/ at all
    assert sorted(bad_files.rglob("*")) == before  # nothing written into a resumed folder


def test_failed_sweep_jobs_are_recorded_and_named_at_the_end_and_the_others_finish(tmp_path):
    sweep = tmp_path / "sweep"
    result = run_module("lunar_dqn.train", "-m", "debug=smoke", "+env.kwargs.gravity=-10.0,5.0",
                        "agent.learning_rate=0.001,1000000.0", f"hydra.sweep.dir={sweep}",
                        cwd=REPO)
    assert result.returncode == 1
    jobs = [json.loads((sweep / str(i) / "summary.json").read_text()) for i in range(4)]
    assert [job["status"] for job in jobs] == ["solved", "diverged", "failed", "failed"]
    assert jobs[0]["episodes"] == 8
    refused = ("env.kwargs={'gravity': 5.0} is invalid for LunarLander-v3: gravity (current "
               "value: 5.0) must be between -12 and 0")
    assert jobs[2]["error"] == jobs[3]["error"] == refused
    assert result.stderr.splitlines() == [
        f"error: 2 of 4 jobs failed: job 2 (+env.kwargs.gravity=5.0 agent.learning_rate=0.001): "
        f"{refused}; job 3 (+env.kwargs.gravity=5.0 agent.learning_rate=1000000.0): {refused}"]
    assert "sweep: 4 jobs: 1 diverged, 2 failed, 1 solved" in result.stdout
    assert ("diverged: job 1 (+env.kwargs.gravity=-10.0 agent.learning_rate=1000000.0): the TD "
            "loss or Q-values became non-finite") in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_a_sweep_whose_jobs_diverge_but_none_fails_exits_0_and_names_them(tmp_path):
    sweep = tmp_path / "sweep"
    args = ("-m", "debug=smoke", "agent.learning_rate=0.001,1000000.0", f"hydra.sweep.dir={sweep}")
    result = run_module("lunar_dqn.train", *args, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert "sweep: 2 jobs: 1 diverged, 1 solved" in result.stdout
    assert "diverged: job 1 (agent.learning_rate=1000000.0): " in result.stdout
    # the same sweep again into that directory would reuse its jobs' directories: refused
    before = sorted(p.relative_to(sweep) for p in sweep.rglob("*"))
    again = run_module("lunar_dqn.train", *args, cwd=REPO)
    assert again.returncode == 2
    assert again.stderr.splitlines() == [f"error: hydra.sweep.dir={sweep} already holds a sweep: "
                                         "sweep into a new directory (each sweep gets its own by "
                                         "default)"]
    assert sorted(p.relative_to(sweep) for p in sweep.rglob("*")) == before


def test_resume_of_a_folder_that_is_not_a_run_writes_nothing_into_it(bad_files):
    for name in ("empty_run", "corrupt_run"):
        before = sorted(p.name for p in (bad_files / name).iterdir())
        result = run_module("lunar_dqn.train", f"resume={bad_files / name}", cwd=REPO)
        assert result.returncode == 2 and len(result.stderr.splitlines()) == 1
        assert sorted(p.name for p in (bad_files / name).iterdir()) == before  # no train.log
