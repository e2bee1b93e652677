"""The peer anchor: Stable-Baselines3's DQN with rl-baselines3-zoo's LunarLander settings
(`sb3_dqn_lunar.py`), run in a virtual environment of its own (`requirements.txt`)."""
