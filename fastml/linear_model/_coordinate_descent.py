"""Lasso and elastic net by compiled coordinate descent; the regularisation path."""

import numbers
import warnings

import numpy as np

from fastml import _kernels
from fastml._errors import ConvergenceWarning
from fastml._validation import (
    ARRAY_LIKE,
    FLAG,
    RANDOM_STATE,
    Interval,
    Options,
    check_array,
    check_bounds,
    check_consistent_length,
    check_positive_int,
    check_random_state,
    check_sample_weight,
    check_scalar,
)
from fastml.base import BaseEstimator, RegressorMixin, _also_sklearns, check_is_fitted
from fastml.linear_model._base import (
    SPARSE_FORMATS,
    LinearModelMixin,
    is_sparse,
    overwrite_input,
    set_intercept,
    validate_xy,
    weighted_offsets,
)


def _warn_not_converged(gap, tol_abs, n_iter):
    warnings.warn(f"Objective did not converge: duality gap {gap:.3e} > tolerance "
                  f"{tol_abs:.3e} after {n_iter} iterations; increase max_iter or "
                  "scale the data.", _also_sklearns(ConvergenceWarning), stacklevel=4)


def _cd_solve(problem, t, w, alpha, l1_ratio, max_iter, tol, random, positive, seed):
    """Run the kernel on target column ``t`` of a :class:`_Problem`; alpha/tol in the
    estimators' scaling. Returns (gap, n_iter) with the gap in the kernel's scaling."""
    _cd = _kernels.load("_cd")
    n = problem.n
    a = alpha * l1_ratio * n
    b = alpha * (1.0 - l1_ratio) * n
    tol_abs = tol * float(problem.yy[t])
    if problem.gram is not None:
        gap, n_iter = _cd.enet_coordinate_descent_gram(
            w, a, b, problem.gram, problem.xy[:, t], float(problem.yy[t]), max_iter,
            tol_abs, random, positive, seed)
    else:
        gap, n_iter = _cd.enet_coordinate_descent(
            w, a, b, problem.xt, problem.yc[:, t], problem.norm2, max_iter, tol_abs,
            random, positive, seed)
    if not np.isfinite(w).all():
        raise ValueError("Coordinate descent iterations resulted in non-finite parameter "
                         "values. The input data may contain large values and need to be "
                         "preprocessed.")
    if gap > tol_abs:
        _warn_not_converged(gap, tol_abs, n_iter)
    return gap, n_iter


def _check_gram(gram, X, x_off, scale):
    """scikit-learn's spot check of a user Gram matrix: one off-diagonal element against
    the (centred, weighted) data."""
    p = X.shape[1]
    f1 = p // 2
    f2 = min(f1 + 1, p - 1)
    v1 = (X[:, f1] - x_off[f1]) * scale
    v2 = (X[:, f2] - x_off[f2]) * scale
    expected, actual = float(v1 @ v2), float(gram[f1, f2])
    rtol = 1e-4 if np.float32 in (gram.dtype, X.dtype) else 1e-7
    if not np.isclose(expected, actual, rtol=rtol, atol=1e-5):
        raise ValueError("Gram matrix passed in via 'precompute' parameter did not pass "
                         "validation when a single element was checked - please check "
                         "that it was computed properly. For element "
                         f"({f1},{f2}) we computed {expected} but the user-supplied value "
                         f"was {actual}.")


