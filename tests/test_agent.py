import pytest
import torch
from torch import nn

from conftest import agent_config
from lunar_dqn.algo.agent import DQNAgent, decay_epsilon, soft_update, td_targets
from lunar_dqn.algo.buffer import Batch

CPU = torch.device("cpu")


def fixed_linear(weight) -> nn.Linear:
    """A bias-free linear layer with the given weights: Q(s) = W s."""
    layer = nn.Linear(len(weight[0]), len(weight), bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(weight, dtype=torch.float32))
    return layer


def two_transition_batch() -> Batch:
    return Batch(
        obs=torch.tensor([[1.0, 0.0], [0.0, 1.0]]),
        actions=torch.tensor([0, 1]),
        rewards=torch.tensor([1.0, -2.0]),
        next_obs=torch.tensor([[0.0, 1.0], [1.0, 1.0]]),
        terminated=torch.tensor([0.0, 1.0]),
        discounts=torch.tensor([0.9, 0.9]),
    )


def test_td_target_matches_hand_computation():
    batch = two_transition_batch()
    next_q = torch.tensor([[3.0, 5.0], [7.0, 1.0]])
    # row 0: 1 + 0.9 * max(3, 5) = 5.5; row 1 is terminal: -2
    assert td_targets(batch, next_q).tolist() == pytest.approx([5.5, -2.0])


def test_td_target_uses_each_transitions_own_discount():
    batch = two_transition_batch()._replace(discounts=torch.tensor([0.81, 0.9]),
                                            terminated=torch.tensor([0.0, 0.0]))
    next_q = torch.tensor([[3.0, 5.0], [7.0, 1.0]])
    # a 2-step transition bootstraps with gamma^2 = 0.81: 1 + 0.81 * 5; a 1-step one: -2 + 0.9 * 7
    assert td_targets(batch, next_q).tolist() == pytest.approx([5.05, 4.3])


def test_double_dqn_target_scores_the_online_choice_with_the_target_net():
    batch = two_transition_batch()
    next_q_target = torch.tensor([[3.0, 5.0], [7.0, 1.0]])
    next_q_online = torch.tensor([[9.0, 0.0], [0.0, 9.0]])  # online picks action 0, then 1
    # row 0: 1 + 0.9 * Q_target(s', 0) = 1 + 2.7 = 3.7
    got = td_targets(batch, next_q_target, next_q_online=next_q_online)
    assert got.tolist() == pytest.approx([3.7, -2.0])


@pytest.mark.parametrize("loss_name, expected", [
    # Q(s,a): row 0: W[0]·[1,0] = 1; row 1: W[1]·[0,1] = 4.
    # targets: Q_target = 2W, row 0: max(2W[:,]·[0,1]) = max(4, 8) = 8 -> y0 = 1 + 0.5*8 = 5;
    # (the batch carries each transition's discount; here 0.5)
    # row 1 terminal -> y1 = -2.  Errors: 1-5 = -4, 4-(-2) = 6.
    ("mse", (16 + 36) / 2),
    ("huber", ((4 - 0.5) + (6 - 0.5)) / 2),
])
def test_loss_matches_hand_computation(loss_name, expected):
    agent = DQNAgent(2, 2, agent_config(gamma=0.5, loss=loss_name, hidden_sizes=[2]), CPU, seed=0)
    agent.online = fixed_linear([[1.0, 2.0], [3.0, 4.0]])
    agent.target = fixed_linear([[2.0, 4.0], [6.0, 8.0]])
    loss, q_mean = agent.loss(two_transition_batch()._replace(discounts=torch.tensor([0.5, 0.5])))
    assert loss.item() == pytest.approx(expected)
    assert q_mean.item() == pytest.approx((1 + 4) / 2)


