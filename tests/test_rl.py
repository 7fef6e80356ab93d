"""fastml.rl dynamic programming and compiled environments vs Gymnasium (oracle) and the
reference (fastml.reference.rl)."""

import numpy as np
import pytest

import fastml
import fastml.rl as rl
from fastml.reference import rl as reference

gym = pytest.importorskip("gymnasium")

CLASSIC = ["CartPole-v1", "Acrobot-v1", "MountainCar-v0", "MountainCarContinuous-v0",
           "Pendulum-v1"]
TOY = ["FrozenLake-v1", "FrozenLake8x8-v1", "Taxi-v4", "CliffWalking-v1",
       "CliffWalkingSlippery-v1"]


def random_mdp(S, A, seed):
    rng = np.random.default_rng(seed)
    P = rng.random((S, A, S)) ** 4
    P /= P.sum(axis=2, keepdims=True)
    return P, rng.standard_normal((S, A))


# ---------------------------------------------------------------- dynamic programming

@pytest.mark.parametrize("gamma", [0.9, 0.99])
def test_value_and_policy_iteration_random_mdp_exact(gamma):
    P, R = random_mdp(40, 5, seed=1)
    V, pi = rl.value_iteration(P, R, gamma, tol=1e-11)
    V_exact = rl.policy_evaluation(P, R, pi, gamma)          # linear solve
    np.testing.assert_allclose(V, V_exact, rtol=0, atol=1e-10)
    np.testing.assert_allclose(V_exact, reference.policy_evaluation(P, R, pi, gamma),
                               rtol=0, atol=1e-10)
    V_pi, pi_pi = rl.policy_iteration(P, R, gamma)
    np.testing.assert_array_equal(pi_pi, pi)
    np.testing.assert_allclose(V_pi, V_exact, rtol=0, atol=1e-10)
    V_ref, pi_ref = reference.value_iteration(P, R, gamma, tol=1e-11)
    np.testing.assert_array_equal(pi_ref, pi)
    np.testing.assert_allclose(V_ref, V, rtol=0, atol=1e-10)
    # Q forms and the Bellman backup
    Q = rl.q_value_iteration(P, R, gamma, tol=1e-11)
    np.testing.assert_allclose(Q.max(axis=1), V_exact, atol=1e-10)
    np.testing.assert_allclose(rl.bellman_q(P, R, V_exact, gamma),
                               reference.bellman_q(P, R, V_exact, gamma), atol=1e-12)
    Q_pi = rl.q_policy_evaluation(P, R, pi, gamma)
    np.testing.assert_allclose(Q_pi, Q, atol=1e-9)


def test_frozen_lake_8x8_gymnasium_table_exact():
    env = gym.make("FrozenLake8x8-v1")
    table = env.unwrapped.P
    V, pi = rl.value_iteration(table, gamma=0.99, tol=1e-11)
    P, R = reference.dense_from_table(table)
    V_exact = reference.policy_evaluation(P, R, pi, 0.99)
    np.testing.assert_allclose(V, V_exact, rtol=0, atol=1e-10)
    np.testing.assert_allclose(rl.policy_evaluation(table, None, pi, 0.99), V_exact, atol=1e-12)
    V_pi, pi_pi = rl.policy_iteration(env, gamma=0.99)       # the env itself is accepted
    np.testing.assert_allclose(V_pi, V_exact, rtol=0, atol=1e-10)
    assert 0.4 < V[0] < 0.45          # the known optimal success probability, gamma = 0.99
    # our own FrozenLake has the same table
    ours = rl.make("FrozenLake8x8-v1").unwrapped.P
    np.testing.assert_allclose(rl.value_iteration(ours, gamma=0.99, tol=1e-11)[0], V, atol=0)


def test_iterative_policy_evaluation_and_stochastic_policy():
    P, R = random_mdp(20, 3, seed=2)
    rng = np.random.default_rng(3)
    pi = rng.random((20, 3))
    pi /= pi.sum(axis=1, keepdims=True)
    exact = rl.policy_evaluation(P, R, pi, 0.95)
    iterative = rl.policy_evaluation(P, R, pi, 0.95, method="iterative", tol=1e-11)
    np.testing.assert_allclose(iterative, exact, atol=1e-10)
    # direct solve of the expectation equation
    P_pi = np.einsum("sa,sat->st", pi, P)
    r_pi = (pi * R).sum(axis=1)
    np.testing.assert_allclose(exact, np.linalg.solve(np.eye(20) - 0.95 * P_pi, r_pi),
                               atol=1e-12)


