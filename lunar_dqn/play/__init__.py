"""Playing trained networks: greedy evaluation, videos, the training curve, one inspected step."""
