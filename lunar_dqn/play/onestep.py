"""One environment step as the lab's table: the initial state, the action by its label, the next
state, the reward and whether the episode ended, floats to 3 decimals."""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np

from lunar_dqn.errors import ConfigError

ACTION_LABELS = ("Do nothing", "Fire right engine", "Fire main engine", "Fire left engine")
LUNAR_LANDER = "LunarLander-v3"  # the environment these labels name


@dataclass
class Step:
    initial_state: np.ndarray
    action: int
    next_state: np.ndarray
    reward: float
    done: bool  # terminated or truncated: the lab's "done"


def parse_action(value: str) -> int:
    """"2" or "fire main engine" -> 2; anything else is a ConfigError listing the choices."""
    text = str(value).strip()
    if text.isdigit() and int(text) < len(ACTION_LABELS):
        return int(text)
    labels = [label.lower() for label in ACTION_LABELS]
    if text.lower() in labels:
        return labels.index(text.lower())
    choices = ", ".join(f"{i} ({label})" for i, label in enumerate(ACTION_LABELS))
    raise ConfigError(f"action={text} is invalid: must be one of {choices}")


def one_step(action: int, seed: int, env_id: str = LUNAR_LANDER) -> Step:
    if seed < 0:
        raise ConfigError(f"seed={seed} is invalid: must be >= 0")
    env = gym.make(env_id)
    try:
        initial_state, _ = env.reset(seed=seed)
        next_state, reward, terminated, truncated, _ = env.step(action)
    finally:
        env.close()
    return Step(initial_state, action, next_state, float(reward), bool(terminated or truncated))


def format_table(step: Step) -> str:
    """The lab's `display_table` as text: one row per value, floats to 3 decimals."""
    with np.printoptions(formatter={"float": "{:.3f}".format}):
        rows = [
            ("Initial State:", f"{step.initial_state}"),
            ("Action:", ACTION_LABELS[step.action]),
            ("Next State:", f"{step.next_state}"),
            ("Reward Received:", f"{step.reward:.3f}"),
            ("Episode Terminated:", f"{step.done}"),
        ]
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label:<{width}}  {value}" for label, value in rows)
