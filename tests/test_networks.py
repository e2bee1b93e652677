"""The Q-network's optional parts, LayerNorm in the hidden layers and a dueling head: their
shapes, model files that rebuild them, and runs that train, save and play them."""

import logging

import pytest
import torch
from torch import nn

import lunar_dqn
from conftest import compose_config
from lunar_dqn.algo.networks import DuelingHead, architecture, make_q_network
from lunar_dqn.play.evaluation import evaluate, options_for
from lunar_dqn.run.checkpoint import load_model, save_model
from lunar_dqn.run.rundir import BEST_MODEL, FINAL_MODEL
from lunar_dqn.train import train


def test_plain_network_is_the_labs_mlp():
    network = make_q_network(8, 4, [16, 8])
    assert [type(m) for m in network] == [nn.Linear, nn.ReLU, nn.Linear, nn.ReLU, nn.Linear]
    assert architecture(network) == {"layer_norm": False, "dueling": False}


def test_layer_norm_sits_before_each_hidden_relu():
    network = make_q_network(8, 4, [16, 8], layer_norm=True)
    assert [type(m) for m in network] == [nn.Linear, nn.LayerNorm, nn.ReLU, nn.Linear,
                                          nn.LayerNorm, nn.ReLU, nn.Linear]
    assert [m.normalized_shape for m in network if isinstance(m, nn.LayerNorm)] == [(16,), (8,)]
    assert architecture(network) == {"layer_norm": True, "dueling": False}


@pytest.mark.parametrize("layer_norm", [False, True])
def test_layer_norm_makes_q_blind_to_the_scale_of_a_hidden_layer(layer_norm):
    torch.manual_seed(0)
    network = make_q_network(8, 4, [16, 8], layer_norm=layer_norm)
    obs = torch.randn(32, 8)
    before = network(obs)
    with torch.no_grad():  # every pre-activation of the first layer times 10
        network[0].weight.mul_(10.0)
        network[0].bias.mul_(10.0)
    after = network(obs)
    if layer_norm:
        torch.testing.assert_close(after, before, rtol=1e-4, atol=1e-4)
    else:
        assert (after - before).abs().max() > 0.1


def test_dueling_head_is_value_plus_centred_advantage():
    head = DuelingHead(2, 4)
    with torch.no_grad():
        head.value.weight.copy_(torch.tensor([[1.0, 0.0]]))
        head.value.bias.fill_(0.5)
        head.advantage.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0]]))
        head.advantage.bias.copy_(torch.tensor([0.0, 0.0, 0.0, 2.0]))
    h = torch.tensor([[2.0, 4.0]])
    # V = 2 + 0.5 = 2.5; A = [2, 4, 6, 2], mean 3.5: Q = 2.5 + A - 3.5 = [1, 3, 5, 1]
    assert head(h).tolist() == [[1.0, 3.0, 5.0, 1.0]]


def test_dueling_network_ends_in_the_dueling_head():
    network = make_q_network(8, 4, [16], dueling=True)
    assert [type(m) for m in network] == [nn.Linear, nn.ReLU, DuelingHead]
    assert network(torch.randn(5, 8)).shape == (5, 4)
    assert architecture(network) == {"layer_norm": False, "dueling": True}


@pytest.mark.parametrize("layer_norm, dueling", [(True, False), (False, True), (True, True)])
def test_model_file_rebuilds_the_same_network(tmp_path, layer_norm, dueling):
    torch.manual_seed(0)
    network = make_q_network(8, 4, [16, 8], layer_norm, dueling)
    save_model(tmp_path / "m.pt", network, 8, 4, [16, 8], "LunarLander-v3")
    loaded, meta = load_model(tmp_path / "m.pt", hidden_sizes=[16, 8])
    obs = torch.randn(6, 8)
    assert torch.equal(loaded(obs), network(obs))
    assert (meta["layer_norm"], meta["dueling"]) == (layer_norm, dueling)


def test_model_file_without_the_new_fields_is_the_plain_mlp(tmp_path):
    torch.manual_seed(0)
    network = make_q_network(8, 4, [16])
    save_model(tmp_path / "m.pt", network, 8, 4, [16], "LunarLander-v3")
    data = torch.load(tmp_path / "m.pt", weights_only=True)
    del data["layer_norm"], data["dueling"]  # as written before these options existed
    torch.save(data, tmp_path / "old.pt")
    loaded, _ = load_model(tmp_path / "old.pt")
    obs = torch.randn(3, 8)
    assert torch.equal(loaded(obs), network(obs))


@pytest.mark.parametrize("field", ["layer_norm", "dueling"])
def test_a_model_file_with_a_damaged_field_is_refused(tmp_path, field):
    save_model(tmp_path / "m.pt", make_q_network(8, 4, [16]), 8, 4, [16], "LunarLander-v3")
    data = torch.load(tmp_path / "m.pt", weights_only=True)
    data[field] = "yes"
    torch.save(data, tmp_path / "bad.pt")
    with pytest.raises(lunar_dqn.errors.CheckpointError,
                       match=f"damaged lunar_dqn model file: {field} missing or invalid"):
        load_model(tmp_path / "bad.pt")


@pytest.mark.parametrize("layer_norm, dueling, learner", [
    (False, True, "fused"), (True, False, "autograd"), (True, True, "autograd")])
def test_a_run_trains_saves_and_plays_the_network_it_was_asked_for(tmp_path, caplog, layer_norm,
                                                                   dueling, learner):
    caplog.set_level(logging.INFO, logger="lunar_dqn.algo.learner")
    cfg = compose_config("debug=smoke", "train.max_env_steps=800", f"agent.dueling={dueling}",
                         f"agent.layer_norm={layer_norm}")
    summary = train(cfg, tmp_path / "run")
    assert summary["gradient_steps"] > 100
    assert any("trains through autograd" in m for m in caplog.messages) is (learner != "fused")
    for name in (FINAL_MODEL, BEST_MODEL):
        network, meta = load_model(tmp_path / "run" / name)
        assert (meta["layer_norm"], meta["dueling"]) == (layer_norm, dueling)
        assert architecture(network) == {"layer_norm": layer_norm, "dueling": dueling}
    policy = lunar_dqn.load(tmp_path / "run")
    assert policy(torch.zeros(8).numpy()) in range(4)
    results = evaluate(options_for(tmp_path / "run", episodes=2), None)
    assert results["episodes"] == 2