class _Problem:
    """The least-squares data of one elastic-net fit, ready for a kernel.

    Minimising 1/(2n) sum_i s_i (y_i - x_i'w - b)^2 (s the weights, rescaled to sum to n
    as scikit-learn does) is the unweighted problem on rows sqrt(s_i)(x_i - x_off),
    sqrt(s_i)(y_i - y_off), with the weighted means as offsets. Two forms:

    - dense X, no Gram: ``xt`` (p, n) = those rows transposed (features contiguous) and
      ``norm2`` its row norms, for :func:`_cd.enet_coordinate_descent`;
    - Gram (``precompute`` True/"auto" with n > p, a user Gram array, or sparse X):
      ``gram`` = Xc'S Xc, ``xy`` = Xc'S yc, for the covariance-form kernel. Sparse X is
      never densified: Xc'S Xc = X'S X - (sum s) x_off x_off' and Xc'S yc = X'S yc
      (implicit centring, as scikit-learn's sparse solver).

    ``yy[t]`` is the weighted ||yc_t||^2 that scales ``tol``.
    """

    def __init__(self, X, Y, sw, fit_intercept, precompute):
        self.n, p = X.shape
        x_off, y_off = weighted_offsets(X, Y, sw, fit_intercept)
        self.x_off, self.y_off = x_off, y_off
        yc = Y - y_off
        root = None if sw is None else np.sqrt(sw).astype(X.dtype)
        if root is not None:
            yc = yc * root[:, None]
        self.yc = np.asfortranarray(yc, dtype=X.dtype)  # columns contiguous
        self.yy = np.einsum("ij,ij->j", self.yc, self.yc)
        self.gram = self.xt = self.norm2 = None
        user_gram = hasattr(precompute, "__array__")
        if user_gram and fit_intercept and not np.allclose(x_off, 0):
            warnings.warn("Gram matrix was provided but X was centered to fit intercept: "
                          "recomputing Gram matrix.", UserWarning, stacklevel=3)
            precompute, user_gram = True, False
        if isinstance(precompute, str):  # "auto"
            precompute = self.n > p
        if is_sparse(X):
            sx = X if root is None else X.multiply(np.asarray(sw)[:, None]).tocsc()
            gram = (X.T @ sx).toarray()
            if fit_intercept:
                gram -= (self.n if sw is None else sw.sum()) * np.outer(x_off, x_off)
            self.gram = np.ascontiguousarray(gram, dtype=X.dtype)
            self.xy = np.asfortranarray(X.T @ (self.yc * (1 if root is None
                                                             else root[:, None])))
            return
        if user_gram:
            gram = check_array(precompute, "precompute", ndim=2, dtype=X.dtype)
            _check_gram(gram, X, x_off, 1 if root is None else root)
            self.gram = gram
        xt = np.empty((p, self.n), dtype=X.dtype)
        norm2 = np.empty(p, dtype=X.dtype)
        if root is not None:  # rows scaled by sqrt(s): center first, then transpose
            X = (X - x_off) * root[:, None]
            x_off = np.zeros(p, dtype=X.dtype)
        _kernels.load("_cd").center_transpose(X, x_off, xt, norm2,
                                              _kernels.threads_for(self.n * p, 2**20))
        if precompute is True and not user_gram:
            self.gram = xt @ xt.T
        if self.gram is not None:
            self.xy = np.asfortranarray(xt @ self.yc)
        else:
            self.xt, self.norm2 = xt, norm2


