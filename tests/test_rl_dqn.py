"""fastml.rl DQN: double-Q targets, Huber loss gradient, replay buffer, API."""

import numpy as np
import pytest

import fastml.rl as rl


def test_double_q_targets_and_huber_gradient():
    rng = np.random.default_rng(0)
    B, A = 12, 3
    rewards, terminated = rng.standard_normal(B), (rng.random(B) < 0.3).astype(float)
    q_target, q_online = rng.standard_normal((B, A)), rng.standard_normal((B, A))
    y = rl.dqn_targets(rewards, terminated, q_target, q_online, gamma=0.9)
    for i in range(B):
        a_star = np.argmax(q_online[i])                      # chosen by the online net
        expected = rewards[i] + (0 if terminated[i] else 0.9 * q_target[i, a_star])
        assert y[i] == pytest.approx(expected, rel=1e-12, abs=1e-12)
    y_plain = rl.dqn_targets(rewards, terminated, q_target, None, gamma=0.9)
    np.testing.assert_allclose(y_plain, rewards + 0.9 * (1 - terminated) * q_target.max(1))
    q = 2 * rng.standard_normal((B, A))
    actions = rng.integers(0, A, B)
    loss, grad = rl.huber_loss(q, actions, y)
    h = 1e-6
    for idx in np.ndindex(q.shape):
        plus, minus = q.copy(), q.copy()
        plus[idx] += h
        minus[idx] -= h
        fd = (rl.huber_loss(plus, actions, y)[0] - rl.huber_loss(minus, actions, y)[0]) / (2 * h)
        assert grad[idx] == pytest.approx(fd, abs=1e-6)


def test_replay_buffer_wraps_around():
    buf = rl.ReplayBuffer(5, 2)
    for k in range(4):
        obs = np.full((2, 2), k, dtype=np.float32)
        buf.add(obs, np.array([k, k]), np.array([k, k], float), obs + 1, np.zeros(2))
    assert buf.size == 5 and buf.pos == 3
    np.testing.assert_array_equal(buf.actions, [2, 3, 3, 1, 2])
    obs, actions, rewards, next_obs, _ = buf.sample(50, np.random.default_rng(0))
    np.testing.assert_array_equal(obs[:, 0], actions)
    np.testing.assert_array_equal(next_obs[:, 0], actions + 1)


def test_dqn_runs_saves_and_loads(tmp_path):
    model = rl.DQN("CartPole-v1", learning_starts=100, batch_size=32, target_update_interval=50,
                   num_envs=2, seed=0).learn(600)
    assert model.num_timesteps == 600 and np.isfinite(model.last_loss)
    assert len(model.episode_returns) > 0
    path = tmp_path / "dqn.npz"
    model.save(path)
    loaded = rl.DQN.load(path)
    batch = np.random.default_rng(1).standard_normal((8, 4)).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict(batch)[0], model.predict(batch)[0])
    with pytest.raises(ValueError, match="gamma"):
        rl.DQN("CartPole-v1", gamma=-0.5)
    with pytest.raises(ValueError, match="Discrete"):
        rl.DQN("MountainCarContinuous-v0")
