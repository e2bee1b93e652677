"""One gradient step of the agent (sample, TD target, loss, gradients, Adam, target update), timed
for each learner of `agent.backward` side by side: autograd, the hand-written backward pass
(manual) and the fused numpy step (CPU only).

    python -m benchmarks.learn_step [--repeats 7] [--steps 500] [--device cpu|cuda] \\
        [--clock wall|cpu] [--dueling]

The learners alternate, window by window, so a busy machine slows them alike; the table shows the
median time per step over `--repeats` windows and the fused step's speed-up. `--clock cpu` counts
the CPU time of this thread instead of wall-clock: on a machine shared with other work it leaves
out the time the step waited for a core (CUDA kernels run outside it: wall-clock there). Each
step goes through `DQNAgent.learn_from`, as in training. The set-up line is what a run pays once
per learner: building the agent and its first step. `--dueling` times the networks with a dueling
head (`agent.dueling=true`; the hand-written backward pass does not cover it) beside the plain
ones, through the fused learner and autograd.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from omegaconf import OmegaConf

from benchmarks.harness import Table, machine_info, machine_line
from lunar_dqn.algo.agent import DQNAgent
from lunar_dqn.algo.buffer import ReplayBuffer
from lunar_dqn.config import AgentConfig, compose_config

# the lab's, the default's, the default's network at a larger batch, a wide one
SHAPES = (([64, 64], 64), ([128, 128], 64), ([128, 128], 128), ([256, 256], 128))
LEARNERS = ("autograd", "manual", "fused")
ROWS = 100_000


def filled_buffer(device: torch.device) -> ReplayBuffer:
    g = torch.Generator().manual_seed(0)
    buffer = ReplayBuffer(ROWS, 8, device, seed=0)
    buffer.add(torch.randn(ROWS, 8, generator=g), torch.randint(0, 4, (ROWS,), generator=g),
               torch.randn(ROWS, generator=g), torch.randn(ROWS, 8, generator=g),
               torch.zeros(ROWS), torch.full((ROWS,), 0.99))
    return buffer


def agent_config(hidden: list[int], batch: int, backward: str, dueling: bool = False
                 ) -> AgentConfig:
    hidden_text = ",".join(map(str, hidden))
    cfg = compose_config(f"agent.hidden_sizes=[{hidden_text}]", f"agent.batch_size={batch}",
                         f"agent.backward={backward}", f"agent.dueling={dueling}")
    return OmegaConf.to_object(cfg.agent)


def microseconds_per_step(agent: DQNAgent, buffer: ReplayBuffer, steps: int,
                          clock: Callable[[], float] = time.perf_counter) -> float:
    sync = torch.cuda.synchronize if buffer.device.type == "cuda" else (lambda: None)
    sync()
    start = clock()
    agent.learn_from(buffer, steps)
    sync()
    return (clock() - start) / steps * 1e6


def set_up(cfg: AgentConfig, buffer: ReplayBuffer) -> tuple[DQNAgent, float]:
    """An agent with this config, and the milliseconds its construction and first step took."""
    start = time.perf_counter()
    agent = DQNAgent(8, 4, cfg, buffer.device, seed=0)
    agent.learn_from(buffer, 1)
    return agent, (time.perf_counter() - start) * 1e3


def learners_for(device: torch.device, dueling: bool) -> list[str]:
    """The learners timed on `device` (the fused one on CPU only), dueling ones with `dueling`."""
    learners = [name for name in LEARNERS if device.type == "cpu" or name != "fused"]
    if dueling:
        learners += [f"dueling {name}" for name in learners if name != "manual"]
    return learners


def results_table(learners: list[str]) -> Table:
    """A column per learner, then the fused step's speed-up over each other one (if fused is
    timed)."""
    ratios = [name for name in learners if name != "fused"] if "fused" in learners else []
    return Table([("network", 10), ("batch", 5), *((f"{name} us", 10) for name in learners),
                  *((f"fused vs {name}", 10) for name in ratios)])


def row_cells(hidden: list[int], batch: int, learners: list[str], median: dict[str, float]
              ) -> list[str]:
    ratios = [f"{median[name] / median['fused']:.2f}x" for name in learners
              if "fused" in median and name != "fused"]
    return ["-".join(map(str, hidden)), str(batch),
            *(f"{median[name]:.0f}" for name in learners), *ratios]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    parser.add_argument("--dueling", action="store_true",
                        help="also time dueling networks (fused and autograd)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    device = torch.device(args.device)
    cpu_clock = args.clock == "cpu" and device.type == "cpu"
    clock = time.thread_time if cpu_clock else time.perf_counter
    learners = learners_for(device, args.dueling)
    buffer = filled_buffer(device)
    table = results_table(learners)
    print(machine_line(machine_info(device, 1)))
    print(f"clock: {'CPU time of this thread' if cpu_clock else 'wall-clock'}")
    print(table.header())
    set_up_ms: dict[str, list[float]] = {name: [] for name in learners}
    for hidden, batch in SHAPES:
        agents = {}
        for name in learners:
            cfg = agent_config(hidden, batch, name.split()[-1], name.startswith("dueling"))
            agents[name], ms = set_up(cfg, buffer)
            set_up_ms[name].append(ms)
        times: dict[str, list[float]] = {name: [] for name in agents}
        for _ in range(args.repeats):
            for name, agent in agents.items():
                microseconds_per_step(agent, buffer, 50)  # warm-up
                times[name].append(microseconds_per_step(agent, buffer, args.steps, clock))
        median = {name: statistics.median(times[name]) for name in agents}
        print(table.row(row_cells(hidden, batch, learners, median)), flush=True)
    print("set-up (agent + first step), median ms: " + ", ".join(
        f"{name} {statistics.median(ms):.1f}" for name, ms in set_up_ms.items()))


if __name__ == "__main__":
    main()
