"""Variational inference written out from the derivation: reparameterisation, the KL to
N(0, I), Monte-Carlo ELBO estimators, ADVI and the CAVI updates.

The evidence lower bound of q for a target density p(x) known up to a constant:

    ELBO(q) = E_q[log p(x)] - E_q[log q(x)] = E_q[log p(x)] + H[q] <= log Z.
"""

import numpy as np


def reparameterize(mu, log_var, eps):
    """z = mu + sigma * eps with sigma = exp(log_var / 2): a draw of N(mu, diag sigma^2)."""
    mu, log_var, eps = (np.asarray(a, dtype=float) for a in (mu, log_var, eps))
    return mu + np.exp(log_var / 2) * eps


def kl_standard_normal(mu, log_var):
    """KL(N(mu, diag sigma^2) || N(0, I)) from the definition E_q[log q - log p]:

    log q - log p = sum_j [-(z_j - mu_j)^2 / (2 sigma_j^2) - log sigma_j + z_j^2 / 2], whose
    expectation is sum_j [-1/2 - log sigma_j + (mu_j^2 + sigma_j^2) / 2].
    """
    mu, log_var = np.asarray(mu, dtype=float), np.asarray(log_var, dtype=float)
    out = np.zeros(mu.shape[:-1])
    for j in range(mu.shape[-1]):
        var = np.exp(log_var[..., j])
        out = out + (-0.5 - 0.5 * log_var[..., j] + 0.5 * (mu[..., j] ** 2 + var))
    return out


def gaussian_entropy(scale_tril):
    """H[N(mu, L L^T)] = sum_i log L_ii + d/2 (1 + log 2 pi)."""
    L = np.asarray(scale_tril, dtype=float)
    return float(np.sum(np.log(np.diag(L))) + 0.5 * L.shape[0] * (1 + np.log(2 * np.pi)))


def elbo(logp, mean, scale_tril, n_draws, rng):
    """Monte-Carlo ELBO of q = N(mean, L L^T): (1/S) sum_s logp(mean + L eps_s) + H[q]."""
    mean = np.asarray(mean, dtype=float)
    L = np.asarray(scale_tril, dtype=float)
    total = 0.0
    for _ in range(n_draws):
        total += logp(mean + L @ rng.standard_normal(mean.shape[0]))
    return total / n_draws + gaussian_entropy(L)


def advi(logp, x0, *, grad, method="meanfield", n_steps=10000, lr=0.01, n_mc=1, seed=None,
         window=100, init_scale=0.1):
    """ADVI by Adam on the reparameterised ELBO gradient; returns (mean, scale_tril, elbo).

    q = N(mu, L L^T), L lower triangular with L_ii = exp(w_i) (mean-field: L diagonal).
    For eps ~ N(0, I), z = mu + L eps and g = grad logp(z):
    dELBO/dmu = E[g], dELBO/dL_ij = E[g_i eps_j] (i > j),
    dELBO/dw_i = E[g_i eps_i] L_ii + 1 (the entropy sum_i w_i contributes the 1).
    Adam: m <- b1 m + (1 - b1) G, v <- b2 v + (1 - b2) G^2,
    theta <- theta + lr mhat / (sqrt(vhat) + 1e-8). The result averages the iterates of
    the last ``window`` steps. No convergence test: all ``n_steps`` run.
    """
    rng = np.random.default_rng(seed)
    mu = np.array(x0, dtype=float)
    d = mu.shape[0]
    L = np.eye(d) * init_scale
    tri = np.tril(np.ones((d, d)), -1) if method == "fullrank" else np.zeros((d, d))
    params = [mu, L]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    history = []
    avg = [np.zeros_like(p) for p in params]
    for t in range(1, n_steps + 1):
        g_mu, g_L, value = np.zeros(d), np.zeros((d, d)), 0.0
        for _ in range(n_mc):
            eps = rng.standard_normal(d)
            z = mu + L @ eps
            g = grad(z)
            value += logp(z) / n_mc
            g_mu += g / n_mc
            g_L += np.outer(g, eps) / n_mc
        # chain rule to the log-diagonal w, and the entropy gradient
        g_w = np.diag(g_L) * np.diag(L) + 1.0
        grads = [g_mu, g_L * tri + np.diag(g_w)]
        history.append(value + gaussian_entropy(L))
        w = np.log(np.diag(L))
        state = [mu, L * tri + np.diag(w)]
        for k in range(2):
            m[k] = 0.9 * m[k] + 0.1 * grads[k]
            v[k] = 0.999 * v[k] + 0.001 * grads[k] ** 2
            mhat = m[k] / (1 - 0.9 ** t)
            vhat = v[k] / (1 - 0.999 ** t)
            state[k] = state[k] + lr * mhat / (np.sqrt(vhat) + 1e-8)
        mu = state[0]
        L = state[1] * tri + np.diag(np.exp(np.diag(state[1])))
        if t > n_steps - window:
            avg[0] += mu / min(window, n_steps)
            avg[1] += (state[1] * tri + np.diag(np.diag(state[1]))) / min(window, n_steps)
    L_avg = avg[1] * tri + np.diag(np.exp(np.diag(avg[1])))
    return avg[0], L_avg, np.array(history)


def cavi_linear_regression(X, y, *, alpha=1.0, a0=1e-2, b0=1e-2, n_sweeps=200):
    """CAVI for y = X w + N(0, 1/tau), w ~ N(0, I/alpha), tau ~ Gamma(a0, b0); returns
    (m, S, a_N, b_N). From log q*(w) = E_tau[log p(y, w, tau)] + c (quadratic in w) and
    log q*(tau) = E_w[log p(y, w, tau)] + c (Gamma kernel in tau):
    S = (alpha I + E[tau] X^T X)^-1, m = E[tau] S X^T y,
    a_N = a0 + n/2, b_N = b0 + (sum_i (y_i - x_i^T m)^2 + sum_i x_i^T S x_i) / 2.
    """
    X, y = np.asarray(X, dtype=float), np.asarray(y, dtype=float)
    n, d = X.shape
    e_tau = a0 / b0
    for _ in range(n_sweeps):
        S = np.linalg.inv(alpha * np.eye(d) + e_tau * X.T @ X)
        m = e_tau * S @ X.T @ y
        b_n = b0 + 0.5 * (sum((y[i] - X[i] @ m) ** 2 + X[i] @ S @ X[i] for i in range(n)))
        e_tau = (a0 + n / 2) / b_n
    return m, S, a0 + n / 2, b_n
