"""Ordinary least squares and ridge regression in closed form."""

import numbers

import numpy as np

from fastml._validation import check_array, check_option
from fastml.base import BaseEstimator, RegressorMixin
from fastml.linear_model._base import (
    LinearModelMixin,
    center_data,
    check_bool,
    check_nonneg,
    set_intercept,
    validate,
)


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
    uses the SVD. ``"auto"`` is "qr" when n >= p, else "svd".

    Attributes: ``coef_`` (p,) or (n_targets, p), ``intercept_``, ``rank_``,
    ``singular_`` (singular values when the SVD ran, else None).
    """

    def __init__(self, *, fit_intercept=True, solver="auto"):
        self.fit_intercept = fit_intercept
        self.solver = solver

    def fit(self, X, y):
        check_bool(self.fit_intercept, "fit_intercept")
        check_option(self.solver, "solver", ("auto", "qr", "svd"))
        X, y = validate(self, X, y, requires_y=True, y_numeric=True, multi_output=True)
        Xc, yc, x_off, y_off = center_data(X, y, self.fit_intercept)
        rcond = max(X.shape) * np.finfo(X.dtype).eps
        solver = self.solver
        if solver == "auto":
            solver = "qr" if X.shape[0] >= X.shape[1] else "svd"
        solve = _lstsq_qr if solver == "qr" else _lstsq_svd
        w, self.rank_, self.singular_ = solve(Xc, yc, rcond)
        self.coef_ = w.T.astype(X.dtype, copy=False)
        set_intercept(self, x_off, y_off, self.fit_intercept)
        return self


def _ridge_cholesky(X, y, alpha):
    """(X'X + alpha I) w = X'y (primal, n >= p) or w = X'(XX' + alpha I)^-1 y (dual)."""
    from fastml import linalg

    n, p = X.shape
    primal = n >= p
    gram = X.T @ X if primal else X @ X.T
    rhs = X.T @ y if primal else y
    gram.flat[:: gram.shape[0] + 1] += alpha
    sol = linalg.cho_solve(linalg.cholesky(gram, overwrite_a=True), rhs)
    return sol if primal else X.T @ sol


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
        X, y = validate(self, X, y, requires_y=True, y_numeric=True, multi_output=True)
        if isinstance(self.alpha, numbers.Real):
            alphas = np.array([check_nonneg(self.alpha, "alpha")], dtype=float)
        else:
            alphas = check_array(self.alpha, "alpha", ndim=1, dtype=np.float64)
            n_targets = 1 if y.ndim == 1 else y.shape[1]
            if alphas.shape[0] not in (1, n_targets):
                raise ValueError(f"alpha must be a scalar or have one value per target "
                                 f"({n_targets}), got shape {alphas.shape}")
            if np.any(alphas < 0):
                raise ValueError("alpha must be >= 0 for every target")
        Xc, yc, x_off, y_off = center_data(X, y, self.fit_intercept)
        y2 = yc.reshape(len(yc), -1)
        solver = self.solver
        if solver == "auto":
            solver = "cholesky" if alphas.size == 1 else "svd"
        if solver == "cholesky" and alphas.size == 1 and alphas[0] > 0:
            w = _ridge_cholesky(Xc, y2, alphas[0])
        else:  # also alpha = 0, where the Gram matrix may be singular
            w = _ridge_svd(Xc, y2, np.broadcast_to(alphas, (y2.shape[1],)))
        w = w.T.astype(X.dtype, copy=False)
        self.coef_ = w[0] if y.ndim == 1 else w
        set_intercept(self, x_off, y_off, self.fit_intercept)
        return self