def test_learn_moves_q_toward_target_and_soft_updates_target():
    torch.manual_seed(0)
    cfg = agent_config(hidden_sizes=[8], learning_rate=1e-2, tau=0.5)
    agent = DQNAgent(2, 2, cfg, CPU, seed=0)
    before_target = [p.clone() for p in agent.target.parameters()]
    batch = two_transition_batch()._replace(discounts=torch.zeros(2))
    first, _ = agent.loss(batch)
    for _ in range(50):
        agent.learn(batch)
    last, _ = agent.loss(batch)
    assert last.item() < 0.1 * first.item()
    after_target = list(agent.target.parameters())
    assert not all(torch.equal(a, b) for a, b in zip(before_target, after_target, strict=True))


def test_target_starts_as_a_copy_of_online():
    agent = DQNAgent(8, 4, agent_config(), CPU, seed=0)
    for a, b in zip(agent.online.parameters(), agent.target.parameters(), strict=True):
        assert torch.equal(a, b) and a.data_ptr() != b.data_ptr()


def test_soft_update_is_the_lab_rule():
    online, target = fixed_linear([[1.0, 2.0]]), fixed_linear([[3.0, -2.0]])
    soft_update(list(target.parameters()), list(online.parameters()), tau=0.25)
    # 0.25 * w + 0.75 * w_target
    assert target.weight.tolist() == [[pytest.approx(2.5), pytest.approx(-1.0)]]
    assert online.weight.tolist() == [[1.0, 2.0]]


def test_decay_epsilon_once_per_episode_with_floor():
    assert decay_epsilon(1.0, 1, 0.995, 0.01) == pytest.approx(0.995)
    assert decay_epsilon(1.0, 3, 0.5, 0.01) == pytest.approx(0.125)
    assert decay_epsilon(0.011, 5, 0.5, 0.01) == 0.01
    eps = 1.0
    for _ in range(2000):
        eps = decay_epsilon(eps, 1, 0.995, 0.01)
    assert eps == 0.01


def test_agent_decays_epsilon_per_finished_episode():
    agent = DQNAgent(8, 4, agent_config(epsilon_decay=0.5, epsilon_min=0.1), CPU, seed=0)
    agent.schedule(env_steps=100, episodes_finished=0)
    assert agent.epsilon == 1.0
    agent.schedule(env_steps=200, episodes_finished=2)
    assert agent.epsilon == pytest.approx(0.25)
    agent.schedule(env_steps=300, episodes_finished=3)
    assert agent.epsilon == pytest.approx(0.1)


def test_linear_epsilon_schedule_in_env_steps():
    cfg = agent_config(epsilon_start=1.0, epsilon_min=0.1, epsilon_decay_steps=1000)
    agent = DQNAgent(8, 4, cfg, CPU, seed=0)
    for steps, expected in [(0, 1.0), (500, 0.55), (1000, 0.1), (5000, 0.1)]:
        agent.schedule(env_steps=steps, episodes_finished=1)
        assert agent.epsilon == pytest.approx(expected)


def test_linear_learning_rate_schedule_sets_the_size_of_adams_steps():
    cfg = agent_config(hidden_sizes=[4], learning_rate=1e-2, learning_rate_min=1e-3,
                      learning_rate_decay_steps=1000)
    agent = DQNAgent(2, 2, cfg, CPU, seed=0)
    for steps, expected in [(0, 1e-2), (1000, 1e-3), (500, 5.5e-3), (9000, 1e-3), (500, 5.5e-3)]:
        agent.schedule(env_steps=steps, episodes_finished=0)
        assert agent.optimizer.param_groups[0]["lr"] == pytest.approx(expected)
    before = [p.clone() for p in agent.online.parameters()]
    agent.learn(two_transition_batch())
    # Adam's first step moves every weight with a gradient by the learning rate
    after = agent.online.parameters()
    moved = torch.cat([(a - b).abs().flatten() for a, b in zip(after, before, strict=True)])
    assert moved.max().item() == pytest.approx(5.5e-3, rel=1e-3)


def test_without_a_learning_rate_decay_the_rate_stays():
    agent = DQNAgent(2, 2, agent_config(learning_rate=3e-4), CPU, seed=0)
    agent.schedule(env_steps=10**6, episodes_finished=5)
    assert agent.optimizer.param_groups[0]["lr"] == 3e-4


