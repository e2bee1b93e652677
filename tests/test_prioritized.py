"""Prioritized replay: the sum tree, proportional sampling, importance weights and their
schedule, seeding, the weighted loss of the learners that take it."""

import copy

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from conftest import agent_config
from lunar_dqn.algo.agent import DQNAgent
from lunar_dqn.algo.prioritized import PrioritizedReplayBuffer
from lunar_dqn.algo.sumtree import SumTree
from lunar_dqn.config import BufferConfig, group_defaults
from lunar_dqn.errors import ConfigError
from test_buffer import CPU, DEVICES, rows  # transitions that encode their index


def test_sum_tree_finds_the_leaf_whose_interval_holds_the_sum():
    tree = SumTree(capacity=5)  # 8 leaves, 3 of them never used
    tree.update(np.arange(4), np.array([1.0, 0.0, 3.0, 2.0]))
    assert tree.total == 6.0
    prefix = np.array([0.0, 0.99, 1.0, 3.99, 4.0, 5.99])
    assert tree.find(prefix).tolist() == [0, 0, 2, 2, 3, 3]  # never the empty leaf 1
    # a sum pushed to the total by rounding still lands on a leaf with a value
    assert tree.find(np.array([6.0, 7.5])).tolist() == [3, 3]


def test_sum_tree_rebuilt_from_its_leaves_is_the_same_to_the_bit():
    rng = np.random.default_rng(0)
    tree = SumTree(capacity=1000)
    for _ in range(200):
        tree.update(rng.integers(0, 1000, 64), rng.random(64) * 100)
    rebuilt = SumTree(capacity=1000)
    rebuilt.load_leaves(tree.leaves(np.arange(1000)))
    assert np.array_equal(rebuilt.nodes, tree.nodes)


def buffer_config(**values) -> BufferConfig:
    return OmegaConf.to_object(OmegaConf.merge(group_defaults("buffer"), values))


def make_buffer(alpha: float, beta: float = 1.0, seed: int = 0, device=CPU, capacity: int = 8
                ) -> PrioritizedReplayBuffer:
    """beta stays put: it would take 10^12 stored transitions to move."""
    cfg = buffer_config(alpha=alpha, beta_start=beta, beta_anneal_steps=10**12)
    return PrioritizedReplayBuffer(capacity, obs_dim=3, device=device, seed=seed, cfg=cfg)


def filled(alpha: float, errors=(1.0, 2.0, 3.0, 4.0), device=CPU, beta: float = 1.0
           ) -> PrioritizedReplayBuffer:
    """A buffer of 4 rows whose priorities are `errors` (their TD errors, eps aside)."""
    buf = make_buffer(alpha, beta, device=device)
    buf.add(*rows(0, 4, device))
    eps = PrioritizedReplayBuffer.PRIORITY_EPSILON
    buf.update_priorities(torch.arange(4, device=device),
                          -torch.tensor(errors, device=device) + eps)  # the sign is dropped
    return buf


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("alpha, expected", [(1.0, [0.1, 0.2, 0.3, 0.4]), (0.0, [0.25] * 4)])
def test_rows_are_drawn_in_proportion_to_priority_to_the_alpha(device, alpha, expected):
    buf = filled(alpha, device=device)
    counts = np.zeros(4)
    for _ in range(500):
        batch = buf.sample(64)
        assert torch.equal(batch.obs[:, 0].long(), batch.indices)  # rows and fields aligned
        counts += np.bincount(batch.indices.cpu().numpy(), minlength=4)
    # 32 000 draws: a share's standard deviation is below 0.003
    assert counts / counts.sum() == pytest.approx(expected, abs=0.012)


def test_importance_weights_undo_the_sampling_bias():
    buf = filled(alpha=1.0)
    batch = buf.sample(256)
    # P = [0.1, 0.2, 0.3, 0.4], N = 4: (N P)^-1 = [2.5, 1.25, 0.833, 0.625], over the largest
    expected = torch.tensor([1.0, 0.5, 1 / 3, 0.25])[batch.indices]
    torch.testing.assert_close(batch.weights, expected)
    torch.testing.assert_close(filled(alpha=1.0, beta=0.0).sample(16).weights, torch.ones(16))


def test_new_rows_get_the_largest_priority_seen():
    buf = filled(alpha=0.5, errors=(1.0, 9.0, 4.0, 1.0))
    buf.add(*rows(4, 2))
    leaves = buf.tree.leaves(np.arange(6))
    assert leaves[4:].tolist() == pytest.approx([3.0, 3.0])  # sqrt(9)
    assert leaves[:4].tolist() == pytest.approx([1.0, 3.0, 2.0, 1.0])


