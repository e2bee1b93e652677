"""Anchor: Stable-Baselines3 DQN with rl-baselines3-zoo's LunarLander hyperparameters.

Trains until the mean of the last 100 training episodes reaches 200 (the lab's 'solved' rule)
or the step budget runs out, then evaluates the greedy policy on 100 fresh episodes; prints one
JSON line. It runs in a virtual environment of its own, never the project's:

    python -m benchmarks.anchor --seeds 0-9          # creates .venv-anchor/ from requirements.txt
    .venv-anchor/bin/python benchmarks/anchor/sb3_dqn_lunar.py SEED [STEP_BUDGET]
"""

import json
import sys
import time
from collections import deque

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import DQN
from stable_baselines3.common.callbacks import BaseCallback

seed = int(sys.argv[1]) if len(sys.argv) > 1 else 0
budget = int(float(sys.argv[2])) if len(sys.argv) > 2 else 500_000
torch.set_num_threads(1)


class Solved(BaseCallback):
    def __init__(self):
        super().__init__()
        self.returns = deque(maxlen=100)
        self.episodes = 0
        self.solved_at = None
        self.t0 = time.perf_counter()

    def _on_step(self):
        for info in self.locals["infos"]:
            if "episode" in info:
                self.returns.append(info["episode"]["r"])
                self.episodes += 1
        if len(self.returns) == 100 and np.mean(self.returns) >= 200:
            self.solved_at = (self.num_timesteps, self.episodes, time.perf_counter() - self.t0)
            return False
        return True


env = gym.make("LunarLander-v3")
model = DQN("MlpPolicy", env, learning_rate=6.3e-4, batch_size=128, buffer_size=50_000,
            learning_starts=0, gamma=0.99, target_update_interval=250, train_freq=4,
            gradient_steps=-1, exploration_fraction=0.12, exploration_final_eps=0.1,
            policy_kwargs={"net_arch": [256, 256]}, seed=seed, device="cpu", verbose=0)
cb = Solved()
t0 = time.perf_counter()
model.learn(total_timesteps=budget, callback=cb)
wall = time.perf_counter() - t0
# greedy evaluation over 100 fresh episodes
ev = gym.make("LunarLander-v3")
rets = []
for i in range(100):
    obs, _ = ev.reset(seed=10_000 + i)
    done, episode_return = False, 0.0
    while not done:
        a, _ = model.predict(obs, deterministic=True)
        obs, r, term, trunc, _ = ev.step(a)
        episode_return += r
        done = term or trunc
    rets.append(episode_return)
print(json.dumps({"anchor": "sb3-dqn-zoo", "seed": seed, "solved": cb.solved_at is not None,
                  "steps": cb.solved_at[0] if cb.solved_at else model.num_timesteps,
                  "episodes": cb.solved_at[1] if cb.solved_at else cb.episodes,
                  "train_wall_s": round(wall, 1), "sps": round(model.num_timesteps / wall),
                  "eval_mean": round(float(np.mean(rets)), 1),
                  "eval_std": round(float(np.std(rets)), 1)}))
