"""Lasso and elastic net by compiled coordinate descent; the regularisation path."""

import numbers
import warnings

import numpy as np

from fastml import _kernels
from fastml._errors import ConvergenceWarning
from fastml._validation import (
    FLAG,
    RANDOM_STATE,
    Interval,
    Options,
    check_array,
    check_bounds,
    check_consistent_length,
    check_positive_int,
    check_random_state,
    check_scalar,
)
from fastml.base import BaseEstimator, RegressorMixin, _also_sklearns, validate_data
from fastml.linear_model._base import LinearModelMixin, set_intercept


def _cd_solve(xt, y, norm2, w, alpha, l1_ratio, max_iter, tol, random, positive, seed):
    """Run the kernel on one target; alpha/tol in the estimators' scaling."""
    _cd = _kernels.load("_cd")
    n = xt.shape[1]
    a = alpha * l1_ratio * n
    b = alpha * (1.0 - l1_ratio) * n
    tol_abs = tol * float(y @ y)
    gap, n_iter = _cd.enet_coordinate_descent(w, a, b, xt, y, norm2, max_iter, tol_abs,
                                              random, positive, seed)
    if gap > tol_abs:
        warnings.warn(f"Objective did not converge: duality gap {gap:.3e} > tolerance "
                      f"{tol_abs:.3e} after {n_iter} iterations; increase max_iter or "
                      "scale the data.", _also_sklearns(ConvergenceWarning), stacklevel=3)
    return gap, n_iter


def _prepare(X, y, fit_intercept):
    """Centred, transposed design (features as contiguous rows) and its column norms,
    built in one tiled compiled pass."""
    _cd = _kernels.load("_cd")
    n, p = X.shape
    x_off = X.mean(axis=0) if fit_intercept else np.zeros(p, dtype=X.dtype)
    y_off = y.mean(axis=0) if fit_intercept else np.zeros(y.shape[1:], dtype=X.dtype)
    xt = np.empty((p, n), dtype=X.dtype)
    norm2 = np.empty(p, dtype=X.dtype)
    _cd.center_transpose(X, x_off, xt, norm2, _kernels.threads_for(n * p, 2**20))
    return xt, y - y_off, x_off, y_off, norm2


class ElasticNet(LinearModelMixin, RegressorMixin, BaseEstimator):
    """Linear regression with combined L1 and L2 penalties, by coordinate descent.

    Minimises  1/(2n) ||y - X w - b||^2 + alpha l1_ratio ||w||_1
               + alpha (1 - l1_ratio)/2 ||w||^2

    (scikit-learn's scaling). Each coordinate step is the soft-thresholded univariate
    solution w_j = S(x_j'r_j, n alpha l1_ratio) / (||x_j||^2 + n alpha (1 - l1_ratio)),
    with r_j the residual without feature j. ``selection="cyclic"`` sweeps features in
    order, ``"random"`` draws them uniformly. Iteration stops when the duality gap falls
    below ``tol * ||y||^2`` (after centring). ``warm_start`` reuses ``coef_``.
    Several target columns are fitted one after another.
    """

    _parameter_constraints = {
        "alpha": [Interval(numbers.Real, 0)],
        "l1_ratio": [Interval(numbers.Real, 0, 1)],
        "fit_intercept": [FLAG],
        "max_iter": [Interval(numbers.Integral, 1)],
        "tol": [Interval(numbers.Real, 0)],
        "warm_start": [FLAG],
        "positive": [FLAG],
        "random_state": [RANDOM_STATE],
        "selection": [Options("cyclic", "random")],
    }

    def __init__(self, alpha=1.0, *, l1_ratio=0.5, fit_intercept=True, max_iter=1000,
                 tol=1e-4, warm_start=False, positive=False, random_state=None,
                 selection="cyclic"):
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.warm_start = warm_start
        self.positive = positive
        self.random_state = random_state
        self.selection = selection

    def fit(self, X, y):
        alpha, l1_ratio, tol, max_iter = self.alpha, self.l1_ratio, self.tol, int(self.max_iter)
        rng = check_random_state(self.random_state)
        X, y = validate_data(self, X, y, requires_y=True, y_numeric=True, multi_output=True)
        xt, yc, x_off, y_off, norm2 = _prepare(X, y, self.fit_intercept)
        y2 = yc.reshape(len(yc), -1)
        n_targets = y2.shape[1]
        coef = np.zeros((n_targets, X.shape[1]), dtype=X.dtype)
        if self.warm_start and getattr(self, "coef_", None) is not None:
            prev = np.asarray(self.coef_, dtype=X.dtype).reshape(-1, X.shape[1])
            if prev.shape == coef.shape:
                coef[:] = prev
        gaps, iters = [], []
        for t in range(n_targets):
            gap, it = _cd_solve(xt, np.ascontiguousarray(y2[:, t]), norm2, coef[t], alpha,
                                l1_ratio, max_iter, tol, self.selection == "random",
                                self.positive, int(rng.integers(1, 2**63)))
            gaps.append(gap / X.shape[0])
            iters.append(it)
        self.coef_ = coef[0] if y.ndim == 1 else coef
        self.dual_gap_ = gaps[0] if y.ndim == 1 else np.array(gaps)
        self.n_iter_ = iters[0] if y.ndim == 1 else iters
        set_intercept(self, x_off, y_off, self.fit_intercept)
        return self