def test_overwritten_rows_take_the_new_rows_priority():
    buf = filled(alpha=1.0, errors=(1.0, 2.0, 3.0, 4.0))
    buf.add(*rows(4, 6))  # rows 4-7, then 0-1 again (capacity 8)
    assert buf.tree.leaves(np.arange(8)).tolist() == pytest.approx([4.0] * 2 + [3.0, 4.0]
                                                                   + [4.0] * 4)
    assert buf.tree.total == pytest.approx(31.0)


def test_sampling_is_seeded_and_survives_a_state_dict():
    a, b = filled(alpha=0.6, beta=0.5), filled(alpha=0.6, beta=0.5)
    assert torch.equal(a.sample(32).indices, b.sample(32).indices)
    c = make_buffer(alpha=0.6, beta=0.5, seed=5)
    c.load_state_dict(copy.deepcopy(a.state_dict()))
    assert c.stored == a.stored == 4
    assert np.array_equal(c.tree.nodes, a.tree.nodes) and c.max_priority == a.max_priority
    for _ in range(3):
        x, y = a.sample(32), c.sample(32)
        assert torch.equal(x.indices, y.indices) and torch.equal(x.weights, y.weights)
        a.update_priorities(x.indices, x.rewards)
        c.update_priorities(y.indices, y.rewards)


def test_beta_rises_linearly_to_one_over_the_transitions_stored():
    cfg = buffer_config(beta_start=0.4, beta_anneal_steps=100)
    buf = PrioritizedReplayBuffer(capacity=1000, obs_dim=3, device=CPU, seed=0, cfg=cfg)
    assert buf.beta() == pytest.approx(0.4)
    buf.add(*rows(0, 50))
    assert buf.beta() == pytest.approx(0.7)
    buf.add(*rows(50, 60))
    assert buf.beta() == 1.0 and buf.stored == 110


def weighted_batch(n: int = 32):
    buf = make_buffer(alpha=1.0, capacity=64)
    g = torch.Generator().manual_seed(2)
    buf.add(torch.randn(n, 3, generator=g), torch.randint(0, 4, (n,), generator=g),
            torch.randn(n, generator=g) * 5, torch.randn(n, 3, generator=g),
            torch.rand(n, generator=g) < 0.2, torch.full((n,), 0.99))
    buf.update_priorities(torch.arange(n), torch.rand(n, generator=g) * 4)
    return buf, buf.sample(n)


@pytest.mark.parametrize("loss", ["mse", "huber"])
def test_manual_and_autograd_weigh_each_transition_alike(loss):
    _, batch = weighted_batch()
    assert len(set(batch.weights.tolist())) > 3  # weights that differ
    agents = []
    for backward in ("manual", "autograd"):
        torch.manual_seed(0)
        agents.append(DQNAgent(3, 4, agent_config(backward=backward, loss=loss), CPU, seed=0,
                               prioritized=True))
    losses = [agent.learn(batch)[0].item() for agent in agents]
    assert losses[0] == pytest.approx(losses[1], rel=1e-5)
    torch.testing.assert_close(agents[0].td_errors, agents[1].td_errors)
    for a, b in zip(agents[0].online.parameters(), agents[1].online.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    unweighted = DQNAgent(3, 4, agent_config(backward="autograd", loss=loss), CPU, seed=0)
    torch.manual_seed(0)
    assert unweighted.learn(batch._replace(weights=None))[0].item() != pytest.approx(losses[0])


def test_learning_from_a_prioritized_buffer_sets_the_priorities_to_the_td_errors():
    buf, _ = weighted_batch()
    agent = DQNAgent(3, 4, agent_config(batch_size=8), CPU, seed=0, prioritized=True)
    before = buf.tree.leaves(np.arange(32)).copy()
    agent.learn_from(buf, 1)
    changed = np.flatnonzero(buf.tree.leaves(np.arange(32)) != before)
    assert 0 < len(changed) <= 8
    assert agent.td_errors.shape == (8,)
    assert sorted(buf.tree.leaves(changed).tolist()) == pytest.approx(sorted(
        set((agent.td_errors.abs().double() + PrioritizedReplayBuffer.PRIORITY_EPSILON).tolist())))


def test_auto_learns_from_a_prioritized_buffer_without_the_fused_learner(caplog):
    caplog.set_level("INFO")
    agent = DQNAgent(8, 4, agent_config(), CPU, seed=0, prioritized=True)
    assert agent.backward == "manual" and agent.fused is None
    assert caplog.messages == [
        "agent.backward=auto: the fused learner does not implement buffer.prioritized (it draws "
        "its mini-batches uniformly), so this network trains through the hand-written backward "
        "pass"]
    with pytest.raises(ConfigError, match=r"^agent.backward=fused does not implement buffer"):
        DQNAgent(8, 4, agent_config(backward="fused"), CPU, seed=0, prioritized=True)
