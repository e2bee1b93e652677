import pytest
from hydra.errors import ConfigCompositionException
from omegaconf.errors import ValidationError

from conftest import compose_config
from lunar_dqn.config import ConfigError, validate


def test_defaults_compose_and_validate():
    cfg = compose_config()
    validate(cfg)
    assert cfg.env.id == "LunarLander-v3"
    assert cfg.seed == 0 and cfg.device == "auto"


def test_overrides_reach_the_config():
    cfg = compose_config("agent.tau=0.001", "seed=3", "env.num_envs=4",
                         "agent.hidden_sizes=[32,16]", "+env.kwargs.gravity=-8.0")
    assert cfg.agent.tau == 0.001 and cfg.seed == 3 and cfg.env.num_envs == 4
    assert list(cfg.agent.hidden_sizes) == [32, 16]
    assert cfg.env.kwargs == {"gravity": -8.0}


def test_seed_notebook_preset_is_the_lab():
    cfg = compose_config("experiment=seed_notebook")
    a = cfg.agent
    assert (cfg.buffer.capacity, a.gamma, a.learning_rate, a.replay_ratio, a.batch_size, a.tau) == (
        100_000, 0.995, 1e-3, 4, 64, 1e-3)
    assert (a.epsilon_start, a.epsilon_decay, a.epsilon_min) == (1.0, 0.995, 0.01)
    assert list(a.hidden_sizes) == [64, 64] and a.loss == "mse" and not a.double_dqn
    assert cfg.env.num_envs == 1


def test_preset_and_override_combine():
    cfg = compose_config("experiment=seed_notebook", "agent.tau=0.005")
    assert cfg.agent.tau == 0.005 and cfg.agent.gamma == 0.995


def test_unknown_key_is_rejected():
    with pytest.raises(ConfigCompositionException):
        compose_config("agent.taux=0.1")


def test_wrong_type_is_rejected():
    with pytest.raises((ConfigCompositionException, ValidationError)):
        compose_config("agent.batch_size=big")


def test_unknown_preset_is_rejected():
    with pytest.raises(ConfigCompositionException):
        compose_config("experiment=nope")


@pytest.mark.parametrize("override, message", [
    ("agent.tau=5", "agent.tau=5.0 is invalid: must be in (0, 1]"),
    ("agent.tau=0", "agent.tau=0.0 is invalid"),
    ("agent.gamma=1.5", "agent.gamma=1.5 is invalid: must be in [0, 1]"),
    ("agent.learning_rate=-1", "agent.learning_rate"),
    ("agent.learning_rate_min=0", "agent.learning_rate_min=0.0 is invalid: must be > 0"),
    ("agent.learning_rate_decay_steps=0", "agent.learning_rate_decay_steps=0 is invalid"),
    ("agent.batch_size=0", "agent.batch_size"),
    ("agent.batch_size=512", "must be <= buffer.capacity (100)"),
    ("env.num_envs=0", "env.num_envs=0 is invalid: must be >= 1"),
    ("env.vectorization_mode=threads", "env.vectorization_mode"),
    ("agent.loss=l1", "agent.loss"),
    ("agent.hidden_sizes=[]", "agent.hidden_sizes"),
    ("agent.epsilon_decay=0", "agent.epsilon_decay"),
    ("agent.epsilon_min=2", "agent.epsilon_min"),
    ("device=tpu", "device='tpu' is invalid"),
    ("agent.replay_ratio=0", "agent.replay_ratio"),
    ("agent.max_grad_norm=-1", "agent.max_grad_norm"),
    ("train.saved_network=best", "train.saved_network='best' is invalid: must be 'target' or"),
])
def test_out_of_range_values_name_the_key(override, message):
    extra = ["buffer.capacity=100"] if "512" in override else []
    cfg = compose_config(override, *extra)
    with pytest.raises(ConfigError) as err:
        validate(cfg)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_the_learning_rate_floor_binds_only_a_decaying_rate():
    validate(compose_config("agent.learning_rate=5e-5"))  # below the default floor of 1e-4
    cfg = compose_config("agent.learning_rate=5e-5", "agent.learning_rate_decay_steps=1000")
    with pytest.raises(ConfigError, match=r"learning_rate_min=0\.0001 is invalid: must be <="):
        validate(cfg)
