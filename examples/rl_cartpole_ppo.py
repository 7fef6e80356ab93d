"""PPO on the compiled CartPole-v1: learning curve (training episode returns) as a PNG.

    python examples/rl_cartpole_ppo.py [--timesteps 150000] [--seed 0] [--out ppo.png]

rl-zoo's CartPole hyperparameters (8 envs x 32 steps, 20 epochs of one 256-sample
minibatch, gamma 0.98, lambda 0.8, lr 1e-3 annealed); training stops once the mean
return of the last 20 episodes reaches 475 (the maximum is 500).
"""

import argparse
import time

import numpy as np

import fastml.rl as rl

HPARAMS = dict(num_envs=8, n_steps=32, batch_size=256, n_epochs=20, gamma=0.98,
               gae_lambda=0.8, ent_coef=0.0, learning_rate=1e-3, clip_range_vf=None)


def main(timesteps=150_000, seed=0, out="rl_cartpole_ppo.png", target=475.0, verbose=True):
    """Train, plot the curve to ``out``; return (model, seconds)."""
    start = time.perf_counter()
    model = rl.PPO("CartPole-v1", seed=seed, **HPARAMS).learn(timesteps, target_return=target)
    seconds = time.perf_counter() - start
    returns, steps = model.episode_returns, model.episode_timesteps
    if verbose:
        print(f"{model.num_timesteps} steps in {seconds:.1f} s, mean of the last 20 "
              f"episodes {returns[-20:].mean():.1f}")
    if out:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.plot(steps, returns, ".", ms=2, alpha=0.4, label="episode return")
        window = min(20, len(returns))
        smooth = np.convolve(returns, np.ones(window) / window, mode="valid")
        ax.plot(steps[window - 1:], smooth, label=f"mean of last {window}")
        ax.axhline(target, color="gray", ls="--", lw=1)
        ax.set(xlabel="environment steps", ylabel="return",
               title=f"fastml PPO, CartPole-v1 ({seconds:.1f} s)")
        ax.legend(loc="lower right")
        fig.tight_layout()
        fig.savefig(out, dpi=120)
        plt.close(fig)
    return model, seconds


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timesteps", type=int, default=150_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="rl_cartpole_ppo.png")
    args = parser.parse_args()
    main(args.timesteps, args.seed, args.out)
