"""The fused learner takes the steps autograd + torch Adam + the soft update take, and plugs into
runs, checkpoints and resume like the other learners; its Adam runs through torch's private fused
kernel or, where that is missing or changed, the public fused Adam, with the same results."""

import csv
import io
import math
import warnings

import pytest
import torch
from threadpoolctl import threadpool_info

from conftest import REPO, agent_config, compose_config, run_module
from lunar_dqn.algo import flat_adam
from lunar_dqn.algo.agent import DQNAgent
from lunar_dqn.algo.buffer import ReplayBuffer
from lunar_dqn.algo.networks import make_q_network
from lunar_dqn.run.checkpoint import load_model
from lunar_dqn.run.resume import resume_config
from lunar_dqn.run.rundir import CHECKPOINT
from lunar_dqn.train import train

CPU = torch.device("cpu")
ROWS = 400


def filled_buffer() -> ReplayBuffer:
    """Transitions with large rewards (errors on both sides of Huber's kink, gradients big enough
    to clip), a fifth of them terminal, and 1- to 3-step discounts."""
    g = torch.Generator().manual_seed(1)
    buffer = ReplayBuffer(1000, 8, CPU, seed=5)
    buffer.add(torch.randn(ROWS, 8, generator=g), torch.randint(0, 4, (ROWS,), generator=g),
               torch.randn(ROWS, generator=g) * 20, torch.randn(ROWS, 8, generator=g),
               torch.rand(ROWS, generator=g) < 0.2,
               0.99 ** torch.randint(1, 4, (ROWS,), generator=g).float())
    return buffer


def make_agent(backward: str, **options) -> DQNAgent:
    torch.manual_seed(0)  # the same initial weights for every learner
    cfg = agent_config(**{"backward": backward, "hidden_sizes": [32, 16], "batch_size": 24,
                          "tau": 0.05, "learning_rate": 3e-3, **options})
    return DQNAgent(8, 4, cfg, CPU, seed=0)


def assert_same_state(agent: DQNAgent, reference: DQNAgent) -> None:
    """Weights, target weights and Adam's moments and step counts, to float32 precision."""
    for net in ("online", "target"):
        for got, want in zip(getattr(agent, net).parameters(),
                             getattr(reference, net).parameters(), strict=True):
            torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    got, want = agent.optimizer.state_dict(), reference.optimizer.state_dict()
    assert got["param_groups"] == want["param_groups"]
    for i, state in want["state"].items():
        assert got["state"][i]["step"].item() == state["step"].item()
        for key in ("exp_avg", "exp_avg_sq"):
            scale = state[key].abs().max().item()  # float32 precision of the largest entry
            torch.testing.assert_close(got["state"][i][key], state[key], rtol=1e-5,
                                       atol=1e-5 * scale)


OPTIONS = [
    {},
    {"loss": "huber"},
    {"double_dqn": True},
    {"max_grad_norm": 0.05},
    {"double_dqn": True, "loss": "huber", "max_grad_norm": 0.05, "target_update_every": 2},
    {"dueling": True},
    {"dueling": True, "double_dqn": True, "loss": "huber", "max_grad_norm": 0.05,
     "target_update_every": 2},
]


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: ",".join(o) or "defaults")
def test_fused_steps_equal_autograd_with_torch_adam_and_the_soft_update(options):
    fused, reference = make_agent("fused", **options), make_agent("autograd", **options)
    assert fused.fused is not None and reference.fused is None
    buffers = filled_buffer(), filled_buffer()  # the same transitions, the same sampling seed
    for step in range(6):
        if step == 3:  # the learning-rate schedule writes the optimizer's rate between steps
            for agent in (fused, reference):
                agent.optimizer.param_groups[0]["lr"] = 1e-3
        loss, q_mean = fused.learn_from(buffers[0], 1)
        want_loss, want_q_mean = reference.learn_from(buffers[1], 1)
        assert loss.item() == pytest.approx(want_loss.item(), rel=1e-5)
        assert q_mean.item() == pytest.approx(want_q_mean.item(), rel=1e-5, abs=1e-6)
        assert_same_state(fused, reference)
        if "max_grad_norm" in options:  # every step's gradients were clipped
            norm = torch.cat([p.grad.flatten() for p in reference.online.parameters()]).norm()
            assert norm.item() == pytest.approx(options["max_grad_norm"], rel=1e-4)
    assert fused.updates == reference.updates == 6


def test_several_steps_in_one_call_sum_their_losses_and_q_values():
    one_by_one, together = make_agent("fused"), make_agent("fused")
    buffers = filled_buffer(), filled_buffer()
    losses = [one_by_one.learn_from(buffers[0], 1) for _ in range(4)]
    loss_sum, q_sum = together.learn_from(buffers[1], 4)
    assert loss_sum.item() == pytest.approx(sum(loss.item() for loss, _ in losses), rel=1e-6)
    assert q_sum.item() == pytest.approx(sum(q.item() for _, q in losses), rel=1e-6)
    assert_same_state(together, one_by_one)


