"""A checkpoint is checked before a run continues from it: its bytes against the zip's CRCs,
then every key, type and shape the trainer restores, and finite weights. Damage is one line,
never a traceback or a run that trains on it."""

import shutil
import zipfile

import pytest
import torch

from conftest import compose_config
from lunar_dqn.errors import CheckpointError
from lunar_dqn.run.checkpoint import load_checkpoint
from lunar_dqn.run.rundir import CHECKPOINT, HISTORY
from lunar_dqn.train import train
from runutil import flip_byte, member_data_offset

SMOKE = ("debug=smoke", "train.max_episodes=1000", "train.solve_score=1000",
         "logger.tensorboard=false", "train.max_env_steps=400")


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "run"
    train(compose_config(*SMOKE), run)
    return run


@pytest.fixture
def run(finished_run, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(finished_run, copy)
    return copy


def resume_error(run) -> str:
    before = (run / HISTORY).read_bytes()
    with pytest.raises(CheckpointError) as err:
        train(compose_config(*SMOKE, "train.max_env_steps=800"), run, resume=True)
    assert (run / HISTORY).read_bytes() == before  # nothing was trained, nothing rewritten
    assert "\n" not in str(err.value)
    return str(err.value)


def edit_checkpoint(run, change) -> None:
    state = torch.load(run / CHECKPOINT, weights_only=True)
    change(state)
    torch.save(state, run / CHECKPOINT)


def test_a_flipped_bit_in_the_replay_buffer_is_reported_not_trained_on(run):
    path = run / CHECKPOINT
    state = torch.load(path, weights_only=True)
    with zipfile.ZipFile(path) as archive:  # the largest member: the buffer's observations
        member = max(archive.infolist(), key=lambda info: info.file_size).filename
    start, size = member_data_offset(path, member)
    flip_byte(path, start + size // 3)
    flipped = torch.load(path, weights_only=True)  # torch takes it, with one value changed
    assert not torch.equal(flipped["buffer"]["obs"], state["buffer"]["obs"])
    assert resume_error(run) == (f"{path} is damaged: {member} fails its CRC check (the file "
                                 "changed after it was written)")


def del_key(*keys):
    def change(state):
        node = state
        for key in keys[:-1]:
            node = node[key]
        del node[keys[-1]]
    return change


def set_key(value, *keys):
    def change(state):
        node = state
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value(node[keys[-1]]) if callable(value) else value
    return change


def nan_first(t):
    t = t.clone()
    t.view(-1)[0] = float("nan")
    return t


@pytest.mark.parametrize("change, problem", [
    (del_key("nstep"), "nstep is missing"),
    (del_key("counters", "gradient_steps"), "counters.gradient_steps is missing"),
    (del_key("agent", "target", "2.bias"), "agent.target.2.bias is missing"),
    (set_key(torch.zeros(3, 3), "agent", "online", "0.weight"),
     "agent.online.0.weight is a torch.float32 tensor of shape (3, 3), not a torch.float32 "
     "tensor of shape (16, 8)"),
    (set_key(lambda t: t[:-1], "buffer", "rewards"), "buffer.rewards is a torch.float32 tensor"),
    (set_key(10**9, "buffer", "size"), "buffer.size=1000000000 is not a row count of a buffer "
                                       "of 2000"),
    (set_key(lambda t: t[:-1], "history", "env_steps"), "history.env_steps is a torch.int64 "
                                                         "tensor of shape"),
    (set_key("many", "counters", "env_steps"), "counters.env_steps is 'many', not a int"),
    (set_key(lambda starts: starts[:1], "envs", "episode_starts"),
     "envs.episode_starts is a list of 1, not a sequence of 2"),
    (set_key(nan_first, "agent", "target", "0.weight"),
     "its weights or optimizer state are not finite (NaN or inf)"),
    (set_key(lambda t: t[:1], "agent", "optimizer", "state", 0, "exp_avg"),
     "agent.optimizer.state[0].exp_avg is a torch.float32 tensor of shape (1, 8), not of shape "
     "(16, 8)"),
    (set_key(lambda rng: rng[:2], "rng", "numpy"), "it cannot be restored"),
    # a generator state of neither a CPU (5056 bytes) nor a CUDA generator (16)
    (set_key(torch.zeros(100, dtype=torch.uint8), "buffer", "generator"),
     "buffer.generator is a torch.uint8 tensor of shape (100,), not a torch.uint8 tensor of "
     "shape (5056,)"),
    (set_key(torch.zeros(16), "agent", "action_generator"),
     "agent.action_generator is a torch.float32 tensor of shape (16,), not a torch.uint8 "
     "tensor of shape (5056,)"),
], ids=["top-key", "counter", "weight", "shape", "buffer-rows", "buffer-size", "history",
        "counter-type", "envs", "nan-weights", "optimizer-state", "rng", "generator-length",
        "generator-dtype"])
def test_a_checkpoint_missing_a_key_or_of_another_shape_is_one_line(run, change, problem):
    edit_checkpoint(run, change)
    message = resume_error(run)
    assert message.startswith(f"{run / CHECKPOINT} is damaged: ")
    assert problem in message


def test_the_untouched_checkpoint_passes_every_check(run):
    assert load_checkpoint(run / CHECKPOINT)["counters"]["env_steps"] == 400
    summary = train(compose_config(*SMOKE, "train.max_env_steps=800"), run, resume=True)
    assert summary["env_steps"] == 800


@pytest.mark.parametrize("lever, key", [
    (("agent.reset_every=50", "agent.reset_shrink=0.5"), ("agent", "reset_generator")),
    (("buffer.prioritized=true",), ("buffer", "priorities")),
], ids=["resets", "prioritized"])
def test_a_levers_state_must_be_in_the_checkpoint(tmp_path, lever, key):
    run = tmp_path / "run"
    train(compose_config(*SMOKE, *lever), run)
    edit_checkpoint(run, del_key(*key))
    with pytest.raises(CheckpointError, match=rf"is damaged: {key[0]}\.{key[1]} is missing"):
        train(compose_config(*SMOKE, *lever, "train.max_env_steps=800"), run, resume=True)
