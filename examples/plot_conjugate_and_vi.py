"""
Posteriors three ways: conjugate, MCMC and variational
======================================================

A Beta prior on a coin's bias is conjugate to binomial data: after :math:`k` heads in
:math:`n` tosses the posterior is :math:`\\mathrm{Beta}(a + k, b + n - k)`
(:class:`fastml.bayes.BetaBinomial`). The first panel updates it as the tosses arrive.

For a model without a conjugate prior, Bayesian logistic regression with a
:math:`\\mathcal N(0, I)` prior, the posterior is approximated: by NUTS draws
(:func:`fastml.mcmc.sample`) and by a Gaussian fitted by ADVI (:func:`fastml.vi.advi`,
mean-field and full-rank), which maximises the ELBO
:math:`\\mathbb E_q[\\log p(w, y)] + \\mathbb H[q]`. The mean-field Gaussian cannot
represent the posterior's correlation and underestimates the spread along it.
"""

# %%
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from numba import njit
from scipy import stats

from fastml import mcmc, vi
from fastml.bayes import BetaBinomial

QUICK = os.environ.get("FASTML_EXAMPLE_QUICK") == "1"
rng = np.random.default_rng(0)

# %%
# Conjugate updating of a Beta prior
# ----------------------------------
tosses = rng.random(200) < 0.7
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
grid = np.linspace(0, 1, 400)
for n, colour in zip((0, 5, 20, 50, 200), plt.cm.viridis(np.linspace(0, 0.9, 5))):
    model = BetaBinomial(alpha=2.0, beta=2.0).fit([tosses[:n].sum()], [n])
    axes[0].plot(grid, stats.beta(model.alpha_, model.beta_).pdf(grid), color=colour,
                 label=f"n = {n}: Beta({model.alpha_:.0f}, {model.beta_:.0f})")
axes[0].axvline(0.7, color="k", ls=":", lw=1)
axes[0].set(xlabel="bias θ", ylabel="density", title="Beta(2, 2) prior, coin with θ = 0.7")
axes[0].legend(fontsize=8)

# %%
# Logistic regression: NUTS against ADVI
# --------------------------------------
# Two correlated features make the posterior of the two weights correlated.
n = 60
X = rng.standard_normal((n, 2))
X[:, 1] = 0.9 * X[:, 0] + 0.45 * X[:, 1]
y = (rng.random(n) < 1 / (1 + np.exp(-(X @ np.array([1.0, 1.0]))))).astype(np.float64)


@njit
def logp(w):
    z = X @ w
    return np.sum(y * z - np.log1p(np.exp(z))) - 0.5 * (w @ w)


@njit
def grad(w):
    p = 1.0 / (1.0 + np.exp(-(X @ w)))
    return X.T @ (y - p) - w


trace = mcmc.sample(logp, np.zeros(2), grad=grad, draws=500 if QUICK else 2000, chains=4,
                    seed=0)
draws = trace.samples.reshape(-1, 2)
ax = axes[1]
ax.plot(draws[:, 0], draws[:, 1], ".", ms=2, alpha=0.3, color="grey", label="NUTS draws")
t = np.linspace(0, 2 * np.pi, 100)
circle = np.vstack([np.cos(t), np.sin(t)])
for method, colour in (("meanfield", "C3"), ("fullrank", "C0")):
    q = vi.advi(logp, np.zeros(2), grad=grad, method=method, seed=0,
                n_steps=3000 if QUICK else 10000, lr=0.02, n_mc=4)
    for radius, style in ((1, "-"), (2, "--")):
        pts = q.mean[:, None] + radius * q.scale_tril @ circle
        ax.plot(pts[0], pts[1], style, color=colour,
                label=f"ADVI {method}" if radius == 1 else None)
    print(f"ADVI {method:9s} mean {np.round(q.mean, 3)}  sd {np.round(q.std, 3)}  "
          f"final ELBO {np.nanmean(q.elbo[-100:]):.2f}")
print(f"NUTS              mean {np.round(draws.mean(0), 3)}  sd {np.round(draws.std(0), 3)}")
ax.set(xlabel="w[0]", ylabel="w[1]", title="posterior of logistic regression weights")
ax.legend(fontsize=8)
fig.tight_layout()