def test_reward_per_transition():
    P, R = random_mdp(10, 2, seed=4)
    R3 = np.random.default_rng(5).standard_normal((10, 2, 10))
    V3, _ = rl.value_iteration(P, R3, 0.9)
    V2, _ = rl.value_iteration(P, (P * R3).sum(axis=2), 0.9)
    np.testing.assert_allclose(V3, V2, atol=1e-12)


def test_dp_bad_input():
    P, R = random_mdp(5, 2, seed=0)
    for gamma in (-0.1, 1.5):
        with pytest.raises(ValueError, match="gamma"):
            rl.value_iteration(P, R, gamma)
    bad = P.copy()
    bad[2, 1, 0] += 0.5
    with pytest.raises(ValueError, match="P rows"):
        rl.value_iteration(bad, R, 0.9)
    with pytest.raises(ValueError, match="P rows"):
        rl.value_iteration({0: {0: [(0.5, 0, 1.0, False)]}}, gamma=0.9)
    with pytest.raises(ValueError, match="R must have shape"):
        rl.value_iteration(P, R[:, :1], 0.9)
    with pytest.raises(ValueError, match="policy"):
        rl.policy_evaluation(P, R, np.array([0, 1, 2, 0, 0]), 0.9)
    with pytest.raises(ValueError, match="method"):
        rl.policy_evaluation(P, R, np.zeros(5, dtype=int), 0.9, method="magic")
    with pytest.raises(ValueError, match="tol"):
        rl.value_iteration(P, R, 0.9, tol=0.0)


# ---------------------------------------------------------------- environments

def rollout_pairs(env_id, steps, seed):
    """Step Gymnasium's and our env with the same seeded random actions, resetting both
    at episode ends; yields both results per step."""
    g, f = gym.make(env_id), rl.make(env_id)
    yield g.reset(seed=seed), f.reset(seed=seed)
    g.action_space.seed(seed + 1)
    for _ in range(steps):
        a = g.action_space.sample()
        rg, rf = g.step(a), f.step(a)
        yield rg, rf
        if rg[2] or rg[3]:
            yield g.reset(), f.reset()


@pytest.mark.parametrize("env_id", CLASSIC + TOY)
def test_env_matches_gymnasium_step_for_step(env_id):
    steps = 1000 if env_id in ("Acrobot-v1", "MountainCarContinuous-v0") else 500
    for expected, actual in rollout_pairs(env_id, steps, seed=11):
        if len(expected) == 2:      # reset
            np.testing.assert_allclose(actual[0], expected[0], rtol=1e-6, atol=1e-6)
            continue
        obs, reward, terminated, truncated, _ = actual
        np.testing.assert_allclose(obs, expected[0], rtol=1e-6, atol=1e-6)
        assert reward == pytest.approx(expected[1], rel=1e-9, abs=1e-9)
        assert (terminated, truncated) == (expected[2], expected[3])
    f = rl.make(env_id)
    assert f.observation_space.shape == gym.make(env_id).observation_space.shape


