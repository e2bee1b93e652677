"""Periodic resets: which layers are drawn afresh, shrink and perturb, Adam's state, seeding, the
learners that implement them."""

import copy

import pytest
import torch

from conftest import agent_config
from lunar_dqn.algo.agent import DQNAgent
from lunar_dqn.algo.buffer import Batch
from lunar_dqn.algo.learner import choose_backward
from lunar_dqn.algo.networks import make_q_network
from lunar_dqn.algo.resets import layer_groups, reset_layers
from lunar_dqn.errors import ConfigError

CPU = torch.device("cpu")


def batch(n: int = 16) -> Batch:
    g = torch.Generator().manual_seed(3)
    return Batch(torch.randn(n, 8, generator=g), torch.randint(0, 4, (n,), generator=g),
                 torch.randn(n, generator=g), torch.randn(n, 8, generator=g),
                 torch.zeros(n), torch.full((n,), 0.99))


@pytest.mark.parametrize("layer_norm, dueling, sizes", [
    (False, False, [2, 2, 2]),
    (True, False, [4, 4, 2]),  # each hidden Linear with its LayerNorm's gain and bias
    (False, True, [2, 2, 4]),  # the dueling head's value and advantage maps are one layer
])
def test_layer_groups_follow_the_layers(layer_norm, dueling, sizes):
    network = make_q_network(8, 4, [16, 8], layer_norm, dueling)
    groups = layer_groups(network)
    assert [len(g) for g in groups] == sizes
    assert sum(len(g) for g in groups) == len(list(network.parameters()))


def trained_pair(shrink: float, last: int):
    torch.manual_seed(0)
    network = make_q_network(8, 4, [16, 8], layer_norm=True)
    optimizer = torch.optim.Adam(network.parameters(), lr=1e-2)
    network(torch.randn(4, 8)).sum().backward()
    optimizer.step()
    before = [[p.clone() for p in g] for g in layer_groups(network)]
    fresh = make_q_network(8, 4, [16, 8], layer_norm=True)
    reset_layers(network, fresh, optimizer, last, shrink)
    return network, fresh, optimizer, before


def test_the_last_layers_are_drawn_afresh_and_the_others_kept():
    network, fresh, optimizer, before = trained_pair(shrink=1.0, last=2)
    groups, fresh_groups = layer_groups(network), layer_groups(fresh)
    assert all(torch.equal(p, q) for p, q in zip(groups[0], before[0], strict=True))
    for k in (1, 2):
        assert all(torch.equal(p, q) for p, q in zip(groups[k], fresh_groups[k], strict=True))
    # Adam forgets the reset parameters only
    assert all(p in optimizer.state for p in groups[0])
    assert not any(p in optimizer.state for p in groups[1] + groups[2])


def test_shrink_and_perturb_moves_the_other_layers_toward_a_fresh_draw():
    network, fresh, optimizer, before = trained_pair(shrink=0.8, last=1)
    groups, fresh_groups = layer_groups(network), layer_groups(fresh)
    for k in (0, 1):
        for p, old, new in zip(groups[k], before[k], fresh_groups[k], strict=True):
            torch.testing.assert_close(p, 0.8 * old + 0.2 * new)
    assert all(torch.equal(p, q) for p, q in zip(groups[2], fresh_groups[2], strict=True))
    assert not optimizer.state  # every parameter changed


def agents(**reset) -> tuple[DQNAgent, DQNAgent]:
    """Two agents of the same seed, the second with resets."""
    pair = []
    for extra in ({}, reset):
        torch.manual_seed(0)
        cfg = agent_config(hidden_sizes=[16, 8], backward="manual", **extra)
        pair.append(DQNAgent(8, 4, cfg, CPU, seed=0))
    return pair[0], pair[1]


def test_an_agent_resets_its_online_output_every_k_gradient_steps():
    plain, resetting = agents(reset_every=3)
    b = batch()
    for step in range(1, 7):
        plain.learn(b)
        resetting.learn(b)
        same = [torch.equal(p, q) for p, q in zip(plain.online.parameters(),
                                                  resetting.online.parameters(), strict=True)]
        if step < 3:
            assert all(same)
        else:  # the hidden layers follow the same gradients until the reset changes their inputs
            assert not any(same[4:])  # the output layer was drawn afresh
        if step == 3:
            assert all(same[:4])
            # the target network was not reset: it kept the soft update of step 3
            assert all(torch.equal(p, q) for p, q in zip(plain.target.parameters(),
                                                         resetting.target.parameters(),
                                                         strict=True))


def test_resets_are_seeded_leave_torchs_rng_alone_and_survive_a_state_dict():
    plain, a = agents(reset_every=2, reset_shrink=0.5)
    _, b = agents(reset_every=2, reset_shrink=0.5)
    draws = []
    for agent in (plain, a, b):
        torch.manual_seed(7)
        for _ in range(3):
            agent.learn(batch())
        draws.append(torch.rand(4))
    assert torch.equal(draws[0], draws[1])  # the reset at step 2 took nothing from torch's RNG
    assert all(torch.equal(p, q) for p, q in zip(a.online.parameters(), b.online.parameters(),
                                                 strict=True))
    assert not torch.equal(a.online[-1].weight, plain.online[-1].weight)
    _, c = agents(reset_every=2, reset_shrink=0.5)
    c.load_state_dict(copy.deepcopy(a.state_dict()))  # as from a file: no shared tensors
    for _ in range(3):  # the next reset (at step 4) draws the same weights in both
        a.learn(batch())
        c.learn(batch())
    assert all(torch.equal(p, q) for p, q in zip(a.online.parameters(), c.online.parameters(),
                                                 strict=True))


def test_a_plain_agent_keeps_no_reset_state():
    plain, resetting = agents(reset_every=3)
    assert "reset_generator" not in plain.state_dict()
    assert "reset_generator" in resetting.state_dict()


def test_auto_trains_resets_without_the_fused_learner_and_says_so(caplog):
    caplog.set_level("INFO")
    for dueling, chosen, name in ((False, "manual", "the hand-written backward pass"),
                                  (True, "autograd", "autograd")):
        caplog.clear()
        agent = DQNAgent(8, 4, agent_config(reset_every=5, dueling=dueling), CPU, seed=0)
        assert agent.backward == chosen and agent.fused is None
        assert caplog.messages == [
            "agent.backward=auto: the fused learner does not implement agent.reset_every (its "
            f"Adam keeps one step count for all parameters), so this network trains through {name}"]


def test_the_fused_learner_named_with_resets_is_refused_in_one_line():
    with pytest.raises(ConfigError) as err:
        DQNAgent(8, 4, agent_config(reset_every=5, backward="fused"), CPU, seed=0)
    assert str(err.value) == (
        "agent.backward=fused does not implement agent.reset_every (its Adam keeps one step count "
        "for all parameters); use agent.backward=auto or autograd")
    assert choose_backward(make_q_network(8, 4, [16]), "fused", CPU) == "fused"
