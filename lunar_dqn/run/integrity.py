"""What a checkpoint must hold before a run continues from it: every key the trainer restores,
with the types and shapes of the run's own state, and finite weights. A checkpoint damaged or
edited after it was written is one line, never a KeyError half-way through a restore or a
crash minutes into the resumed run. (Its bytes were already checked against the zip's CRCs when
it was loaded.)"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from lunar_dqn.algo.buffer import COLUMNS
from lunar_dqn.algo.prioritized import PrioritizedReplayBuffer
from lunar_dqn.errors import CheckpointError, EnvFailed
from lunar_dqn.run.checkpoint import all_finite
from lunar_dqn.run.crossdevice import expected_state
from lunar_dqn.run.resume import restore

if TYPE_CHECKING:
    from lunar_dqn.run.trainer import Trainer

TOP_KEYS = ("config", "agent", "buffer", "nstep", "counters", "history", "envs", "rng")


def restore_checked(trainer: Trainer, state: dict[str, Any], path: Path,
                    before: Callable[[], None] = lambda: None) -> None:
    """Put `trainer` back where `state` (read from `path`) left it, once the state passed every
    check; CheckpointError otherwise. `before` runs between the checks and the restore (which
    rewrites files), so a refusal it raises changes nothing."""
    problems = checkpoint_problems(state, trainer)
    if not problems:
        before()
        try:
            restore(trainer, state)
        except EnvFailed:
            raise  # the environments failed replaying the episodes: a fault, not damage
        except (KeyError, IndexError, TypeError, ValueError, RuntimeError) as err:
            problems = [f"it cannot be restored ({type(err).__name__}: {err})".splitlines()[0]]
    if problems:
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        raise CheckpointError(f"{path} is damaged: {problems[0]}{more}")


def checkpoint_problems(state: dict[str, Any], trainer: Trainer) -> list[str]:
    """Everything in `state` that does not fit `trainer`, a run freshly built from the
    checkpoint's own config; empty when it fits."""
    problems = [f"{key} is missing" for key in TOP_KEYS if key not in state]
    if problems:
        return problems
    rows = state["buffer"].get("size") if isinstance(state["buffer"], dict) else None
    if not isinstance(rows, int) or not 0 <= rows <= trainer.buffer.capacity:
        problems.append(f"buffer.size={rows!r} is not a row count of a buffer of "
                        f"{trainer.buffer.capacity}")
        rows = 0
    buffer: dict[str, Any] = {"capacity": 0, "cursor": 0, "size": 0, "generator": expected_state(
        state["buffer"], "generator", trainer.buffer.generator)}  # of either device type
    for name in COLUMNS:  # only the filled rows are saved
        column = getattr(trainer.buffer, name)
        buffer[name] = torch.empty((rows, *column.shape[1:]), dtype=column.dtype)
    if isinstance(trainer.buffer, PrioritizedReplayBuffer):  # a priority for each filled row
        buffer.update(max_priority=0.0, stored=0,
                      priorities=torch.empty(rows, dtype=torch.float64))
    episodes = state["history"].get("points") if isinstance(state["history"], dict) else None
    length = len(episodes) if isinstance(episodes, torch.Tensor) and episodes.dim() == 1 else 0
    num_envs = trainer.cfg.env.num_envs
    agent = trainer.agent.state_dict()
    # the optimizer's settings may differ between torch versions: its groups are counted, and
    # its per-parameter state is checked against the parameters' shapes below
    groups = len(agent["optimizer"]["param_groups"])
    agent["optimizer"] = {"state": {}, "param_groups": [{}] * groups}
    agent["action_generator"] = expected_state(state["agent"], "action_generator",
                                               trainer.agent.action_generator)
    expected = {
        "config": "",
        "agent": agent,
        "buffer": buffer,
        "nstep": trainer.nstep.state_dict(),
        "counters": {"env_steps": 0, "gradient_steps": 0, "pending_transitions": 0,
                     "solved_episode": None, "solved_env_steps": None, "wall_time": 0.0},
        "history": {name: torch.empty(length, dtype=dtype) for name, dtype in (
            ("points", torch.float64), ("averages", torch.float64), ("env_steps", torch.int64))},
        "envs": {"obs": torch.empty(num_envs, trainer.obs_dim, dtype=torch.float32),
                 "episode_points": torch.empty(num_envs, dtype=torch.float64),
                 "episode_starts": [""] * num_envs, "episode_actions": [[]] * num_envs},
        "rng": {"python": (), "torch": torch.get_rng_state(), "numpy": ()},
    }
    _compare(expected, {key: state[key] for key in TOP_KEYS}, "", problems)
    _check_optimizer_state(state["agent"], trainer, problems)
    if not problems and not all_finite(state["agent"]):
        problems.append("its weights or optimizer state are not finite (NaN or inf)")
    return problems


