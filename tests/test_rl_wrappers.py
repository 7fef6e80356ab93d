"""fastml.rl.NormalizeObservation / NormalizeReward: Gymnasium's vector wrappers of the
same names on the same stream (same seeds, same actions), clipping, frozen moments,
same-step autoreset, bad input, and PPO's episode log behind them."""

import numpy as np
import pytest

import fastml.rl as rl

gymnasium = pytest.importorskip("gymnasium")
from gymnasium.vector import AutoresetMode  # noqa: E402
from gymnasium.wrappers import vector as gym_vector  # noqa: E402


def _actions(env_id, rng, n):
    if env_id == "Pendulum-v1":
        return rng.uniform(-2, 2, (n, 1)).astype(np.float32)
    return rng.integers(0, 2, n)


def _rollout(env, env_id, steps, seed=5):
    rng = np.random.default_rng(0)
    out = [env.reset(seed=seed)[0]]
    for _ in range(steps):
        obs, reward, term, trunc, _ = env.step(_actions(env_id, rng, env.num_envs))
        out.append((obs, reward, term, trunc))
    return out


@pytest.mark.parametrize("env_id", ["Pendulum-v1", "CartPole-v1"])
@pytest.mark.parametrize("mode", ["next_step", "same_step"])
def test_wrappers_equal_gymnasium_on_the_same_stream(env_id, mode):
    """600 steps of 3 envs (CartPole ends episodes, Pendulum truncates at 200): the same
    observations, rewards and flags as Gymnasium's wrappers over Gymnasium's env. The
    running moments are computed in the same dtype by the same formulas, so equality is
    exact. Gymnasium's NormalizeObservation refuses same-step autoreset: there only the
    rewards are compared."""
    gym_mode = AutoresetMode.NEXT_STEP if mode == "next_step" else AutoresetMode.SAME_STEP
    theirs = gymnasium.make_vec(env_id, 3, vectorization_mode="sync",
                                vector_kwargs={"autoreset_mode": gym_mode})
    ours = rl.make_vec(env_id, 3, autoreset_mode=mode)
    if mode == "next_step":
        theirs, ours = gym_vector.NormalizeObservation(theirs), rl.NormalizeObservation(ours)
    theirs = gym_vector.NormalizeReward(theirs, gamma=0.9)
    ours = rl.NormalizeReward(ours, gamma=0.9)
    a, b = _rollout(theirs, env_id, 600), _rollout(ours, env_id, 600)
    np.testing.assert_array_equal(a[0], b[0])
    for x, y in zip(a[1:], b[1:]):
        for u, v in zip(x, y):
            np.testing.assert_array_equal(u, v)
    assert b[-1][0].dtype == np.float32 and b[-1][1].dtype == np.float64
    assert ours.return_rms.count > 600


def test_observation_moments_in_same_step_mode_and_final_obs():
    """In same-step mode every returned observation (resets included) enters the moments;
    final observations are normalised with the moments, without entering them."""
    raw = rl.make_vec("CartPole-v1", 4, autoreset_mode="same_step", max_episode_steps=15)
    env = rl.NormalizeObservation(rl.make_vec("CartPole-v1", 4, autoreset_mode="same_step",
                                              max_episode_steps=15))
    seen = [raw.reset(seed=1)[0]]
    env.reset(seed=1)
    rng = np.random.default_rng(0)
    finals = 0
    for _ in range(40):
        a = rng.integers(0, 2, 4)
        o, *_, raw_info = raw.step(a)
        seen.append(o)
        obs, _, _, _, info = env.step(a)
        np.testing.assert_array_equal(obs, env.normalize(o))
        for i in np.flatnonzero(info.get("_final_obs", [])):
            finals += 1
            np.testing.assert_array_equal(info["final_obs"][i],
                                          env.normalize(raw_info["final_obs"][i]))
    seen = np.concatenate(seen).astype(np.float64)
    n, prior = len(seen), 1e-4  # RunningMeanStd starts at count 1e-4, mean 0, var 1
    c, xbar = prior + n, seen.mean(axis=0)
    var = (prior + ((seen - xbar) ** 2).sum(axis=0) + xbar ** 2 * prior * n / c) / c
    np.testing.assert_allclose(env.obs_rms.mean, n * xbar / c, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(env.obs_rms.var, var, rtol=1e-4, atol=1e-6)
    assert finals >= 8 and env.obs_rms.count == pytest.approx(c)


def test_clip_freeze_and_original_rewards():
    def make(**kw):
        env = rl.make_vec("Pendulum-v1", 2, autoreset_mode="same_step")
        return rl.NormalizeReward(rl.NormalizeObservation(env, **kw), gamma=0.99, **kw)

    plain, clipped = make(), make(clip=0.5)
    plain.reset(seed=0), clipped.reset(seed=0)
    rng = np.random.default_rng(0)
    clipped_obs = clipped_rewards = False
    for _ in range(50):
        a = rng.uniform(-2, 2, (2, 1)).astype(np.float32)
        o1, r1, _, _, i1 = plain.step(a)
        o2, r2, _, _, i2 = clipped.step(a)
        np.testing.assert_array_equal(np.clip(o1, -0.5, 0.5), o2)
        np.testing.assert_array_equal(np.clip(r1, -0.5, 0.5), r2)
        np.testing.assert_array_equal(i1["original_reward"], i2["original_reward"])
        assert (i1["original_reward"] <= 0).all() and i1["_original_reward"].all()
        clipped_obs |= bool((np.abs(o1) > 0.5).any())
        clipped_rewards |= bool((np.abs(r1) > 0.5).any())
    assert clipped_obs and clipped_rewards
    inner = plain.env
    inner.update_running_mean = plain.update_running_mean = False
    moments = (inner.obs_rms.mean.copy(), inner.obs_rms.var.copy(), plain.return_rms.var)
    plain.step(np.zeros((2, 1), dtype=np.float32))
    np.testing.assert_array_equal(inner.obs_rms.mean, moments[0])
    np.testing.assert_array_equal(inner.obs_rms.var, moments[1])
    assert plain.return_rms.var == moments[2]


def test_ppo_logs_the_original_returns_behind_normalize_reward():
    env = rl.NormalizeReward(rl.NormalizeObservation(
        rl.make_vec("CartPole-v1", 2, autoreset_mode="same_step")))
    model = rl.PPO(env, n_steps=64, batch_size=64, n_epochs=1, seed=0).learn(512)
    returns, lengths = model.episode_returns, model.episode_lengths
    assert len(returns) > 5
    np.testing.assert_array_equal(returns, lengths)  # CartPole pays 1 per step


def test_wrappers_bad_input():
    env = rl.make_vec("CartPole-v1", 2)
    for kw, word in (({"epsilon": 0.0}, "epsilon"), ({"epsilon": np.nan}, "epsilon"),
                     ({"clip": -1.0}, "clip"), ({"clip": 0.0}, "clip")):
        with pytest.raises(ValueError, match=word):
            rl.NormalizeObservation(env, **kw)
        with pytest.raises(ValueError, match=word):
            rl.NormalizeReward(env, **kw)
    with pytest.raises(ValueError, match="gamma"):
        rl.NormalizeReward(env, gamma=1.5)
    with pytest.raises(TypeError, match="env"):
        rl.NormalizeObservation(3)
    with pytest.raises(TypeError, match="Box"):
        rl.NormalizeObservation(rl.make_vec("Taxi-v4", 2))
    with pytest.raises(TypeError, match="update_running_mean"):
        rl.NormalizeReward(env).update_running_mean = 1
