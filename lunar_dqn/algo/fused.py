"""The whole gradient step of the ReLU MLP (with a linear or a dueling head, `fused_dueling.py`)
as numpy calls on preallocated arrays (`agent.backward=fused`).

At the default size (8 -> 128 -> 128 -> 4, batch 64) a step is 11 small matrix products and a few
dozen elementwise operations. A torch operation costs about four microseconds of dispatch on CPU, a
numpy call about one, so here the step (sample, TD targets, loss, gradients, clipping, Adam, the
Polyak average) is numpy with numpy's BLAS on one thread (more threads make these products ten
times slower). Adam and the Polyak average are each a single torch call over one flat array of all
the parameters (`flat_adam.py`): torch's own fused kernels, so they compute what
`torch.optim.Adam` and the soft update compute.

The torch modules stay the source of truth: their parameters and the Adam moments in the torch
optimizer's own state are moved into flat storages that the numpy arrays view, so acting,
checkpoints, model files and the other learners see the same values; the mini-batch indices come
from the buffer's own generator, so sampling is unchanged.
"""

from __future__ import annotations

import numpy as np
import torch
from threadpoolctl import threadpool_limits
from torch import nn

from lunar_dqn.algo.buffer import COLUMNS, Batch, ReplayBuffer
from lunar_dqn.algo.flat_adam import FlatAdam, pieces, share_one_storage
from lunar_dqn.algo.fused_dueling import DuelingAsLinear
from lunar_dqn.algo.learner import relu_mlp_layers
from lunar_dqn.algo.networks import DuelingHead
from lunar_dqn.config import AgentConfig


class Arrays:
    """Every array one step at one batch size writes into, allocated once."""

    def __init__(self, batch_size: int, obs_dim: int, sizes: list[int], double_dqn: bool) -> None:
        b, f32 = batch_size, np.float32
        rows = 2 * b if double_dqn else b  # Double DQN runs the online net on obs and next_obs
        self.index_tensor = torch.empty(b, dtype=torch.int64)
        self.index = self.index_tensor.numpy()
        self.inputs = np.empty((2 * b, obs_dim), f32)  # obs, then next_obs
        self.obs, self.next_obs = self.inputs[:b], self.inputs[b:]
        self.online_inputs = self.inputs[:rows]
        self.actions = np.empty(b, np.int64)
        self.rewards, self.terminated, self.discounts = (np.empty(b, f32) for _ in range(3))
        self.online = [np.empty((rows, n), f32) for n in sizes]  # each layer's output
        self.target = [np.empty((b, n), f32) for n in sizes]
        self.active = [np.empty((b, n), bool) for n in sizes[:-1]]  # ReLU output > 0
        self.grad_hidden = [np.empty((b, n), f32) for n in sizes[:-1]]
        self.grad_q = np.zeros((b, sizes[-1]), f32)
        self.row_starts = np.arange(b, dtype=np.int64) * sizes[-1]  # of each row in q.ravel()
        self.flat_index, self.best = np.empty(b, np.int64), np.empty(b, np.int64)
        self.ones = np.ones(b, f32)
        (self.next_value, self.y, self.not_done, self.q_taken, self.error, self.grad_q_taken,
         self.spare) = (np.empty(b, f32) for _ in range(7))
        self.fields = tuple(getattr(self, name) for name in COLUMNS)  # a mini-batch, as Batch


