import numpy as np
import pytest

from lunar_dqn.algo.nstep import NStepWindow


def step(window, t, done=(False,), terminated=(False,)):
    """One env whose observation is [t] and whose reward at step t is 10**t."""
    return window.push(np.array([[t]], np.float32), np.array([t % 4]), np.array([10.0**t]),
                       np.array([[t + 1]], np.float32), np.array(terminated), np.array(done))


def test_three_step_returns_and_the_flush_at_termination():
    window = NStepWindow(num_envs=1, n=3, gamma=0.5, obs_dim=1)
    assert len(step(window, 0).obs) == 0
    assert len(step(window, 1).obs) == 0
    out = step(window, 2)  # first full window: transition from t=0
    assert out.obs.tolist() == [[0]] and out.actions.tolist() == [0]
    assert out.returns.tolist() == [1 + 0.5 * 10 + 0.25 * 100]
    assert out.next_obs.tolist() == [[3]] and out.discounts.tolist() == [0.125]
    assert out.terminated.tolist() == [False]
    out = step(window, 3, done=(True,), terminated=(True,))  # the episode ends at t=3
    # starts 1, 2, 3 are flushed with the returns that reach the end, all from next_obs [4]
    assert out.obs[:, 0].tolist() == [1, 2, 3]
    assert out.returns.tolist() == pytest.approx([10 + 50 + 250, 100 + 500, 1000])
    assert out.discounts.tolist() == [0.125, 0.25, 0.5]
    assert out.next_obs[:, 0].tolist() == [4, 4, 4] and out.terminated.all()
    # the next episode starts empty
    assert len(step(window, 10).obs) == 0


def test_truncation_flushes_but_keeps_the_bootstrap():
    window = NStepWindow(num_envs=1, n=3, gamma=0.5, obs_dim=1)
    step(window, 0)
    out = step(window, 1, done=(True,), terminated=(False,))
    assert out.obs[:, 0].tolist() == [0, 1] and not out.terminated.any()
    assert out.discounts.tolist() == [0.25, 0.5]


def test_one_step_is_the_plain_transition():
    window = NStepWindow(num_envs=1, n=1, gamma=0.9, obs_dim=1)
    out = step(window, 2)
    assert out.obs.tolist() == [[2]] and out.returns.tolist() == [100]
    assert out.next_obs.tolist() == [[3]] and out.discounts.tolist() == pytest.approx([0.9])
    out = step(window, 3, done=(True,), terminated=(True,))
    assert out.obs.tolist() == [[3]] and out.terminated.tolist() == [True]


def test_envs_keep_separate_windows():
    window = NStepWindow(num_envs=2, n=2, gamma=1.0, obs_dim=1)
    obs = np.array([[0], [100]], np.float32)
    window.push(obs, np.array([0, 1]), np.array([1.0, 2.0]), obs + 1, np.array([False, False]),
                np.array([False, True]))  # env 1's episode ends after one step
    out = window.push(obs + 1, np.array([0, 1]), np.array([3.0, 4.0]), obs + 2,
                      np.array([False, False]), np.array([False, False]))
    assert out.obs[:, 0].tolist() == [0]  # env 0's full window; env 1 holds one new step
    assert out.returns.tolist() == [4.0]


def test_state_dict_round_trip_continues_identically():
    a = NStepWindow(num_envs=1, n=3, gamma=0.5, obs_dim=1)
    step(a, 0)
    step(a, 1)
    b = NStepWindow(num_envs=1, n=3, gamma=0.5, obs_dim=1)
    b.load_state_dict(a.state_dict())
    assert step(a, 2).returns.tolist() == step(b, 2).returns.tolist() == [31.0]
