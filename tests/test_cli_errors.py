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
    ("device=cuda", "CUDA is not available"),
    ("experiment=nope", "Could not find 'experiment/nope'"),
    ("agent.taux=0.1", "Could not override 'agent.taux'"),
    ("agent.batch_size=big", "agent.batch_size=big"),
    ("agent.loss=l1", "agent.loss='l1' is invalid"),
    ("train.max_env_steps=-5", "train.max_env_steps"),
    ("resume={root}/missing_run", "no such run directory"),
    ("resume={root}/empty_run", "no checkpoint.pt there"),
    ("resume={root}/corrupt_run", "not a readable PyTorch file"),
    ("resume={root}/foreign_run", "not a lunar_dqn training checkpoint"),
    ("hydra.run.dir={root}/a_file/run", "Not a directory"),  # unwritable, even for root
]


@pytest.mark.parametrize("args, message", BAD_INPUTS, ids=[a for a, _ in BAD_INPUTS])
def test_bad_input_gives_one_clear_line(args, message, bad_files, tmp_path):
    args = args.format(root=bad_files).split()
    if not any(a.startswith("hydra.run.dir") for a in args):
        args.append(f"hydra.run.dir={tmp_path / 'run'}")
    result = run_module("lunar_dqn.train", *args, cwd=REPO)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert message in lines[0]
    assert "Traceback" not in result.stdout + result.stderr
    assert not (tmp_path / "run").exists()


def test_a_failing_sweep_job_is_recorded_and_the_others_finish(tmp_path):
    sweep = tmp_path / "sweep"
    result = run_module("lunar_dqn.train", "-m", "debug=smoke", "agent.tau=0.005,5",
                        f"hydra.sweep.dir={sweep}", cwd=REPO)
    assert result.returncode == 0, result.stderr
    good = json.loads((sweep / "0" / "summary.json").read_text())
    bad = json.loads((sweep / "1" / "summary.json").read_text())
    assert good["episodes"] == 8 and good["status"] == "solved"
    assert bad["status"] == "failed" and "agent.tau=5.0 is invalid" in bad["error"]
