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
