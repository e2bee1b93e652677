"""One gradient step of the agent (sample, TD target, loss, gradients, Adam, target update), timed
with autograd and with the hand-written backward pass side by side.

    python -m benchmarks.learn_step [--repeats 7] [--steps 500] [--device cpu|cuda]

The two agents alternate, window by window, so a busy machine slows both alike; the table shows
the median time per step over `--repeats` windows and their ratio.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from omegaconf import OmegaConf

from benchmarks.harness import Table, machine_info, machine_line
from lunar_dqn.algo.agent import DQNAgent
from lunar_dqn.algo.buffer import ReplayBuffer
from lunar_dqn.config import AgentConfig, compose_config

# the lab's, the default's, the default's network at a larger batch, a wide one
SHAPES = (([64, 64], 64), ([128, 128], 64), ([128, 128], 128), ([256, 256], 128))
ROWS = 100_000


def filled_buffer(device: torch.device) -> ReplayBuffer:
    g = torch.Generator().manual_seed(0)
    buffer = ReplayBuffer(ROWS, 8, device, seed=0)
    buffer.add(torch.randn(ROWS, 8, generator=g), torch.randint(0, 4, (ROWS,), generator=g),
               torch.randn(ROWS, generator=g), torch.randn(ROWS, 8, generator=g),
               torch.zeros(ROWS), torch.full((ROWS,), 0.99))
    return buffer


def agent_config(hidden: list[int], batch: int, backward: str) -> AgentConfig:
    hidden_text = ",".join(map(str, hidden))
    cfg = compose_config(f"agent.hidden_sizes=[{hidden_text}]", f"agent.batch_size={batch}",
                         f"agent.backward={backward}")
    return OmegaConf.to_object(cfg.agent)


def microseconds_per_step(agent: DQNAgent, buffer: ReplayBuffer, batch: int, steps: int) -> float:
    sync = torch.cuda.synchronize if buffer.device.type == "cuda" else (lambda: None)
    sync()
    start = time.perf_counter()
    for _ in range(steps):
        agent.learn(buffer.sample(batch))
    sync()
    return (time.perf_counter() - start) / steps * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(1)
    device = torch.device(args.device)
    buffer = filled_buffer(device)
    table = Table([("network", 10), ("batch", 5), ("autograd us", 11),
                   ("manual us", 9), ("speed-up", 8)])
    print(machine_line(machine_info(device, 1)))
    print(table.header())
    for hidden, batch in SHAPES:
        agents = {backward: DQNAgent(8, 4, agent_config(hidden, batch, backward), device, seed=0)
                  for backward in ("autograd", "manual")}
        times: dict[str, list[float]] = {name: [] for name in agents}
        for _ in range(args.repeats):
            for name, agent in agents.items():
                microseconds_per_step(agent, buffer, batch, 50)  # warm-up
                times[name].append(microseconds_per_step(agent, buffer, batch, args.steps))
        auto, manual = (statistics.median(times[name]) for name in ("autograd", "manual"))
        print(table.row(["-".join(map(str, hidden)), str(batch), f"{auto:.0f}", f"{manual:.0f}",
                         f"{auto / manual:.2f}x"]), flush=True)


if __name__ == "__main__":
    main()
