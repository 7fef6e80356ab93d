"""Numba Gibbs sampler for the conjugate Normal–Inverse-Gamma linear model.

Model: y | beta, s2 ~ N(X beta, s2 I), beta | s2 ~ N(m0, s2 V0), s2 ~ IG(a0, b0). With
Vn = (V0^-1 + X^T X)^-1 and mn = Vn (V0^-1 m0 + X^T y) the full conditionals are

    beta | s2, y ~ N(mn, s2 Vn)
    s2 | beta, y ~ IG(a0 + (n + p) / 2,
                      b0 + (|y - X beta|^2 + (beta - m0)^T V0^-1 (beta - m0)) / 2)

and |y - X beta|^2 = y^T y - 2 beta^T X^T y + beta^T X^T X beta costs O(p^2), not O(n).
The normal model with unknown mean and variance is the case X = 1 (p = 1). Each chain
draws from its own stream (:mod:`fastml.kernels._mcmc_rng`), so chains can run on any
number of threads with the same result.
"""

import math

import numpy as np
from numba import njit

from ._mcmc_rng import gamma, normal


@njit(cache=True, nogil=True)
def _quad(a, v):
    """v^T A v for symmetric A."""
    s = 0.0
    for i in range(v.shape[0]):
        t = 0.0
        for j in range(v.shape[0]):
            t += a[i, j] * v[j]
        s += v[i] * t
    return s


@njit(cache=True, nogil=True)
def run_gibbs_nig(c, rng, beta0, s2_0, mn, L, XtX, Xty, yty, V0inv, m0, a_cond, b0, tune,
                  out):
    """Chain ``c``: ``tune`` discarded sweeps, then out[c, i] = (beta, s2) per sweep.

    L is the lower Cholesky factor of Vn; beta0, s2_0 the starting point (only s2 is
    used: the first sweep draws beta given s2).
    """
    p = mn.shape[0]
    r = rng[c]
    beta = beta0.copy()
    dev = np.empty(p)
    z = np.empty(p)
    s2 = s2_0
    draws = out.shape[1]
    for it in range(tune + draws):
        sd = math.sqrt(s2)
        for i in range(p):
            z[i] = normal(r)
        for i in range(p):
            s = 0.0
            for j in range(i + 1):
                s += L[i, j] * z[j]
            beta[i] = mn[i] + sd * s
        cross = 0.0
        for i in range(p):
            cross += beta[i] * Xty[i]
            dev[i] = beta[i] - m0[i]
        rss = yty - 2.0 * cross + _quad(XtX, beta)
        rate = b0 + 0.5 * (max(rss, 0.0) + _quad(V0inv, dev))
        s2 = rate / gamma(r, a_cond)
        if it >= tune:
            j = it - tune
            for i in range(p):
                out[c, j, i] = beta[i]
            out[c, j, p] = s2
