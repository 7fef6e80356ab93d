"""
PPO on CartPole-v1 with CleanRL's hyperparameters
=================================================

:class:`fastml.rl.PPO` on the compiled CartPole-v1: learning curves (training episode
returns) of several seeds in one figure, and the wall time each seed needs to reach the
target. Run as a script::

    python examples/rl_cartpole_ppo.py [--seeds 0 1 2 3 4] [--timesteps 500000] [--out ppo.png]

CleanRL ppo.py's defaults are PPO's defaults here (4 envs x 128 steps, 4 epochs of 4
minibatches, :math:`\\gamma = 0.99`, :math:`\\lambda = 0.95`, clip 0.2, entropy 0.01,
value 0.5, grad norm 0.5, lr 2.5e-4 annealed over ``--timesteps``); each seed stops once
the mean return of its last 20 training episodes reaches 475 (the maximum is 500).
"""

import argparse
import os
import time

import numpy as np
from _rl_curves import plot_learning_curves

import fastml.rl as rl

QUICK = os.environ.get("FASTML_EXAMPLE_QUICK") == "1"


def main(seeds=(0, 1, 2, 3, 4), timesteps=500_000, out="rl_cartpole_ppo.png", target=475.0,
         verbose=True, close=True):
    """Train one PPO per seed, plot the curves (saved to ``out`` unless it is None);
    return [(model, seconds)]."""
    runs = []
    for seed in seeds:
        start = time.perf_counter()
        model = rl.PPO("CartPole-v1", seed=seed).learn(timesteps, target_return=target)
        seconds = time.perf_counter() - start
        runs.append((model, seconds))
        if verbose:
            print(f"seed {seed}: {model.num_timesteps} steps in {seconds:.1f} s, mean of the "
                  f"last 20 episodes {model.episode_returns[-20:].mean():.1f}")
    if verbose:
        print(f"median wall time {np.median([s for _, s in runs]):.1f} s")
    import matplotlib

    if close:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    plot_learning_curves(ax, [m for m, _ in runs],
                         [f"seed {seed} ({s:.1f} s)" for seed, (_, s) in zip(seeds, runs)])
    ax.axhline(target, color="gray", ls="--", lw=1)
    ax.set_title("fastml PPO, CartPole-v1, CleanRL hyperparameters")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    if out:
        fig.savefig(out, dpi=120)
    if close:
        plt.close(fig)
    return runs


if __name__ == "__main__" and QUICK:
    main(seeds=(0,), timesteps=20_480, out=None, close=False)
elif __name__ == "__main__":
    parser = argparse.ArgumentParser(description="PPO on CartPole-v1 (CleanRL's settings)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--timesteps", type=int, default=500_000)
    parser.add_argument("--out", default="rl_cartpole_ppo.png")
    args = parser.parse_args()
    main(tuple(args.seeds), args.timesteps, args.out)
