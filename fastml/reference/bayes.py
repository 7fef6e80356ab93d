"""Textbook Gibbs sampler for the Normal–Inverse-Gamma linear model, in plain NumPy.

beta | s2 ~ N(m0, s2 V0), s2 ~ IG(a0, b0), y ~ N(X beta, s2 I). Alternates the full
conditionals, recomputing everything from the data at every sweep.
"""

import numpy as np


def gibbs_nig(X, y, m0, V0, a0, b0, *, draws=1000, seed=None):
    """Draws (draws, p + 1) of (beta, s2), one chain started at s2 = 1."""
    rng = np.random.default_rng(seed)
    n, p = X.shape
    P0 = np.linalg.inv(V0)
    Vn = np.linalg.inv(P0 + X.T @ X)
    mn = Vn @ (P0 @ m0 + X.T @ y)
    L = np.linalg.cholesky(Vn)
    s2 = 1.0
    out = np.empty((draws, p + 1))
    for i in range(draws):
        beta = mn + np.sqrt(s2) * L @ rng.standard_normal(p)   # beta | s2, y
        resid = y - X @ beta
        dev = beta - m0
        shape = a0 + 0.5 * (n + p)
        rate = b0 + 0.5 * (resid @ resid + dev @ P0 @ dev)
        s2 = rate / rng.gamma(shape)                          # s2 | beta, y ~ IG(shape, rate)
        out[i, :p] = beta
        out[i, p] = s2
    return out
