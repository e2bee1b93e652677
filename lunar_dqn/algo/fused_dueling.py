"""The dueling head in the fused learner, as the linear layer it is.

`Q = V + A - mean_a A` is linear in the last hidden layer h: with the value stream (w_v, b_v)
and the advantage stream (W_a, b_a), `Q = h W^T + b` for `W = W_a - mean of W_a's rows + w_v`
and `b = b_a - mean(b_a) + b_v`. So the fused step runs the head as one Linear layer of these
effective weights, recomputed from the streams before each step, and sends that layer's gradients
(G for W, g for b) back to the streams: the value stream's are the sums of G's rows and of g, the
advantage stream's are G and g less their means over the actions.
"""

from __future__ import annotations

import numpy as np

from lunar_dqn.algo.networks import DuelingHead


class DuelingAsLinear:
    """A `DuelingHead`'s effective `weight` and `bias`, numpy arrays refreshed from the views of
    its streams; with `grads` (views of its four parameters' gradients, in parameter order),
    also `weight_grad` and `bias_grad`, which `distribute` sends into them."""

    def __init__(self, head: DuelingHead, grads: list[np.ndarray] | None = None) -> None:
        self.value_weight = head.value.weight.detach().numpy()[0]  # (in_size,)
        self.value_bias = head.value.bias.detach().numpy()  # (1,)
        self.advantage_weight = head.advantage.weight.detach().numpy()  # (actions, in_size)
        self.advantage_bias = head.advantage.bias.detach().numpy()
        num_actions, in_size = self.advantage_weight.shape
        self.weight = np.empty((num_actions, in_size), np.float32)
        self.bias = np.empty(num_actions, np.float32)
        self.ones = np.ones(num_actions, np.float32)
        self.means = np.full(num_actions, 1.0 / num_actions, np.float32)
        self.row = np.empty(in_size, np.float32)
        if grads is not None:
            value_weight, self.value_bias_grad, self.advantage_weight_grad, \
                self.advantage_bias_grad = grads
            self.value_weight_grad = value_weight[0]
            self.weight_grad, self.bias_grad = np.empty_like(self.weight), np.empty_like(self.bias)

    def refresh(self) -> None:
        """The effective weights, from the streams' current values."""
        np.dot(self.means, self.advantage_weight, out=self.row)  # the mean advantage row
        np.subtract(self.value_weight, self.row, out=self.row)
        np.add(self.advantage_weight, self.row, out=self.weight)
        shift = self.value_bias[0] - np.dot(self.means, self.advantage_bias)
        np.add(self.advantage_bias, shift, out=self.bias)

    def distribute(self) -> None:
        """The streams' gradients, from `weight_grad` and `bias_grad`."""
        np.dot(self.ones, self.weight_grad, out=self.value_weight_grad)
        np.multiply(self.value_weight_grad, self.means[0], out=self.row)
        np.subtract(self.weight_grad, self.row, out=self.advantage_weight_grad)
        self.value_bias_grad[0] = np.dot(self.ones, self.bias_grad)
        np.subtract(self.bias_grad, self.value_bias_grad[0] * self.means[0],
                    out=self.advantage_bias_grad)