def test_hard_target_update_every_k_gradient_steps():
    cfg = agent_config(hidden_sizes=[4], tau=1.0, target_update_every=3, learning_rate=0.1)
    agent = DQNAgent(2, 2, cfg, CPU, seed=0)
    batch = two_transition_batch()
    initial = [p.clone() for p in agent.target.parameters()]
    for step in range(1, 7):
        agent.learn(batch)
        online, target = list(agent.online.parameters()), list(agent.target.parameters())
        if step % 3 == 0:  # an exact copy of the online network
            assert all(torch.equal(t, o) for t, o in zip(target, online, strict=True))
        elif step < 3:  # untouched until the first update
            assert all(torch.equal(t, i) for t, i in zip(target, initial, strict=True))
        else:
            assert not all(torch.equal(t, o) for t, o in zip(target, online, strict=True))


def greedy_agent() -> DQNAgent:
    """Q(s) = [0, 0, s0, 0]: the greedy action is always 2 for s0 = 1."""
    agent = DQNAgent(1, 4, agent_config(hidden_sizes=[1]), CPU, seed=0)
    agent.online = fixed_linear([[0.0], [0.0], [1.0], [0.0]])
    return agent


def test_epsilon_zero_is_greedy_epsilon_one_is_uniform():
    agent = greedy_agent()
    obs = torch.ones(20_000, 1)
    assert torch.all(agent.act(obs, 0.0) == 2)
    counts = torch.bincount(agent.act(obs, 1.0), minlength=4).float() / len(obs)
    # each action 0.25; 4 standard deviations of a share over 20k draws is 0.012
    assert torch.allclose(counts, torch.full((4,), 0.25), atol=0.013)


def test_epsilon_greedy_share_and_independent_draws_per_env():
    agent = greedy_agent()
    obs = torch.ones(40_000, 1)
    actions = agent.act(obs, 0.4)
    # greedy with probability 0.6, plus the random draws that land on 2: 0.6 + 0.4/4 = 0.7
    share = (actions == 2).float().mean().item()
    assert share == pytest.approx(0.7, abs=0.01)
    # each env draws its own coin: a batch is not all-random or all-greedy
    small = torch.stack([agent.act(torch.ones(8, 1), 0.5) for _ in range(200)])
    mixed = ((small == 2).any(dim=1) & (small != 2).any(dim=1)).float().mean().item()
    assert mixed > 0.9


def test_acting_is_seeded():
    a, b = greedy_agent(), greedy_agent()
    obs = torch.ones(64, 1)
    assert torch.equal(a.act(obs, 0.5), b.act(obs, 0.5))


@pytest.mark.parametrize("backward", ["manual", "autograd"])  # fused: tests/test_fused.py
def test_gradient_clipping_bounds_the_step(backward):
    cfg = agent_config(hidden_sizes=[2], learning_rate=1.0, max_grad_norm=0.01, backward=backward)
    agent = DQNAgent(2, 2, cfg, CPU, seed=0)
    agent.optimizer = torch.optim.SGD(agent.online.parameters(), lr=1.0)
    before = torch.nn.utils.parameters_to_vector(agent.online.parameters()).clone()
    agent.learn(two_transition_batch())
    after = torch.nn.utils.parameters_to_vector(agent.online.parameters())
    assert (after - before).norm().item() == pytest.approx(0.01, rel=1e-3)


def test_trainer_hands_plain_dataclasses_to_the_hot_loop(tmp_path):
    """OmegaConf attribute reads cost microseconds each; the loop must not make them."""
    from conftest import compose_config
    from lunar_dqn.config import AgentConfig as Schema
    from lunar_dqn.run.trainer import Trainer

    trainer = Trainer(compose_config("debug=smoke", "logger.tensorboard=false"), tmp_path)
    try:
        assert type(trainer.cfg.agent) is Schema and type(trainer.agent.cfg) is Schema
    finally:
        trainer.close()