class ElasticNet(LinearModelMixin, RegressorMixin, BaseEstimator):
    """Linear regression with combined L1 and L2 penalties, by coordinate descent.

    Minimises  1/(2n) sum_i s_i (y_i - x_i'w - b)^2 + alpha l1_ratio ||w||_1
               + alpha (1 - l1_ratio)/2 ||w||^2

    (scikit-learn's scaling; s the ``sample_weight``, rescaled to sum to n). Each
    coordinate step is the soft-thresholded univariate solution
    w_j = S(x_j'r_j, n alpha l1_ratio) / (||x_j||^2 + n alpha (1 - l1_ratio)),
    with r_j the residual without feature j. ``selection="cyclic"`` sweeps features in
    order, ``"random"`` draws them uniformly. Iteration stops when the duality gap falls
    below ``tol * ||y||^2`` (after centring). ``warm_start`` reuses ``coef_``.
    Several target columns are fitted one after another (independent problems).

    What runs: on dense X without a Gram matrix, the compiled solver on the centred,
    transposed X (gap-safe screening, active-set sweeps). With ``precompute=True``,
    ``"auto"`` and n > p, a Gram array (its element (p/2, p/2+1) is checked against X,
    as scikit-learn does), or sparse X (CSR/CSC, implicitly centred, never densified),
    the compiled covariance-form solver on Xc'Xc (O(p) per update, p x p memory).
    ``copy_X=False`` leaves a dense float X centred in place, as scikit-learn;
    ``check_input=False`` is accepted and the input is still checked (cheap here).
    ``sparse_coef_`` is ``coef_`` as a CSR matrix.
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
        "precompute": [FLAG, Options("auto"), ARRAY_LIKE],
        "copy_X": [FLAG],
    }

    def __init__(self, alpha=1.0, *, l1_ratio=0.5, fit_intercept=True, max_iter=1000,
                 tol=1e-4, warm_start=False, positive=False, random_state=None,
                 selection="cyclic", precompute=False, copy_X=True):
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.warm_start = warm_start
        self.positive = positive
        self.random_state = random_state
        self.selection = selection
        self.precompute = precompute
        self.copy_X = copy_X

    def fit(self, X, y, sample_weight=None, check_input=True):
        alpha, l1_ratio, tol, max_iter = self.alpha, self.l1_ratio, self.tol, int(self.max_iter)
        if alpha == 0:
            warnings.warn("With alpha=0, this algorithm does not converge well. You are "
                          "advised to use the LinearRegression estimator", UserWarning,
                          stacklevel=2)
        rng = check_random_state(self.random_state)
        X_in = X
        X, y = validate_xy(self, X, y, requires_y=True, y_numeric=True, multi_output=True)
        n, p = X.shape
        sw = None
        if sample_weight is not None:
            sw = check_sample_weight(sample_weight, n, X.dtype)
            sw = sw * (n / sw.sum())
        Y = y.reshape(n, -1)
        problem = _Problem(X, Y, sw, self.fit_intercept, self.precompute)
        n_targets = Y.shape[1]
        coef = np.zeros((n_targets, p), dtype=X.dtype)
        if self.warm_start and getattr(self, "coef_", None) is not None:
            prev = np.asarray(self.coef_, dtype=X.dtype).reshape(-1, p)
            if prev.shape == coef.shape:
                coef[:] = prev
        gaps, iters = [], []
        for t in range(n_targets):
            gap, it = _cd_solve(problem, t, coef[t], alpha, l1_ratio, max_iter, tol,
                                self.selection == "random", self.positive,
                                int(rng.integers(1, 2**63)))
            gaps.append(gap / n)
            iters.append(it)
        self.coef_ = coef[0] if y.ndim == 1 else coef
        self.dual_gap_ = gaps[0] if y.ndim == 1 else np.array(gaps)
        self.n_iter_ = iters[0] if y.ndim == 1 else iters
        set_intercept(self, problem.x_off, problem.y_off.reshape(y.shape[1:]),
                      self.fit_intercept)
        overwrite_input(self, X_in, problem.x_off, sw)
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    @property
    def sparse_coef_(self):
        """``coef_`` as a ``scipy.sparse.csr_matrix`` (one row per target)."""
        import scipy.sparse

        check_is_fitted(self, "coef_")
        return scipy.sparse.csr_matrix(np.atleast_2d(self.coef_))


class Lasso(ElasticNet):
    """L1-penalised least squares: 1/(2n) ||y - X w - b||^2 + alpha ||w||_1.

    The elastic net with ``l1_ratio=1``; see :class:`ElasticNet` for the solver,
    ``precompute``, ``sample_weight`` and sparse input.
    """

    def __init__(self, alpha=1.0, *, fit_intercept=True, max_iter=1000, tol=1e-4,
                 warm_start=False, positive=False, random_state=None, selection="cyclic",
                 precompute=False, copy_X=True):
        super().__init__(alpha=alpha, l1_ratio=1.0, fit_intercept=fit_intercept,
                         max_iter=max_iter, tol=tol, warm_start=warm_start,
                         positive=positive, random_state=random_state,
                         selection=selection, precompute=precompute, copy_X=copy_X)


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
    X = check_array(X, "X", ndim=2, allow_empty=False, accept_sparse=SPARSE_FORMATS)
    y = check_array(y, "y", ndim=1, dtype=X.dtype)
    check_consistent_length(("X", X), ("y", y))
    problem = _Problem(X, y[:, None], None, fit_intercept, False)
    n = X.shape[0]
    if alphas is None:
        check_positive_int(n_alphas, "n_alphas")
        check_scalar(eps, "eps", numbers.Real, min_val=0, include_boundaries="neither")
        xy = problem.xy[:, 0] if problem.gram is not None else problem.xt @ problem.yc[:, 0]
        alpha_max = np.abs(xy).max() / (n * l1_ratio)
        if alpha_max <= 0:
            alpha_max = np.finfo(float).resolution
        alphas = np.geomspace(alpha_max, alpha_max * eps, n_alphas)
    else:
        alphas = np.sort(check_array(alphas, "alphas", ndim=1, dtype=np.float64))[::-1]
        check_bounds(alphas, "alphas", low=0)
    w = np.zeros(X.shape[1], dtype=X.dtype)
    coefs = np.empty((X.shape[1], len(alphas)), dtype=X.dtype)
    gaps = np.empty(len(alphas))
    for k, a in enumerate(alphas):
        gaps[k] = _cd_solve(problem, 0, w, float(a), l1_ratio, max_iter, tol, False,
                            positive, 1)[0] / n
        coefs[:, k] = w
    return alphas, coefs, gaps


def lasso_path(X, y, *, eps=1e-3, n_alphas=100, alphas=None, max_iter=1000, tol=1e-4,
               positive=False, fit_intercept=False):
    """Lasso coefficients along a grid of alphas: :func:`enet_path` with l1_ratio = 1."""
    return enet_path(X, y, l1_ratio=1.0, eps=eps, n_alphas=n_alphas, alphas=alphas,
                     max_iter=max_iter, tol=tol, positive=positive,
                     fit_intercept=fit_intercept)