def test_a_given_batch_of_any_size_takes_the_same_step():
    fused = make_agent("fused", double_dqn=True)
    reference = make_agent("autograd", double_dqn=True)
    buffer = filled_buffer()
    for size in (7, 24, 7):  # scratch arrays per batch size, reused
        batch = buffer.sample(size)
        loss, q_mean = fused.learn(batch)
        want_loss, want_q_mean = reference.learn(batch)
        assert loss.item() == pytest.approx(want_loss.item(), rel=1e-5)
        assert q_mean.item() == pytest.approx(want_q_mean.item(), rel=1e-5, abs=1e-6)
    assert_same_state(fused, reference)


def test_the_torch_modules_and_optimizer_stay_the_source_of_truth():
    agent = make_agent("fused")
    obs = torch.randn(5, 8)
    before = agent.online(obs).detach().clone()
    agent.learn_from(filled_buffer(), 3)
    assert not torch.equal(agent.online(obs), before)  # acting sees the fused steps
    flat = agent.fused.adam.exp_avg.untyped_storage().data_ptr()
    for p in agent.online_params:  # the optimizer's own state is what the fused step updates
        state = agent.optimizer.state[p]
        assert state["exp_avg"].untyped_storage().data_ptr() == flat
        assert state["step"].item() == 3
    with torch.no_grad():  # what torch writes, the fused step reads: the same memory
        agent.online[0].weight.zero_()
    assert not agent.fused.weights[0].any()


def test_auto_picks_fused_on_cpu_and_blas_runs_on_one_thread():
    agent = make_agent("auto")
    assert agent.backward == "fused" and agent.fused is not None
    blas = [lib for lib in threadpool_info() if lib["user_api"] == "blas"]
    assert blas and all(lib["num_threads"] == 1 for lib in blas)


# -- Adam through the private kernel, or the public step -------------------------------------------


@pytest.fixture
def fresh_kernel_check():
    flat_adam.private_kernel.cache_clear()
    yield
    flat_adam.private_kernel.cache_clear()


def test_the_private_kernel_is_used_where_it_gives_the_public_steps_result(fresh_kernel_check):
    assert flat_adam.private_kernel() is torch._fused_adam_
    assert make_agent("fused").fused.adam.public is None


def test_a_missing_or_changed_private_kernel_is_not_used(fresh_kernel_check, monkeypatch):
    def changed_signature(*args, lr, **kwargs):
        raise TypeError("_fused_adam_() got an unexpected keyword argument 'beta1'")

    assert not flat_adam._probe(changed_signature)
    assert not flat_adam._probe(lambda *args, **kwargs: None)  # accepts the call, does nothing
    monkeypatch.delattr(torch, "_fused_adam_")
    assert flat_adam.private_kernel() is None


@pytest.mark.parametrize("options", [{}, {"double_dqn": True, "max_grad_norm": 0.05}],
                         ids=["defaults", "double,clipped"])
def test_the_public_adam_fallback_takes_the_very_same_steps(monkeypatch, options):
    private = make_agent("fused", **options)
    monkeypatch.setattr(flat_adam, "private_kernel", lambda: None)
    public = make_agent("fused", **options)
    assert private.fused.adam.public is None and public.fused.adam.public is not None
    buffers = filled_buffer(), filled_buffer()
    for step in range(5):
        if step == 2:
            for agent in (private, public):
                agent.optimizer.param_groups[0]["lr"] = 1e-3
        got, want = public.learn_from(buffers[1], 1), private.learn_from(buffers[0], 1)
        assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])
    for net in ("online", "target"):
        for got, want in zip(getattr(public, net).parameters(),
                             getattr(private, net).parameters(), strict=True):
            assert torch.equal(got, want)
    got, want = public.optimizer.state_dict()["state"], private.optimizer.state_dict()["state"]
    assert [s["step"].item() for s in got.values()] == [5.0] * len(want)
    for i, state in want.items():
        assert all(torch.equal(got[i][key], state[key]) for key in ("exp_avg", "exp_avg_sq"))


# -- checkpoints, runs, resume ---------------------------------------------------------------------


def roundtrip(state: dict) -> dict:
    data = io.BytesIO()
    torch.save(state, data)
    data.seek(0)
    return torch.load(data, weights_only=False)


@pytest.mark.parametrize("resumed_with, dueling", [
    ("fused", False), ("manual", False), ("autograd", False), ("fused", True),
    ("autograd", True)])
def test_a_fused_checkpoint_resumes_with_any_learner(resumed_with, dueling):
    """Agent state written by the fused learner, loaded into a fresh agent, continues as the
    original does (the learner may change on resume: same file format)."""
    original = make_agent("fused", double_dqn=True, dueling=dueling)
    buffers = filled_buffer(), filled_buffer()
    original.learn_from(buffers[0], 3)
    original.learn_from(buffers[1], 3)
    resumed = make_agent(resumed_with, double_dqn=True, dueling=dueling)
    torch.manual_seed(123)  # other initial weights: everything must come from the state
    resumed.load_state_dict(roundtrip(original.state_dict()))
    assert_same_state(resumed, original)
    for _ in range(3):
        original.learn_from(buffers[0], 1)
        resumed.learn_from(buffers[1], 1)
    assert_same_state(resumed, original)


