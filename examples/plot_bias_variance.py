"""
The bias–variance trade-off
===========================

For a learner :math:`f_D` trained on a random training set :math:`D` and a target
:math:`y = f(x) + \\varepsilon` with noise variance :math:`\\sigma^2`, the expected squared
error at a test point splits into three parts (Hastie et al. 2009, eq. 7.9):

.. math::

    \\mathbb{E}_{D,\\varepsilon}\\big[(f_D(x) - y)^2\\big]
    = \\underbrace{(\\bar f(x) - f(x))^2}_{\\text{bias}^2}
    + \\underbrace{\\mathbb{E}_D\\big[(f_D(x) - \\bar f(x))^2\\big]}_{\\text{variance}}
    + \\sigma^2, \\qquad \\bar f(x) = \\mathbb{E}_D[f_D(x)].

Ridge regression on degree-12 polynomial features of :math:`x` moves along this
trade-off with its penalty :math:`\\alpha`: a large :math:`\\alpha` gives a stiff,
biased fit; a small one follows the noise of each training set.
:func:`fastml.model_selection.bias_variance_curve` estimates both terms by refitting on
bootstrap resamples of the training set.
"""

# %%
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from fastml.linear_model import Ridge
from fastml.model_selection import bias_variance_curve, plot_bias_variance

QUICK = os.environ.get("FASTML_EXAMPLE_QUICK") == "1"
rng = np.random.default_rng(0)
degree, sigma = 12, 0.3


def features(x):
    """Polynomial features x, x^2, ..., x^degree of a column of inputs in [-1, 1]."""
    return np.column_stack([x ** k for k in range(1, degree + 1)])


def f(X):
    """The noiseless target, read from the first feature (x itself)."""
    return np.sin(3 * X[:, 0])


x_train = rng.uniform(-1, 1, 40)
X_train = features(x_train)
y_train = f(X_train) + sigma * rng.standard_normal(len(x_train))
x_test = np.linspace(-1, 1, 100)
X_test = features(x_test)
y_test = f(X_test) + sigma * rng.standard_normal(len(x_test))

# %%
# The sweep over the penalty
# --------------------------
alphas = np.logspace(-6, 2, 9 if QUICK else 17)
curve = bias_variance_curve(Ridge(), "alpha", alphas, X_train, y_train, X_test, y_test,
                            n_rounds=50 if QUICK else 200, random_state=0, y_true_func=f)
best = alphas[np.argmin(curve["expected_loss"])]
print(f"lowest expected loss {curve['expected_loss'].min():.3f} at alpha = {best:.2g} "
      f"(noise sigma^2 = {sigma ** 2:.3f})")

fig, axes = plt.subplots(1, 2, figsize=(11, 4))
plot_bias_variance(curve, ax=axes[0], xlabel="ridge penalty alpha", logx=True)
axes[0].axhline(sigma ** 2, color="grey", ls=":", label="noise")
axes[0].invert_xaxis()
axes[0].set_title("complexity grows to the right")

# %%
# What the two ends look like
# ---------------------------
# Twenty fits on bootstrap resamples for a stiff and a flexible model: the spread of the
# curves is the variance, the distance of their mean from the sine the bias.
for alpha, colour in ((10.0, "C0"), (1e-6, "C3")):
    fits = []
    for _ in range(20):
        idx = rng.integers(0, len(x_train), len(x_train))
        fits.append(Ridge(alpha=alpha).fit(X_train[idx], y_train[idx]).predict(X_test))
    fits = np.array(fits)
    axes[1].plot(x_test, fits.T, color=colour, alpha=0.15, lw=0.8)
    axes[1].plot(x_test, fits.mean(0), color=colour, lw=2, label=f"alpha = {alpha:g}, mean fit")
axes[1].plot(x_test, np.sin(3 * x_test), "k--", label="f(x) = sin 3x")
axes[1].scatter(x_train, y_train, s=10, c="k")
axes[1].set(ylim=(-2, 2), xlabel="x", ylabel="y", title="bootstrap fits")
axes[1].legend(fontsize=8, loc="upper left")
fig.tight_layout()
