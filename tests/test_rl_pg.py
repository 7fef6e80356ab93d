"""fastml.rl policy gradients: GAE, the PPO loss and its gradient, PPO/A2C/REINFORCE
learning on the compiled CartPole."""

import numpy as np
import pytest

import fastml.rl as rl
from fastml import _kernels
from fastml.reference import rl as reference


def test_gae_equals_direct_recursion():
    rng = np.random.default_rng(0)
    T, N = 37, 5
    rewards, values = rng.standard_normal((T, N)), rng.standard_normal((T, N))
    dones = (rng.random((T, N)) < 0.1).astype(float)
    last_value, last_done = rng.standard_normal(N), (rng.random(N) < 0.5).astype(float)
    adv, ret = np.zeros((T, N)), np.zeros((T, N))
    _kernels.load("_rl_ppo").gae(rewards, values, dones, last_value, last_done, 0.97, 0.9,
                                 adv, ret)
    adv_ref, ret_ref = reference.gae(rewards, values, dones, last_value, last_done, 0.97, 0.9)
    np.testing.assert_allclose(adv, adv_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ret, ret_ref, rtol=1e-12, atol=1e-12)
    # lambda = 1 and no episode ends: the discounted return to go, bootstrapped at T
    _kernels.load("_rl_ppo").gae(rewards, values, np.zeros((T, N)), last_value, np.zeros(N),
                                 0.9, 1.0, adv, ret)
    G = last_value.copy()
    for t in reversed(range(T)):
        G = rewards[t] + 0.9 * G
        np.testing.assert_allclose(ret[t], G, rtol=1e-12)


def _loss_inputs(seed, B=16, A=3):
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((B, A))
    actions = rng.integers(0, A, B)
    logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    old_logp = logp[np.arange(B), actions] + 0.3 * rng.standard_normal(B)
    values = rng.standard_normal(B)
    return dict(logits=logits, values=values, actions=actions, old_logp=old_logp,
                advantages=rng.standard_normal(B), returns=rng.standard_normal(B),
                old_values=values + 0.3 * rng.standard_normal(B))


@pytest.mark.parametrize("clip_range_vf", [None, 0.2])
def test_ppo_loss_matches_reference_and_finite_differences(clip_range_vf):
    x = _loss_inputs(1)
    kw = dict(clip_range=0.2, clip_range_vf=clip_range_vf, ent_coef=0.01, vf_coef=0.5)
    loss, g_logits, g_values, stats = rl.ppo_loss(**x, **kw)
    B = len(x["actions"])
    logp_all = x["logits"] - np.log(np.exp(x["logits"]).sum(1, keepdims=True))
    new_logp = logp_all[np.arange(B), x["actions"]]
    pg = reference.ppo_clip_loss(new_logp, x["old_logp"], x["advantages"], 0.2)
    entropy = -(np.exp(logp_all) * logp_all).sum(1).mean()
    v, R, v_old = x["values"], x["returns"], x["old_values"]
    if clip_range_vf is None:
        v_loss = 0.5 * np.mean((v - R) ** 2)
    else:
        v_clip = v_old + np.clip(v - v_old, -0.2, 0.2)
        v_loss = 0.5 * np.mean(np.maximum((v - R) ** 2, (v_clip - R) ** 2))
    np.testing.assert_allclose(stats["policy_loss"], pg, rtol=1e-12)
    np.testing.assert_allclose(stats["entropy"], entropy, rtol=1e-12)
    np.testing.assert_allclose(stats["value_loss"], v_loss, rtol=1e-12)
    np.testing.assert_allclose(loss, pg - 0.01 * entropy + 0.5 * v_loss, rtol=1e-12)
    h = 1e-6
    for name, grad in (("logits", g_logits), ("values", g_values)):
        fd = np.zeros_like(grad)
        for idx in np.ndindex(grad.shape):
            plus, minus = dict(x), dict(x)
            plus[name] = x[name].copy()
            minus[name] = x[name].copy()
            plus[name][idx] += h
            minus[name][idx] -= h
            fd[idx] = (rl.ppo_loss(**plus, **kw)[0] - rl.ppo_loss(**minus, **kw)[0]) / (2 * h)
        np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-8)


def test_reinforce_gradient_is_vanilla_policy_gradient():
    """At ratio 1 with no clipping the PPO policy gradient is -A grad log pi / B."""
    x = _loss_inputs(2)
    B = len(x["actions"])
    logp_all = x["logits"] - np.log(np.exp(x["logits"]).sum(1, keepdims=True))
    x["old_logp"] = logp_all[np.arange(B), x["actions"]]
    _, g_logits, _, _ = rl.ppo_loss(**x, clip_range=0.2, clip_range_vf=None, ent_coef=0.0)
    expected = reference.reinforce_gradient_logits(x["logits"], x["actions"], x["advantages"])
    np.testing.assert_allclose(g_logits, expected, rtol=1e-10, atol=1e-12)


def test_ppo_api_save_load_and_bad_input(tmp_path):
    model = rl.PPO("CartPole-v1", n_steps=16, batch_size=32, num_envs=2, seed=0)
    model.learn(64)
    assert model.num_timesteps == 64
    obs = np.zeros(4, dtype=np.float32)
    action, _ = model.predict(obs)
    assert action in (0, 1)
    path = tmp_path / "ppo.npz"
    model.save(path)
    loaded = rl.PPO.load(path)
    batch = np.random.default_rng(0).standard_normal((10, 4)).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict(batch)[0], model.predict(batch)[0])
    np.testing.assert_array_equal(loaded.actor(batch), model.actor(batch))
    with pytest.raises(ValueError, match="gamma"):
        rl.PPO("CartPole-v1", gamma=1.5)
    with pytest.raises(ValueError, match="clip_range"):
        rl.PPO("CartPole-v1", clip_range=0.0)
    with pytest.raises(ValueError, match="num_envs"):
        rl.PPO("CartPole-v1", num_envs=0)
    with pytest.raises(ValueError, match="autoreset"):
        rl.PPO(rl.make_vec("CartPole-v1", 2))
    with pytest.raises(ValueError, match="Discrete"):
        rl.PPO("Pendulum-v1")


def test_reinforce_improves_on_cartpole():
    model = rl.REINFORCE("CartPole-v1", seed=0).learn(20_000)
    returns = model.episode_returns
    assert returns[-20:].mean() > 2 * returns[:20].mean()


def test_a2c_improves_on_cartpole():
    model = rl.A2C("CartPole-v1", seed=0).learn(15_000)
    returns = model.episode_returns
    assert returns[-20:].mean() > 2 * returns[:20].mean()


CARTPOLE_PPO = dict(num_envs=8, n_steps=32, batch_size=256, n_epochs=20, gamma=0.98,
                    gae_lambda=0.8, ent_coef=0.0, learning_rate=1e-3, clip_range_vf=None)


@pytest.mark.slow
def test_ppo_solves_cartpole():
    """rl-zoo's CartPole-v1 hyperparameters: mean return of the last 20 training episodes
    >= 475 within 150k steps (the 5-seed result is in the benchmark suite rl)."""
    model = rl.PPO("CartPole-v1", seed=0, **CARTPOLE_PPO)
    model.learn(150_000, target_return=475)
    assert model.episode_returns[-20:].mean() >= 475
    assert model.num_timesteps <= 150_000
