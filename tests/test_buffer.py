import pytest
import torch

from lunar_dqn.algo.buffer import ReplayBuffer

CPU = torch.device("cpu")
DEVICES = [CPU] + ([torch.device("cuda")] if torch.cuda.is_available() else [])


def rows(start: int, n: int, device=CPU):
    """n transitions whose every field encodes its index: obs = [i]*3, action = i % 4, ..."""
    i = torch.arange(start, start + n, dtype=torch.float32, device=device)
    return (i[:, None].repeat(1, 3), (i % 4).long(), i * 10, i[:, None].repeat(1, 3) + 0.5,
            (i % 2 == 0), i / 100)


@pytest.mark.parametrize("device", DEVICES)
def test_add_wraps_around_and_overwrites_oldest(device):
    buf = ReplayBuffer(capacity=5, obs_dim=3, device=device, seed=0)
    buf.add(*rows(0, 3, device))
    assert len(buf) == 3 and buf.cursor == 3
    buf.add(*rows(3, 4, device))  # rows 3, 4 fill the end; rows 5, 6 overwrite slots 0, 1
    assert len(buf) == 5 and buf.cursor == 2
    assert buf.obs[:, 0].tolist() == [5, 6, 2, 3, 4]
    assert buf.actions.tolist() == [1, 2, 2, 3, 0]
    assert buf.rewards.tolist() == [50, 60, 20, 30, 40]
    assert buf.next_obs[:, 0].tolist() == [5.5, 6.5, 2.5, 3.5, 4.5]
    assert buf.terminated.tolist() == [0, 1, 1, 0, 1]
    assert buf.discounts.tolist() == pytest.approx([0.05, 0.06, 0.02, 0.03, 0.04])


def test_add_larger_than_capacity_keeps_newest():
    buf = ReplayBuffer(capacity=4, obs_dim=3, device=CPU, seed=0)
    buf.add(*rows(0, 1))
    buf.add(*rows(1, 6))  # indices 1..6: only 3..6 survive
    assert len(buf) == 4
    assert sorted(buf.obs[:, 0].tolist()) == [3, 4, 5, 6]
    # the next write goes to the slot of the oldest survivor (3)
    oldest_slot = buf.obs[:, 0].tolist().index(3)
    assert buf.cursor == oldest_slot


@pytest.mark.parametrize("device", DEVICES)
def test_sample_only_filled_rows_and_fields_stay_aligned(device):
    buf = ReplayBuffer(capacity=100, obs_dim=3, device=device, seed=0)
    buf.add(*rows(0, 10, device))
    batch = buf.sample(1000)
    i = batch.obs[:, 0]
    assert batch.obs.device.type == device.type
    assert set(i.long().tolist()) == set(range(10))  # 1000 draws cover all 10 filled rows
    assert torch.equal(batch.actions, (i % 4).long())
    assert torch.equal(batch.rewards, i * 10)
    assert torch.equal(batch.next_obs[:, 0], i + 0.5)
    assert torch.equal(batch.terminated, (i % 2 == 0).float())
    assert torch.equal(batch.discounts, i / 100)


def test_sampling_is_seeded():
    a, b = (ReplayBuffer(capacity=50, obs_dim=3, device=CPU, seed=7) for _ in range(2))
    for buf in (a, b):
        buf.add(*rows(0, 50))
    assert torch.equal(a.sample(32).obs, b.sample(32).obs)


def test_state_dict_round_trip_restores_contents_cursor_and_sampling():
    buf = ReplayBuffer(capacity=5, obs_dim=3, device=CPU, seed=3)
    buf.add(*rows(0, 7))
    buf.sample(4)
    copy = ReplayBuffer(capacity=5, obs_dim=3, device=CPU, seed=99)
    copy.load_state_dict(buf.state_dict())
    assert (copy.cursor, len(copy)) == (buf.cursor, len(buf))
    assert torch.equal(copy.obs, buf.obs) and torch.equal(copy.terminated, buf.terminated)
    assert torch.equal(copy.sample(16).obs, buf.sample(16).obs)


@pytest.mark.parametrize("device", DEVICES)
def test_state_dict_of_young_buffer_holds_only_filled_rows(tmp_path, device):
    """The saved rows are copies, not views: a view would carry its whole storage (all 10
    million rows) into the file."""
    buf = ReplayBuffer(capacity=10_000_000, obs_dim=3, device=device, seed=0)
    buf.add(*rows(0, 2000, device))
    state = buf.state_dict()
    assert state["obs"].shape == (2000, 3) and state["obs"].device == CPU
    torch.save(state, tmp_path / "buffer.pt")
    size = (tmp_path / "buffer.pt").stat().st_size
    assert ReplayBuffer.nbytes(2000, 3) < size < ReplayBuffer.nbytes(2000, 3) + 20_000


def test_nbytes_is_what_the_tensors_take():
    buf = ReplayBuffer(capacity=100, obs_dim=8, device=CPU, seed=0)
    tensors = (buf.obs, buf.next_obs, buf.actions, buf.rewards, buf.terminated, buf.discounts)
    assert ReplayBuffer.nbytes(100, 8) == sum(t.numel() * t.element_size() for t in tensors)


def test_load_refuses_other_shape():
    buf = ReplayBuffer(capacity=5, obs_dim=3, device=CPU, seed=0)
    with pytest.raises(ValueError, match="capacity"):
        ReplayBuffer(capacity=6, obs_dim=3, device=CPU, seed=0).load_state_dict(buf.state_dict())


def test_add_takes_arrays_and_other_dtypes_and_stores_the_buffers_own():
    """What the envs hand over (numpy arrays, float64 rewards, bool flags) lands as the
    buffer's dtypes, on its device."""
    buf = ReplayBuffer(capacity=5, obs_dim=3, device=CPU, seed=0)
    obs, actions, rewards, next_obs, terminated, discounts = rows(0, 3)
    buf.add(obs.double().numpy(), actions.int().numpy(), rewards.double().numpy(),
            next_obs.numpy(), terminated.numpy(), discounts.double())
    reference = ReplayBuffer(capacity=5, obs_dim=3, device=CPU, seed=0)
    reference.add(*rows(0, 3))
    for name in ("obs", "actions", "rewards", "next_obs", "terminated", "discounts"):
        got, want = getattr(buf, name), getattr(reference, name)
        assert got.dtype == want.dtype and torch.equal(got, want)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("buffer_device, input_device", [("cuda", "cpu"), ("cpu", "cuda")])
def test_add_moves_input_from_another_device(buffer_device, input_device):
    buf = ReplayBuffer(capacity=5, obs_dim=3, device=torch.device(buffer_device), seed=0)
    buf.add(*rows(0, 4, torch.device(input_device)))
    assert buf.obs.device.type == buffer_device
    assert buf.obs[:4, 0].tolist() == [0, 1, 2, 3]
    assert buf.terminated[:4].tolist() == [1, 0, 1, 0]
