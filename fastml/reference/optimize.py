"""Textbook optimisers, written straight from the formulas (oracles for fastml.optimize).

- :func:`minimize`: gradient descent with backtracking (Armijo) or BFGS on the inverse
  Hessian, B <- (I - rho s y^T) B (I - rho y s^T) + rho s s^T, with the same backtracking.
- :func:`soft_threshold`, :func:`project_simplex` (bisection on the threshold theta with
  sum max(v - theta, 0) = radius), :func:`project_box`.
- :func:`solve_qp`: a strictly convex QP min 1/2 x^T P x + q^T x s.t. G x <= h, A x = b by
  enumerating active sets (exponential: tiny problems only) and solving each KKT system
  [[P, C^T], [C, 0]] [x; nu] = [-q; d].
"""

import itertools

import numpy as np


def _backtrack(fun, x, f, g, d, alpha=1.0, c1=1e-4):
    while fun(x + alpha * d) > f + c1 * alpha * (g @ d):
        alpha *= 0.5
        if alpha < 1e-20:
            return 0.0
    return alpha


def minimize(fun, x0, *, jac, method="bfgs", tol=1e-8, max_iter=10_000):
    """Minimise fun by gradient descent ("gd") or BFGS ("bfgs"); returns x."""
    x = np.array(x0, dtype=float)
    B = np.eye(x.size)
    g = jac(x)
    for _ in range(max_iter):
        if np.max(np.abs(g)) <= tol:
            break
        d = -g if method == "gd" else -B @ g
        alpha = _backtrack(fun, x, fun(x), g, d)
        if alpha == 0.0:
            break
        s = alpha * d
        x = x + s
        g_new = jac(x)
        y = g_new - g
        g = g_new
        if method == "bfgs" and s @ y > 0:
            rho = 1.0 / (s @ y)
            eye = np.eye(x.size)
            B = (eye - rho * np.outer(s, y)) @ B @ (eye - rho * np.outer(y, s)) \
                + rho * np.outer(s, s)
    return x


def soft_threshold(v, t):
    """prox of t ||.||_1: sign(v) max(|v| - t, 0)."""
    return np.sign(v) * np.maximum(np.abs(v) - t, 0.0)


def project_box(v, lo, hi):
    return np.minimum(np.maximum(v, lo), hi)


def project_simplex(v, radius=1.0, iters=200):
    """argmin_{x >= 0, sum x = radius} ||x - v||: x = max(v - theta, 0), theta by bisection."""
    v = np.asarray(v, dtype=float)
    lo, hi = v.min() - radius, v.max()
    for _ in range(iters):
        theta = 0.5 * (lo + hi)
        if np.maximum(v - theta, 0.0).sum() > radius:
            lo = theta
        else:
            hi = theta
    return np.maximum(v - 0.5 * (lo + hi), 0.0)


def solve_qp(P, q, G=None, h=None, A=None, b=None):
    """Strictly convex QP by trying every active set of G x <= h; returns x."""
    P, q = np.asarray(P, float), np.asarray(q, float)
    n = q.size
    G = np.zeros((0, n)) if G is None else np.atleast_2d(np.asarray(G, float))
    h = np.zeros(0) if h is None else np.atleast_1d(np.asarray(h, float))
    A = np.zeros((0, n)) if A is None else np.atleast_2d(np.asarray(A, float))
    b = np.zeros(0) if b is None else np.atleast_1d(np.asarray(b, float))
    best, best_f = None, np.inf
    for size in range(min(G.shape[0], n) + 1):
        for active in itertools.combinations(range(G.shape[0]), size):
            C = np.vstack([A, G[list(active)]])
            d = np.concatenate([b, h[list(active)]])
            m = C.shape[0]
            K = np.block([[P, C.T], [C, np.zeros((m, m))]])
            try:
                sol = np.linalg.solve(K, np.concatenate([-q, d]))
            except np.linalg.LinAlgError:
                continue
            x, mult = sol[:n], sol[n:]
            feasible = np.all(G @ x <= h + 1e-9) and np.all(mult[A.shape[0]:] >= -1e-9)
            f = 0.5 * x @ P @ x + q @ x
            if feasible and f < best_f:
                best, best_f = x, f
    return best
