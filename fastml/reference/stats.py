"""Textbook maximum likelihood: the log-likelihood as a sum over samples, maximised by
Nelder–Mead on log-transformed positive parameters (oracle for fastml.stats)."""

import math

import numpy as np


def log_likelihood(dist, theta, x):
    """sum_i log p(x_i | theta), one sample at a time."""
    total = 0.0
    for xi in x:
        if dist == "normal":
            mu, s = theta
            total += -0.5 * ((xi - mu) / s) ** 2 - math.log(s) - 0.5 * math.log(2 * math.pi)
        elif dist == "gamma":
            a, s = theta
            total += (a - 1) * math.log(xi) - xi / s - a * math.log(s) - math.lgamma(a)
        elif dist == "beta":
            a, b = theta
            total += ((a - 1) * math.log(xi) + (b - 1) * math.log(1 - xi)
                      - math.lgamma(a) - math.lgamma(b) + math.lgamma(a + b))
        elif dist == "poisson":
            total += xi * math.log(theta[0]) - theta[0] - math.lgamma(xi + 1)
        elif dist == "exponential":
            total += -xi / theta[0] - math.log(theta[0])
        elif dist == "t":
            nu, mu, s = theta
            z = (xi - mu) / s
            total += (math.lgamma((nu + 1) / 2) - math.lgamma(nu / 2)
                      - 0.5 * math.log(nu * math.pi) - math.log(s)
                      - (nu + 1) / 2 * math.log(1 + z * z / nu))
        elif dist == "dirichlet":
            a = theta
            total += (math.lgamma(sum(a)) - sum(math.lgamma(ak) for ak in a)
                      + sum((ak - 1) * math.log(xk) for ak, xk in zip(a, xi)))
    return total


POSITIVE = {"normal": [False, True], "gamma": [True, True], "beta": [True, True],
            "poisson": [True], "exponential": [True], "t": [True, False, True]}


def fit(dist, data, start):
    """MLE parameter vector by Nelder–Mead from ``start`` (positive parameters in logs)."""
    import scipy.optimize

    x = np.asarray(data, dtype=float)
    start = np.asarray(start, dtype=float)
    positive = np.array(POSITIVE.get(dist, [True] * start.size))

    def negative(u):
        return -log_likelihood(dist, np.where(positive, np.exp(u), u), x)
    u0 = np.where(positive, np.log(start), start)
    res = scipy.optimize.minimize(negative, u0, method="Nelder-Mead",
                                  options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20_000})
    return np.where(positive, np.exp(res.x), res.x)


def standard_errors(dist, theta, data, h=1e-4):
    """sqrt(diag(J^-1)) with J the finite-difference Hessian of -log-likelihood."""
    x = np.asarray(data, dtype=float)
    theta = np.asarray(theta, dtype=float)
    k = theta.size
    J = np.empty((k, k))
    for i in range(k):
        for j in range(k):
            ei = np.zeros(k)
            ej = np.zeros(k)
            ei[i] = h * max(1.0, abs(theta[i]))
            ej[j] = h * max(1.0, abs(theta[j]))
            J[i, j] = -(log_likelihood(dist, theta + ei + ej, x)
                        - log_likelihood(dist, theta + ei - ej, x)
                        - log_likelihood(dist, theta - ei + ej, x)
                        + log_likelihood(dist, theta - ei - ej, x)) / (4 * ei[i] * ej[j])
    return np.sqrt(np.diagonal(np.linalg.inv(J)))
