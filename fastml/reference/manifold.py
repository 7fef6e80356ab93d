"""Exact t-SNE written out: perplexity bisection per point and the O(n^2) gradient."""

import numpy as np


def conditional_probabilities(sq_dist, perplexity, *, tol=1e-5, max_steps=100):
    """p_{j|i} = exp(-beta_i d_ij^2) / sum_{k != i} exp(-beta_i d_ik^2), beta_i by bisection
    until the entropy H_i = log(sum) + beta_i <d^2>_i is within ``tol`` of log(perplexity)."""
    D = np.asarray(sq_dist, dtype=float)
    n = D.shape[0]
    P = np.zeros_like(D)
    target = np.log(perplexity)
    for i in range(n):
        d = np.delete(D[i], i)
        beta, lo, hi = 1.0, -np.inf, np.inf
        for _ in range(max_steps):
            p = np.exp(-d * beta)
            s = max(p.sum(), 1e-8)
            p /= s
            entropy = np.log(s) + beta * (d @ p)
            if abs(entropy - target) <= tol:
                break
            if entropy > target:
                lo = beta
                beta = beta * 2 if hi == np.inf else (beta + hi) / 2
            else:
                hi = beta
                beta = beta / 2 if lo == -np.inf else (beta + lo) / 2
        P[i] = np.insert(p, i, 0.0)
    return P


def kl_gradient(P, Y):
    """(KL(P || Q), dKL/dY) with q_ij = w_ij / sum_{k != l} w_kl, w_ij = 1 / (1 + |y_i - y_j|^2):
    grad_i = 4 sum_j (p_ij - q_ij) w_ij (y_i - y_j)."""
    diff = Y[:, None, :] - Y[None, :, :]
    W = 1.0 / (1.0 + (diff ** 2).sum(axis=2))
    np.fill_diagonal(W, 0.0)
    Q = W / W.sum()
    off = ~np.eye(len(Y), dtype=bool)
    eps = np.finfo(float).eps
    kl = float(np.sum(P[off] * np.log(np.maximum(P[off], eps) / np.maximum(Q[off], eps))))
    grad = 4.0 * np.einsum("ij,ijk->ik", (P - Q) * W, diff)
    return kl, grad


def tsne_exact(X, Y0, *, perplexity=30.0, early_exaggeration=12.0, learning_rate=None,
               max_iter=1000, exploration_iter=250):
    """Exact t-SNE from the embedding ``Y0``; returns (embedding, KL divergence).

    P = (P_cond + P_cond^T) / sum, clipped below at machine epsilon. Gradient descent
    with momentum 0.5 (then 0.8) and delta-bar-delta gains, P multiplied by
    ``early_exaggeration`` for the first ``exploration_iter`` iterations. No early stop.
    """
    X = np.asarray(X, dtype=float)
    n = X.shape[0]
    sq = ((X[:, None, :] - X[None, :, :]) ** 2).sum(axis=2)
    P = conditional_probabilities(sq, perplexity)
    P = P + P.T
    P = np.maximum(P / P.sum(), np.finfo(float).eps)
    np.fill_diagonal(P, 0.0)
    lr = max(n / early_exaggeration / 4, 50.0) if learning_rate is None else learning_rate
    Y = np.array(Y0, dtype=float)
    kl = None
    phases = [(0, exploration_iter, 0.5, early_exaggeration),
              (exploration_iter, max_iter, 0.8, 1.0)]
    for start, stop, momentum, scale in phases:
        update, gains = np.zeros_like(Y), np.ones_like(Y)
        for _ in range(start, stop):
            kl, grad = kl_gradient(P * scale, Y)
            same = update * grad >= 0
            gains = np.maximum(np.where(same, gains * 0.8, gains + 0.2), 0.01)
            update = momentum * update - lr * gains * grad
            Y = Y + update
    return Y, kl
