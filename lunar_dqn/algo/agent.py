"""The DQN agent: epsilon-greedy acting, the TD update, the soft target update, epsilon decay."""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from lunar_dqn.algo.backward import td_loss_backward
from lunar_dqn.algo.buffer import Batch, ReplayBuffer
from lunar_dqn.algo.fused import FusedLearner
from lunar_dqn.algo.learner import choose_backward
from lunar_dqn.algo.networks import make_q_network
from lunar_dqn.config import AgentConfig


def td_targets(batch: Batch, next_q_target: torch.Tensor,
               next_q_online: torch.Tensor | None = None) -> torch.Tensor:
    """`y = r + gamma * max_a' Q_target(s', a') * (1 - terminated)`.

    `gamma` is the batch's per-transition discount: gamma^k for a k-step return (k = 1 in the
    lab). With `next_q_online` (Double DQN) the online network picks a' and the target network
    scores it. Truncated episodes keep their bootstrap: only `terminated` zeroes it.
    """
    if next_q_online is None:
        next_value = next_q_target.max(dim=1).values
    else:
        best = next_q_online.argmax(dim=1, keepdim=True)
        next_value = next_q_target.gather(1, best).squeeze(1)
    return batch.rewards + batch.discounts * next_value * (1.0 - batch.terminated)


def soft_update(target: list[torch.Tensor], online: list[torch.Tensor], tau: float) -> None:
    """`w_target <- tau * w + (1 - tau) * w_target`, in place, for every parameter."""
    with torch.no_grad():
        torch._foreach_lerp_(target, online, tau)


def decay_epsilon(epsilon: float, episodes_finished: int, decay: float, minimum: float) -> float:
    """The lab's `max(E_MIN, E_DECAY * epsilon)`, applied once per finished episode."""
    return max(minimum, epsilon * decay**episodes_finished)


def linear_schedule(env_steps: int, start: float, end: float, decay_steps: int) -> float:
    """From `start` to `end` in a straight line over `decay_steps` env steps, then `end`."""
    return start + min(1.0, env_steps / decay_steps) * (end - start)


