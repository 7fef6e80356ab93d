"""Penalised perceptron by SGD on CSR rows (scikit-learn's SGDClassifier(loss="perceptron",
learning_rate="constant")), one binary problem. Compiled by Numba.

For each visited sample i with target t_i in {-1, +1} and score z_i = w'x_i + b:

    loss_i = max(0, -t_i z_i),  update u_i = eta s_i t_i if t_i z_i <= 0 else 0,
    w <- w max(0, 1 - (1 - l1_ratio) eta alpha)        (L2 part; penalty l2/elasticnet)
    w <- w + u_i x_i,  b <- b + u_i                      (b only with fit_intercept)
    L1 part: the cumulative truncated-gradient penalty of Tsuruoka et al. (2009) on
    the features of x_i, with total budget U = sum eta l1_ratio alpha.

An epoch visits the rows in a new random order (``shuffle``). Stopping: after an
epoch whose summed loss is not below best - tol * n for ``n_no_change`` epochs in a row
(tol = -inf disables it), or after ``max_iter`` epochs; returns the epochs run.
"""

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def sgd(data, indices, indptr, t, sw, w, b, eta, alpha, l1_ratio, l2, l1, fit_intercept,
        max_iter, tol, n_no_change, seed, shuffle):
    n = indptr.shape[0] - 1
    q = np.zeros(w.shape[0])
    order = np.arange(n)
    np.random.seed(seed)  # noqa: NPY002  (Numba: its own per-thread generator)
    budget = 0.0
    best = np.inf
    bad = 0
    shrink = max(0.0, 1.0 - (1.0 - l1_ratio) * eta * alpha) if l2 else 1.0
    for epoch in range(max_iter):
        if shuffle:
            np.random.shuffle(order)  # noqa: NPY002
        total = 0.0
        for r in range(n):
            i = order[r]
            z = b[0]
            for kk in range(indptr[i], indptr[i + 1]):
                z += data[kk] * w[indices[kk]]
            update = 0.0
            if t[i] * z <= 0:
                total -= t[i] * z
                update = eta * sw[i] * t[i]
            if shrink != 1.0:
                w *= shrink
            if update != 0.0:
                for kk in range(indptr[i], indptr[i + 1]):
                    w[indices[kk]] += update * data[kk]
                if fit_intercept:
                    b[0] += update
            if l1:
                budget += l1_ratio * eta * alpha
                for kk in range(indptr[i], indptr[i + 1]):
                    j = indices[kk]
                    old = w[j]
                    if old > 0:
                        w[j] = max(0.0, old - (budget + q[j]))
                    elif old < 0:
                        w[j] = min(0.0, old + (budget - q[j]))
                    q[j] += w[j] - old
        if tol > -np.inf:
            bad = bad + 1 if total > best - tol * n else 0
            best = min(best, total)
            if bad >= n_no_change:
                return epoch + 1
    return max_iter
