"""Saving and loading model files and checkpoints: atomic writes of finite weights only,
weights-only reads of files whose zip CRCs check out, one-line errors."""

from __future__ import annotations

import pickle
import re
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

from lunar_dqn.algo.networks import architecture, make_q_network
from lunar_dqn.errors import CheckpointError, Diverged
from lunar_dqn.run.atomic import atomic_write

MODEL_FORMAT = "lunar_dqn.model"
MODEL_VERSION = 1
CHECKPOINT_FORMAT = "lunar_dqn.checkpoint"
CHECKPOINT_VERSION = 1


def on_cpu(tree: Any) -> Any:
    """`tree` (nested dicts, lists and tuples) with every tensor moved to the CPU; a CPU tensor
    stays itself, and a state dict keeps its type and `_metadata`."""
    if isinstance(tree, torch.Tensor):
        return tree.cpu()
    if isinstance(tree, dict):
        moved = type(tree)((key, on_cpu(value)) for key, value in tree.items())
        if hasattr(tree, "_metadata"):
            moved._metadata = tree._metadata
        return moved
    if type(tree) in (list, tuple):
        return type(tree)(on_cpu(value) for value in tree)
    return tree


def atomic_save(obj: Any, path: Path) -> None:
    """`torch.save` through a temporary file, renamed over `path` (see `atomic_write`). The file
    holds CPU tensors only, so one written on a GPU loads with a plain `torch.load` anywhere."""
    moved = on_cpu(obj)
    atomic_write(path, lambda f: torch.save(moved, f))


def float_tensors(tree: Any) -> Iterator[torch.Tensor]:
    """Every floating-point tensor in nested dicts, lists and tuples."""
    if isinstance(tree, torch.Tensor):
        if tree.is_floating_point():
            yield tree
    elif isinstance(tree, dict):
        for value in tree.values():
            yield from float_tensors(value)
    elif isinstance(tree, (list, tuple)):
        for value in tree:
            yield from float_tensors(value)


def all_finite(tree: Any) -> bool:
    return all(bool(torch.isfinite(t).all()) for t in float_tensors(tree))


def _is_zip(path: Path) -> bool:
    try:
        return zipfile.is_zipfile(path)
    except zipfile.BadZipFile:  # an end record it cannot make sense of
        return False


def check_crcs(path: Path) -> None:
    """Read every member of the zip archive `torch.save` wrote and check its CRC-32, which
    `torch.load` does not: a flipped bit anywhere in the file is reported, not trained on."""
    try:
        with zipfile.ZipFile(path) as archive:
            damaged = archive.testzip()
    except Exception as err:  # any failure to parse untrusted bytes (a flag, a size, a name)
        raise CheckpointError(f"{path} is not a readable PyTorch file (corrupt or truncated?): "
                              f"{type(err).__name__}") from None
    if damaged is not None:
        raise CheckpointError(f"{path} is damaged: {damaged} fails its CRC check (the file "
                              "changed after it was written)")


def safe_load(path: Path, what: str = "file") -> Any:
    """`torch.load(weights_only=True)`: tensors and plain containers only, never arbitrary code.

    Files that are not zip archives (the only format `torch.save` writes) are refused before
    any unpickling: random bytes, truncated files and raw pickles all stop there.
    """
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{path} is a directory, not a {what}")
    if not path.is_file():
        raise CheckpointError(f"{what} not found: {path}")
    if not _is_zip(path):
        raise CheckpointError(f"{path} is not a readable PyTorch file (corrupt, truncated or "
                              "another format)")
    check_crcs(path)
    try:
        with warnings.catch_warnings():  # the error below says all; no extra lines on stderr
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        refused = re.search(r"GLOBAL ([\w.]+)", str(err))  # both of torch's wordings
        if refused:
            raise CheckpointError(
                f"{path} was refused: it would run code ({refused.group(1)}) when loaded; "
                "lunar_dqn files hold only tensors and plain values") from None
        raise CheckpointError(f"{path} is not a readable PyTorch file (corrupt or truncated?): "
                              "UnpicklingError") from None
    except Exception as err:  # any other failure to parse untrusted bytes: one line, no trace
        raise CheckpointError(f"{path} is not a readable PyTorch file (corrupt or truncated?): "
                              f"{type(err).__name__}") from None


