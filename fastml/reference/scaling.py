"""Chinchilla scaling-law fit and compute-optimal allocation written straight from the math.

``fit_scaling_law`` minimises sum_i Huber_delta(log L(N_i, D_i) - log L_i) with
L = E + A / N^alpha + B / D^beta evaluated directly (parameters a = log A, b = log B,
e = log E, alpha, beta), by L-BFGS with finite-difference gradients from the same grid
points as :func:`fastml.scaling.fit_scaling_law`. ``compute_optimal`` minimises
L(N, C / (6 N)) over N numerically instead of using the closed form.
"""

import itertools

import numpy as np

__all__ = ["compute_optimal", "fit_scaling_law", "huber"]


def huber(r, delta):
    """0.5 r^2 for |r| <= delta, else delta (|r| - delta / 2)."""
    r = abs(r)
    return 0.5 * r * r if r <= delta else delta * (r - 0.5 * delta)


def _objective(theta, N, D, L, delta):
    a, b, e, alpha, beta = theta
    total = 0.0
    for n, d, loss in zip(N, D, L):
        predicted = np.exp(e) + np.exp(a) / n ** alpha + np.exp(b) / d ** beta
        total += huber(np.log(predicted) - np.log(loss), delta)
    return total


def fit_scaling_law(N, D, L, *, delta=1e-3, n_starts=32):
    """dict(E, A, B, alpha, beta) of the best L-BFGS optimum from the n_starts grid points
    (alpha, beta in 0..2 by 0.5, e in -1..1 by 0.5, a, b in 0..25 by 5) of lowest
    objective."""
    from scipy.optimize import minimize

    grid = [(a, b, e, alpha, beta) for alpha, beta, e, a, b in itertools.product(
        np.arange(0, 2.01, 0.5), np.arange(0, 2.01, 0.5), np.arange(-1, 1.01, 0.5),
        np.arange(0, 25.1, 5), np.arange(0, 25.1, 5))]
    values = [_objective(theta, N, D, L, delta) for theta in grid]
    starts = [grid[k] for k in np.argsort(values, kind="stable")[:n_starts]]
    best = min((minimize(_objective, start, args=(N, D, L, delta), method="L-BFGS-B")
                for start in starts), key=lambda result: result.fun)
    a, b, e, alpha, beta = best.x
    return {"E": np.exp(e), "A": np.exp(a), "B": np.exp(b), "alpha": alpha, "beta": beta}


def compute_optimal(C, E, A, B, alpha, beta):
    """(N*, D*) arrays: argmin over N of E + A / N^alpha + B / (C / (6 N))^beta."""
    from scipy.optimize import minimize_scalar

    n_opt, d_opt = [], []
    for c in np.atleast_1d(C):
        def loss(log_n, c=c):
            n = np.exp(log_n)
            return E + A / n ** alpha + B / (c / (6 * n)) ** beta
        log_n = minimize_scalar(loss, bounds=(0.0, np.log(c / 6)), method="bounded",
                                options={"xatol": 1e-10}).x
        n_opt.append(np.exp(log_n))
        d_opt.append(c / (6 * np.exp(log_n)))
    return np.array(n_opt), np.array(d_opt)
