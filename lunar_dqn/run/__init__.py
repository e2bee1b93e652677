"""One training run: the loop, its environments, its directory, checkpoints and exact resume."""