class Lasso(ElasticNet):
    """L1-penalised least squares: 1/(2n) ||y - X w - b||^2 + alpha ||w||_1.

    The elastic net with ``l1_ratio=1``; see :class:`ElasticNet` for the solver.
    """

    def __init__(self, alpha=1.0, *, fit_intercept=True, max_iter=1000, tol=1e-4,
                 warm_start=False, positive=False, random_state=None, selection="cyclic"):
        super().__init__(alpha=alpha, l1_ratio=1.0, fit_intercept=fit_intercept,
                         max_iter=max_iter, tol=tol, warm_start=warm_start,
                         positive=positive, random_state=random_state,
                         selection=selection)


def enet_path(X, y, *, l1_ratio=0.5, eps=1e-3, n_alphas=100, alphas=None, max_iter=1000,
              tol=1e-4, positive=False, fit_intercept=False):
    """Elastic-net coefficients along a decreasing grid of alphas, warm-started.

    The default grid has ``n_alphas`` values log-spaced from
    alpha_max = max_j |x_j'y| / (n l1_ratio) (the smallest alpha giving w = 0) down to
    ``eps * alpha_max``. Each fit starts from the previous solution.

    Returns
    -------
    alphas : (n_alphas,), decreasing
    coefs : (n_features, n_alphas)
    dual_gaps : (n_alphas,), in the 1/(2n) scaling of the objective
    """
    l1_ratio = check_scalar(l1_ratio, "l1_ratio", numbers.Real, min_val=0, max_val=1,
                            include_boundaries="right")
    X = check_array(X, "X", ndim=2, allow_empty=False)
    y = check_array(y, "y", ndim=1, dtype=X.dtype)
    check_consistent_length(("X", X), ("y", y))
    xt, yc, _, _, norm2 = _prepare(X, y, fit_intercept)
    n = X.shape[0]
    if alphas is None:
        check_positive_int(n_alphas, "n_alphas")
        check_scalar(eps, "eps", numbers.Real, min_val=0, include_boundaries="neither")
        alpha_max = np.abs(xt @ yc).max() / (n * l1_ratio)
        if alpha_max <= 0:
            alpha_max = np.finfo(float).resolution
        alphas = np.geomspace(alpha_max, alpha_max * eps, n_alphas)
    else:
        alphas = np.sort(check_array(alphas, "alphas", ndim=1, dtype=np.float64))[::-1]
        check_bounds(alphas, "alphas", low=0)
    w = np.zeros(X.shape[1], dtype=X.dtype)
    coefs = np.empty((X.shape[1], len(alphas)), dtype=X.dtype)
    gaps = np.empty(len(alphas))
    yc = np.ascontiguousarray(yc)
    for k, a in enumerate(alphas):
        gaps[k] = _cd_solve(xt, yc, norm2, w, float(a), l1_ratio, max_iter, tol, False,
                            positive, 1)[0] / n
        coefs[:, k] = w
    return alphas, coefs, gaps


def lasso_path(X, y, *, eps=1e-3, n_alphas=100, alphas=None, max_iter=1000, tol=1e-4,
               positive=False, fit_intercept=False):
    """Lasso coefficients along a grid of alphas: :func:`enet_path` with l1_ratio = 1."""
    return enet_path(X, y, l1_ratio=1.0, eps=eps, n_alphas=n_alphas, alphas=alphas,
                     max_iter=max_iter, tol=tol, positive=positive,
                     fit_intercept=fit_intercept)
