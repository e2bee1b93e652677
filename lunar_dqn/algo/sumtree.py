"""A sum tree over a fixed number of leaves: set leaves, find the leaf where a running sum falls.

Each node holds the sum of its two children, recomputed from them on every update, so the tree
is a function of its leaves alone: rebuilding it from saved leaves gives the same bits as the
tree that was saved (exact resume). Every operation works on a batch of leaves at once.
"""

from __future__ import annotations

import numpy as np


class SumTree:
    def __init__(self, capacity: int) -> None:
        self.depth = max(0, (capacity - 1).bit_length())
        self.width = 1 << self.depth  # leaves, a power of two >= capacity
        self.nodes = np.zeros(2 * self.width)  # node 1 is the root; leaves at [width, 2 * width)

    @property
    def total(self) -> float:
        return float(self.nodes[1])

    def leaves(self, index: np.ndarray) -> np.ndarray:
        return self.nodes[index + self.width]

    def update(self, index: np.ndarray, values: np.ndarray) -> None:
        """Set the leaves `index` to `values` (for a repeated index, the last value wins)."""
        node = np.asarray(index) + self.width
        self.nodes[node] = values
        for _ in range(self.depth):
            node = node // 2
            self.nodes[node] = self.nodes[2 * node] + self.nodes[2 * node + 1]

    def find(self, prefix: np.ndarray) -> np.ndarray:
        """For each running sum in [0, total), the leaf whose interval of the cumulative sum holds
        it. Never a leaf of zero value, even when rounding puts a sum at the total."""
        node = np.ones(len(prefix), dtype=np.int64)
        prefix = np.asarray(prefix, dtype=np.float64).copy()
        for _ in range(self.depth):
            left = 2 * node
            left_sum = self.nodes[left]
            right = (prefix >= left_sum) & (self.nodes[left + 1] > 0)
            prefix = np.where(right, prefix - left_sum, prefix)
            node = np.where(right, left + 1, left)
        return node - self.width

    def load_leaves(self, values: np.ndarray) -> None:
        """Rebuild the whole tree from its first `len(values)` leaves (the rest are zero)."""
        self.nodes[:] = 0.0
        self.nodes[self.width:self.width + len(values)] = values
        for level in range(self.depth - 1, -1, -1):
            node = np.arange(1 << level, 2 << level)
            self.nodes[node] = self.nodes[2 * node] + self.nodes[2 * node + 1]
