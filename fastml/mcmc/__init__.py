"""Markov chain Monte Carlo with compiled samplers, and convergence diagnostics.

``sample(logp, x0, grad=..., method=...)`` runs NUTS, static HMC, random-walk Metropolis,
the affine-invariant ensemble (stretch move) or slice sampling on a log-density
``logp(x)``; a Numba ``@njit`` density runs with no Python in the inner loop, and the
samplers themselves are compiled once and cached (the density is passed as a function
pointer), so a new density costs only its own compilation. ``ess`` / ``rhat`` / ``mcse``
are the rank-normalised diagnostics of Vehtari et al. (2021), as in ArviZ.

Example
-------
>>> import numpy as np
>>> from numba import njit
>>> from fastml import mcmc
>>> @njit
... def logp(x):
...     return -0.5 * (x[0] ** 2 + 4.0 * x[1] ** 2)
>>> @njit
... def grad(x):
...     return np.array([-x[0], -4.0 * x[1]])
>>> trace = mcmc.sample(logp, np.zeros(2), grad=grad, draws=1000, seed=0)
>>> trace.samples.shape
(4, 1000, 2)
>>> print(trace.summary())  # mean, sd, MCSE, ESS bulk/tail, R-hat per dimension
"""

from fastml.mcmc._diagnostics import ess, mcse, rhat
from fastml.mcmc._sample import METHODS, adaptation_plan, sample
from fastml.mcmc._trace import SamplingWarning, Summary, Trace

__all__ = ["METHODS", "SamplingWarning", "Summary", "Trace", "adaptation_plan", "ess", "mcse",
           "rhat", "sample"]