class FusedLearner:
    """Gradient steps of `online` (and Polyak updates of `target`) with `optimizer`'s Adam."""

    def __init__(self, online: nn.Sequential, target: nn.Sequential,
                 optimizer: torch.optim.Adam, cfg: AgentConfig) -> None:
        threadpool_limits(1, user_api="blas")  # for the whole process: see the module doc
        self.cfg = cfg
        params = list(online.parameters())
        self.adam = FlatAdam(optimizer, params)
        self.online_flat = self.adam.flat
        self.target_flat = share_one_storage(list(target.parameters()))
        layers, target_layers = (relu_mlp_layers(net, dueling=True) for net in (online, target))
        grads = [g.numpy() for g in pieces(self.adam.grads, params)]
        self.dueling: tuple[DuelingAsLinear, DuelingAsLinear] | None = None
        if isinstance(layers[-1], DuelingHead):  # the online head's gradients come from its own
            self.dueling = (DuelingAsLinear(layers[-1], grads[-4:]),
                            DuelingAsLinear(target_layers[-1]))
            layers[-1], target_layers[-1] = self.dueling
            grads[-4:] = [self.dueling[0].weight_grad, self.dueling[0].bias_grad]
        self.weights, self.biases = _weights_and_biases(layers)
        self.weights_t = [w.T for w in self.weights]
        target_weights, self.target_biases = _weights_and_biases(target_layers)
        self.target_weights_t = [w.T for w in target_weights]
        self.weight_grads, self.bias_grads = grads[::2], grads[1::2]
        self.grads = self.adam.grads.numpy()
        self.sizes = [w.shape[0] for w in self.weights]
        self.obs_dim = self.weights[0].shape[1]
        self.arrays: dict[int, Arrays] = {}
        self.buffer: ReplayBuffer | None = None
        self.buffer_views: list[np.ndarray] = []

    def _arrays(self, batch_size: int) -> Arrays:
        if batch_size not in self.arrays:
            self.arrays[batch_size] = Arrays(batch_size, self.obs_dim, self.sizes,
                                             self.cfg.double_dqn)
        return self.arrays[batch_size]

    def sample(self, buffer: ReplayBuffer, batch_size: int) -> Arrays:
        """A mini-batch of `buffer`, drawn as `buffer.sample` draws it, in the step's arrays."""
        if buffer is not self.buffer:
            self.buffer = buffer
            self.buffer_views = [getattr(buffer, name).numpy() for name in COLUMNS]
        a = self._arrays(batch_size)
        buffer.draw_indices(batch_size, out=a.index_tensor)
        for view, out in zip(self.buffer_views, a.fields, strict=True):
            np.take(view, a.index, axis=0, out=out, mode="clip")  # clip: no buffered copy
        return a

    def load(self, batch: Batch) -> Arrays:
        """A given mini-batch (CPU tensors) in the step's arrays."""
        a = self._arrays(batch.obs.shape[0])
        for out, values in zip(a.fields, batch, strict=True):
            np.copyto(out, values.numpy())
        return a

    def learn_from(self, buffer: ReplayBuffer, updates: int, updates_before: int
                   ) -> tuple[float, float]:
        """`updates` steps on mini-batches drawn from `buffer`, the agent having taken
        `updates_before`; returns the sums of their TD losses and mean Q-values."""
        loss_sum = q_sum = 0.0
        every, batch_size = self.cfg.target_update_every, self.cfg.batch_size
        with np.errstate(all="ignore"):  # a diverging run ends in one error line, no warnings
            for update in range(updates_before + 1, updates_before + updates + 1):
                loss, q_mean = self.step(self.sample(buffer, batch_size), update % every == 0)
                loss_sum, q_sum = loss_sum + loss, q_sum + q_mean
        return loss_sum, q_sum

    def learn(self, batch: Batch, updates_before: int) -> tuple[float, float]:
        """One step on a given mini-batch; returns its TD loss and mean Q-value."""
        with np.errstate(all="ignore"):
            return self.step(self.load(batch),
                             (updates_before + 1) % self.cfg.target_update_every == 0)

    def step(self, a: Arrays, update_target: bool) -> tuple[float, float]:
        """One gradient step on the mini-batch in `a`, then the Polyak average if
        `update_target`; returns (TD loss, mean Q(s, a)) of the batch before the step."""
        cfg, n = self.cfg, a.obs.shape[0]
        if self.dueling is not None:
            for head in self.dueling:
                head.refresh()
        q_next = _forward(a.next_obs, self.target_weights_t, self.target_biases, a.target)
        q_online = _forward(a.online_inputs, self.weights_t, self.biases, a.online)
        if cfg.double_dqn:  # the online net picks a', the target net scores it
            np.argmax(q_online[n:], axis=1, out=a.best)
            np.add(a.row_starts, a.best, out=a.flat_index)
            np.take(q_next.reshape(-1), a.flat_index, out=a.next_value, mode="clip")
        else:
            np.maximum.reduce(q_next, axis=1, out=a.next_value)
        y = a.y  # r + discount * max_a' Q'(s', a') * (1 - terminated), as agent.td_targets
        np.multiply(a.discounts, a.next_value, out=y)
        np.subtract(1.0, a.terminated, out=a.not_done)
        np.multiply(y, a.not_done, out=y)
        np.add(a.rewards, y, out=y)
        np.add(a.row_starts, a.actions, out=a.flat_index)
        np.take(q_online.reshape(-1), a.flat_index, out=a.q_taken, mode="clip")
        error, grad = np.subtract(a.q_taken, y, out=a.error), a.grad_q_taken
        if cfg.loss == "mse":
            loss = np.dot(error, error) / n
            np.multiply(error, 2.0 / n, out=grad)
        else:  # huber (smooth L1, beta 1): m * (|e| - m / 2) with m = min(|e|, 1)
            size = np.abs(error, out=a.spare)
            small = np.minimum(size, 1.0, out=grad)
            np.multiply(small, 0.5, out=y)
            loss = np.dot(small, np.subtract(size, y, out=y)) / n
            np.clip(error, -1.0, 1.0, out=grad)
            np.multiply(grad, 1.0 / n, out=grad)
        q_mean = np.add.reduce(a.q_taken) / n
        a.grad_q.fill(0.0)
        np.put(a.grad_q, a.flat_index, grad, mode="clip")
        self._backward(a)
        self.adam.step()
        if update_target:
            self.target_flat.lerp_(self.online_flat, cfg.tau)
        return float(loss), float(q_mean)

    def _backward(self, a: Arrays) -> None:
        """Every parameter's gradient into `self.grads`, from the output gradient `a.grad_q`."""
        n, g = a.obs.shape[0], a.grad_q
        for i in range(len(self.weights) - 1, -1, -1):
            x = a.obs if i == 0 else a.online[i - 1][:n]
            np.dot(g.T, x, out=self.weight_grads[i])
            np.dot(a.ones, g, out=self.bias_grads[i])  # the batch sum, faster than np.sum
            if i > 0:  # through the ReLU: where its output x was 0, no gradient
                np.dot(g, self.weights[i], out=a.grad_hidden[i - 1])
                np.greater(x, 0.0, out=a.active[i - 1])
                g = np.multiply(a.grad_hidden[i - 1], a.active[i - 1], out=a.grad_hidden[i - 1])
        if self.dueling is not None:
            self.dueling[0].distribute()
        if self.cfg.max_grad_norm is not None:  # as nn.utils.clip_grad_norm_
            norm = np.sqrt(np.dot(self.grads, self.grads))
            coef = np.float32(self.cfg.max_grad_norm) / (norm + np.float32(1e-6))
            if coef < 1.0:
                np.multiply(self.grads, coef, out=self.grads)


def _weights_and_biases(layers: list) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Views of the layers' weights and biases (a dueling head's: its effective ones)."""
    pairs = [(layer.weight, layer.bias) if isinstance(layer, DuelingAsLinear)
             else (layer.weight.detach().numpy(), layer.bias.detach().numpy()) for layer in layers]
    return [w for w, _ in pairs], [b for _, b in pairs]


def _forward(x: np.ndarray, weights_t: list[np.ndarray], biases: list[np.ndarray],
             outs: list[np.ndarray]) -> np.ndarray:
    """The MLP on the rows of `x`, each layer's output into `outs`; returns the Q-values."""
    last = len(outs) - 1
    for i, (w_t, b, out) in enumerate(zip(weights_t, biases, outs, strict=True)):
        np.dot(x, w_t, out=out)  # np.dot: less overhead per call than np.matmul
        np.add(out, b, out=out)
        if i < last:
            np.maximum(out, 0.0, out=out)
        x = out
    return x
