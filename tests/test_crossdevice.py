"""A run resumed on another device type than the one that wrote its checkpoint: everything is
restored exactly but the two generators that live on the device, which are seeded afresh from
their saved states, with one log line. On a CPU-only machine the checkpoint of a CUDA run is
made by giving a CPU run's checkpoint the generator states a CUDA generator writes."""

import hashlib
import shutil
import struct

import pytest
import torch

from conftest import compose_config
from lunar_dqn.run.checkpoint import load_checkpoint, load_model, save_checkpoint
from lunar_dqn.run.resume import resume_config
from lunar_dqn.run.rundir import BEST_MODEL, CHECKPOINT, FINAL_MODEL
from lunar_dqn.run.trainer import Trainer
from lunar_dqn.train import train

SMOKE = ("debug=smoke", "train.max_episodes=1000", "train.solve_score=1000",
         "logger.tensorboard=false")
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def config(env_steps: int, *overrides: str):
    return compose_config(*SMOKE, f"train.max_env_steps={env_steps}", *overrides)


def cuda_state(seed: int, offset: int) -> torch.Tensor:
    """What a CUDA generator's `get_state()` returns: its seed and offset, 8 bytes each."""
    return torch.tensor(list(struct.pack("<QQ", seed, offset)), dtype=torch.uint8)


def reseeded_cpu_state(saved: torch.Tensor) -> torch.Tensor:
    """A CPU generator seeded from the first 8 bytes of the SHA-256 of `saved` (little-endian)."""
    seed = int.from_bytes(hashlib.sha256(saved.numpy().tobytes()).digest()[:8], "little")
    return torch.Generator().manual_seed(seed).get_state()


@pytest.fixture(scope="module")
def cuda_run(tmp_path_factory):
    """A run stopped at 1000 env steps whose checkpoint holds CUDA generator states."""
    run = tmp_path_factory.mktemp("runs") / "run"
    train(config(1000, "device=cpu"), run)
    state = load_checkpoint(run / CHECKPOINT)
    state["agent"]["action_generator"] = cuda_state(1234, 4 * 1000)
    state["buffer"]["generator"] = cuda_state(1235, 4 * 300)
    save_checkpoint(run / CHECKPOINT, state)
    return run


def copy_of(run, tmp_path, name):
    shutil.copytree(run, tmp_path / name)
    return tmp_path / name


def moved_lines(caplog) -> list[str]:
    return [m for m in caplog.messages if m.startswith("the checkpoint was written on")]


def test_a_cuda_checkpoint_resumes_on_cpu_with_all_else_exact_and_one_log_line(
        cuda_run, tmp_path, caplog):
    run = copy_of(cuda_run, tmp_path, "run")
    state = load_checkpoint(run / CHECKPOINT)
    caplog.set_level("INFO")
    trainer = Trainer(config(2000), run, resume=True)
    try:
        assert moved_lines(caplog) == [
            "the checkpoint was written on cuda, the run continues on cpu: weights, optimizer, "
            "buffer, counters and every other generator are restored exactly, the action and "
            "sampling generators are seeded afresh from their saved states (so the run is no "
            "longer identical to one never stopped)"]
        for saved, generator in ((state["agent"]["action_generator"],
                                  trainer.agent.action_generator),
                                 (state["buffer"]["generator"], trainer.buffer.generator)):
            assert torch.equal(generator.get_state(), reseeded_cpu_state(saved))
        online = trainer.agent.online.state_dict()
        assert all(torch.equal(online[k], state["agent"]["online"][k]) for k in online)
        assert trainer.buffer.size == state["buffer"]["size"] > 0
        assert torch.equal(trainer.buffer.obs[:trainer.buffer.size], state["buffer"]["obs"])
        assert trainer.env_steps == 1000 and torch.equal(torch.get_rng_state(),
                                                         state["rng"]["torch"])
    finally:
        trainer.close()


def test_the_same_cuda_checkpoint_resumed_twice_on_cpu_gives_the_same_run(cuda_run, tmp_path):
    runs = [copy_of(cuda_run, tmp_path, name) for name in ("a", "b")]
    summaries = [train(config(2000), run, resume=True) for run in runs]
    assert summaries[0]["env_steps"] == summaries[1]["env_steps"] == 2000
    a, b = (load_model(run / FINAL_MODEL)[0].state_dict() for run in runs)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert (runs[0] / "history.csv").read_text() == (runs[1] / "history.csv").read_text()


def test_a_checkpoint_of_this_device_type_resumes_exactly_without_the_line(tmp_path, caplog):
    run = tmp_path / "run"
    train(config(1000, "device=cpu"), run)
    caplog.set_level("INFO")
    train(config(2000), run, resume=True)
    assert moved_lines(caplog) == []


def test_the_device_may_change_on_resume(tmp_path):
    run = tmp_path / "run"
    train(config(200, "device=cpu"), run)
    overrides = [f"resume={run}", "device=auto"]
    cfg = resume_config(run, overrides, compose_config(*overrides))
    assert cfg.device == "auto"


def tensors(tree):
    if isinstance(tree, torch.Tensor):
        yield tree
    elif isinstance(tree, dict):
        for value in tree.values():
            yield from tensors(value)
    elif isinstance(tree, (list, tuple)):
        for value in tree:
            yield from tensors(value)


@CUDA
def test_a_cuda_run_writes_cpu_files_and_resumes_on_cpu_and_back(tmp_path, caplog):
    run = tmp_path / "run"
    train(config(1000, "device=cuda"), run)
    for name in (CHECKPOINT, FINAL_MODEL, BEST_MODEL):  # a plain load, on any machine
        found = list(tensors(torch.load(run / name, weights_only=True)))
        assert found and all(t.device.type == "cpu" for t in found)
    caplog.set_level("INFO")
    train(config(2000, "device=cpu"), run, resume=True)
    train(config(3000, "device=cuda"), run, resume=True)
    assert [line.split(":")[0] for line in moved_lines(caplog)] == [
        "the checkpoint was written on cuda, the run continues on cpu",
        "the checkpoint was written on cpu, the run continues on cuda"]