def _compare(expected: Any, got: Any, where: str, problems: list[str]) -> None:
    """Keys, container lengths, tensor dtypes and shapes, and scalar types of `got` against
    `expected`. A None expected takes an int or None; a float takes an int too; an empty tuple
    or list takes any tuple or list (its content is checked when it is restored)."""
    name = where.lstrip(".") or "the checkpoint"
    if isinstance(expected, dict):
        if not isinstance(got, dict):
            problems.append(f"{name} is not a mapping")
            return
        for key, value in expected.items():
            if key not in got:
                problems.append(f"{where.lstrip('.')}{'.' if where else ''}{key} is missing")
            else:
                _compare(value, got[key], f"{where}.{key}", problems)
    elif isinstance(expected, torch.Tensor):
        if (not isinstance(got, torch.Tensor) or got.dtype != expected.dtype
                or got.shape != expected.shape):
            problems.append(f"{name} is {_describe(got)}, not a {expected.dtype} tensor of shape "
                            f"{tuple(expected.shape)}")
    elif isinstance(expected, (list, tuple)):
        if not isinstance(got, (list, tuple)) or (expected and len(got) != len(expected)):
            problems.append(f"{name} is {_describe(got)}, not a sequence of {len(expected)}")
            return
        for i, (want, have) in enumerate(zip(expected, got, strict=False)):  # [] takes any
            _compare(want, have, f"{where}[{i}]", problems)
    elif not _scalar_fits(expected, got):
        problems.append(f"{name} is {_describe(got)}, not a {type(expected).__name__}")


def _scalar_fits(expected: Any, got: Any) -> bool:
    if isinstance(got, bool) and not isinstance(expected, bool):
        return False
    if expected is None:
        return got is None or isinstance(got, int)
    if isinstance(expected, float):
        return isinstance(got, (int, float))
    return isinstance(got, type(expected))


def _check_optimizer_state(agent: Any, trainer: Trainer, problems: list[str]) -> None:
    """Adam's per-parameter state, when it has any: each tensor a step count or the shape of
    its parameter."""
    state = agent.get("optimizer", {}).get("state") if isinstance(agent, dict) else None
    if not isinstance(state, dict):
        problems.append("agent.optimizer.state is missing")
        return
    params = trainer.agent.online_params
    for index, entry in state.items():
        if not isinstance(index, int) or not 0 <= index < len(params):
            problems.append(f"agent.optimizer.state has a parameter {index!r} the network lacks")
            continue
        for key, value in (entry.items() if isinstance(entry, dict) else [("", entry)]):
            if not isinstance(value, torch.Tensor) or value.shape not in (
                    torch.Size([]), params[index].shape):
                problems.append(f"agent.optimizer.state[{index}].{key} is {_describe(value)}, "
                                f"not of shape {tuple(params[index].shape)}")


def _describe(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"a {value.dtype} tensor of shape {tuple(value.shape)}"
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of {len(value)}"
    return f"{value!r}" if isinstance(value, (int, float, str)) or value is None else (
        f"a {type(value).__name__}")
