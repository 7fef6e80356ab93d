"""
Gaussian-process posterior bands, exact and sparse
==================================================

A Gaussian process prior :math:`f \\sim \\mathcal{GP}(0, k)` with Gaussian noise gives a
Gaussian posterior at test inputs :math:`X_*` (Rasmussen & Williams, eq. 2.25–2.26):

.. math::

    \\mu_* = K_{*X} (K + \\sigma^2 I)^{-1} y, \\qquad
    \\Sigma_* = K_{**} - K_{*X} (K + \\sigma^2 I)^{-1} K_{X*}.

:class:`fastml.gp.GaussianProcessRegressor` fits the kernel's hyperparameters by
maximising the log marginal likelihood; :class:`fastml.gp.SparseGaussianProcessRegressor`
replaces the :math:`n \\times n` solve by one through :math:`m` inducing points
(Titsias' collapsed bound), at :math:`O(n m^2)` cost.
"""

# %%
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from fastml.gp import GaussianProcessRegressor, SparseGaussianProcessRegressor
from fastml.gp.kernels import RBF, ConstantKernel, WhiteKernel

QUICK = os.environ.get("FASTML_EXAMPLE_QUICK") == "1"
rng = np.random.default_rng(0)


def f(x):
    return np.sin(2 * x) + 0.3 * x


# %%
# Exact GP on 30 noisy points
# ---------------------------
X = np.sort(rng.uniform(-4, 4, 30))[:, None]
y = f(X[:, 0]) + 0.2 * rng.standard_normal(len(X))
X_plot = np.linspace(-6, 6, 300)[:, None]
kernel = ConstantKernel(1.0) * RBF(1.0) + WhiteKernel(0.1)
gpr = GaussianProcessRegressor(kernel, random_state=0).fit(X, y)
mean, std = gpr.predict(X_plot, return_std=True)
draws = gpr.sample_y(X_plot, n_samples=5, random_state=1)
print("fitted kernel:", gpr.kernel_)
print(f"log marginal likelihood {gpr.log_marginal_likelihood_value_:.2f}")

fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
ax = axes[0]
ax.fill_between(X_plot[:, 0], mean - 2 * std, mean + 2 * std, alpha=0.25,
                label="mean ± 2 sd")
ax.plot(X_plot, draws, lw=0.7, alpha=0.7)
ax.plot(X_plot, mean, "C0", lw=2, label="posterior mean")
ax.plot(X_plot, f(X_plot[:, 0]), "k--", lw=1, label="f(x)")
ax.scatter(X, y, c="k", s=12, zorder=3, label="data")
ax.set(xlabel="x", ylabel="y", title=f"exact GP, n = {len(X)}")
ax.legend(fontsize=8, loc="lower right")

# %%
# Sparse GP on many more points, with 15 inducing inputs
# ------------------------------------------------------
# The inducing inputs (triangles) start from k-means++ on the data and are optimised
# with the hyperparameters; outside the data the band widens back to the prior.
n = 2000 if QUICK else 20000
Xs = rng.uniform(-4, 4, n)[:, None]
ys = f(Xs[:, 0]) + 0.2 * rng.standard_normal(n)
sgpr = SparseGaussianProcessRegressor(ConstantKernel(1.0) * RBF(1.0), n_inducing=15,
                                      noise_level=0.1, random_state=0,
                                      max_iter=200).fit(Xs, ys)
mean_s, std_s = sgpr.predict(X_plot, return_std=True)
ax = axes[1]
ax.scatter(Xs[:400, 0], ys[:400], c="grey", s=3, alpha=0.5, label="data (400 shown)")
ax.fill_between(X_plot[:, 0], mean_s - 2 * std_s, mean_s + 2 * std_s, alpha=0.25,
                color="C2", label="mean ± 2 sd")
ax.plot(X_plot, mean_s, "C2", lw=2, label="posterior mean")
Z = sgpr.inducing_points_[:, 0]
ax.plot(Z, np.full_like(Z, -2.3), "k^", ms=6, label="inducing inputs")
ax.set(xlabel="x", title=f"sparse GP (SGPR), n = {n}, m = {len(Z)}")
ax.legend(fontsize=8, loc="lower right")
fig.tight_layout()
print(f"SGPR bound {sgpr.lower_bound_:.1f}, noise variance {sgpr.noise_level_:.3f}")
