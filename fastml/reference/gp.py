"""Gaussian-process regression from the textbook, in plain NumPy.

Rasmussen & Williams (2006), *Gaussian Processes for Machine Learning*:
Algorithm 2.1 (prediction and log marginal likelihood through the Cholesky factor) and
eq. 5.9 (its gradient, with K^-1 formed explicitly and the full n x n x p tensor
dK/dtheta); Titsias (2009) for the sparse variational bound. Kernel: the
squared-exponential ARD kernel plus white noise,

    k(x, x') = exp(-1/2 sum_j (x_j - x'_j)^2 / l_j^2) + s [x is x'],
    theta = [log l_1, ..., log l_d, log s]   (scikit-learn's order for RBF + WhiteKernel).
"""

import numpy as np


def rbf_white_kernel(X, theta):
    """K (n, n) and dK/dtheta (n, n, d + 1) of the ARD RBF + white-noise kernel."""
    X = np.asarray(X, dtype=float)
    n, d = X.shape
    length_scale = np.exp(theta[:d])
    noise = np.exp(theta[d])
    D = (X[:, None, :] - X[None, :, :]) ** 2 / length_scale**2   # (n, n, d)
    K_rbf = np.exp(-0.5 * D.sum(axis=2))
    dK = np.empty((n, n, d + 1))
    dK[:, :, :d] = K_rbf[:, :, None] * D          # d/dlog l_j exp(-r^2/2) = k D_j
    dK[:, :, d] = noise * np.eye(n)               # d/dlog s (s I) = s I
    return K_rbf + noise * np.eye(n), dK


def rbf_cross(X, Y, theta):
    """K(X, Y) of the RBF part (the white noise does not correlate distinct points)."""
    d = np.asarray(X).shape[1]
    length_scale = np.exp(theta[:d])
    D = (np.asarray(X)[:, None, :] - np.asarray(Y)[None, :, :]) ** 2 / length_scale**2
    return np.exp(-0.5 * D.sum(axis=2))


def log_marginal_likelihood(K, dK, y, alpha=0.0):
    """log p(y | X) and its gradient (Algorithm 2.1 lines 2-3, 7 and eq. 5.9).

    L = cholesky(K + alpha I); a = L^T \\ (L \\ y);
    log p = -1/2 y^T a - sum_i log L_ii - n/2 log 2 pi;
    dlog p/dtheta_j = 1/2 tr((a a^T - K^-1) dK/dtheta_j).
    """
    y = np.asarray(y, dtype=float)
    n = y.shape[0]
    Ky = K + alpha * np.eye(n)
    L = np.linalg.cholesky(Ky)
    a = np.linalg.solve(L.T, np.linalg.solve(L, y))
    lml = -0.5 * y @ a - np.sum(np.log(np.diag(L))) - 0.5 * n * np.log(2 * np.pi)
    K_inv = np.linalg.inv(Ky)
    inner = np.outer(a, a) - K_inv
    # tr(A B) = sum_ij A_ij B_ji
    grad = np.array([0.5 * np.sum(inner * dK[:, :, j].T) for j in range(dK.shape[2])])
    return lml, grad


def fit_rbf_white(X, y, theta0, *, alpha=0.0, maxfun=None):
    """Maximise the log marginal likelihood over theta with L-BFGS-B.

    Returns (theta, lml). Bounds are scikit-learn's defaults, log(1e-5)..log(1e5).
    """
    from scipy.optimize import minimize

    def negative(theta):
        K, dK = rbf_white_kernel(X, theta)
        lml, grad = log_marginal_likelihood(K, dK, y, alpha)
        return -lml, -grad

    bounds = [(np.log(1e-5), np.log(1e5))] * len(theta0)
    options = {} if maxfun is None else {"maxfun": maxfun}
    res = minimize(negative, np.asarray(theta0, float), method="L-BFGS-B", jac=True,
                   bounds=bounds, options=options)
    return res.x, -res.fun


def predict(X_train, y, X_test, theta, alpha=0.0):
    """Posterior mean and variance (Algorithm 2.1 lines 4-6) for the RBF + white kernel.

    f* = k*^T a; v = L \\ k*; V = k(x*, x*) - v^T v with k(x*, x*) = 1 + s (the white
    kernel's diagonal counts, as in scikit-learn).
    """
    K, _ = rbf_white_kernel(X_train, theta)
    L = np.linalg.cholesky(K + alpha * np.eye(K.shape[0]))
    a = np.linalg.solve(L.T, np.linalg.solve(L, y))
    K_star = rbf_cross(X_train, X_test, theta)          # (n, m)
    mean = K_star.T @ a
    v = np.linalg.solve(L, K_star)
    var = 1.0 + np.exp(theta[-1]) - np.sum(v * v, axis=0)
    return mean, var


def sgpr_bound(X, y, Z, amplitude, length_scale, noise, jitter=0.0):
    """Titsias (2009) collapsed bound for the kernel amplitude * RBF(length_scale),
    written as in the paper with n x n matrices (O(n^3)):

    F = log N(y | 0, Q + s2 I) - tr(K - Q) / (2 s2),  Q = K_xz K_zz^-1 K_zx,
    with K_zz = amplitude (RBF(Z, Z) + jitter I).
    """
    X, Z = np.asarray(X, dtype=float), np.asarray(Z, dtype=float)
    theta = np.log(np.append(np.broadcast_to(length_scale, X.shape[1]), 1.0))
    K_zz = amplitude * (rbf_cross(Z, Z, theta) + jitter * np.eye(Z.shape[0]))
    K_xz = amplitude * rbf_cross(X, Z, theta)
    Q = K_xz @ np.linalg.solve(K_zz, K_xz.T)
    n = X.shape[0]
    C = Q + noise * np.eye(n)
    _, logdet = np.linalg.slogdet(C)
    log_normal = -0.5 * (y @ np.linalg.solve(C, y)) - 0.5 * logdet - 0.5 * n * np.log(2 * np.pi)
    return log_normal - (n * amplitude - np.trace(Q)) / (2 * noise)
