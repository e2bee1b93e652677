import numpy as np
import pytest
import torch

from conftest import compose_config, env_config
from lunar_dqn.algo.nstep import annealed_horizon
from lunar_dqn.errors import ConfigError
from lunar_dqn.run.envs import make_vec_env, true_next_obs
from lunar_dqn.run.trainer import Trainer


def test_counting_env_transitions_never_cross_episodes(counting_env_id, tmp_path):
    cfg = compose_config(f"env.id={counting_env_id}", "env.num_envs=3", "train.max_env_steps=300",
                         "buffer.capacity=1000", "agent.batch_size=8", "logger.tensorboard=false",
                         "train.max_episodes=1000")
    trainer = Trainer(cfg, tmp_path)
    try:
        trainer.run()
        n = len(trainer.buffer)
        obs, nxt = trainer.buffer.obs[:n], trainer.buffer.next_obs[:n]
        term, rewards = trainer.buffer.terminated[:n], trainer.buffer.rewards[:n]
    finally:
        trainer.close()
    assert n == 300
    # same episode, one step later: never a reset observation as the next state
    assert torch.equal(nxt[:, 0], obs[:, 0])
    assert torch.equal(nxt[:, 1], obs[:, 1] + 1)
    assert torch.equal(rewards, nxt[:, 1])
    # odd episodes terminate at step 7; even ones are truncated by the time limit at 10,
    # which must stay bootstrappable (terminated = 0)
    odd = nxt[:, 0] % 2 == 1
    assert torch.equal(term.bool(), odd & (nxt[:, 1] == 7))
    assert (nxt[~odd, 1] == 10).any() and term[~odd].sum() == 0
    assert nxt[:, 1].max() == 10


def test_episode_points_are_summed_within_episodes(counting_env_id, tmp_path):
    cfg = compose_config(f"env.id={counting_env_id}", "env.num_envs=2", "train.max_env_steps=40",
                         "logger.tensorboard=false")
    trainer = Trainer(cfg, tmp_path)
    try:
        trainer.run()
    finally:
        trainer.close()
    # episodes 0 (truncated at 10: 1+..+10 = 55) and 1 (terminated at 7: 28) alternate per env
    assert set(trainer.history.points) == {55.0, 28.0}


def test_true_next_obs_uses_final_obs_only_where_done():
    next_obs = np.zeros((3, 2), dtype=np.float32)
    final = np.array([None, np.array([5.0, 6.0], dtype=np.float32), None], dtype=object)
    fixed = true_next_obs(next_obs, np.array([False, True, False]), {"final_obs": final})
    assert fixed.tolist() == [[0, 0], [5, 6], [0, 0]]
    assert next_obs.sum() == 0  # the vector env's own array is left alone


def test_lunar_lander_options_reach_every_sub_env():
    envs = make_vec_env(env_config(num_envs=2, kwargs={"gravity": -5.0, "enable_wind": True},
                                  max_episode_steps=50))
    try:
        for sub in envs.envs:
            assert sub.unwrapped.gravity == -5.0 and sub.unwrapped.enable_wind
        assert envs.envs[0].spec.max_episode_steps == 50
    finally:
        envs.close()


def test_sub_envs_are_seeded_and_distinct():
    first, second = (make_vec_env(env_config(num_envs=3)) for _ in range(2))
    try:
        a, _ = first.reset(seed=4)
        b, _ = second.reset(seed=4)
        assert np.array_equal(a, b)
        assert len({tuple(row) for row in a.round(6)}) == 3
    finally:
        first.close()
        second.close()


def test_unknown_env_id_is_a_config_error():
    with pytest.raises(ConfigError, match=r"env.id='LunarLander-v2' is not a registered"):
        make_vec_env(env_config(id="LunarLander-v2"))


def test_unknown_env_option_is_a_config_error():
    with pytest.raises(ConfigError, match=r"env\.kwargs"):
        make_vec_env(env_config(num_envs=1, kwargs={"gravityy": -5.0}))


