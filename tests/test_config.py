import re

import pytest
import yaml
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf
from omegaconf.errors import ValidationError

from conftest import CONF_DIR, REPO, compose_config
from lunar_dqn.config import GROUPS, Config, default_config, group_defaults
from lunar_dqn.errors import ConfigError
from lunar_dqn.validation import validate


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
    assert not a.dueling and not a.layer_norm  # the lab's plain Q-network
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
    ("agent.backward=numpy",
     "agent.backward='numpy' is invalid: must be 'auto', 'fused', 'manual' or 'autograd'"),
    ("agent.hidden_sizes=[]", "agent.hidden_sizes"),
    ("agent.epsilon_decay=0", "agent.epsilon_decay"),
    ("agent.epsilon_min=2", "agent.epsilon_min"),
    ("device=tpu", "device='tpu' is invalid"),
    ("agent.replay_ratio=0", "agent.replay_ratio"),
    ("agent.max_grad_norm=-1", "agent.max_grad_norm"),
    ("train.saved_network=best", "train.saved_network='best' is invalid: must be 'target' or"),
    ("agent.reset_every=0", "agent.reset_every=0 is invalid: must be >= 1 or null"),
    ("agent.reset_layers=4", "agent.reset_layers=4 is invalid: must be in [0, 3] (the network's "
     "layers, its output included)"),
    ("agent.reset_shrink=1.5", "agent.reset_shrink=1.5 is invalid: must be in [0, 1]"),
    ("buffer.alpha=2", "buffer.alpha=2.0 is invalid: must be in [0, 1]"),
    ("buffer.beta_start=-0.1", "buffer.beta_start=-0.1 is invalid: must be in [0, 1]"),
    ("buffer.beta_anneal_steps=0", "buffer.beta_anneal_steps=0 is invalid: must be >= 1"),
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


@pytest.mark.parametrize("overrides, message", [
    (["agent.horizon_anneal_steps=0"], "agent.horizon_anneal_steps=0 is invalid: must be >= 1"),
    (["agent.horizon_anneal_steps=10", "agent.n_step_start=0"], "agent.n_step_start=0 is invalid"),
    (["agent.horizon_anneal_steps=10", "agent.gamma_start=1.0"],
     "agent.gamma_start=1.0 is invalid: must be in [0, 1) when agent.horizon_anneal_steps"),
    (["agent.horizon_anneal_steps=10", "agent.gamma=1.0"], "agent.gamma=1.0 is invalid"),
])
def test_an_annealed_horizon_needs_ends_it_can_interpolate(overrides, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        validate(compose_config(*overrides))
    validate(compose_config(*overrides[1:]))  # without the annealing, the ends are not read


# Every default, as the README and the YAML files document them. A retuned default changes here,
# in its YAML file and in the README's table together.
DOCUMENTED_DEFAULTS = {
    "env": {"id": "LunarLander-v3", "num_envs": 8, "vectorization_mode": "auto",
            "max_episode_steps": None, "kwargs": {}},
    "agent": {"hidden_sizes": [128, 128], "layer_norm": False, "dueling": True,
              "learning_rate": 1e-3, "learning_rate_min": 1e-4,
              "learning_rate_decay_steps": None, "gamma": 0.99, "tau": 5e-3,
              "target_update_every": 1, "n_step": 1, "horizon_anneal_steps": None,
              "n_step_start": 10, "gamma_start": 0.97, "batch_size": 64, "replay_ratio": 2,
              "loss": "mse", "backward": "auto", "double_dqn": False, "reset_every": None,
              "reset_layers": 1, "reset_shrink": 1.0, "max_grad_norm": None,
              "epsilon_start": 1.0, "epsilon_min": 0.01, "epsilon_decay": 0.98,
              "epsilon_decay_steps": None},
    "buffer": {"capacity": 100_000, "prioritized": False, "alpha": 0.6, "beta_start": 0.4,
               "beta_anneal_steps": 100_000},
    "logger": {"tensorboard": True, "log_every_steps": 2000, "progress_bar": True,
               "video": True, "video_episodes": 3, "gif_every_steps": None},
    "train": {"max_env_steps": 1_000_000, "max_episodes": 3000, "solve_score": 200.0,
              "solve_window": 100, "stop_when_solved": True, "checkpoint_every": 50_000,
              "saved_network": "target", "polish_env_steps": 100000},
    "eval": {"every_env_steps": 20_000, "episodes": 10},
    "seed": 0, "device": "auto", "torch_threads": 1, "resume": None,
}


def test_the_composed_defaults_are_the_documented_ones():
    assert OmegaConf.to_container(compose_config()) == DOCUMENTED_DEFAULTS


def test_defaults_read_without_hydra_equal_the_composed_ones():
    assert OmegaConf.to_container(default_config()) == DOCUMENTED_DEFAULTS
    assert OmegaConf.to_container(group_defaults("env")) == DOCUMENTED_DEFAULTS["env"]


def test_the_schemas_hold_no_default_of_their_own():
    assert OmegaConf.missing_keys(OmegaConf.structured(Config)) == {
        f"{group}.{key}" if isinstance(values, dict) else group
        for group, values in DOCUMENTED_DEFAULTS.items()
        for key in (values if isinstance(values, dict) else [None])}


def test_every_default_key_has_its_meaning_on_its_line():
    for path in sorted((CONF_DIR).glob("*/*.yaml")):
        if path.parent.name not in GROUPS:
            continue
        keys = [line for line in path.read_text().splitlines()
                if line and not line.startswith(("#", " ", "-", "defaults:"))]
        assert keys and all(" # " in line for line in keys), path


def test_the_readme_agent_table_gives_the_defaults():
    readme = (REPO / "README.md").read_text()
    table = readme[readme.index("The agent's options"):]
    table = table[:table.index("\n\n", table.index("| key |"))]
    documented = {}
    for keys, values in re.findall(r"^\| (`[^|]*`) \| (`[^|]*`) \|", table, flags=re.MULTILINE):
        names, texts = re.findall(r"`([^`]*)`", keys), re.findall(r"`([^`]*)`", values)
        documented.update({name: yaml.safe_load(text)
                           for name, text in zip(names, texts, strict=True)})
    assert documented == DOCUMENTED_DEFAULTS["agent"]
