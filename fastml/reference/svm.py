"""SMO for the C-SVC dual in plain Python (NumPy for the vector arithmetic only)."""

import numpy as np


def rbf_kernel(A, B, gamma):
    """K_ij = exp(-gamma ||a_i - b_j||^2)."""
    d2 = (A**2).sum(1)[:, None] + (B**2).sum(1)[None, :] - 2 * A @ B.T
    return np.exp(-gamma * d2)


def smo(K, y, C=1.0, tol=1e-3, max_iter=1_000_000):
    """Solve min 1/2 a'Qa - e'a, 0 <= a <= C, y'a = 0 with Q_ij = y_i y_j K_ij.

    Each step picks i = argmax_{t in I_up} -y_t G_t and, among t in I_low with
    -y_t G_t < -y_i G_i, the j maximising the guaranteed decrease
    (-y_i G_i + y_j G_j)^2 / (K_ii + K_jj - 2 K_ij) (Fan, Chen & Lin 2005), then solves
    the two-variable problem exactly and clips it to the box.

    Returns (alpha, rho) with the decision function f(x) = sum_i a_i y_i K(x_i, x) - rho.
    """
    K = np.asarray(K, dtype=float)
    y = np.asarray(y, dtype=float)
    n = len(y)
    Q = y[:, None] * y[None, :] * K
    a = np.zeros(n)
    G = -np.ones(n)  # gradient Q a - e
    for _ in range(max_iter):
        up = ((y > 0) & (a < C)) | ((y < 0) & (a > 0))
        low = ((y > 0) & (a > 0)) | ((y < 0) & (a < C))
        score = -y * G
        i = int(np.flatnonzero(up)[np.argmax(score[up])])
        m_up = score[i]
        if not low.any() or m_up - score[low].min() < tol:
            break
        best, j = np.inf, -1
        for t in np.flatnonzero(low):
            b = m_up - score[t]
            if b > 0:
                quad = K[i, i] + K[t, t] - 2 * K[i, t]
                gain = -b * b / max(quad, 1e-12)
                if gain <= best:
                    best, j = gain, t
        # move along y_i d_i = -y_j d_j: a_i += y_i s, a_j -= y_j s
        quad = max(K[i, i] + K[j, j] - 2 * K[i, j], 1e-12)
        s = (score[i] - score[j]) / quad
        lo_i, hi_i = (-a[i], C - a[i]) if y[i] > 0 else (a[i] - C, a[i])
        lo_j, hi_j = (a[j] - C, a[j]) if y[j] > 0 else (-a[j], C - a[j])
        s = min(max(s, lo_i, lo_j), hi_i, hi_j)
        di, dj = y[i] * s, -y[j] * s
        a[i] += di
        a[j] += dj
        G += Q[:, i] * di + Q[:, j] * dj
    free = (a > 0) & (a < C)
    if free.any():
        rho = float(np.mean(y[free] * G[free]))
    else:
        yG = y * G
        ub = np.min(np.concatenate([yG[(a >= C) & (y < 0)], yG[(a <= 0) & (y > 0)], [np.inf]]))
        lb = np.max(np.concatenate([yG[(a >= C) & (y > 0)], yG[(a <= 0) & (y < 0)], [-np.inf]]))
        rho = (ub + lb) / 2
    return a, rho


def svc_decision_function(X, y, X_test, C=1.0, gamma=1.0, tol=1e-3):
    """Binary RBF SVC (y in {-1, +1}) trained by :func:`smo`; returns f(X_test)."""
    alpha, rho = smo(rbf_kernel(X, X, gamma), y, C, tol)
    sv = alpha > 0
    return rbf_kernel(X_test, X[sv], gamma) @ (alpha[sv] * y[sv]) - rho
