"""
MCMC traces: random-walk Metropolis, HMC and NUTS on a correlated target
========================================================================

All samplers of :func:`fastml.mcmc.sample` target the same 2-D Gaussian with correlation
0.95, a narrow diagonal ridge. Random-walk Metropolis proposes
:math:`x' = x + \\epsilon`, accepted with probability
:math:`\\min(1, p(x') / p(x))`, and diffuses slowly along the ridge; Hamiltonian Monte
Carlo follows the gradient of :math:`\\log p` with leapfrog steps and makes long moves;
NUTS chooses the trajectory length itself. The effective sample size (ESS) and
:math:`\\hat R` printed below are the rank-normalised diagnostics of
:func:`fastml.mcmc.ess` / :func:`fastml.mcmc.rhat`. In the short run of the docs build,
random-walk Metropolis is expected to trigger a ``SamplingWarning``: its chains have not
mixed yet, which is the point of the comparison.
"""

# %%
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from numba import njit

from fastml import mcmc

QUICK = os.environ.get("FASTML_EXAMPLE_QUICK") == "1"
rho = 0.95
precision = np.linalg.inv(np.array([[1.0, rho], [rho, 1.0]]))


@njit
def logp(x):
    return -0.5 * (precision[0, 0] * x[0] ** 2 + 2 * precision[0, 1] * x[0] * x[1]
                   + precision[1, 1] * x[1] ** 2)


@njit
def grad(x):
    return np.array([-(precision[0, 0] * x[0] + precision[0, 1] * x[1]),
                     -(precision[0, 1] * x[0] + precision[1, 1] * x[1])])


# %%
# Sample four chains with each method
# -----------------------------------
draws = 500 if QUICK else 2000
traces = {}
for method, options in (("rwmh", {}), ("hmc", {"path_length": 3.0}), ("nuts", {})):
    traces[method] = mcmc.sample(logp, np.zeros(2), grad=grad, method=method, draws=draws,
                                 tune=draws, chains=4, seed=0, **options)
    t = traces[method]
    print(f"{method:5s} bulk ESS {mcmc.ess(t.samples[..., 0]):7.1f}  "
          f"R-hat {mcmc.rhat(t.samples[..., 0]):.3f}  "
          f"mean acceptance {t.stats['acceptance_rate'].mean():.2f}")

# %%
# Trace plots and the draws of one chain
# --------------------------------------
fig, axes = plt.subplots(3, 2, figsize=(11, 8), gridspec_kw={"width_ratios": [3, 1]})
ridge = np.linspace(-3, 3, 2)
for (method, trace), (ax_trace, ax_scatter) in zip(traces.items(), axes):
    for chain in range(trace.samples.shape[0]):
        ax_trace.plot(trace.samples[chain, :, 0], lw=0.5, alpha=0.8)
    ax_trace.set(ylabel="x[0]", title=f"{method}: 4 chains of x[0]")
    ax_scatter.plot(trace.samples[0, :, 0], trace.samples[0, :, 1], ".", ms=2, alpha=0.5)
    ax_scatter.plot(ridge, rho * ridge, "k:", lw=0.8)
    ax_scatter.set(xlim=(-3.5, 3.5), ylim=(-3.5, 3.5), aspect="equal", title="chain 0")
axes[-1, 0].set_xlabel("draw")
fig.tight_layout()

# %%
# Autocorrelation of x[0]
# -----------------------
# The ESS is the number of draws divided by the integrated autocorrelation time.
fig, ax = plt.subplots(figsize=(6, 3.5))
for method, trace in traces.items():
    x = trace.samples[0, :, 0] - trace.samples[0, :, 0].mean()
    acf = np.correlate(x, x, "full")[len(x) - 1:] / (x @ x)
    ax.plot(acf[:60], label=method)
ax.axhline(0, color="k", lw=0.5)
ax.set(xlabel="lag", ylabel="autocorrelation", title="chain 0, x[0]")
ax.legend()
fig.tight_layout()
