"""One environment step as the lab's table: actions by number or label, rounding, errors."""

import re

import gymnasium as gym
import numpy as np
import pytest

from conftest import run_module
from lunar_dqn.errors import ConfigError
from lunar_dqn.play.onestep import Step, format_table, one_step, parse_action

INVALID = ("is invalid: must be one of 0 (Do nothing), 1 (Fire right engine), "
           "2 (Fire main engine), 3 (Fire left engine)")


@pytest.mark.parametrize("value, action", [
    ("0", 0), ("3", 3), (2, 2), ("Fire main engine", 2), ("fire LEFT engine", 3),
    (" Do nothing ", 0),
])
def test_actions_by_number_or_label(value, action):
    assert parse_action(value) == action


@pytest.mark.parametrize("value", ["7", "-1", "2.0", "main", ""])
def test_unknown_action_lists_the_four_valid_ones(value):
    with pytest.raises(ConfigError) as err:
        parse_action(value)
    assert str(err.value) == f"action={value} {INVALID}"


def test_table_labels_and_three_decimals():
    step = Step(initial_state=np.array([0.0061, 1.4, -0.52849, 0.0], dtype=np.float32),
                action=2, next_state=np.array([0.01149, 1.38749, 0.5794, 1.0], dtype=np.float32),
                reward=-2.08149, done=False)
    assert format_table(step) == (
        "Initial State:       [0.006 1.400 -0.528 0.000]\n"
        "Action:              Fire main engine\n"
        "Next State:          [0.011 1.387 0.579 1.000]\n"
        "Reward Received:     -2.081\n"
        "Episode Terminated:  False"
    )


def test_one_step_is_the_environments_own_step():
    env = gym.make("LunarLander-v3")
    initial, _ = env.reset(seed=3)
    expected_next, expected_reward, terminated, truncated, _ = env.step(1)
    env.close()
    step = one_step(action=1, seed=3)
    assert np.array_equal(step.initial_state, initial)
    assert np.array_equal(step.next_state, expected_next)
    assert step.reward == expected_reward and step.done == (terminated or truncated) is False
    # the action matters: the main engine pushes the lander up, doing nothing does not
    assert one_step(2, seed=3).next_state[3] > one_step(0, seed=3).next_state[3]
    assert not np.array_equal(one_step(0, seed=4).initial_state, step.initial_state)


@pytest.mark.slow
def test_command_prints_the_table_and_writes_nothing(tmp_path):
    result = run_module("lunar_dqn.inspect", "action=2", "seed=0", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == format_table(one_step(2, seed=0)) + "\n"
    labels = [line.split(":")[0] for line in result.stdout.splitlines()]
    assert labels == ["Initial State", "Action", "Next State", "Reward Received",
                      "Episode Terminated"]
    assert "Action:              Fire main engine" in result.stdout
    state = re.fullmatch(r"Initial State:\s+\[(.*)\]", result.stdout.splitlines()[0]).group(1)
    assert all(re.fullmatch(r"-?\d+\.\d{3}", value) for value in state.split())
    assert len(state.split()) == 8
    assert list(tmp_path.iterdir()) == []  # no outputs/, no .hydra, no log


@pytest.mark.slow
@pytest.mark.parametrize("args, message", [
    (("action=7", "seed=0"), f"error: action=7 {INVALID}"),
    (("actoin=2",), "error: actoin is not a config key (did you mean action?)"),
    (("+sede=2",), "error: sede is not a config key (did you mean seed?)"),
    (("seed=-1",), "error: seed=-1 is invalid: must be >= 0"),
    (("seed=zero",), "error: Error merging override seed=zero (Value 'zero' of type 'str' "
                     "could not be converted to Integer)"),
])
def test_command_mistakes_are_one_error_line(tmp_path, args, message):
    result = run_module("lunar_dqn.inspect", *args, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [message]
    assert result.stdout == ""
