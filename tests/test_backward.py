import pytest
import torch
from torch import nn

from conftest import agent_config
from lunar_dqn.algo import agent as agent_module
from lunar_dqn.algo.agent import DQNAgent
from lunar_dqn.algo.backward import td_loss_backward
from lunar_dqn.algo.buffer import Batch
from lunar_dqn.algo.learner import choose_backward, covers, relu_mlp_layers
from lunar_dqn.algo.networks import make_q_network
from lunar_dqn.errors import ConfigError

CPU = torch.device("cpu")
CUDA = torch.device("cuda")  # a device name only: nothing is placed there


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
        cfg = agent_config(backward=backward, double_dqn=double_dqn, max_grad_norm=10.0,
                          loss="huber", tau=0.01)
        agents.append(DQNAgent(8, 4, cfg, CPU, seed=0))
    batch = random_batch()
    for _ in range(20):
        losses = [agent.learn(batch)[0] for agent in agents]
        assert losses[0].item() == pytest.approx(losses[1].item(), rel=1e-4)
    for a, b in zip(agents[0].target.parameters(), agents[1].target.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def layer_norm_network(*_args) -> nn.Sequential:
    return nn.Sequential(nn.Linear(8, 16), nn.LayerNorm(16), nn.ReLU(), nn.Linear(16, 4))


class OtherDuelingHead(nn.Module):
    """A dueling head that is not `networks.DuelingHead`: its gradients nobody writes out."""

    def __init__(self) -> None:
        super().__init__()
        self.value, self.advantage = nn.Linear(16, 1), nn.Linear(16, 4)

    def forward(self, x):
        return self.value(x) + self.advantage(x) - self.advantage(x).mean(1, keepdim=True)


@pytest.mark.parametrize("network, manual, fused", [
    (make_q_network(8, 4, [64, 64]), True, True),
    (make_q_network(8, 4, [16, 8, 4]), True, True),
    (nn.Sequential(nn.Linear(8, 4)), True, True),
    (make_q_network(8, 4, [16, 8], dueling=True), False, True),
    (make_q_network(8, 4, [16], layer_norm=True), False, False),
    (make_q_network(8, 4, [16], layer_norm=True, dueling=True), False, False),
    (nn.Sequential(nn.Linear(8, 16), nn.ReLU(), OtherDuelingHead()), False, False),
    (nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 4)), False, False),
    (nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4, bias=False)), False, False),
    (nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4), nn.ReLU()), False, False),
    (nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.ReLU(), nn.Linear(16, 4)), False, False),
    (nn.Linear(8, 4), False, False),
], ids=["mlp", "deep-mlp", "linear", "dueling", "layer-norm", "layer-norm-dueling",
        "other-dueling", "tanh", "no-bias", "relu-out", "relu-twice", "bare-linear"])
def test_the_fast_learners_cover_only_relu_mlps(network, manual, fused):
    layers = relu_mlp_layers(network, dueling=True)
    assert (layers is not None) is fused
    if fused:
        assert layers == list(network)[::2]
    assert covers("manual", network, CPU) is manual
    assert covers("fused", network, CPU) is fused
    assert covers("autograd", network, CPU)


def test_the_fused_learner_covers_float32_on_cpu_only():
    mlp = make_q_network(8, 4, [16])
    assert covers("fused", mlp, CPU) and covers("manual", mlp, CUDA)
    assert not covers("fused", mlp, CUDA)
    assert not covers("fused", mlp.double(), CPU) and covers("manual", mlp, CPU)


def test_auto_takes_the_fastest_learner_that_covers_network_and_device(caplog):
    caplog.set_level("INFO")
    mlp = make_q_network(8, 4, [16])
    assert choose_backward(mlp, "auto", CPU) == "fused"
    assert choose_backward(mlp, "auto", CUDA) == "manual"
    assert choose_backward(mlp.double(), "auto", CPU) == "manual"
    assert caplog.messages == []  # a fast learner trains it: nothing to say
    assert [choose_backward(mlp.float(), name, CPU) for name in ("fused", "manual", "autograd")
            ] == ["fused", "manual", "autograd"]
    assert DQNAgent(8, 4, agent_config(), CPU, seed=0).backward == "fused"
    assert DQNAgent(8, 4, agent_config(backward="manual"), CPU, seed=0).backward == "manual"
    assert DQNAgent(8, 4, agent_config(backward="autograd"), CPU, seed=0).backward == "autograd"


