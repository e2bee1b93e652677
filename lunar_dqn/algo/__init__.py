"""The DQN algorithm: the Q-network, the replay buffer, n-step returns and the learner."""
