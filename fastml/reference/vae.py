"""Reference VAE bounds, one datapoint at a time, written from the formulas.

An MLP is a list of (W, b) pairs: h <- act(W h + b) between layers, no activation after
the last. The encoder's output is [mu, logvar] (2 d values), q(z|x) = N(mu, diag e^logvar).

    ELBO_beta(x; eps) = log p(x | z) - beta KL(q(z|x) || N(0, I)),  z = mu + e^(logvar/2) eps
    KL = 1/2 sum_j (mu_j^2 + e^logvar_j - 1 - logvar_j)
    log p(x | z) = sum_i x_i l_i - log(1 + e^l_i)                    (Bernoulli, logits l)
                 = -sum_i (x_i - m_i)^2 / (2 s^2) - D log(s sqrt(2 pi))  (Gaussian, mean m)
    IWAE_k(x) = log (1/k) sum_i p(x, z_i) / q(z_i | x),  z_i = mu + e^(logvar/2) eps_i
"""

import math

from fastml._validation import check_option

__all__ = ["elbo", "iwae_bound", "mlp"]


def _activation(name, v):
    if name == "relu":
        return max(v, 0.0)
    if name == "leaky_relu":
        return v if v > 0 else 0.01 * v
    if name == "tanh":
        return math.tanh(v)
    if name == "sigmoid":
        return 1 / (1 + math.exp(-v))
    return 0.5 * v * (1 + math.erf(v / math.sqrt(2)))  # gelu


def mlp(layers, x, activation="relu"):
    """The MLP's output for one input vector x (a list of floats)."""
    check_option(activation, "activation", ("relu", "leaky_relu", "tanh", "sigmoid", "gelu"))
    h = [float(v) for v in x]
    for index, (W, b) in enumerate(layers):
        if index:
            h = [_activation(activation, v) for v in h]
        h = [sum(W[i][j] * h[j] for j in range(len(h))) + b[i] for i in range(len(b))]
    return h


def _log_likelihood(x, out, likelihood, decoder_std):
    if likelihood == "bernoulli":
        return sum(xi * li - (max(li, 0) + math.log1p(math.exp(-abs(li))))
                   for xi, li in zip(x, out))
    s = decoder_std
    return sum(-(xi - mi) ** 2 / (2 * s * s) - math.log(s * math.sqrt(2 * math.pi))
               for xi, mi in zip(x, out))


def _posterior(encoder, x, activation):
    h = mlp(encoder, x, activation)
    d = len(h) // 2
    return h[:d], h[d:]


def elbo(x, encoder, decoder, eps, *, activation="relu", likelihood="bernoulli",
         decoder_std=1.0, beta=1.0):
    """ELBO_beta of each row of x (n, D) with one draw per row from eps (n, d): a list."""
    out = []
    for xn, en in zip(x, eps):
        mu, logvar = _posterior(encoder, xn, activation)
        z = [m + math.exp(lv / 2) * e for m, lv, e in zip(mu, logvar, en)]
        kl = 0.5 * sum(m * m + math.exp(lv) - 1 - lv for m, lv in zip(mu, logvar))
        log_lik = _log_likelihood(xn, mlp(decoder, z, activation), likelihood, decoder_std)
        out.append(log_lik - beta * kl)
    return out


def iwae_bound(x, encoder, decoder, eps, *, activation="relu", likelihood="bernoulli",
               decoder_std=1.0):
    """IWAE_k of each row of x (n, D) with the draws eps (k, n, d): a list."""
    out = []
    for n, xn in enumerate(x):
        mu, logvar = _posterior(encoder, xn, activation)
        log_w = []
        for draws in eps:
            e = draws[n]
            z = [m + math.exp(lv / 2) * ei for m, lv, ei in zip(mu, logvar, e)]
            log_prior = sum(-zi * zi / 2 - math.log(2 * math.pi) / 2 for zi in z)
            log_q = sum(-ei * ei / 2 - lv / 2 - math.log(2 * math.pi) / 2
                        for ei, lv in zip(e, logvar))
            log_lik = _log_likelihood(xn, mlp(decoder, z, activation), likelihood,
                                      decoder_std)
            log_w.append(log_lik + log_prior - log_q)
        top = max(log_w)
        out.append(top + math.log(sum(math.exp(w - top) for w in log_w) / len(log_w)))
    return out
