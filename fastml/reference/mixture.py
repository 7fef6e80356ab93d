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


def bayesian_gaussian_mixture_cavi(X, resp, *, weight_concentration_prior_type="dirichlet_process",
                                   weight_concentration_prior, mean_precision_prior, mean_prior,
                                   degrees_of_freedom_prior, covariance_prior, max_iter=100,
                                   tol=1e-3, reg_covar=1e-6):
    """Mean-field CAVI for a Bayesian Gaussian mixture with full covariances, from
    Bishop's PRML 10.2 (W_k unnormalised), starting with an M-step from ``resp``.
    Returns (weights, means, covariances, lower_bound, n_iter) with the stopping rule and
    the normalisations of :class:`fastml.mixture.BayesianGaussianMixture`
    (covariances = W_k^-1 / nu_k).

    Priors: alpha_0 (Dirichlet, or Beta(1, alpha_0) sticks), beta_0, m_0, nu_0, W_0^-1.
    M-step (10.51-10.63): N_k = sum_n r_nk (+ 10 eps), xbar_k = sum_n r_nk x_n / N_k,
    S_k = sum_n r_nk (x_n - xbar_k)(x_n - xbar_k)^T / N_k + reg_covar I;
    alpha_k = alpha_0 + N_k, or a_k = 1 + N_k, b_k = alpha_0 + sum_{j>k} N_j;
    beta_k = beta_0 + N_k, m_k = (beta_0 m_0 + N_k xbar_k) / beta_k, nu_k = nu_0 + N_k,
    W_k^-1 = W_0^-1 + N_k S_k + beta_0 N_k / (beta_0 + N_k) (xbar_k - m_0)(xbar_k - m_0)^T.
    E-step (10.64-10.67): log rho_nk = E[log pi_k] + E[log |Lambda_k|] / 2 - d/2 log 2 pi
    - d / (2 beta_k) - nu_k (x_n - m_k)^T W_k (x_n - m_k) / 2, r_nk = rho_nk / sum_j rho_nj,
    E[log |Lambda_k|] = sum_{j=1..d} psi((nu_k + 1 - j) / 2) + d log 2 + log |W_k|,
    E[log pi_k] = psi(alpha_k) - psi(sum_j alpha_j), or for the sticks
    psi(a_k) - psi(a_k + b_k) + sum_{j<k} [psi(b_j) - psi(a_j + b_j)].
    Bound after each M-step, the ELBO without the terms that are constant in q:
    -sum_nk r_nk log r_nk - sum_k log B(W_k, nu_k) - log C - d/2 sum_k log beta_k, with
    log B(W, nu) = -nu/2 log |W| - nu d/2 log 2 - sum_{j=1..d} log Gamma((nu + 1 - j) / 2)
    (the pi term of the multivariate Gamma dropped) and log C the log normaliser of
    Dir(alpha) or -sum_k log Beta(a_k, b_k).
    """
    from scipy.special import betaln, digamma, gammaln

    X = np.asarray(X, dtype=float)
    r = np.array(resp, dtype=float)
    n, d = X.shape
    K = r.shape[1]
    dp = weight_concentration_prior_type == "dirichlet_process"
    alpha0, beta0, nu0 = (weight_concentration_prior, mean_precision_prior,
                          degrees_of_freedom_prior)
    m0 = np.asarray(mean_prior, dtype=float)
    W0_inv = np.asarray(covariance_prior, dtype=float)

    def m_step(r):
        Nk = r.sum(axis=0) + 10 * np.finfo(float).eps
        xbar = r.T @ X / Nk[:, None]
        a = 1 + Nk
        b = np.array([alpha0 + Nk[k + 1:].sum() for k in range(K)])
        alpha = alpha0 + Nk
        beta = beta0 + Nk
        m = (beta0 * m0 + Nk[:, None] * xbar) / beta[:, None]
        nu = nu0 + Nk
        W = np.empty((K, d, d))
        for k in range(K):
            R = X - xbar[k]  # sum_n r_nk R_n R_n^T as one product
            S = (r[:, k, None] * R).T @ R / Nk[k] + reg_covar * np.eye(d)
            dx = xbar[k] - m0
            W[k] = np.linalg.inv(W0_inv + Nk[k] * S
                                 + beta0 * Nk[k] / (beta0 + Nk[k]) * np.outer(dx, dx))
        return (a, b) if dp else alpha, beta, m, nu, W

    def e_log_pi(conc):
        if dp:
            a, b = conc
            return np.array([digamma(a[k]) - digamma(a[k] + b[k])
                             + sum(digamma(b[j]) - digamma(a[j] + b[j]) for j in range(k))
                             for k in range(K)])
        return digamma(conc) - digamma(conc.sum())

    conc, beta, m, nu, W = m_step(r)
    bound, n_iter = -np.inf, 0
    for n_iter in range(1, max_iter + 1):  # noqa: B007 (read after the loop)
        previous = bound
        log_rho = np.empty((n, K))
        elp = e_log_pi(conc)
        for k in range(K):
            e_log_det = (sum(digamma((nu[k] + 1 - j) / 2) for j in range(1, d + 1))
                         + d * np.log(2) + np.linalg.slogdet(W[k])[1])
            diff = X - m[k]
            maha = np.einsum("ij,jk,ik->i", diff, W[k], diff)
            log_rho[:, k] = (elp[k] + 0.5 * e_log_det - 0.5 * d * np.log(2 * np.pi)
                             - 0.5 * d / beta[k] - 0.5 * nu[k] * maha)
        top = log_rho.max(axis=1, keepdims=True)
        log_r = log_rho - top - np.log(np.exp(log_rho - top).sum(axis=1, keepdims=True))
        r = np.exp(log_r)
        conc, beta, m, nu, W = m_step(r)
        log_B = np.array([-0.5 * nu[k] * np.linalg.slogdet(W[k])[1] - 0.5 * nu[k] * d * np.log(2)
                          - sum(gammaln((nu[k] + 1 - j) / 2) for j in range(1, d + 1))
                          for k in range(K)])
        log_C = -np.sum(betaln(*conc)) if dp else gammaln(conc.sum()) - gammaln(conc).sum()
        bound = float(-np.sum(r * log_r) - log_B.sum() - log_C - 0.5 * d * np.log(beta).sum())
        if abs(bound - previous) < tol:
            break
    if dp:
        a, b = conc
        weights = np.array([a[k] / (a[k] + b[k]) * np.prod(b[:k] / (a[:k] + b[:k]))
                            for k in range(K)])
    else:
        weights = conc.copy()
    covariances = np.array([np.linalg.inv(W[k]) / nu[k] for k in range(K)])
    return weights / weights.sum(), m, covariances, bound, n_iter
