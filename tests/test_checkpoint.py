"""Model files: a round trip, and one clear line for every file that cannot be used."""

import errno
import os
import pickle
import zipfile

import pytest
import torch

from lunar_dqn.algo.networks import make_q_network
from lunar_dqn.errors import CheckpointError, Diverged, WriteFault
from lunar_dqn.run import checkpoint
from lunar_dqn.run.checkpoint import load_model, on_cpu, safe_load, save_checkpoint, save_model
from runutil import WritesMarker, flip_byte, member_data_offset


@pytest.fixture
def model_file(tmp_path):
    torch.manual_seed(0)
    network = make_q_network(8, 4, [16, 8])
    path = tmp_path / "model.pt"
    save_model(path, network, 8, 4, [16, 8], "LunarLander-v3")
    return path, network


def load_error(path, hidden_sizes=None) -> str:
    with pytest.raises(CheckpointError) as err:
        load_model(path, hidden_sizes)
    message = str(err.value)
    assert "\n" not in message
    return message


def test_saved_model_loads_back_with_the_same_outputs_and_metadata(model_file):
    path, network = model_file
    loaded, meta = load_model(path, hidden_sizes=[16, 8])
    obs = torch.randn(5, 8)
    assert torch.equal(loaded(obs), network(obs))
    assert (meta["env_id"], meta["obs_dim"], meta["num_actions"], meta["hidden_sizes"]) == (
        "LunarLander-v3", 8, 4, [16, 8])
    assert not loaded.training


def test_missing_file(tmp_path):
    assert load_error(tmp_path / "nope.pt") == f"model file not found: {tmp_path / 'nope.pt'}"


def test_directory_instead_of_file(tmp_path):
    assert load_error(tmp_path) == f"{tmp_path} is a directory, not a model file"


@pytest.mark.parametrize("content", [b"", b"hello world\n", bytes(range(256)) * 8],
                         ids=["empty", "text", "random-bytes"])
def test_bytes_that_are_not_a_pytorch_file(tmp_path, content):
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    assert load_error(path) == (
        f"{path} is not a readable PyTorch file (corrupt, truncated or another format)")


def test_truncated_model(model_file, tmp_path):
    path, _ = model_file
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(path.read_bytes()[:-200])
    assert "is not a readable PyTorch file" in load_error(truncated)


def test_zip_archive_that_torch_cannot_read(tmp_path):
    path = tmp_path / "archive.pt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("notes.txt", "not a model")
    assert load_error(path) == (
        f"{path} is not a readable PyTorch file (corrupt or truncated?): RuntimeError")


@pytest.mark.parametrize("content", [
    {"0.weight": torch.zeros(4, 8), "0.bias": torch.zeros(4)},  # a bare state_dict
    [1, 2, 3],
    {"format": "something.else", "version": 1},
], ids=["state-dict", "list", "other-format"])
def test_pytorch_file_that_is_not_a_lunar_dqn_model(tmp_path, content):
    path = tmp_path / "other.pt"
    torch.save(content, path)
    assert load_error(path) == f"{path} is not a lunar_dqn model file"


def test_hidden_sizes_that_differ_from_the_config(model_file):
    path, _ = model_file
    assert load_error(path, hidden_sizes=[64, 64]) == (
        f"{path} holds a network of hidden sizes [16, 8], but the config asks for [64, 64]")


def test_newer_format_version(model_file):
    path, _ = model_file
    data = torch.load(path, weights_only=True)
    torch.save({**data, "version": 2}, path)
    assert load_error(path) == (
        f"{path} is a lunar_dqn model file of version 2; this version reads 1")


@pytest.mark.parametrize("change, bad", [
    ({"state_dict": None}, "state_dict"),
    ({"hidden_sizes": [16, 0]}, "hidden_sizes"),
    ({"obs_dim": "8", "num_actions": 0}, "obs_dim, num_actions"),
])
def test_damaged_fields(model_file, change, bad):
    path, _ = model_file
    data = torch.load(path, weights_only=True)
    torch.save({**data, **change}, path)
    assert load_error(path) == f"{path} is a damaged lunar_dqn model file: {bad} missing or invalid"


def test_weights_that_do_not_fit_the_described_network(model_file):
    path, _ = model_file
    data = torch.load(path, weights_only=True)
    torch.save({**data, "hidden_sizes": [32, 8]}, path)
    assert load_error(path) == (
        f"{path} has weights that do not fit its own network: size mismatch for 0.weight: "
        "copying a param with shape torch.Size([16, 8]) from checkpoint, the shape in current "
        "model is torch.Size([32, 8]). (and 2 more)")


REFUSED = ("was refused: it would run code ({}.open) when loaded; lunar_dqn files hold only "
           "tensors and plain values")
NOT_PYTORCH = "is not a readable PyTorch file (corrupt, truncated or another format)"


@pytest.mark.parametrize("write, expected", [
    (lambda obj, path: torch.save(obj, path), REFUSED),
    (lambda obj, path: torch.save({"format": "lunar_dqn.model", "state_dict": obj}, path),
     REFUSED),
    (lambda obj, path: path.write_bytes(pickle.dumps(obj)), NOT_PYTORCH),
], ids=["torch-save", "inside-a-model-dict", "raw-pickle"])
def test_pickle_that_would_run_code_is_refused_without_running_it(tmp_path, write, expected):
    marker = tmp_path / "code-ran"
    path = tmp_path / "evil.pt"
    write(WritesMarker(marker), path)
    assert load_error(path) == f"{path} {expected.format(open.__module__)}"
    assert not marker.exists()