def test_auto_trains_a_network_it_does_not_cover_through_autograd_and_says_so(monkeypatch,
                                                                             caplog):
    monkeypatch.setattr(agent_module, "make_q_network", layer_norm_network)
    caplog.set_level("INFO")
    agents = []
    for backward in ("auto", "autograd"):
        torch.manual_seed(0)
        agents.append(DQNAgent(8, 4, agent_config(backward=backward), CPU, seed=0))
    assert agents[0].backward == "autograd" and agents[0].fused is None
    assert caplog.messages == [
        "agent.backward=auto: neither the fused learner nor the hand-written backward pass "
        "covers this network (Linear -> LayerNorm -> ReLU -> Linear) on cpu, so it trains "
        "through autograd"]
    batch = random_batch()
    for _ in range(5):
        losses = [agent.learn(batch)[0].item() for agent in agents]
        assert losses[0] == losses[1]


REFUSED = "agent.backward={} cannot train this network ({}) on {}: {} covers only {}; use " \
          "agent.backward=auto or autograd"
MLP_LAYERS = "Linear -> ReLU -> Linear"
RELU_MLP = "biased Linear layers with a ReLU between each two"
FUSED_COVERS = f"float32 {RELU_MLP} (the last may be a dueling head), on CPU"


@pytest.mark.parametrize("name, network, device, message", [
    ("manual", layer_norm_network(), CPU, REFUSED.format(
        "manual", "Linear -> LayerNorm -> ReLU -> Linear", "cpu",
        "the hand-written backward pass", RELU_MLP)),
    ("fused", layer_norm_network(), CPU, REFUSED.format(
        "fused", "Linear -> LayerNorm -> ReLU -> Linear", "cpu", "the fused learner",
        FUSED_COVERS)),
    ("fused", make_q_network(8, 4, [16]), CUDA, REFUSED.format(
        "fused", MLP_LAYERS, "cuda", "the fused learner", FUSED_COVERS)),
    ("fused", make_q_network(8, 4, [16]).double(), CPU, REFUSED.format(
        "fused", MLP_LAYERS, "cpu", "the fused learner", FUSED_COVERS)),
    ("manual", make_q_network(8, 4, [16], dueling=True), CPU, REFUSED.format(
        "manual", "Linear -> ReLU -> DuelingHead", "cpu", "the hand-written backward pass",
        RELU_MLP)),
], ids=["manual-layer-norm", "fused-layer-norm", "fused-cuda", "fused-float64", "manual-dueling"])
def test_a_learner_named_for_what_it_does_not_cover_is_refused_in_one_line(name, network,
                                                                            device, message):
    with pytest.raises(ConfigError) as err:
        choose_backward(network, name, device)
    assert str(err.value) == message


def test_the_agent_refuses_before_it_trains(monkeypatch):
    monkeypatch.setattr(agent_module, "make_q_network", layer_norm_network)
    with pytest.raises(ConfigError, match=r"^agent.backward=manual cannot train this network"):
        DQNAgent(8, 4, agent_config(backward="manual"), CPU, seed=0)


@pytest.mark.parametrize("options, device, chosen", [
    ({"dueling": True}, CPU, "fused"),
    ({"dueling": True}, CUDA, "autograd"),
    ({"layer_norm": True}, CPU, "autograd"),
    ({"layer_norm": True, "dueling": True}, CPU, "autograd"),
], ids=["dueling", "dueling-cuda", "layer-norm", "both"])
def test_auto_trains_dueling_fused_on_cpu_and_the_rest_through_autograd(options, device, chosen,
                                                                         caplog):
    caplog.set_level("INFO")
    cfg = agent_config(**options)
    network = make_q_network(8, 4, cfg.hidden_sizes, cfg.layer_norm, cfg.dueling)
    assert choose_backward(network, "auto", device) == chosen
    assert len(caplog.messages) == (chosen == "autograd")


@pytest.mark.parametrize("option", ["layer_norm", "dueling"])
def test_the_hand_written_backward_pass_refuses_the_levers(option):
    with pytest.raises(ConfigError, match=r"^agent.backward=manual cannot train this network"):
        DQNAgent(8, 4, agent_config(backward="manual", **{option: True}), CPU, seed=0)