def test_n_step_transitions_stay_within_episodes(counting_env_id, tmp_path):
    cfg = compose_config(f"env.id={counting_env_id}", "env.num_envs=3", "train.max_env_steps=300",
                         "buffer.capacity=1000", "agent.n_step=3", "agent.gamma=0.5",
                         "logger.tensorboard=false", "train.max_episodes=1000")
    trainer = Trainer(cfg, tmp_path)
    try:
        trainer.run()
        n = len(trainer.buffer)
        b = trainer.buffer
        obs, nxt, rewards = b.obs[:n], b.next_obs[:n], b.rewards[:n]
        discounts, term = b.discounts[:n], b.terminated[:n]
    finally:
        trainer.close()
    k = torch.round(torch.log(discounts) / np.log(0.5)).long()  # steps each transition spans
    assert set(k.tolist()) == {1, 2, 3}
    assert torch.equal(nxt[:, 0], obs[:, 0])  # same episode
    assert torch.equal(nxt[:, 1], obs[:, 1] + k)
    # shorter than 3 steps only where the episode ended (terminated at 7 or truncated at 10)
    assert torch.all((k == 3) | (nxt[:, 1] == 7) & (nxt[:, 0] % 2 == 1) | (nxt[:, 1] == 10))
    # reward of step t is t: return = sum_j 0.5^j * (s + 1 + j)
    expected = torch.tensor([sum(0.5**j * (s + 1 + j) * (j < kk) for j in range(3))
                             for s, kk in zip(obs[:, 1].tolist(), k.tolist(), strict=True)])
    assert torch.allclose(rewards, expected)
    assert torch.equal(term.bool(), (nxt[:, 0] % 2 == 1) & (nxt[:, 1] == 7))


def test_an_annealed_horizon_shortens_n_and_lengthens_gamma_as_env_steps_pass(counting_env_id,
                                                                            tmp_path):
    cfg = compose_config(f"env.id={counting_env_id}", "env.num_envs=3", "train.max_env_steps=300",
                         "buffer.capacity=1000", "agent.horizon_anneal_steps=150",
                         "agent.n_step_start=4", "agent.n_step=1", "agent.gamma_start=0.5",
                         "agent.gamma=0.75", "logger.tensorboard=false", "train.max_episodes=1000")
    trainer = Trainer(cfg, tmp_path)
    try:
        trainer.run()
        n = len(trainer.buffer)
        b = trainer.buffer
        obs, nxt, rewards = b.obs[:n].double(), b.next_obs[:n].double(), b.rewards[:n].double()
        discounts = b.discounts[:n].double()
    finally:
        trainer.close()
    assert n == 300  # every step stored exactly once
    assert torch.equal(nxt[:, 0], obs[:, 0])  # same episode
    k = nxt[:, 1] - obs[:, 1]  # steps each transition spans, in the order they were stored
    gamma = discounts ** (1 / k)
    # the return was computed with the same gamma as the bootstrap: sum_j gamma^j * (s + 1 + j)
    j = torch.arange(4, dtype=torch.float64)
    expected = ((gamma[:, None] ** j) * (obs[:, 1:2] + 1 + j) * (j < k[:, None])).sum(1)
    torch.testing.assert_close(rewards, expected, rtol=1e-5, atol=1e-4)
    # the first rows: each env's first 4 steps, stored by the 4th vector step (env step 9)
    first = annealed_horizon(9, 4, 1, 0.5, 0.75, 150)
    assert first[0] == 4 and gamma[:3].tolist() == pytest.approx([first[1]] * 3)
    assert gamma[-30:].tolist() == pytest.approx([0.75] * 30)  # after 150 env steps: gamma
    assert torch.all(gamma[1:] >= gamma[:-1] - 1e-6)  # gamma only grows
    assert k.max() == 4 and torch.all(k[-30:] == 1)  # n from 4 down to 1
