"""Ordinary least squares and ridge regression in closed form."""

import numbers

import numpy as np

from fastml import _kernels
from fastml._validation import (
    FLAG,
    InstanceOf,
    Interval,
    Options,
    check_array,
    check_bounds,
    check_sample_weight,
)
from fastml.base import BaseEstimator, RegressorMixin, validate_data
from fastml.linalg import _cho_solve, _cholesky
from fastml.linear_model._base import LinearModelMixin, center_data, set_intercept

# Largest p for the compiled Gram path (per-thread p x p accumulators stay < ~130 MB).
_GRAM_MAX_FEATURES = 4096


def _centered_gram(X, Y, fit_intercept):
    """(G lower triangle, Xc'Yc, x_mean, y_mean) with Xc = X - x_mean, Y 2-D, in one
    chunked compiled pass that never copies X.

    The kernel accumulates cross products of X - s with the shift s = X[0] (close to
    the data, so no cancellation) and the column sums S of X - s; then
    Xc'Xc = (X-s)'(X-s) - S S'/n and x_mean = s + S/n.
    """
    _linear = _kernels.load("_linear")
    n, p = X.shape
    Y = np.ascontiguousarray(Y, dtype=X.dtype)
    x_shift = X[0].copy() if fit_intercept else np.zeros(p, dtype=X.dtype)
    y_shift = Y[0].copy() if fit_intercept else np.zeros(Y.shape[1], dtype=X.dtype)
    G = np.zeros((p, p), dtype=X.dtype)
    XtY = np.empty((p, Y.shape[1]), dtype=X.dtype)
    sx = np.empty(p)
    sy = np.empty(Y.shape[1])
    rows = max(256, min(8192, 2**20 // p))  # ~8 MB of shifted rows per thread
    with _kernels.blas_single_threaded():
        _linear.centered_gram(X, x_shift, Y, y_shift, G, XtY, sx, sy, rows,
                              _kernels.threads_for(n, 4 * rows))
    if fit_intercept:
        G -= np.tril(np.outer(sx, sx) / n).astype(X.dtype)
        XtY -= (np.outer(sx, sy) / n).astype(X.dtype)
    return G, XtY, (x_shift + sx / n).astype(X.dtype), (y_shift + sy / n).astype(X.dtype)


def _lstsq_cholesky(X, Y, fit_intercept):
    """Normal equations Xc'Xc w = Xc'Yc by Cholesky, or None when X looks ill-conditioned.

    The relative error of this route is ~cond(X)^2 eps, so it is only used when the
    Cholesky factor's diagonal spread max L_ii / min L_ii (a lower bound on cond(X))
    stays below eps^(-1/4) (8e3 in float64): the error then stays below ~sqrt(eps).
    """
    G, XtY, x_off, y_off = _centered_gram(X, Y, fit_intercept)
    try:
        L, _ = _cholesky(G)
    except np.linalg.LinAlgError:
        return None
    d = np.diagonal(L)
    if d.min() <= d.max() * np.finfo(X.dtype).eps ** 0.25:
        return None
    return _cho_solve(L, XtY), x_off, y_off


def _weighted_rescale(X, Y, sample_weight, fit_intercept):
    """Weighted least squares as an unweighted problem (scikit-learn's ``_preprocess_data``
    and ``_rescale_data``): the offsets are the weighted means
    x_off = sum_i w_i x_i / sum_i w_i (likewise y_off), and the rows of the centred data
    are scaled by sqrt(w_i), so sum_i w_i (y_i - x_i'b - c)^2 = ||sqrt(W)(Yc - Xc b)||^2.

    Returns (X', Y', x_off, y_off); Y is 2-D.
    """
    sw = check_sample_weight(sample_weight, X.shape[0], X.dtype)
    if fit_intercept:
        x_off = (sw @ X / sw.sum()).astype(X.dtype)
        y_off = (sw @ Y / sw.sum()).astype(X.dtype)
        X, Y = X - x_off, Y - y_off
    else:
        x_off = np.zeros(X.shape[1], dtype=X.dtype)
        y_off = np.zeros(Y.shape[1], dtype=X.dtype)
    r = np.sqrt(sw)[:, None]
    return X * r, Y * r, x_off, y_off


def _nonneg_lstsq(X, Y, alphas):
    """w_t = argmin_{w >= 0} ||X w - Y_t||^2 + alpha_t ||w||^2 per target column, by the
    Lawson-Hanson active-set NNLS (``scipy.optimize.nnls``) on the stacked system
    [X; sqrt(alpha_t) I] w = [Y_t; 0], which is exact (no iteration tolerance)."""
    from scipy.optimize import nnls

    n, p = X.shape
    A = np.zeros((n + p, p))
    A[:n] = X
    b = np.zeros(n + p)
    W = np.empty((p, Y.shape[1]))
    for t in range(Y.shape[1]):
        A[n:] = np.sqrt(alphas[t]) * np.eye(p)
        b[:n] = Y[:, t]
        W[:, t] = nnls(A, b, maxiter=max(50 * p, 1000))[0]
    return W.astype(X.dtype)


def _lstsq_svd(X, y, rcond):
    """Minimum-norm least squares w = V S^+ U' y (singular values below rcond s_max cut)."""
    import scipy.linalg

    u, s, vt = scipy.linalg.svd(X, full_matrices=False, lapack_driver="gesdd",
                                check_finite=False)
    keep = s > rcond * (s[0] if s.size else 0)
    uty = u[:, keep].T @ y
    w = vt[keep].T @ (uty / s[keep].reshape((-1,) + (1,) * (y.ndim - 1)))
    return w, int(keep.sum()), s


def _lstsq_qr(X, y, rcond):
    """X = QR (Householder), w = R^-1 Q'y; falls back to the SVD when R is rank deficient."""
    import scipy.linalg

    q, r = scipy.linalg.qr(X, mode="economic", check_finite=False)
    d = np.abs(np.diagonal(r))
    if d.size and d.min() > rcond * d.max() * 10:
        w = scipy.linalg.solve_triangular(r, q.T @ y, check_finite=False)
        return w, X.shape[1], None
    return _lstsq_svd(X, y, rcond)


class LinearRegression(LinearModelMixin, RegressorMixin, BaseEstimator):
    """Ordinary least squares: w = argmin sum_i s_i (y_i - x_i'w - b)^2 (s_i the
    ``sample_weight``, 1 by default).

    With an intercept the problem is solved on centred data (b = y_mean - x_mean' w, the
    means weighted by s); weighted rows are scaled by sqrt(s_i) first, which turns the
    problem into an unweighted one.
    ``solver="qr"`` factorises X = QR and solves R w = Q'y (2 n p^2 flops); when R is
    numerically rank deficient it switches to the SVD, which returns the minimum-norm
    solution w = V S^+ U' y exactly as ``numpy.linalg.lstsq`` does. ``"svd"`` always
    uses the SVD.

    ``"cholesky"`` solves the normal equations Xc'Xc w = Xc'yc (n p^2 flops, one pass over
    X, no centred copy) when X is well conditioned, and falls back to "qr" otherwise.
    ``"auto"`` is "cholesky" when n >= p, else "svd".

    ``positive=True`` constrains w >= 0 and solves by active-set NNLS
    (``scipy.optimize.nnls``, as scikit-learn), whatever ``solver`` says. ``copy_X``
    (X is never modified), ``tol`` and ``n_jobs`` (the threads are ``fastml.threads()``)
    are accepted for scikit-learn compatibility and change nothing.

    Attributes: ``coef_`` (p,) or (n_targets, p), ``intercept_``, ``rank_``,
    ``singular_`` (singular values when the SVD ran, else None).
    """

    _parameter_constraints = {
        "fit_intercept": [FLAG],
        "solver": [Options("auto", "cholesky", "qr", "svd")],
        "copy_X": [FLAG],
        "tol": [Interval(numbers.Real, 0)],
        "n_jobs": [None, Interval(numbers.Integral)],
        "positive": [FLAG],
    }

    def __init__(self, *, fit_intercept=True, solver="auto", copy_X=True, tol=1e-6,
                 n_jobs=None, positive=False):
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.copy_X = copy_X
        self.tol = tol
        self.n_jobs = n_jobs
        self.positive = positive

    def fit(self, X, y, sample_weight=None):
        X, y = validate_data(self, X, y, requires_y=True, y_numeric=True, multi_output=True)
        Y = y.reshape(len(y), -1)
        center = self.fit_intercept
        if sample_weight is not None:
            X, Y, x_off, y_off = _weighted_rescale(X, Y, sample_weight, center)
            center = False
        if self.positive:
            Xc, Yc, xo, yo = center_data(X, Y, center)
            w = _nonneg_lstsq(Xc, Yc, np.zeros(Y.shape[1]))
            self.rank_, self.singular_ = X.shape[1], None
        else:
            w, xo, yo = self._solve(X, Y, center)
        if sample_weight is None:
            x_off, y_off = xo, yo
        self.coef_ = (w[:, 0] if y.ndim == 1 else w.T).astype(X.dtype, copy=False)
        set_intercept(self, x_off, y_off.reshape(y.shape[1:]), self.fit_intercept)
        return self

    def _solve(self, X, Y, center):
        """(w (p, k), x_off, y_off) of the unconstrained problem; sets rank_, singular_."""
        solver = self.solver
        if solver == "auto":
            solver = "cholesky" if X.shape[0] >= X.shape[1] else "svd"
        if solver == "cholesky" and X.shape[0] >= X.shape[1] and \
                X.shape[1] <= _GRAM_MAX_FEATURES:
            done = _lstsq_cholesky(X, Y, center)
            if done is not None:
                self.rank_, self.singular_ = X.shape[1], None
                return done
            solver = "qr"
        Xc, Yc, x_off, y_off = center_data(X, Y, center)
        rcond = max(X.shape) * np.finfo(X.dtype).eps
        solve = _lstsq_qr if solver == "qr" else _lstsq_svd
        w, self.rank_, self.singular_ = solve(Xc, Yc, rcond)
        return w, x_off, y_off


def _ridge_dual(X, y, alpha):
    """w = Xc'(Xc Xc' + alpha I)^-1 yc for wide data (n < p): an n x n system."""
    gram = X @ X.T
    gram.flat[:: gram.shape[0] + 1] += alpha
    return X.T @ _cho_solve(_cholesky(gram)[0], np.array(y, dtype=X.dtype, order="C"))


def _ridge_svd(X, y, alphas):
    """w_t = V diag(s / (s^2 + alpha_t)) U' y_t, one alpha per target column; singular
    values below max(n, p) eps s_max count as 0, so alpha_t = 0 gives the minimum-norm
    least-squares solution (as ``numpy.linalg.lstsq``)."""
    import scipy.linalg

    u, s, vt = scipy.linalg.svd(X, full_matrices=False, check_finite=False)
    uty = u.T @ y  # (k, t)
    s = np.where(s > max(X.shape) * np.finfo(X.dtype).eps * (s[0] if s.size else 0), s, 0)
    s2a = s[:, None] ** 2 + alphas[None, :]
    d = np.divide(s[:, None], s2a, out=np.zeros_like(s2a), where=s2a > 0)
    return vt.T @ (d * uty)


class Ridge(LinearModelMixin, RegressorMixin, BaseEstimator):
    """Ridge regression: w = argmin sum_i s_i (y_i - x_i'w - b)^2 + alpha ||w||^2
    (b unpenalised, s_i the ``sample_weight``, 1 by default).

    Closed form w = (Xc'S Xc + alpha I)^-1 Xc'S yc on the (weighted-)centred data.
    ``solver="cholesky"`` factorises the p x p Gram matrix (or the n x n kernel matrix
    XX' when n < p) with :func:`fastml.linalg.cholesky`; ``"svd"`` uses X = U S V',
    w = V S/(S^2 + alpha) U'y, which also serves one alpha per target in a single
    factorisation. ``"auto"`` picks cholesky for a scalar alpha, svd for per-target
    alphas. scikit-learn's iterative solvers ``"lsqr"``, ``"sparse_cg"``, ``"sag"`` and
    ``"saga"`` run the cholesky route (the exact minimiser, which they approximate to
    ``tol``); ``max_iter``, ``tol`` and ``random_state`` are accepted for them and
    change nothing. ``y`` may have several target columns; ``alpha`` is a scalar or an
    array with one value per target.

    ``positive=True`` constrains w >= 0 (only with ``solver="auto"`` or ``"lbfgs"``, as
    scikit-learn) and solves each target exactly by active-set NNLS on the stacked
    system [Xc; sqrt(alpha) I] w = [yc; 0]. ``"lbfgs"`` needs ``positive=True``.

    Attributes: ``coef_``, ``intercept_``, ``solver_`` (the solver name that was asked
    for, "auto" resolved to "cholesky", or "lbfgs" with ``positive``), ``n_iter_`` (None).
    """

    _parameter_constraints = {
        "alpha": [Interval(numbers.Real, 0), InstanceOf((np.ndarray, list, tuple))],
        "fit_intercept": [FLAG],
        "copy_X": [FLAG],
        "max_iter": [None, Interval(numbers.Integral, 1)],
        "tol": [Interval(numbers.Real, 0)],
        "solver": [Options("auto", "svd", "cholesky", "lsqr", "sparse_cg", "sag", "saga",
                           "lbfgs")],
        "positive": [FLAG],
        # accepted and unused (no solver here is random): checked without building a
        # Generator, which would cost more than a small fit
        "random_state": [None, Interval(numbers.Integral, 0),
                         InstanceOf((np.random.Generator, np.random.RandomState))],
    }

    def __init__(self, alpha=1.0, *, fit_intercept=True, solver="auto", copy_X=True,
                 max_iter=None, tol=1e-4, positive=False, random_state=None):
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.copy_X = copy_X
        self.max_iter = max_iter
        self.tol = tol
        self.positive = positive
        self.random_state = random_state

    def fit(self, X, y, sample_weight=None):
        problem = None  # scikit-learn's rules and words for solver and positive
        if self.solver == "lbfgs" and not self.positive:
            problem = "'lbfgs' solver can be used only when positive=True. " \
                "Please use another solver."
        elif self.positive and self.solver not in ("auto", "lbfgs"):
            problem = (f"solver='{self.solver}' does not support positive fitting. Please"
                       " set the solver to 'auto' or 'lbfgs', or set `positive=False`")
        if problem:
            raise ValueError(problem)
        X, y = validate_data(self, X, y, requires_y=True, y_numeric=True, multi_output=True)
        n_targets = 1 if y.ndim == 1 else y.shape[1]
        if isinstance(self.alpha, numbers.Real):
            alphas = np.array([self.alpha], dtype=float)
        else:
            alphas = check_array(self.alpha, "alpha", ndim=1, dtype=np.float64)
            if alphas.shape[0] not in (1, n_targets):
                raise ValueError(f"alpha must be a scalar or have one value per target: "
                                 f"Number of targets and number of penalties do not "
                                 f"correspond: {alphas.shape[0]} != {n_targets}")
            check_bounds(alphas, "alpha", low=0, detail=" for every target")
        solver = self.solver
        if solver == "auto":
            solver = "lbfgs" if self.positive else "cholesky"
        self.solver_, self.n_iter_ = solver, None
        n, p = X.shape
        Y = y.reshape(n, -1)
        center = self.fit_intercept
        if sample_weight is not None:
            X, Y, x_off, y_off = _weighted_rescale(X, Y, sample_weight, center)
            center = False
        if solver == "lbfgs":
            Xc, Yc, xo, yo = center_data(X, Y, center)
            w = _nonneg_lstsq(Xc, Yc, np.broadcast_to(alphas, (n_targets,)))
        elif solver != "svd" and alphas.size == 1 and alphas[0] > 0 and n >= p and \
                p <= _GRAM_MAX_FEATURES:
            G, XtY, xo, yo = _centered_gram(X, Y, center)
            G.flat[:: p + 1] += alphas[0]
            w = _cho_solve(_cholesky(G)[0], XtY)
        else:
            Xc, Yc, xo, yo = center_data(X, Y, center)
            if solver != "svd" and alphas.size == 1 and alphas[0] > 0:
                w = _ridge_dual(Xc, Yc, alphas[0])
            else:  # also alpha = 0, where the Gram matrix may be singular
                w = _ridge_svd(Xc, Yc, np.broadcast_to(alphas, (n_targets,)))
        if sample_weight is None:
            x_off, y_off = xo, yo
        w = w.T.astype(X.dtype, copy=False)
        self.coef_ = w[0] if y.ndim == 1 else w
        set_intercept(self, x_off, y_off.reshape(y.shape[1:]), self.fit_intercept)
        return self
