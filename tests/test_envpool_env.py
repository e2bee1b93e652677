"""env.vectorization_mode=envpool: EnvPool's LunarLander with SAME_STEP episode ends (opt-in; the
refusals that need no EnvPool are in test_backends.py)."""

import csv

import numpy as np
import pytest

from conftest import compose_config, env_config
from lunar_dqn.errors import ConfigError
from lunar_dqn.run.envpool_env import EnvPoolVectorEnv
from lunar_dqn.run.episodes import ENVPOOL_EPISODE, EPISODE_START
from lunar_dqn.run.trainer import Trainer
from lunar_dqn.train import train

envpool = pytest.importorskip("envpool")  # the opt-in extra: pip install 'lunar_dqn[envpool]'

SMOKE = ("debug=smoke", "train.max_episodes=1000", "train.solve_score=1000",
         "env.vectorization_mode=envpool")


def envpool_envs(num_envs: int = 2, **kwargs) -> EnvPoolVectorEnv:
    return EnvPoolVectorEnv(env_config(num_envs=num_envs, vectorization_mode="envpool", **kwargs))


def test_an_environment_envpool_lacks_is_refused(counting_env_id):
    with pytest.raises(ConfigError, match=r"env.id='CountingEnv-v0' is not an EnvPool "
                                          r"environment: use env.vectorization_mode=worker"):
        envpool_envs(id=counting_env_id)


def test_every_step_is_a_real_transition_and_episode_ends_come_at_once():
    """The adapter's steps are EnvPool's own, without the step after each episode's end that
    EnvPool spends on the reset (its action ignored, reward 0)."""
    rng = np.random.default_rng(0)
    envs = envpool_envs(num_envs=1, max_episode_steps=90)
    raw = envpool.make("LunarLander-v3", env_type="gymnasium", num_envs=1, seed=4,
                       max_episode_steps=90)
    try:
        obs, infos = envs.reset(seed=4)
        raw_obs, _ = raw.reset()
        assert np.array_equal(obs, raw_obs) and list(infos[EPISODE_START]) == [ENVPOOL_EPISODE]
        ends = {"terminated": 0, "truncated": 0}
        for _ in range(1000):
            action = rng.integers(0, 4, 1)
            obs, reward, terminated, truncated, infos = envs.step(action)
            raw_obs, raw_reward, raw_terminated, raw_truncated, _ = raw.step(
                action.astype(np.int32))
            assert np.array_equal(reward, raw_reward.astype(np.float64))
            assert terminated == raw_terminated and truncated == raw_truncated
            if terminated or truncated:
                ends["terminated" if terminated else "truncated"] += 1
                assert np.array_equal(infos["final_obs"][0], raw_obs[0])
                assert list(infos[EPISODE_START]) == [ENVPOOL_EPISODE]
                raw_obs, raw_reward, *_ = raw.step(np.array([3], np.int32))  # EnvPool's reset step
                assert raw_reward[0] == 0.0 and abs(raw_obs[0, 1] - 1.4) < 0.05  # a first state
            else:
                assert infos == {}
            assert np.array_equal(obs, raw_obs)
        assert ends["terminated"] > 0 and ends["truncated"] > 0  # time limit 90 steps
    finally:
        envs.close()
        raw.close()


def test_time_limit_truncates_and_keeps_the_last_observation():
    envs = envpool_envs(num_envs=3, max_episode_steps=20)
    try:
        first, _ = envs.reset(seed=0)
        for step in range(1, 21):
            obs, rewards, terminated, truncated, infos = envs.step(np.zeros(3, np.int64))
            assert not terminated.any() and rewards.dtype == np.float64
            assert truncated.all() == (step == 20)
        assert all(final[1] < first[i, 1] for i, final in enumerate(infos["final_obs"]))
        assert np.abs(obs[:, 1] - 1.4).max() < 0.05  # the next episodes' first states
        assert "rgb_array" in envs.metadata["render_modes"]  # the closing video is Gymnasium's
        assert close_envs_twice(envs)
    finally:
        envs.close()


def close_envs_twice(envs: EnvPoolVectorEnv) -> bool:
    envs.close()
    envs.close()
    return envs.closed


def test_trainer_transitions_never_cross_episodes(tmp_path):
    trainer = Trainer(compose_config(*SMOKE, "train.max_env_steps=3000", "env.num_envs=4",
                                     "buffer.capacity=3000", "logger.tensorboard=false"),
                      tmp_path)
    try:
        trainer.run()
        n = len(trainer.buffer)
        obs, nxt = trainer.buffer.obs[:n].numpy(), trainer.buffer.next_obs[:n].numpy()
        terminated = trainer.buffer.terminated[:n].numpy().astype(bool)
    finally:
        trainer.close()
    assert n == 3000 and len(trainer.history) >= 10
    # one physics step apart: a reset would jump back to the start height (1.4)
    assert np.abs(nxt[:, 1] - obs[:, 1]).max() < 0.1
    # a crash or a landing: the lander out of bounds, touching the ground or at rest
    assert terminated.sum() >= 10


def history(run_dir) -> list[dict[str, str]]:
    with open(run_dir / "history.csv") as f:
        return list(csv.DictReader(f))


def test_same_seed_same_run_and_resume_continues_with_new_episodes(tmp_path, caplog):
    cfg = compose_config(*SMOKE, "train.max_env_steps=2000")
    train(cfg, tmp_path / "a")
    train(cfg, tmp_path / "b")
    assert history(tmp_path / "a") == history(tmp_path / "b") and len(history(tmp_path / "a")) > 5
    summary = train(compose_config(*SMOKE, "train.max_env_steps=3000"), tmp_path / "a",
                    resume=True)
    assert summary["env_steps"] == 3000
    resumed = history(tmp_path / "a")
    assert resumed[:len(history(tmp_path / "b"))] == history(tmp_path / "b")
    assert len(resumed) > len(history(tmp_path / "b"))
    assert "the 2 episodes in progress at the checkpoint cannot be replayed" in caplog.text


@pytest.mark.parametrize("first, then", [("envpool", "worker"), ("sync", "envpool")])
def test_resume_across_envpool_and_gymnasium_starts_new_episodes(tmp_path, caplog, first, then):
    base = ("debug=smoke", "train.max_episodes=1000", "train.solve_score=1000")
    train(compose_config(*base, "train.max_env_steps=1000", f"env.vectorization_mode={first}"),
          tmp_path)
    before = history(tmp_path)
    summary = train(compose_config(*base, "train.max_env_steps=2000",
                                   f"env.vectorization_mode={then}"), tmp_path, resume=True)
    assert summary["env_steps"] == 2000 and history(tmp_path)[:len(before)] == before
    assert "the 2 episodes in progress at the checkpoint cannot be replayed" in caplog.text
