"""Ordinary least squares and ridge regression in closed form."""

import numbers

import numpy as np

from fastml import _kernels
from fastml._validation import (
    check_array,
    check_bool,
    check_bounds,
    check_nonneg,
    check_option,
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
    """Ordinary least squares: w = argmin ||y - X w - b||^2.

    With an intercept the problem is solved on centred data (b = y_mean - x_mean' w).
    ``solver="qr"`` factorises X = QR and solves R w = Q'y (2 n p^2 flops); when R is
    numerically rank deficient it switches to the SVD, which returns the minimum-norm
    solution w = V S^+ U' y exactly as ``numpy.linalg.lstsq`` does. ``"svd"`` always
    uses the SVD.

    ``"cholesky"`` solves the normal equations Xc'Xc w = Xc'yc (n p^2 flops, one pass over
    X, no centred copy) when X is well conditioned, and falls back to "qr" otherwise.
    ``"auto"`` is "cholesky" when n >= p, else "svd".

    Attributes: ``coef_`` (p,) or (n_targets, p), ``intercept_``, ``rank_``,
    ``singular_`` (singular values when the SVD ran, else None).
    """

    def __init__(self, *, fit_intercept=True, solver="auto"):
        self.fit_intercept = fit_intercept
        self.solver = solver

    def fit(self, X, y):
        check_bool(self.fit_intercept, "fit_intercept")
        check_option(self.solver, "solver", ("auto", "cholesky", "qr", "svd"))
        X, y = validate_data(self, X, y, requires_y=True, y_numeric=True, multi_output=True)
        solver = self.solver
        if solver == "auto":
            solver = "cholesky" if X.shape[0] >= X.shape[1] else "svd"
        if solver == "cholesky" and X.shape[0] >= X.shape[1] and \
                X.shape[1] <= _GRAM_MAX_FEATURES:
            done = _lstsq_cholesky(X, y.reshape(len(y), -1), self.fit_intercept)
            if done is not None:
                w, x_off, y_off = done
                self.rank_, self.singular_ = X.shape[1], None
                self.coef_ = (w[:, 0] if y.ndim == 1 else w.T).astype(X.dtype, copy=False)
                set_intercept(self, x_off, y_off.reshape(y.shape[1:]), self.fit_intercept)
                return self
            solver = "qr"
        Xc, yc, x_off, y_off = center_data(X, y, self.fit_intercept)
        rcond = max(X.shape) * np.finfo(X.dtype).eps
        solve = _lstsq_qr if solver == "qr" else _lstsq_svd
        w, self.rank_, self.singular_ = solve(Xc, yc, rcond)
        self.coef_ = w.T.astype(X.dtype, copy=False)
        set_intercept(self, x_off, y_off, self.fit_intercept)
        return self


def _ridge_dual(X, y, alpha):
    """w = Xc'(Xc Xc' + alpha I)^-1 yc for wide data (n < p): an n x n system."""
    gram = X @ X.T
    gram.flat[:: gram.shape[0] + 1] += alpha
    return X.T @ _cho_solve(_cholesky(gram)[0], np.array(y, dtype=X.dtype, order="C"))


def _ridge_svd(X, y, alphas):
    """w_t = V diag(s / (s^2 + alpha_t)) U' y_t, one alpha per target column."""
    import scipy.linalg

    u, s, vt = scipy.linalg.svd(X, full_matrices=False, check_finite=False)
    uty = u.T @ y  # (k, t)
    d = s[:, None] / (s[:, None] ** 2 + alphas[None, :])
    return vt.T @ (d * uty)


class Ridge(LinearModelMixin, RegressorMixin, BaseEstimator):
    """Ridge regression: w = argmin ||y - X w - b||^2 + alpha ||w||^2 (b unpenalised).

    Closed form w = (X'X + alpha I)^-1 X'y. ``solver="cholesky"`` factorises the p x p
    Gram matrix (or the n x n kernel matrix XX' when n < p) with
    :func:`fastml.linalg.cholesky`; ``"svd"`` uses X = U S V', w = V S/(S^2 + alpha) U'y,
    which also serves one alpha per target in a single factorisation. ``"auto"`` picks
    cholesky for a scalar alpha, svd for per-target alphas. ``y`` may have several
    target columns; ``alpha`` is a scalar or an array with one value per target.
    """

    def __init__(self, alpha=1.0, *, fit_intercept=True, solver="auto"):
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.solver = solver

    def fit(self, X, y):
        check_bool(self.fit_intercept, "fit_intercept")
        check_option(self.solver, "solver", ("auto", "cholesky", "svd"))
        X, y = validate_data(self, X, y, requires_y=True, y_numeric=True, multi_output=True)
        if isinstance(self.alpha, numbers.Real):
            alphas = np.array([check_nonneg(self.alpha, "alpha")], dtype=float)
        else:
            alphas = check_array(self.alpha, "alpha", ndim=1, dtype=np.float64)
            n_targets = 1 if y.ndim == 1 else y.shape[1]
            if alphas.shape[0] not in (1, n_targets):
                raise ValueError(f"alpha must be a scalar or have one value per target "
                                 f"({n_targets}), got shape {alphas.shape}")
            check_bounds(alphas, "alpha", low=0, detail=" for every target")
        solver = self.solver
        if solver == "auto":
            solver = "cholesky" if alphas.size == 1 else "svd"
        n, p = X.shape
        if solver == "cholesky" and alphas[0] > 0 and n >= p and p <= _GRAM_MAX_FEATURES \
                and alphas.size == 1:
            G, XtY, x_off, y_off = _centered_gram(X, y.reshape(n, -1), self.fit_intercept)
            G.flat[:: p + 1] += alphas[0]
            w = _cho_solve(_cholesky(G)[0], XtY)
            y_off = y_off.reshape(y.shape[1:])
        else:
            Xc, yc, x_off, y_off = center_data(X, y, self.fit_intercept)
            y2 = yc.reshape(n, -1)
            if solver == "cholesky" and alphas.size == 1 and alphas[0] > 0:
                w = _ridge_dual(Xc, y2, alphas[0])
            else:  # also alpha = 0, where the Gram matrix may be singular
                w = _ridge_svd(Xc, y2, np.broadcast_to(alphas, (y2.shape[1],)))
        w = w.T.astype(X.dtype, copy=False)
        self.coef_ = w[0] if y.ndim == 1 else w
        set_intercept(self, x_off, y_off, self.fit_intercept)
        return self
