"""A vector step's transitions reach the buffer unchanged, whichever way they travel: as views of
the arrays on the CPU, packed into one float32 tensor and copied once on a GPU."""

import numpy as np
import pytest
import torch

from lunar_dqn.algo.buffer import COLUMNS, ReplayBuffer
from lunar_dqn.algo.nstep import Transitions
from lunar_dqn.run.transfer import pack, to_device, unpack

CPU = torch.device("cpu")


def transitions(n: int = 5, obs_dim: int = 8) -> Transitions:
    """What `NStepWindow.push` hands over, with awkward float32 values among the ordinary ones."""
    rng = np.random.default_rng(0)
    obs = rng.standard_normal((n, obs_dim)).astype(np.float32)
    obs[0, :4] = [-0.0, np.float32(1e-45), np.float32(3.4e38), np.float32(1 / 3)]
    return Transitions(obs, rng.integers(0, 4, n), rng.standard_normal(n).astype(np.float32),
                       rng.standard_normal((n, obs_dim)).astype(np.float32),
                       rng.random(n) < 0.5, np.full(n, 0.99**3, np.float32))


def filled(fields) -> ReplayBuffer:
    buffer = ReplayBuffer(capacity=8, obs_dim=8, device=CPU, seed=0)
    buffer.add(*fields)
    return buffer


def same_bits(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Equal to the bit (-0.0 is not 0.0), of the same dtype."""
    if a.dtype != b.dtype:
        return False
    return torch.equal(a.view(torch.int32), b.view(torch.int32)) if a.dtype == torch.float32 \
        else torch.equal(a, b)


def test_on_the_cpu_the_fields_are_the_arrays_themselves():
    ready = transitions()
    moved = to_device(ready, CPU)
    assert [t.data_ptr() for t in moved] == [x.ctypes.data for x in ready]


def test_packed_fields_reach_the_buffer_bit_for_bit():
    ready = transitions()
    packed = pack(ready)
    assert packed.shape == (5, 8 + 1 + 1 + 8 + 1 + 1) and packed.dtype == torch.float32
    reference, unpacked = filled(to_device(ready, CPU)), filled(unpack(packed, ready))
    for name in COLUMNS:
        assert same_bits(getattr(unpacked, name), getattr(reference, name)), name
    assert reference.obs[0, 0].item() == 0.0 and str(reference.obs[0, 0].item()) == "-0.0"
    assert reference.actions[:5].tolist() == ready.actions.tolist()
    assert reference.terminated[:5].tolist() == ready.terminated.astype(float).tolist()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_on_a_gpu_one_packed_copy_fills_the_buffer_as_on_the_cpu():
    ready = transitions()
    gpu = ReplayBuffer(capacity=8, obs_dim=8, device=torch.device("cuda"), seed=0)
    gpu.add(*to_device(ready, torch.device("cuda")))
    reference = filled(to_device(ready, CPU))
    for name in COLUMNS:
        assert same_bits(getattr(gpu, name).cpu(), getattr(reference, name)), name