def save_model(path: Path, network: nn.Module, obs_dim: int, num_actions: int,
               hidden_sizes: list[int], env_id: str) -> None:
    """The weights and what rebuilds their network (`make_q_network`'s arguments; files without
    `layer_norm` or `dueling`, written before these options, hold the plain MLP). Never writes
    non-finite weights: raises Diverged instead."""
    if not all_finite(network.state_dict()):
        raise Diverged(f"the network's weights became non-finite; {path.name} was not written")
    atomic_save(
        {
            "format": MODEL_FORMAT, "version": MODEL_VERSION, "env_id": env_id,
            "obs_dim": obs_dim, "num_actions": num_actions, "hidden_sizes": list(hidden_sizes),
            **architecture(network), "state_dict": network.state_dict(),
        },
        path,
    )


def _check_model_fields(path: Path, data: dict) -> None:
    """A lunar_dqn model file whose fields are missing or of the wrong kind is damaged."""
    def positive_int(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and value >= 1

    checks = {
        "env_id": isinstance(data.get("env_id"), str),
        "obs_dim": positive_int(data.get("obs_dim")),
        "num_actions": positive_int(data.get("num_actions")),
        "hidden_sizes": isinstance(data.get("hidden_sizes"), list)
        and all(positive_int(h) for h in data["hidden_sizes"]),
        "layer_norm": isinstance(data.get("layer_norm", False), bool),
        "dueling": isinstance(data.get("dueling", False), bool),
        "state_dict": isinstance(data.get("state_dict"), dict)
        and all(isinstance(v, torch.Tensor) for v in data["state_dict"].values()),
    }
    bad = [name for name, ok in checks.items() if not ok]
    if bad:
        raise CheckpointError(f"{path} is a damaged lunar_dqn model file: "
                              f"{', '.join(bad)} missing or invalid")


def load_model(path: Path, hidden_sizes: list[int] | None = None) -> tuple[nn.Sequential, dict]:
    """Rebuild the Q-network a model file describes. With `hidden_sizes`, also check that the
    file matches that configured shape."""
    data = _load_lunar_dqn_file(path, "model file", MODEL_FORMAT, MODEL_VERSION)
    _check_model_fields(path, data)
    if hidden_sizes is not None and list(hidden_sizes) != data["hidden_sizes"]:
        raise CheckpointError(
            f"{path} holds a network of hidden sizes {data['hidden_sizes']}, "
            f"but the config asks for {list(hidden_sizes)}"
        )
    network = make_q_network(data["obs_dim"], data["num_actions"], data["hidden_sizes"],
                             data.get("layer_norm", False), data.get("dueling", False))
    try:
        network.load_state_dict(data["state_dict"])
    except RuntimeError as err:  # "Error(s) in loading state_dict...", then one line a reason
        reasons = [line.strip() for line in str(err).splitlines()[1:] if line.strip()]
        more = f" (and {len(reasons) - 1} more)" if len(reasons) > 1 else ""
        raise CheckpointError(f"{path} has weights that do not fit its own network: "
                              f"{reasons[0] if reasons else err}{more}") from None
    if not all_finite(data["state_dict"]):
        raise CheckpointError(f"{path} holds non-finite weights (NaN or inf): the run that wrote "
                              "it diverged")
    network.eval()
    return network, data


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Never replaces a checkpoint with one whose weights or optimizer state are non-finite:
    raises Diverged instead, and the last good checkpoint stays."""
    if not all_finite(state.get("agent")):
        raise Diverged("the weights or the optimizer's state became non-finite by env step "
                       f"{state['counters']['env_steps']}")
    atomic_save({"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, **state}, path)


def load_checkpoint(path: Path) -> dict[str, Any]:
    return _load_lunar_dqn_file(path, "training checkpoint", CHECKPOINT_FORMAT,
                                CHECKPOINT_VERSION)


def _load_lunar_dqn_file(path: Path, what: str, file_format: str, version: int) -> dict[str, Any]:
    """A weights-only load that also checks the file is a `what` of the version this reads."""
    data = safe_load(path, what)
    if not isinstance(data, dict) or data.get("format") != file_format:
        raise CheckpointError(f"{path} is not a lunar_dqn {what}")
    if data.get("version") != version:
        raise CheckpointError(f"{path} is a lunar_dqn {what} of version "
                              f"{data.get('version')!r}; this version reads {version}")
    return data
