"""fastml.rl tabular control (compiled loops over episodes) on compiled toy-text envs."""

import numpy as np
import pytest

import fastml.rl as rl
from fastml.reference import rl as reference


def test_q_learning_solves_taxi():
    eps = rl.linear_schedule(1.0, 0.05, 3000, fraction=0.5)
    result = rl.q_learning("Taxi-v4", 3000, alpha=0.5, gamma=0.99, epsilon=eps, seed=0)
    assert result.Q.shape == (500, 6) and result.steps == result.episode_lengths.sum()
    returns = rl.evaluate_greedy("Taxi-v4", result.Q, 200, seed=1)
    assert returns.min() > 0          # every episode delivers the passenger (+20)
    optimal = rl.q_value_iteration(rl.make("Taxi-v4"), gamma=0.99)
    best = rl.evaluate_greedy("Taxi-v4", optimal, 200, seed=1).mean()
    assert returns.mean() >= best - 1.0
    # the greedy policy is optimal from (almost) every start state
    V_star, _ = rl.value_iteration(rl.make("Taxi-v4"), gamma=0.99)
    V_q = rl.policy_evaluation(rl.make("Taxi-v4"), None, result.policy, gamma=0.99)
    starts = np.flatnonzero(np.diff(rl.make("Taxi-v4")._batch.init_cum, prepend=0.0) > 0)
    assert np.abs(V_q[starts] - V_star[starts]).mean() < 0.5


def test_expected_sarsa_and_sarsa():
    eps = rl.linear_schedule(1.0, 0.05, 3000, fraction=0.5)
    result = rl.expected_sarsa("Taxi-v4", 3000, alpha=0.5, epsilon=eps, seed=0)
    assert rl.evaluate_greedy("Taxi-v4", result.Q, 100, seed=2).min() > 0
    # SARSA on CliffWalking: the greedy path reaches the goal without falling
    result = rl.sarsa("CliffWalking-v1", 500, alpha=0.5, gamma=1.0, epsilon=0.1, seed=0)
    assert -25 <= rl.evaluate_greedy("CliffWalking-v1", result.Q, 1, seed=0)[0] <= -13


def test_mc_control_frozen_lake():
    env = rl.make("FrozenLake-v1")
    result = rl.mc_control(env, 20000, alpha=0.01, gamma=0.99,
                           epsilon=rl.exponential_schedule(1.0, 0.05, 20000, 0.9997), seed=0)
    success = rl.evaluate_greedy(env, result.Q, 2000, seed=3).mean()
    V_star, _ = rl.value_iteration(env, gamma=0.99)
    assert success > 0.5 and V_star[0] > 0.5   # optimum ~0.74 undiscounted


def test_reference_q_learning_loop_learns_too():
    env = rl.make("Taxi-v4")
    Q, steps = reference.q_learning_taxi(env, 300, alpha=0.5, epsilon=0.1, seed=0)
    fast = rl.q_learning(env, 300, alpha=0.5, epsilon=0.1, seed=0)
    # different random streams: compare learning progress, not numbers
    assert steps > 0 and fast.steps > 0
    assert np.count_nonzero(Q) > 1000 and np.count_nonzero(fast.Q) > 1000


def test_schedules_and_bad_input():
    np.testing.assert_allclose(rl.linear_schedule(1.0, 0.0, 5, fraction=0.5),
                               [1.0, 0.6, 0.2, 0.0, 0.0])
    np.testing.assert_allclose(rl.exponential_schedule(1.0, 0.3, 3, 0.5), [1.0, 0.5, 0.3])
    with pytest.raises(ValueError, match="gamma"):
        rl.q_learning("Taxi-v4", 10, gamma=1.5)
    with pytest.raises(ValueError, match="alpha"):
        rl.q_learning("Taxi-v4", 10, alpha=0.0)
    with pytest.raises(ValueError, match="epsilon"):
        rl.q_learning("Taxi-v4", 10, epsilon=np.ones(3))
    with pytest.raises(ValueError, match="n_episodes"):
        rl.sarsa("Taxi-v4", 0)
    with pytest.raises(TypeError, match="toy-text"):
        rl.q_learning("CartPole-v1", 10)
