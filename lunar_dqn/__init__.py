"""A PyTorch Deep Q-Learning agent for Gymnasium's LunarLander."""

__version__ = "0.1.0"
