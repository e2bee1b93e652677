import numpy as np
import pytest

from lunar_dqn.algo.nstep import NStepWindow, annealed_horizon


def step(window, t, done=(False,), terminated=(False,), n=None, gamma=0.5):
    """One env whose observation is [t] and whose reward at step t is 10**t."""
    return window.push(np.array([[t]], np.float32), np.array([t % 4]), np.array([10.0**t]),
                       np.array([[t + 1]], np.float32), np.array(terminated), np.array(done),
                       window.max_n if n is None else n, gamma)


def test_three_step_returns_and_the_flush_at_termination():
    window = NStepWindow(num_envs=1, max_n=3, obs_dim=1)
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
    window = NStepWindow(num_envs=1, max_n=3, obs_dim=1)
    step(window, 0)
    out = step(window, 1, done=(True,), terminated=(False,))
    assert out.obs[:, 0].tolist() == [0, 1] and not out.terminated.any()
    assert out.discounts.tolist() == [0.25, 0.5]


def test_one_step_is_the_plain_transition():
    window = NStepWindow(num_envs=1, max_n=1, obs_dim=1)
    out = step(window, 2, gamma=0.9)
    assert out.obs.tolist() == [[2]] and out.returns.tolist() == [100]
    assert out.next_obs.tolist() == [[3]] and out.discounts.tolist() == pytest.approx([0.9])
    out = step(window, 3, done=(True,), terminated=(True,), gamma=0.9)
    assert out.obs.tolist() == [[3]] and out.terminated.tolist() == [True]


def test_envs_keep_separate_windows():
    window = NStepWindow(num_envs=2, max_n=2, obs_dim=1)
    obs = np.array([[0], [100]], np.float32)
    window.push(obs, np.array([0, 1]), np.array([1.0, 2.0]), obs + 1, np.array([False, False]),
                np.array([False, True]), 2, 1.0)  # env 1's episode ends after one step
    out = window.push(obs + 1, np.array([0, 1]), np.array([3.0, 4.0]), obs + 2,
                      np.array([False, False]), np.array([False, False]), 2, 1.0)
    assert out.obs[:, 0].tolist() == [0]  # env 0's full window; env 1 holds one new step
    assert out.returns.tolist() == [4.0]


def test_state_dict_round_trip_continues_identically():
    a = NStepWindow(num_envs=1, max_n=3, obs_dim=1)
    step(a, 0)
    step(a, 1)
    b = NStepWindow(num_envs=1, max_n=3, obs_dim=1)
    b.load_state_dict(a.state_dict())
    assert step(a, 2).returns.tolist() == step(b, 2).returns.tolist() == [31.0]


def test_a_falling_n_emits_every_step_that_now_has_n_steps_after_it():
    window = NStepWindow(num_envs=1, max_n=3, obs_dim=1)
    step(window, 0, n=3)
    step(window, 1, n=3)
    assert step(window, 2, n=3).obs.tolist() == [[0]]
    out = step(window, 3, n=2)  # steps 1, 2 and 3 held: 1 and 2 have two steps after them
    assert out.obs[:, 0].tolist() == [1, 2]
    assert out.returns.tolist() == [10 + 0.5 * 100, 100 + 0.5 * 1000]
    assert out.next_obs[:, 0].tolist() == [3, 4] and out.discounts.tolist() == [0.25, 0.25]
    out = step(window, 4, n=1)  # steps 3 and 4
    assert out.obs[:, 0].tolist() == [3, 4] and out.next_obs[:, 0].tolist() == [4, 5]
    assert out.returns.tolist() == [1000, 10000] and out.discounts.tolist() == [0.5, 0.5]


def test_a_rising_n_waits_for_the_longer_return():
    window = NStepWindow(num_envs=1, max_n=3, obs_dim=1)
    assert step(window, 0, n=1).obs.tolist() == [[0]]
    assert len(step(window, 1, n=3).obs) == 0
    assert len(step(window, 2, n=3).obs) == 0
    out = step(window, 3, n=3)
    assert out.obs.tolist() == [[1]] and out.next_obs.tolist() == [[4]]


def test_returns_and_discounts_use_the_gamma_of_the_push_that_emits_them():
    window = NStepWindow(num_envs=1, max_n=2, obs_dim=1)
    step(window, 0, gamma=0.5)
    out = step(window, 1, gamma=0.1)
    assert out.returns.tolist() == pytest.approx([1 + 0.1 * 10])
    assert out.discounts.tolist() == pytest.approx([0.01])


def test_any_schedule_of_n_emits_each_step_once_within_its_episode():
    rng = np.random.default_rng(0)
    num_envs, max_n, gamma = 3, 5, 0.9
    window = NStepWindow(num_envs, max_n, obs_dim=2)
    episode, t = np.arange(num_envs, dtype=float), np.zeros(num_envs)  # distinct episode ids
    seen: list[tuple[float, float, int]] = []  # (episode, step, steps spanned)
    for _ in range(400):
        n = int(rng.integers(1, max_n + 1))
        done = rng.random(num_envs) < 0.1
        terminated = done & (rng.random(num_envs) < 0.5)
        obs = np.stack([episode, t], axis=1).astype(np.float32)
        next_obs = obs + np.array([0, 1], np.float32)
        out = window.push(obs, np.zeros(num_envs, np.int64), np.ones(num_envs), next_obs,
                          terminated, done, n, gamma)
        spans = np.round(np.log(out.discounts) / np.log(gamma)).astype(int)
        assert np.array_equal(out.next_obs[:, 0], out.obs[:, 0])  # never into the next episode
        assert np.array_equal(out.next_obs[:, 1], out.obs[:, 1] + spans)
        ended = out.terminated | np.isin(out.obs[:, 0], episode[done])
        assert np.all((spans == n) | ended & (spans < n))  # shorter only at an episode's end
        assert np.allclose(out.returns, (1 - gamma**spans) / (1 - gamma))
        seen += zip(out.obs[:, 0].tolist(), out.obs[:, 1].tolist(), spans.tolist(), strict=True)
        t = np.where(done, 0, t + 1)
        episode = np.where(done, episode + num_envs, episode)
    starts = [(e, s) for e, s, _ in seen]
    assert len(starts) == len(set(starts))  # no step twice
    for e in {e for e, _ in starts}:  # and none skipped: each episode's steps 0, 1, 2, ...
        steps = sorted(s for ep, s in starts if ep == e)
        assert steps == list(range(len(steps)))


def test_annealed_horizon_is_log_linear_between_its_ends():
    assert annealed_horizon(0, 10, 3, 0.97, 0.997, 1000) == (10, pytest.approx(0.97))
    n, gamma = annealed_horizon(500, 10, 3, 0.97, 0.997, 1000)
    assert n == round(30**0.5) == 5  # the geometric mean of 10 and 3
    assert gamma == pytest.approx(1 - (0.03 * 0.003) ** 0.5)
    assert annealed_horizon(1000, 10, 3, 0.97, 0.997, 1000) == (3, pytest.approx(0.997))
    assert annealed_horizon(10**6, 10, 3, 0.97, 0.997, 1000) == (3, pytest.approx(0.997))
