"""EM for a Gaussian mixture with full covariances, written out from the formulas."""

import numpy as np


def log_gaussian(X, mean, cov):
    """log N(x | mean, cov) for every row: -(d log 2 pi + log det cov + r^T cov^-1 r) / 2."""
    d = X.shape[1]
    r = X - mean
    _, logdet = np.linalg.slogdet(cov)
    maha = np.einsum("ij,ij->i", r, np.linalg.solve(cov, r.T).T)
    return -0.5 * (d * np.log(2 * np.pi) + logdet + maha)


def gaussian_mixture_em(X, weights, means, covariances, *, max_iter=100, tol=1e-3,
                        reg_covar=1e-6):
    """EM from the given parameters; returns (weights, means, covariances, lower_bound,
    n_iter) with the same stopping rule as :class:`fastml.mixture.GaussianMixture`.

    E-step: log r_ik = log w_k + log N(x_i | mu_k, Sigma_k) - log sum_k (...), with the
    log-sum-exp taken after subtracting the row maximum.
    M-step: N_k = sum_i r_ik, w_k = N_k / n, mu_k = sum_i r_ik x_i / N_k,
    Sigma_k = sum_i r_ik (x_i - mu_k)(x_i - mu_k)^T / N_k + reg_covar I.
    The lower bound is the mean log-likelihood (1/n) sum_i log p(x_i) of the E-step.
    """
    X = np.asarray(X, dtype=float)
    w = np.array(weights, dtype=float)
    mu = np.array(means, dtype=float)
    cov = np.array(covariances, dtype=float)
    n, d = X.shape
    K = len(w)
    bound = -np.inf
    n_iter = 0
    for n_iter in range(1, max_iter + 1):  # noqa: B007 (read after the loop)
        previous = bound
        log_joint = np.column_stack([np.log(w[k]) + log_gaussian(X, mu[k], cov[k])
                                     for k in range(K)])
        top = log_joint.max(axis=1, keepdims=True)
        log_norm = top[:, 0] + np.log(np.exp(log_joint - top).sum(axis=1))
        resp = np.exp(log_joint - log_norm[:, None])
        bound = log_norm.mean()
        nk = resp.sum(axis=0) + 10 * np.finfo(float).eps
        w = nk / nk.sum()
        mu = resp.T @ X / nk[:, None]
        for k in range(K):
            r = X - mu[k]
            cov[k] = (resp[:, k, None] * r).T @ r / nk[k] + reg_covar * np.eye(d)
        if abs(bound - previous) < tol:
            break
    return w, mu, cov, float(bound), n_iter
