"""PPO on the compiled CartPole-v1 with CleanRL's hyperparameters: learning curves
(training episode returns) of several seeds in one PNG, and the wall time each seed
needs to reach the target.

    python examples/rl_cartpole_ppo.py [--seeds 0 1 2 3 4] [--timesteps 500000] [--out ppo.png]

CleanRL ppo.py's defaults are PPO's defaults here (4 envs x 128 steps, 4 epochs of 4
minibatches, gamma 0.99, lambda 0.95, clip 0.2, entropy 0.01, value 0.5, grad norm 0.5,
lr 2.5e-4 annealed over ``--timesteps``); each seed stops once the mean return of its last
20 training episodes reaches 475 (the maximum is 500).
"""

import argparse
import time

import numpy as np

import fastml.rl as rl


def main(seeds=(0, 1, 2, 3, 4), timesteps=500_000, out="rl_cartpole_ppo.png", target=475.0,
         verbose=True):
    """Train one PPO per seed, plot the curves to ``out``; return [(model, seconds)]."""
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
    if out:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6.5, 3.8))
        for seed, (model, seconds) in zip(seeds, runs):
            returns, steps = model.episode_returns, model.episode_timesteps
            window = min(20, len(returns))
            smooth = np.convolve(returns, np.ones(window) / window, mode="valid")
            ax.plot(steps[window - 1:], smooth, lw=1.2, label=f"seed {seed} ({seconds:.1f} s)")
        ax.axhline(target, color="gray", ls="--", lw=1)
        ax.set(xlabel="environment steps", ylabel="mean return of the last 20 episodes",
               title="fastml PPO, CartPole-v1, CleanRL hyperparameters")
        ax.legend(loc="lower right", fontsize=8)
        fig.tight_layout()
        fig.savefig(out, dpi=120)
        plt.close(fig)
    return runs


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--timesteps", type=int, default=500_000)
    parser.add_argument("--out", default="rl_cartpole_ppo.png")
    args = parser.parse_args()
    main(tuple(args.seeds), args.timesteps, args.out)
