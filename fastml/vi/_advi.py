"""``fastml.vi.advi``: automatic differentiation variational inference (Kucukelbir et al.
2017) with the whole stochastic-optimisation loop compiled.

The approximation q is Gaussian in the unconstrained space of the density: mean-field
N(mu, diag sigma^2) or full-rank N(mu, L L^T). The ELBO
E_q[log p(z)] + H[q] is maximised by Adam on its reparameterised Monte-Carlo gradient
(z = mu + L eps, eps ~ N(0, I); ``fastml.kernels._vi``).
"""

import math
import numbers

import numpy as np

from fastml import _kernels
from fastml._validation import (
    check_array,
    check_callable,
    check_finite_real,
    check_log_density_start,
    check_option,
    check_positive,
    check_positive_int,
    check_random_state,
    check_scalar,
)

__all__ = ["Approximation", "advi"]

METHODS = ("meanfield", "fullrank")


class Approximation:
    """The Gaussian fitted by :func:`advi`.

    Attributes
    ----------
    method : "meanfield" or "fullrank"
    mean : ndarray (dim,)
    scale_tril : ndarray (dim, dim)
        Lower-triangular L with cov = L L^T (diagonal for mean-field).
    cov : ndarray (dim, dim)
    std : ndarray (dim,)
        Marginal standard deviations sqrt(diag cov).
    elbo : ndarray (n_iter,)
        The ELBO estimate of every step (NaN for a step skipped because the log-density
        was not finite at a draw).
    n_iter : int
    converged : bool
        True when the windowed ELBO mean stopped changing (relative change <= tol).
    """

    def __init__(self, method, mean, scale_tril, elbo, converged, seed):
        self.method = method
        self.mean = mean
        self.scale_tril = scale_tril
        self.cov = scale_tril @ scale_tril.T
        self.std = np.sqrt(np.diag(self.cov))
        self.elbo = elbo
        self.n_iter = len(elbo)
        self.converged = bool(converged)
        self._rng = check_random_state(seed)

    def __repr__(self):
        return (f"Approximation(method={self.method!r}, dim={self.mean.shape[0]}, "
                f"n_iter={self.n_iter}, converged={self.converged})")

    def sample(self, n, seed=None):
        """``n`` draws mean + L eps, shape (n, dim); without ``seed`` the approximation's
        own stream (seeded by ``advi``'s seed) continues."""
        n = check_positive_int(n, "n")
        rng = self._rng if seed is None else check_random_state(seed)
        eps = rng.standard_normal((n, self.mean.shape[0]))
        return self.mean + eps @ self.scale_tril.T

    def to_arviz(self, draws=1000, seed=None, var_name="x"):
        """``arviz.InferenceData`` with ``draws`` draws of q as ``posterior[var_name]``
        (one chain, as PyMC's ``approx.sample``); its ``attrs`` name the method, the
        number of steps, convergence and the mean ELBO of the last ``min(100, n_iter)``
        steps."""
        import arviz as az

        draws = check_positive_int(draws, "draws")
        samples = self.sample(draws, seed)[None]
        tail = self.elbo[-100:]
        final = float(np.nanmean(tail)) if np.isfinite(tail).any() else math.nan
        return az.from_dict(posterior={var_name: samples},
                            attrs={"inference": f"advi-{self.method}", "n_iter": self.n_iter,
                                   "converged": int(self.converged), "elbo": final})