@pytest.mark.parametrize("mode", ["next_step", "same_step"])
@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1", "FrozenLake-v1", "Taxi-v4"])
def test_vector_env_matches_sync_vector_env(env_id, mode):
    from gymnasium.vector import AutoresetMode

    n = 4
    g = gym.make_vec(env_id, n, vectorization_mode="sync", vector_kwargs={
        "autoreset_mode": AutoresetMode.NEXT_STEP if mode == "next_step"
        else AutoresetMode.SAME_STEP})
    f = rl.make_vec(env_id, n, autoreset_mode=mode)
    og, _ = g.reset(seed=5)
    of, _ = f.reset(seed=5)
    np.testing.assert_allclose(of, og, atol=1e-6)
    g.action_space.seed(6)
    n_final = 0
    for _ in range(250 if env_id in ("Pendulum-v1", "Taxi-v4") else 150):
        a = g.action_space.sample()
        rg, rf = g.step(a), f.step(a)
        np.testing.assert_allclose(rf[0], rg[0], rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(rf[1], rg[1], rtol=1e-9, atol=1e-9)
        np.testing.assert_array_equal(rf[2], rg[2])
        np.testing.assert_array_equal(rf[3], rg[3])
        if "_final_obs" in rg[4]:
            np.testing.assert_array_equal(rf[4]["_final_obs"], rg[4]["_final_obs"])
            for i in np.flatnonzero(rg[4]["_final_obs"]):
                np.testing.assert_allclose(rf[4]["final_obs"][i], rg[4]["final_obs"][i],
                                           atol=1e-6)
                n_final += 1
    if mode == "next_step":
        assert n_final == 0


def _vector_rollout(env_id, n, mode, threads, steps=40):
    env = rl.make_vec(env_id, n, autoreset_mode=mode)
    env.reset(seed=3)
    space = env.single_action_space
    rng = np.random.default_rng(4)
    out = []
    with fastml.threads(threads):
        for _ in range(steps):
            a = (rng.integers(0, space.n, n) if hasattr(space, "n")
                 else rng.uniform(-2, 2, (n, 1)).astype(np.float32))
            obs, rew, term, trunc, info = env.step(a)
            out += [obs, rew, term, trunc, info.get("_final_obs", np.zeros(n, bool))]
    return out


@pytest.mark.parametrize("mode", ["next_step", "same_step"])
@pytest.mark.parametrize("env_id, n", [("Acrobot-v1", 64), ("Taxi-v4", 2048)])
def test_vector_env_threads_give_the_same_answer(env_id, n, mode):
    """The envs are split among threads (prange) past the grain; every thread count gives
    the serial answer bit for bit (each env reads only its own random stream)."""
    k = fastml._kernels.load("_rl_envs")
    grain = k.STEP_GRAIN[k.ACROBOT] if env_id == "Acrobot-v1" else k.TOY_STEP_GRAIN
    with fastml.threads(2):
        assert fastml._kernels.threads_for(n, grain) == min(2, fastml.get_num_threads())
    serial = _vector_rollout(env_id, n, mode, 1)
    threaded = _vector_rollout(env_id, n, mode, 2)
    for a, b in zip(serial, threaded):
        np.testing.assert_array_equal(a, b)


def test_spaces_sample_like_gymnasium():
    from fastml.rl.envs import Box, Discrete, MultiDiscrete

    pairs = [(Discrete(5, seed=3), gym.spaces.Discrete(5, seed=3)),
             (MultiDiscrete([2, 3, 4], seed=3), gym.spaces.MultiDiscrete([2, 3, 4], seed=3)),
             (Box(-2.0, 2.0, shape=(3,), seed=3), gym.spaces.Box(-2.0, 2.0, shape=(3,), seed=3)),
             (Box(np.array([-1.0, -np.inf]), np.array([np.inf, 1.0]), seed=3),
              gym.spaces.Box(np.array([-1.0, -np.inf]), np.array([np.inf, 1.0]), seed=3))]
    for ours, theirs in pairs:
        for _ in range(5):
            x = ours.sample()
            np.testing.assert_array_equal(x, theirs.sample())
            assert ours.contains(x)
    assert not Discrete(2).contains(2) and not Discrete(2).contains(0.5)
    assert not Box(-1.0, 1.0, shape=(1,)).contains(np.array([1.5], dtype=np.float32))


def test_env_api_and_bad_input():
    env = rl.make("CartPole-v1")
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)
    obs, info = env.reset(seed=0)
    assert obs.dtype == np.float32 and obs.shape == (4,) and info == {}
    for bad in (2, -1, 0.5, "left"):
        with pytest.raises(ValueError, match="action"):
            env.step(bad)
    with pytest.raises(ValueError, match="num_envs"):
        rl.make_vec("CartPole-v1", 0)
    with pytest.raises(ValueError, match="autoreset_mode"):
        rl.make_vec("CartPole-v1", 2, autoreset_mode="never")
    with pytest.raises(ValueError, match="env_id"):
        rl.make("NoSuchEnv-v0")
    vec = rl.make_vec("CartPole-v1", 3, seed=0)
    with pytest.raises(ValueError, match="actions"):
        vec.step(np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="actions"):
        vec.step(np.array([0, 1]))
    pend = rl.make_vec("Pendulum-v1", 2, seed=0)
    with pytest.raises(ValueError, match="actions"):
        pend.step(np.array([[np.nan], [0.0]]))
    # time limit: CartPole-v1 truncates after 500 steps with a balancing controller
    obs, _ = env.reset(seed=1)
    steps, term, trunc = 0, False, False
    while not (term or trunc):
        obs, r, term, trunc, _ = env.step(int(obs[2] + 0.5 * obs[3] > 0))
        steps += 1
    assert trunc and not term and steps == 500
    taxi = rl.make("Taxi-v4")
    s, info = taxi.reset(seed=0)
    assert isinstance(s, int) and info["prob"] == 1.0
    assert set(taxi.unwrapped.P[s]) == set(range(6))
