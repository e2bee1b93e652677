import pytest
import torch

from lunar_dqn.agent import DQNAgent
from lunar_dqn.backward import td_loss_backward
from lunar_dqn.buffer import Batch
from lunar_dqn.config import AgentConfig
from lunar_dqn.networks import make_q_network

CPU = torch.device("cpu")


def random_batch(n: int = 32, obs_dim: int = 8) -> Batch:
    g = torch.Generator().manual_seed(1)
    return Batch(torch.randn(n, obs_dim, generator=g), torch.randint(0, 4, (n,), generator=g),
                 torch.randn(n, generator=g) * 50, torch.randn(n, obs_dim, generator=g),
                 (torch.rand(n, generator=g) < 0.2).float(), torch.full((n,), 0.99))


@pytest.mark.parametrize("hidden", [[64, 64], [32], [16, 8, 4]])
@pytest.mark.parametrize("loss", ["mse", "huber"])
def test_hand_written_gradients_equal_autograd(hidden, loss):
    torch.manual_seed(0)
    network = make_q_network(8, 4, hidden)
    batch = random_batch()
    targets = torch.randn(32) * 3  # errors on both sides of Huber's kink at 1
    q = network(batch.obs).gather(1, batch.actions.unsqueeze(1)).squeeze(1)
    reference = (torch.nn.functional.mse_loss if loss == "mse"
                 else torch.nn.functional.smooth_l1_loss)(q, targets)
    reference.backward()
    expected = [p.grad.clone() for p in network.parameters()]
    value, q_mean = td_loss_backward(network, batch.obs, batch.actions, targets, loss)
    assert value.item() == pytest.approx(reference.item(), rel=1e-5)
    assert q_mean.item() == pytest.approx(q.mean().item(), rel=1e-5, abs=1e-6)
    for got, want in zip([p.grad for p in network.parameters()], expected, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("double_dqn", [False, True])
def test_manual_and_autograd_agents_take_the_same_steps(double_dqn):
    agents = []
    for backward in ("autograd", "manual"):
        torch.manual_seed(0)
        cfg = AgentConfig(backward=backward, double_dqn=double_dqn, max_grad_norm=10.0,
                          loss="huber", tau=0.01)
        agents.append(DQNAgent(8, 4, cfg, CPU, seed=0))
    batch = random_batch()
    for _ in range(20):
        losses = [agent.learn(batch)[0] for agent in agents]
        assert losses[0].item() == pytest.approx(losses[1].item(), rel=1e-4)
    for a, b in zip(agents[0].target.parameters(), agents[1].target.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