def test_the_marker_pickle_does_run_code_when_loaded_unsafely(tmp_path):
    """The refusal above means something: an unsafe load of the same file creates the marker."""
    marker = tmp_path / "code-ran"
    path = tmp_path / "evil.pt"
    torch.save(WritesMarker(marker), path)
    torch.load(path, weights_only=False).close()
    assert marker.exists()


def test_safe_load_reads_plain_containers(tmp_path):
    path = tmp_path / "plain.pt"
    torch.save({"a": [1, 2], "t": torch.arange(3)}, path)
    data = safe_load(path)
    assert data["a"] == [1, 2] and torch.equal(data["t"], torch.arange(3))


def test_a_flipped_bit_in_the_weights_is_reported_not_loaded(model_file):
    path, _ = model_file
    with zipfile.ZipFile(path) as archive:
        weights = next(n for n in archive.namelist() if "/data/" in n)
    start, size = member_data_offset(path, weights)
    torch.load(path, weights_only=True)  # torch alone would take the flipped file
    flip_byte(path, start + size // 2)
    torch.load(path, weights_only=True)  # ... as it does: it does not check the CRCs
    assert load_error(path) == (f"{path} is damaged: {weights} fails its CRC check (the file "
                                "changed after it was written)")


def test_a_flipped_bit_anywhere_is_refused_or_changes_nothing(model_file, tmp_path):
    path, _ = model_file
    clean = path.read_bytes()
    weights = load_model(path)[0].state_dict()
    refused = 0
    for offset in range(0, len(clean), 7):
        damaged = tmp_path / "flipped.pt"
        damaged.write_bytes(clean)
        flip_byte(damaged, offset)
        try:
            loaded = load_model(damaged)[0].state_dict()
        except CheckpointError as err:
            assert "\n" not in str(err)
            refused += 1
            continue
        # a flip in a field no reader uses (a timestamp, alignment padding) changes nothing
        assert all(torch.equal(loaded[k], weights[k]) for k in weights), offset
    assert refused > len(clean) // 7 // 2


def test_non_finite_weights_are_never_written_and_never_played(tmp_path, model_file):
    path, network = model_file
    with torch.no_grad():
        network[0].weight[0, 0] = float("inf")
    with pytest.raises(Diverged, match=r"became non-finite; nan\.pt was not written"):
        save_model(tmp_path / "nan.pt", network, 8, 4, [16, 8], "LunarLander-v3")
    assert not (tmp_path / "nan.pt").exists()
    data = torch.load(path, weights_only=True)
    data["state_dict"]["2.bias"][1] = float("nan")
    torch.save(data, path)
    assert load_error(path) == (
        f"{path} holds non-finite weights (NaN or inf): the run that wrote it diverged")


def test_a_full_disk_keeps_the_previous_file_and_leaves_no_temporary_one(model_file, monkeypatch):
    path, network = model_file
    before = path.read_bytes()

    def disk_full(*args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(WriteFault) as err:
        save_model(path, network, 8, 4, [16, 8], "LunarLander-v3")
    assert str(err.value) == (
        f"cannot write {path}: the disk is full; the previous model.pt is intact")
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == ["model.pt"]


def test_files_get_the_permissions_of_the_umask(tmp_path, model_file):
    _, network = model_file
    old = os.umask(0o027)
    try:
        save_model(tmp_path / "group.pt", network, 8, 4, [16, 8], "LunarLander-v3")
    finally:
        os.umask(old)
    assert (tmp_path / "group.pt").stat().st_mode & 0o777 == 0o640


def test_on_cpu_keeps_the_structure_and_leaves_cpu_tensors_as_they_are():
    weights = make_q_network(8, 4, [16]).state_dict()
    tree = {"net": weights, "optimizer": {"state": {0: {"step": torch.tensor(3.0)}}},
            "rng": (3, torch.arange(4), [torch.ones(2), "x", None])}
    moved = on_cpu(tree)
    assert type(moved["net"]) is type(weights) and moved["net"]._metadata == weights._metadata
    assert list(moved["net"]) == list(weights) and all(
        moved["net"][k] is weights[k] for k in weights)  # on the CPU: no copy
    assert moved["optimizer"]["state"][0]["step"] is tree["optimizer"]["state"][0]["step"]
    assert type(moved["rng"]) is tuple and type(moved["rng"][2]) is list
    assert moved["rng"][0] == 3 and moved["rng"][2][1:] == ["x", None]


@pytest.mark.parametrize("save", ["model", "checkpoint"])
def test_model_files_and_checkpoints_hold_what_on_cpu_returns(tmp_path, monkeypatch, save):
    """Whatever device the tensors were on, the file holds `on_cpu`'s tree (a GPU run's file
    then loads with a plain `torch.load` on a CPU-only machine)."""
    received = []

    def spy(tree):
        received.append(tree)
        return {"moved": True, "format": tree["format"]}

    monkeypatch.setattr(checkpoint, "on_cpu", spy)
    network = make_q_network(8, 4, [16])
    path = tmp_path / "file.pt"
    if save == "model":
        save_model(path, network, 8, 4, [16], "LunarLander-v3")
    else:
        save_checkpoint(path, {"agent": network.state_dict(), "counters": {"env_steps": 0}})
    assert len(received) == 1
    saved = torch.load(path, weights_only=True)
    assert saved == {"moved": True, "format": received[0]["format"]}
    assert isinstance(received[0]["state_dict" if save == "model" else "agent"], dict)
