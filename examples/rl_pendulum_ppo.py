"""
Gaussian PPO on Pendulum-v1 with observation and reward normalisation
=====================================================================

:class:`fastml.rl.PPO` with a diagonal Gaussian policy (state-independent log standard
deviation, CleanRL's ``ppo_continuous_action``) on the compiled Pendulum-v1, behind
:class:`fastml.rl.NormalizeObservation` and :class:`fastml.rl.NormalizeReward` (SB3
``VecNormalize`` semantics: observations standardised by their running mean and
variance, rewards divided by the running standard deviation of the discounted return,
both clipped to [-10, 10]). Run as a script::

    python examples/rl_pendulum_ppo.py [--seeds 0 1 2 3 4] [--timesteps 200000] [--out pendulum.png]

Settings: 8 envs x 512 steps, 10 epochs of minibatches of 64, :math:`\\gamma = 0.95`,
:math:`\\lambda = 0.95`, lr 3e-4 annealed to 0, clip 0.2, no value clipping, no entropy
bonus, gradient norm 0.5. After training, each seed's deterministic policy (the Gaussian
mean) is evaluated on 10 fresh episodes with the normalisation frozen; the figure shows
the training returns (stochastic policy, original rewards) of every seed. A return above
-400 means the pendulum is swung up and held (random actions score about -1200, SB3's
rl-zoo PPO about -200).
"""

import argparse
import os
import time

import numpy as np
from _rl_curves import plot_learning_curves

import fastml.rl as rl

QUICK = os.environ.get("FASTML_EXAMPLE_QUICK") == "1"
SETTINGS = dict(n_steps=512, batch_size=64, n_epochs=10, gamma=0.95, gae_lambda=0.95,
                learning_rate=3e-4, ent_coef=0.0, clip_range_vf=None)
NUM_ENVS, CLIP = 8, 10.0


def train(seed, timesteps):
    """One seeded PPO run; returns (model, the NormalizeObservation wrapper, seconds)."""
    env = rl.make_vec("Pendulum-v1", NUM_ENVS, autoreset_mode="same_step")
    observations = rl.NormalizeObservation(env, clip=CLIP)
    env = rl.NormalizeReward(observations, gamma=SETTINGS["gamma"], clip=CLIP)
    start = time.perf_counter()
    model = rl.PPO(env, seed=seed, **SETTINGS).learn(timesteps)
    return model, observations, time.perf_counter() - start


def evaluate(model, observations, n_episodes=10, seed=1000):
    """Returns of the deterministic policy on ``n_episodes`` fresh episodes, the
    observation moments frozen."""
    observations.update_running_mean = False
    env, returns = rl.make("Pendulum-v1"), []
    for episode in range(n_episodes):
        obs, _ = env.reset(seed=seed + episode)
        total, done = 0.0, False
        while not done:
            action, _ = model.predict(observations.normalize(obs))
            obs, reward, terminated, truncated, _ = env.step(action)
            total, done = total + reward, terminated or truncated
        returns.append(total)
    return np.array(returns)


def main(seeds=(0, 1, 2, 3, 4), timesteps=200_000, out="rl_pendulum_ppo.png", verbose=True,
         close=True):
    """Train and evaluate one PPO per seed, plot the curves (saved to ``out`` unless it is
    None); return [(model, evaluation returns, seconds)]."""
    runs = []
    for seed in seeds:
        model, observations, seconds = train(seed, timesteps)
        returns = evaluate(model, observations)
        runs.append((model, returns, seconds))
        if verbose:
            print(f"seed {seed}: {seconds:.1f} s, last 20 training episodes "
                  f"{model.episode_returns[-20:].mean():.1f}, deterministic policy "
                  f"{returns.mean():.1f} over {len(returns)} episodes")
    if verbose:
        above = sum(r.mean() > -400 for _, r, _ in runs)
        print(f"{above} of {len(runs)} seeds above -400 after {timesteps} steps")
    import matplotlib

    if close:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    plot_learning_curves(ax, [m for m, _, _ in runs],
                         [f"seed {seed} (greedy {r.mean():.0f})"
                          for seed, (_, r, _) in zip(seeds, runs)])
    ax.axhline(-400, color="gray", ls="--", lw=1)
    ax.set_title("fastml Gaussian PPO, Pendulum-v1, normalised obs/rewards")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    if out:
        fig.savefig(out, dpi=120)
    if close:
        plt.close(fig)
    return runs


if __name__ == "__main__" and QUICK:
    main(seeds=(0,), timesteps=16_384, out=None, close=False)
elif __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Gaussian PPO on Pendulum-v1, normalised")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--timesteps", type=int, default=200_000)
    parser.add_argument("--out", default="rl_pendulum_ppo.png")
    args = parser.parse_args()
    main(tuple(args.seeds), args.timesteps, args.out)
