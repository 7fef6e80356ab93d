"""Textbook MCMC loops in plain NumPy: random-walk Metropolis, HMC, NUTS and the stretch move.

Fixed step sizes (no adaptation) and one chain per call, so each sampler reads in one
screen. They are the benchmark baseline and a test oracle for :mod:`fastml.mcmc`.
"""

import numpy as np


def rwmh(logp, x0, *, draws=1000, step_size=0.5, seed=None):
    """Random-walk Metropolis: x' = x + step_size * z, accept with prob min(1, p(x')/p(x))."""
    rng = np.random.default_rng(seed)
    x = np.array(x0, dtype=float)
    lp = logp(x)
    out = np.empty((draws, x.size))
    for i in range(draws):
        prop = x + step_size * rng.standard_normal(x.size)
        lp_prop = logp(prop)
        if np.log(rng.uniform()) < lp_prop - lp:
            x, lp = prop, lp_prop
        out[i] = x
    return out


def leapfrog(grad, x, p, step_size, n_steps):
    """n_steps of p += eps/2 grad; x += eps p; p += eps/2 grad (unit mass matrix)."""
    x, p = x.copy(), p + 0.5 * step_size * grad(x)
    for step in range(n_steps):
        x = x + step_size * p
        if step < n_steps - 1:
            p = p + step_size * grad(x)
    return x, p + 0.5 * step_size * grad(x)


def hmc(logp, grad, x0, *, draws=1000, step_size=0.1, n_steps=20, seed=None):
    """Hamiltonian Monte Carlo with H(x, p) = -logp(x) + |p|^2 / 2 and a Metropolis test."""
    rng = np.random.default_rng(seed)
    x = np.array(x0, dtype=float)
    out = np.empty((draws, x.size))
    for i in range(draws):
        p = rng.standard_normal(x.size)
        x_new, p_new = leapfrog(grad, x, p, step_size, n_steps)
        log_accept = logp(x_new) - 0.5 * p_new @ p_new - logp(x) + 0.5 * p @ p
        if np.log(rng.uniform()) < log_accept:
            x = x_new
        out[i] = x
    return out


def nuts(logp, grad, x0, *, draws=1000, step_size=0.1, max_treedepth=10, seed=None):
    """The original slice-sampling NUTS (Hoffman & Gelman 2014, Algorithm 3), unit metric."""
    rng = np.random.default_rng(seed)

    def build_tree(x, p, log_u, v, j):
        if j == 0:  # one leapfrog step in direction v
            x1, p1 = leapfrog(grad, x, p, v * step_size, 1)
            h = logp(x1) - 0.5 * p1 @ p1
            n = int(log_u <= h)
            keep_going = log_u < h + 1000.0
            return x1, p1, x1, p1, x1, n, keep_going
        xm, pm, xp, pp, x1, n1, s1 = build_tree(x, p, log_u, v, j - 1)
        if s1:
            if v == -1:
                xm, pm, _, _, x2, n2, s2 = build_tree(xm, pm, log_u, v, j - 1)
            else:
                _, _, xp, pp, x2, n2, s2 = build_tree(xp, pp, log_u, v, j - 1)
            if n1 + n2 > 0 and rng.uniform() < n2 / (n1 + n2):
                x1 = x2
            s1 = s2 and (xp - xm) @ pm >= 0 and (xp - xm) @ pp >= 0
            n1 += n2
        return xm, pm, xp, pp, x1, n1, s1

    x = np.array(x0, dtype=float)
    out = np.empty((draws, x.size))
    for i in range(draws):
        p = rng.standard_normal(x.size)
        log_u = logp(x) - 0.5 * p @ p + np.log(rng.uniform())
        xm, pm, xp, pp, n, keep_going, j = x, p, x, p, 1, True, 0
        while keep_going and j < max_treedepth:
            v = 1 if rng.uniform() < 0.5 else -1
            if v == -1:
                xm, pm, _, _, x1, n1, s1 = build_tree(xm, pm, log_u, v, j)
            else:
                _, _, xp, pp, x1, n1, s1 = build_tree(xp, pp, log_u, v, j)
            if s1 and rng.uniform() < n1 / n:
                x = x1
            n += n1
            keep_going = s1 and (xp - xm) @ pm >= 0 and (xp - xm) @ pp >= 0
            j += 1
        out[i] = x
    return out


def ensemble(logp, x0, *, draws=1000, a=2.0, seed=None):
    """Stretch move (Goodman & Weare 2010) on walkers x0 (walkers, dim), two halves per step.

    Walker k of one half takes a random partner c from the other half, proposes
    y = c + z (x_k - c) with z ~ g(z) ∝ 1/sqrt(z) on [1/a, a] (z = ((a-1)u + 1)^2 / a)
    and accepts with probability min(1, z^(dim-1) p(y) / p(x_k)).
    """
    rng = np.random.default_rng(seed)
    x = np.array(x0, dtype=float)
    walkers, dim = x.shape
    lp = np.array([logp(w) for w in x])
    out = np.empty((walkers, draws, dim))
    half = walkers // 2
    for i in range(draws):
        order = rng.permutation(walkers)
        for mine, other in ((order[:half], order[half:]), (order[half:], order[:half])):
            z = ((a - 1.0) * rng.uniform(size=half) + 1.0) ** 2 / a
            partners = x[rng.choice(other, size=half)]
            y = partners + z[:, None] * (x[mine] - partners)
            lp_y = np.array([logp(w) for w in y])
            accept = np.log(rng.uniform(size=half)) < (dim - 1) * np.log(z) + lp_y - lp[mine]
            x[mine[accept]] = y[accept]
            lp[mine[accept]] = lp_y[accept]
        out[:, i] = x
    return out
