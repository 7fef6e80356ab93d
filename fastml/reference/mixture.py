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


def variational_mixture_elbo(X, resp, weight_concentration, mean_precision, means,
                             degrees_of_freedom, W, *, weight_concentration_prior_type,
                             weight_concentration_prior, mean_precision_prior, mean_prior,
                             degrees_of_freedom_prior, covariance_prior):
    """The whole mean-field ELBO of a Bayesian Gaussian mixture (full covariances), every
    term kept (Bishop, PRML 10.70-10.77): q(Z) = prod_n Cat(r_n), q(mu_k, Lambda_k) =
    N(mu_k | m_k, (beta_k Lambda_k)^-1) Wishart(Lambda_k | W_k, nu_k), and q(pi) = Dir(alpha)
    or q(v_k) = Beta(a_k, b_k) for the sticks (``weight_concentration`` = alpha or (a, b)).

    L = E[log p(X | Z, mu, Lambda)] + E[log p(Z | pi)] + E[log p(pi)] + E[log p(mu, Lambda)]
        - E[log q(Z)] - E[log q(pi)] - E[log q(mu, Lambda)], with
    E[log p(X | Z, mu, Lambda)] = 1/2 sum_k N_k (log Lt_k - d / beta_k - nu_k tr(S_k W_k)
        - nu_k (xbar_k - m_k)^T W_k (xbar_k - m_k) - d log 2 pi)        (S_k unregularised),
    E[log p(Z | pi)] = sum_nk r_nk log pt_k, E[log q(Z)] = sum_nk r_nk log r_nk,
    E[log p(pi)] - E[log q(pi)] = log C(alpha_0) + (alpha_0 - 1) sum_k log pt_k
        - sum_k (alpha_k - 1) log pt_k - log C(alpha), or for Beta(1, alpha_0) sticks
        sum_k [log alpha_0 + (alpha_0 - 1) E log(1 - v_k) + log B(a_k, b_k)
        - (a_k - 1) E log v_k - (b_k - 1) E log(1 - v_k)],
    E[log p(mu, Lambda)] = 1/2 sum_k (d log(beta_0 / 2 pi) + log Lt_k - d beta_0 / beta_k
        - beta_0 nu_k (m_k - m_0)^T W_k (m_k - m_0)) + K log B(W_0, nu_0)
        + (nu_0 - d - 1) / 2 sum_k log Lt_k - 1/2 sum_k nu_k tr(W_0^-1 W_k),
    E[log q(mu, Lambda)] = sum_k (1/2 log Lt_k + d/2 log(beta_k / 2 pi) - d/2 - H[q(Lambda_k)]),
    H[Wishart(W, nu)] = -log B(W, nu) - (nu - d - 1) / 2 log Lt + nu d / 2,
    where log Lt_k = E[log |Lambda_k|], log pt_k = E[log pi_k] (as in
    :func:`bayesian_gaussian_mixture_cavi`) and log B(W, nu) = -nu/2 log |W|
    - nu d/2 log 2 - d (d - 1)/4 log pi - sum_{j=1..d} log Gamma((nu + 1 - j) / 2).
    """
    from scipy.special import betaln, digamma, gammaln

    X, r = np.asarray(X, dtype=float), np.asarray(resp, dtype=float)
    n, d = X.shape
    K = r.shape[1]
    alpha0, beta0, nu0 = (weight_concentration_prior, mean_precision_prior,
                          degrees_of_freedom_prior)
    m0 = np.asarray(mean_prior, dtype=float)
    W0_inv = np.asarray(covariance_prior, dtype=float)

    def log_B(W, nu):
        return (-0.5 * nu * np.linalg.slogdet(W)[1] - 0.5 * nu * d * np.log(2)
                - 0.25 * d * (d - 1) * np.log(np.pi)
                - sum(gammaln((nu + 1 - j) / 2) for j in range(1, d + 1)))

    def log_C(alpha):
        return gammaln(alpha.sum()) - gammaln(alpha).sum()

    if weight_concentration_prior_type == "dirichlet_process":
        a, b = (np.asarray(c, dtype=float) for c in weight_concentration)
        e_log_v, e_log_1v = digamma(a) - digamma(a + b), digamma(b) - digamma(a + b)
        e_log_pi = e_log_v + np.concatenate([[0.0], np.cumsum(e_log_1v)[:-1]])
        total = np.sum(np.log(alpha0) + (alpha0 - 1) * e_log_1v + betaln(a, b)
                       - (a - 1) * e_log_v - (b - 1) * e_log_1v)
    else:
        alpha = np.asarray(weight_concentration, dtype=float)
        e_log_pi = digamma(alpha) - digamma(alpha.sum())
        total = (log_C(np.full(K, alpha0)) + (alpha0 - 1) * e_log_pi.sum()
                 - (alpha - 1) @ e_log_pi - log_C(alpha))
    total += np.sum(r @ e_log_pi) - np.sum(r[r > 0] * np.log(r[r > 0]))
    Nk = r.sum(axis=0)
    for k in range(K):
        beta, m, nu, Wk = mean_precision[k], means[k], degrees_of_freedom[k], W[k]
        log_lt = (sum(digamma((nu + 1 - j) / 2) for j in range(1, d + 1)) + d * np.log(2)
                  + np.linalg.slogdet(Wk)[1])
        xbar = r[:, k] @ X / Nk[k]
        R = X - xbar
        S = (r[:, k, None] * R).T @ R / Nk[k]
        dx, dm = xbar - m, m - m0
        total += 0.5 * Nk[k] * (log_lt - d / beta - nu * np.trace(S @ Wk) - nu * dx @ Wk @ dx
                                - d * np.log(2 * np.pi))
        total += (0.5 * (d * np.log(beta0 / (2 * np.pi)) + log_lt - d * beta0 / beta
                         - beta0 * nu * dm @ Wk @ dm)
                  + log_B(np.linalg.inv(W0_inv), nu0) + 0.5 * (nu0 - d - 1) * log_lt
                  - 0.5 * nu * np.trace(W0_inv @ Wk))
        entropy = -log_B(Wk, nu) - 0.5 * (nu - d - 1) * log_lt + 0.5 * nu * d
        total -= 0.5 * log_lt + 0.5 * d * np.log(beta / (2 * np.pi)) - 0.5 * d - entropy
    return float(total)