def test_a_torch_learners_checkpoint_resumes_with_the_fused_learner():
    original = make_agent("manual", loss="huber")
    buffers = filled_buffer(), filled_buffer()
    original.learn_from(buffers[0], 4)
    for _ in range(4):  # the same draws as the original's
        buffers[1].sample(24)
    resumed = make_agent("fused", loss="huber")
    resumed.load_state_dict(roundtrip(original.state_dict()))
    for _ in range(3):
        original.learn_from(buffers[0], 1)
        resumed.learn_from(buffers[1], 1)
    assert_same_state(resumed, original)


SMOKE = ("debug=smoke", "train.max_episodes=1000", "train.solve_score=1000",
         "agent.backward=fused", "agent.double_dqn=true", "agent.n_step=3",
         "agent.dueling=false")  # the plain MLP, which every learner covers


def history(run_dir) -> list[dict]:
    with open(run_dir / "history.csv") as f:
        return list(csv.DictReader(f))


def final_weights(run_dir) -> dict[str, torch.Tensor]:
    return load_model(run_dir / "final_model.pt")[0].state_dict()


def test_the_same_seed_gives_the_same_fused_run_and_resume_continues_it(tmp_path):
    cfg = compose_config(*SMOKE, "train.max_env_steps=2400")
    first = train(cfg, tmp_path / "a")
    second = train(cfg, tmp_path / "b")
    assert first["gradient_steps"] == second["gradient_steps"] > 500
    assert history(tmp_path / "a") == history(tmp_path / "b")
    a, b = final_weights(tmp_path / "a"), final_weights(tmp_path / "b")
    assert all(torch.equal(a[k], b[k]) for k in a)
    train(compose_config(*SMOKE, "train.max_env_steps=1000"), tmp_path / "split")
    assert (tmp_path / "split" / CHECKPOINT).is_file()
    train(cfg, tmp_path / "split", resume=True)
    assert history(tmp_path / "split") == history(tmp_path / "a")
    c = final_weights(tmp_path / "split")
    assert all(torch.equal(a[k], c[k]) for k in a)


def test_model_files_of_a_fused_run_hold_just_the_weights(tmp_path):
    """The parameters view one flat storage: a model file holds it once, nothing more, and a
    plain weights-only load rebuilds the network."""
    train(compose_config(*SMOKE, "train.max_env_steps=600"), tmp_path / "run")
    saved = torch.load(tmp_path / "run" / "final_model.pt", weights_only=True)["state_dict"]
    storages = {t.untyped_storage().data_ptr(): t.untyped_storage().nbytes()
                for t in saved.values()}
    assert sum(storages.values()) == sum(t.numel() * t.element_size() for t in saved.values())
    network = make_q_network(8, 4, [16, 16])
    network.load_state_dict(saved)
    assert all(torch.equal(network.state_dict()[k], saved[k]) for k in saved)


def test_a_fused_run_may_resume_with_another_learner(tmp_path):
    train(compose_config(*SMOKE, "train.max_env_steps=1000"), tmp_path)
    overrides = ["agent.backward=manual", "train.max_env_steps=2000"]
    current = compose_config(*SMOKE, *overrides, f"resume={tmp_path}")
    resumed = resume_config(tmp_path, overrides, current)
    assert resumed.agent.backward == "manual"
    summary = train(resumed, tmp_path, resume=True)
    assert summary["env_steps"] == 2000 and summary["status"] == "budget"


@pytest.mark.slow
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_the_fused_learner_on_cuda_is_refused_in_one_line(tmp_path):
    result = run_module("lunar_dqn.train", "debug=smoke", "device=cuda", "agent.backward=fused",
                        f"hydra.run.dir={tmp_path / 'run'}", cwd=REPO)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: agent.backward=fused cannot train this network (Linear -> ReLU -> Linear -> ReLU "
        "-> Linear) on cuda: the fused learner covers only float32 biased Linear layers with a "
        "ReLU between each two (the last may be a dueling head), on CPU; use agent.backward=auto "
        "or autograd")
    assert not (tmp_path / "run").exists()


def test_a_diverging_fused_step_warns_nothing():
    """Overflow is the trainer's to report (one error line), not numpy's."""
    agent = make_agent("fused", learning_rate=1e6)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        losses = [agent.learn_from(filled_buffer(), 10)[0].item() for _ in range(3)]
        losses.append(agent.learn(filled_buffer().sample(24))[0].item())
    assert not math.isfinite(losses[-1])
    assert caught == []


@pytest.mark.slow
def test_a_diverging_fused_run_ends_in_one_error_line(tmp_path):
    result = run_module("lunar_dqn.train", "debug=smoke", "agent.backward=fused",
                        "agent.learning_rate=1e6", f"hydra.run.dir={tmp_path / 'run'}", cwd=REPO)
    assert result.returncode == 3
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: training diverged: "), result.stderr
