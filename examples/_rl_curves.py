"""Learning curves of the RL examples: the mean return of the last ``window`` training
episodes against the environment step, one line per run (a helper, not an example)."""

import numpy as np


def plot_learning_curves(ax, models, labels, window=20):
    """Plot each model's ``episode_returns`` smoothed over ``window`` episodes against its
    ``episode_timesteps`` on the matplotlib axes ``ax``."""
    for model, label in zip(models, labels):
        returns, steps = model.episode_returns, model.episode_timesteps
        w = min(window, len(returns))
        smooth = np.convolve(returns, np.ones(w) / w, mode="valid")
        ax.plot(steps[w - 1:], smooth, lw=1.2, label=label)
    ax.set(xlabel="environment steps", ylabel=f"mean return of the last {window} episodes")