def advi(logp, x0, *, grad, method="meanfield", n_steps=10000, lr=0.01, n_mc=1, seed=None,
         tol=1e-3, window=100, init_scale=0.1, batch_size=None, n_data=None):
    """Fit a Gaussian q to the density proportional to exp(logp(x)) by maximising the ELBO.

    ELBO(q) = E_q[logp(z)] + H[q], estimated with ``n_mc`` reparameterised draws
    z = mu + L eps per step; its gradient (d/dmu = E[grad logp(z)],
    d/dL_ij = E[grad_i logp(z) eps_j] + [i == j] / L_ii) drives an Adam ascent
    (beta = 0.9, 0.999; the diagonal of L is optimised on the log scale).

    Parameters
    ----------
    logp : callable, float64 ndarray (dim,) -> float
        Log-density up to a constant, as for :func:`fastml.mcmc.sample`. A Numba
        ``@njit`` function (with an ``@njit`` grad) runs the loop fully compiled; any
        other callable works, slower, with the same result for the same seed.
    x0 : array_like (dim,)
        Initial mean; logp must be finite there.
    grad : callable, ndarray (dim,) -> ndarray (dim,)
        Gradient of logp, or a function returning the pair (logp(x), grad(x)) (detected
        at x0; one call per draw).
    method : "meanfield" or "fullrank"
        Diagonal or dense (Cholesky-parameterised) covariance.
    n_steps : int
        Maximum number of optimisation steps.
    lr : float > 0
        Adam learning rate.
    n_mc : int >= 1
        Monte-Carlo draws per gradient estimate.
    seed : None, int or numpy Generator
    tol : float >= 0 or None
        Stop when the mean ELBO of a window of ``window`` steps changes by at most
        ``tol`` times its magnitude from the previous window's (Stan's ``tol_rel_obj``
        on running means); 0 or None runs all ``n_steps``.
    window : int
        Steps per window. The returned mean and scale are the average iterate of the last
        complete window (Polyak averaging; the constant-rate iterates jitter).
    init_scale : float > 0
        Initial standard deviation of every coordinate of q.
    batch_size, n_data : int, optional
        Stochastic (minibatch) VI for densities that are sums over ``n_data`` data
        points: ``logp(x, idx)`` and ``grad(x, idx)`` then take an int64 array of
        ``batch_size`` distinct indices (a fresh uniform draw each step) and return an
        unbiased estimate of the full log-density and gradient (e.g. log prior +
        n_data / batch_size * sum of the minibatch's log-likelihoods).

    Returns
    -------
    Approximation
        ``mean``, ``cov``, ``std``, ``scale_tril``, ``sample(n)``, ``elbo`` history,
        ``converged``, ``to_arviz()``.
    """
    check_callable(logp, "logp")
    check_callable(grad, "grad")
    check_option(method, "method", METHODS)
    x = check_array(x0, "x0", ndim=1, dtype=np.float64, allow_empty=False, copy=True)
    n_steps = check_positive_int(n_steps, "n_steps")
    check_finite_real(check_positive(lr, "lr"), "lr")
    n_mc = check_positive_int(n_mc, "n_mc")
    tol = 0.0 if tol is None else float(check_scalar(tol, "tol", numbers.Real, min_val=0))
    window = check_positive_int(window, "window")
    check_finite_real(check_positive(init_scale, "init_scale"), "init_scale")
    batched = batch_size is not None
    if batched:
        if n_data is None:
            raise ValueError("n_data (the number of data points) is required with batch_size")
        n_data = check_positive_int(n_data, "n_data")
        batch_size = check_positive_int(batch_size, "batch_size", max_val=n_data)
    elif n_data is not None:
        raise ValueError("n_data is only used with batch_size (minibatch VI)")
    rng = check_random_state(seed)
    idx0 = np.arange(batch_size, dtype=np.int64) if batched else None
    probe = grad(x.copy()) if idx0 is None else grad(x.copy(), idx0.copy())
    combined = isinstance(probe, tuple)
    check_log_density_start(logp, grad, (x,) if idx0 is None else (x, idx0), combined)
    return _advi(logp, grad, combined, x, method, n_steps, float(lr), n_mc, rng, tol, window,
                 float(init_scale), batch_size, n_data)


def _advi(logp, grad, combined, x0, method, n_steps, lr, n_mc, rng, tol, window, init_scale,
          batch_size, n_data):
    """Core of :func:`advi` (ready arguments, no checks)."""
    _vi = _kernels.load("_vi")
    d = x0.shape[0]
    errors = []
    stop = np.zeros(1, dtype=np.int64)
    batched = batch_size is not None
    if batched:
        (lp_addr, gr_addr), _keep = _vi.make_batch_callbacks(logp, grad, errors, stop,
                                                             combined)
        perm = np.arange(n_data, dtype=np.int64)
    else:
        (lp_addr, gr_addr), _keep = _kernels.load("_mcmc").make_callbacks(
            logp, grad, errors, stop, combined)
        perm = np.zeros(1, dtype=np.int64)
        batch_size = 0
    if combined:  # the kernel takes logp from grad's return value
        lp_addr = 0
    kind = _vi.FULLRANK if method == "fullrank" else _vi.MEANFIELD
    rows = np.arange(d)
    if kind == _vi.MEANFIELD:
        theta = np.concatenate([x0, np.full(d, math.log(init_scale))])
    else:
        theta = np.concatenate([x0, np.zeros(d * (d + 1) // 2)])
        theta[d + rows * (rows + 1) // 2 + rows] = math.log(init_scale)
    state = np.random.SeedSequence(rng.integers(0, 2**63, size=4)).generate_state(
        4, dtype=np.uint64)
    elbo = np.empty(n_steps)
    theta_avg = np.empty_like(theta)
    stats = np.zeros(3, dtype=np.int64)
    _vi.run_advi(lp_addr, gr_addr, batched, kind, d, state, theta, n_mc, lr, tol, window,
                 perm, batch_size, elbo, theta_avg, stats, stop)
    if errors:
        raise errors[0]
    mean = theta_avg[:d].copy()
    if kind == _vi.MEANFIELD:
        scale_tril = np.diag(np.exp(theta_avg[d:]))
    else:
        scale_tril = np.zeros((d, d))
        scale_tril[np.tril_indices(d)] = theta_avg[d:]
        scale_tril[rows, rows] = np.exp(scale_tril[rows, rows])
    return Approximation(method, mean, scale_tril, elbo[:stats[_vi.S_ITER]].copy(),
                         stats[_vi.S_CONVERGED], rng)