class DQNAgent:
    def __init__(self, obs_dim: int, num_actions: int, cfg: AgentConfig, device: torch.device,
                 seed: int) -> None:
        self.cfg = cfg
        self.num_actions = num_actions
        self.device = device
        self.online = make_q_network(obs_dim, num_actions, cfg.hidden_sizes, cfg.layer_norm,
                                     cfg.dueling).to(device)
        self.target = copy.deepcopy(self.online)
        self.target.requires_grad_(False)
        self.online_params = list(self.online.parameters())
        self.target_params = list(self.target.parameters())
        # The fused kernel does Adam's arithmetic for all parameters in one pass: 2.5x faster
        # than the foreach path for these small networks on CPU.
        self.optimizer = torch.optim.Adam(self.online.parameters(), lr=cfg.learning_rate,
                                          fused=True)
        self.loss_fn = F.mse_loss if cfg.loss == "mse" else F.smooth_l1_loss
        self.backward = choose_backward(self.online, cfg.backward, device)  # see learner.py
        self.fused = (FusedLearner(self.online, self.target, self.optimizer, cfg)
                      if self.backward == "fused" else None)
        self.action_generator = torch.Generator(device=device)
        self.action_generator.manual_seed(seed)
        self.epsilon = cfg.epsilon_start
        self.updates = 0  # gradient steps taken

    @torch.no_grad()
    def act(self, obs: torch.Tensor, epsilon: float) -> torch.Tensor:
        """Epsilon-greedy per env: each row draws its own coin and its own random action."""
        greedy = self.online(obs).argmax(dim=1)
        n = obs.shape[0]
        coin = torch.rand(n, device=self.device, generator=self.action_generator)
        random_actions = torch.randint(
            0, self.num_actions, (n,), device=self.device, generator=self.action_generator
        )
        return torch.where(coin < epsilon, random_actions, greedy)

    def schedule(self, env_steps: int, episodes_finished: int) -> None:
        """Epsilon per finished episode (the lab), or linear in env steps with
        `epsilon_decay_steps`; the learning rate linear in env steps with
        `learning_rate_decay_steps`. Both follow from the counters, so a resumed run agrees."""
        c = self.cfg
        if c.epsilon_decay_steps is not None:
            self.epsilon = linear_schedule(env_steps, c.epsilon_start, c.epsilon_min,
                                           c.epsilon_decay_steps)
        elif episodes_finished:
            self.epsilon = decay_epsilon(self.epsilon, episodes_finished, c.epsilon_decay,
                                         c.epsilon_min)
        if c.learning_rate_decay_steps is not None:
            self.optimizer.param_groups[0]["lr"] = linear_schedule(
                env_steps, c.learning_rate, c.learning_rate_min, c.learning_rate_decay_steps)

    @torch.no_grad()
    def targets(self, batch: Batch) -> torch.Tensor:
        next_q_target = self.target(batch.next_obs)
        next_q_online = self.online(batch.next_obs) if self.cfg.double_dqn else None
        return td_targets(batch, next_q_target, next_q_online)

    def loss(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """TD loss of a batch, and the mean Q(s, a) it was computed on."""
        y = self.targets(batch)
        q = self.online(batch.obs).gather(1, batch.actions.unsqueeze(1)).squeeze(1)
        return self.loss_fn(q, y), q.detach().mean()

    def learn_from(self, buffer: ReplayBuffer, updates: int) -> tuple[torch.Tensor, torch.Tensor]:
        """`updates` gradient steps, each on a mini-batch drawn from `buffer`; returns the sums
        of their TD losses and mean Q-values, as tensors on the agent's device."""
        if self.fused is not None:
            loss_sum, q_sum = self.fused.learn_from(buffer, updates, self.updates)
            self.updates += updates
            return torch.tensor(loss_sum), torch.tensor(q_sum)
        loss_sum = q_sum = torch.zeros((), device=self.device)
        for _ in range(updates):
            loss, q_mean = self.learn(buffer.sample(self.cfg.batch_size))
            loss_sum, q_sum = loss_sum + loss, q_sum + q_mean
        return loss_sum, q_sum

    def learn(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """One gradient step and a target update. Returns (loss, mean Q) as tensors, so the
        caller decides when to pay for a device sync."""
        if self.fused is not None:
            loss, q_mean = self.fused.learn(batch, self.updates)
            self.updates += 1
            return torch.tensor(loss), torch.tensor(q_mean)
        if self.backward == "manual":
            loss, q_mean = td_loss_backward(self.online, batch.obs, batch.actions,
                                            self.targets(batch), self.cfg.loss)
        else:
            loss, q_mean = self.loss(batch)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
        if self.cfg.max_grad_norm is not None:
            nn.utils.clip_grad_norm_(self.online_params, self.cfg.max_grad_norm, foreach=True)
        self.optimizer.step()
        self.updates += 1
        if self.updates % self.cfg.target_update_every == 0:
            soft_update(self.target_params, self.online_params, self.cfg.tau)
        return loss.detach(), q_mean

    def state_dict(self) -> dict:
        return {
            "online": self.online.state_dict(), "target": self.target.state_dict(),
            "optimizer": self.optimizer.state_dict(), "epsilon": self.epsilon,
            "updates": self.updates,
            "action_generator": self.action_generator.get_state(),
        }

    def load_state_dict(self, state: dict) -> None:
        self.online.load_state_dict(state["online"])
        self.target.load_state_dict(state["target"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.fused is not None:  # the loaded moments, back into the flat storage
            self.fused.adam.bind_optimizer_state()
        self.epsilon, self.updates = state["epsilon"], state["updates"]
        self.action_generator.set_state(state["action_generator"])
