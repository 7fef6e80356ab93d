"""Shortened runs of the RL examples (the full PPO run reaches 475 on CartPole-v1 in each
of its five seeds; the full Pendulum run prints how many of five seeds pass -400)."""


import numpy as np
import pytest

pytest.importorskip("matplotlib")

def test_frozenlake_dp(load_example, tmp_path):
    out = tmp_path / "v.png"
    V, policy = load_example("rl_frozenlake_dp").main(out=str(out), verbose=False)
    assert out.stat().st_size > 0 and 0.4 < V[0] < 0.45 and policy.shape == (64,)


def test_cartpole_ppo_shortened(load_example, tmp_path):
    out = tmp_path / "curve.png"
    runs = load_example("rl_cartpole_ppo").main(seeds=(0, 1), timesteps=4096, out=str(out),
                                           verbose=False)
    assert out.stat().st_size > 0 and len(runs) == 2
    for model, seconds in runs:
        assert model.num_timesteps == 4096 and seconds > 0
        assert np.isfinite(model.episode_returns).all()


def test_pendulum_ppo_shortened(load_example, tmp_path):
    out = tmp_path / "pendulum.png"
    runs = load_example("rl_pendulum_ppo").main(seeds=(0,), timesteps=8192, out=str(out),
                                                verbose=False)
    assert out.stat().st_size > 0 and len(runs) == 1
    model, returns, seconds = runs[0]
    assert model.num_timesteps == 8192 and seconds > 0 and returns.shape == (10,)
    # the log holds the original (negative) Pendulum rewards, not the normalised ones
    assert (model.episode_returns < 0).all() and (model.episode_lengths == 200).all()
