"""Support vector classifiers: kernel SVC by SMO, linear SVC by dual coordinate descent.

Attributes follow scikit-learn (LIBSVM's layout) so fitted models can be compared and
swapped: ``support_`` (indices of the support vectors, grouped by class),
``support_vectors_``, ``n_support_``, ``dual_coef_`` (K - 1, n_SV) holding y_i alpha_i
for every one-vs-one problem, ``intercept_`` (one per pair, -rho).
"""

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
    check_classification_targets,
    check_random_state,
    check_square,
)
from fastml.base import (
    BaseEstimator,
    ClassifierMixin,
    LinearClassifierMixin,
    _also_sklearns,
    check_is_fitted,
    validate_data,
)

__all__ = ["SVC", "LinearSVC"]

_KERNELS = {"linear": 0, "poly": 1, "rbf": 2, "sigmoid": 3, "precomputed": 4}


def _ovr_from_ovo(dec, n_classes):
    """One-vs-rest scores from pairwise ones: votes plus confidences squashed into
    (-1/3, 1/3) so they only break ties (scikit-learn's ``_ovr_decision_function``)."""
    votes = np.zeros((dec.shape[0], n_classes))
    conf = np.zeros((dec.shape[0], n_classes))
    k = 0
    for i in range(n_classes):
        for j in range(i + 1, n_classes):
            conf[:, i] += dec[:, k]
            conf[:, j] -= dec[:, k]
            votes[:, i] += dec[:, k] > 0
            votes[:, j] += dec[:, k] <= 0
            k += 1
    return votes + conf / (3 * (np.abs(conf) + 1))


class SVC(ClassifierMixin, BaseEstimator):
    """C-support vector classification, dual solved by SMO (one-vs-one for K > 2).

    For each pair of classes, with y_i = +1 for the first and -1 for the second:

        min_a 1/2 sum_ij a_i a_j y_i y_j K(x_i, x_j) - sum_i a_i,
        0 <= a_i <= C, sum_i y_i a_i = 0,

    solved by sequential minimal optimisation with Fan–Chen–Lin second-order working-set
    selection, an LRU cache of kernel columns (``cache_size`` MB) and, with
    ``shrinking``, LIBSVM's removal of bounded variables from the working loops, to the
    maximal violation ``tol``. f_pair(x) = sum_i y_i a_i K(x_i, x) - rho; ``predict`` takes the
    class with most pairwise votes (ties: lowest index).

    Kernels: "linear" x'z, "poly" (gamma x'z + coef0)^degree, "rbf" exp(-gamma|x-z|^2),
    "sigmoid" tanh(gamma x'z + coef0), "precomputed" (X is the n x n Gram matrix; at
    predict time the test-by-train kernel). ``gamma="scale"`` is 1 / (p Var(X)),
    ``"auto"`` 1 / p.
    """

    _parameter_constraints = {
        "C": [Interval(numbers.Real, 0, closed="neither")],
        "kernel": [Options(*_KERNELS)],
        "degree": [Interval(numbers.Integral, 0)],
        "gamma": [Options("scale", "auto"), Interval(numbers.Real, 0, closed="neither")],
        "coef0": [Interval(numbers.Real)],
        "shrinking": [FLAG],
        "tol": [Interval(numbers.Real, 0, closed="neither")],
        "cache_size": [Interval(numbers.Real, 0, closed="neither")],
        "max_iter": [Interval(numbers.Integral, -1)],
        "decision_function_shape": [Options("ovr", "ovo")],
    }

    def __init__(self, *, C=1.0, kernel="rbf", degree=3, gamma="scale", coef0=0.0,
                 shrinking=True, tol=1e-3, cache_size=200, max_iter=-1,
                 decision_function_shape="ovr"):
        self.C = C
        self.kernel = kernel
        self.degree = degree
        self.gamma = gamma
        self.coef0 = coef0
        self.shrinking = shrinking
        self.tol = tol
        self.cache_size = cache_size
        self.max_iter = max_iter
        self.decision_function_shape = decision_function_shape

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.pairwise = self.kernel == "precomputed"
        return tags

    def _gamma_for(self, X):
        """The RBF/poly/sigmoid scale: a number, or "auto" 1/d, or "scale" 1/(d var X)."""
        if self.gamma == "auto":
            return 1.0 / X.shape[1]
        if self.gamma == "scale":
            var = float(X.var())
            return 1.0 / (X.shape[1] * var) if var > 0 else 1.0
        return float(self.gamma)

    def fit(self, X, y):
        _svm = _kernels.load("_svm")
        X, y = validate_data(self, X, y, requires_y=True)
        if self.kernel == "precomputed":
            check_square(X, "X (a precomputed kernel matrix)")
        C, degree, coef0, tol, cache = (self.C, int(self.degree), float(self.coef0), self.tol,
                                        self.cache_size)
        max_iter, gamma, shrinking = int(self.max_iter), self._gamma_for(X), bool(self.shrinking)
        classes, y_idx = check_classification_targets(y)
        kind = _KERNELS[self.kernel]
        n_cls = len(classes)
        members = [np.flatnonzero(y_idx == c) for c in range(n_cls)]
        coefs, rhos, n_iter = {}, [], []
        is_sv = np.zeros(X.shape[0], dtype=bool)
        for i in range(n_cls):
            for j in range(i + 1, n_cls):
                idx = np.concatenate([members[i], members[j]])
                sub = X[np.ix_(idx, idx)] if kind == 4 else X[idx]
                ysub = np.where(np.arange(len(idx)) < len(members[i]), 1.0, -1.0)
                alpha = np.empty(len(idx))
                with _kernels.blas_single_threaded():  # one GEMV per kernel column
                    rho, it, converged = _svm.smo(np.ascontiguousarray(sub), ysub, C, kind,
                                                  gamma, coef0, degree, tol, max_iter,
                                                  cache * 2.0**20, shrinking,
                                                  _kernels.get_num_threads(), alpha)
                if not converged:
                    warnings.warn(f"SMO stopped after max_iter={max_iter} iterations "
                                  "before reaching tol",
                                  _also_sklearns(ConvergenceWarning), stacklevel=2)
                coefs[i, j] = (idx, ysub * alpha)
                is_sv[idx[alpha > 0]] = True
                rhos.append(rho)
                n_iter.append(it)
        # support vectors grouped by class, original order inside a class
        support = np.concatenate([m[is_sv[m]] for m in members])
        pos = np.full(X.shape[0], -1)
        pos[support] = np.arange(len(support))
        dual = np.zeros((n_cls - 1, len(support)))
        for (i, j), (idx, c) in coefs.items():
            nz = c != 0
            ci = nz & (y_idx[idx] == i)
            cj = nz & (y_idx[idx] == j)
            dual[j - 1, pos[idx[ci]]] = c[ci]
            dual[i, pos[idx[cj]]] = c[cj]
        self.classes_ = classes
        self.support_ = support.astype(np.int32)
        self.support_vectors_ = X[support] if kind != 4 else np.empty((0, 0), X.dtype)
        self.n_support_ = np.array([int(is_sv[m].sum()) for m in members], dtype=np.int32)
        self._gamma = gamma
        self._dual_coef = dual           # LIBSVM sign: f > 0 means the first class
        self._intercept = -np.array(rhos)
        self.fit_status_ = 0
        self.n_iter_ = np.array(n_iter)
        sign = -1.0 if n_cls == 2 else 1.0  # scikit-learn: binary f > 0 means classes_[1]
        self.dual_coef_ = sign * dual
        self.intercept_ = sign * self._intercept
        self.shape_fit_ = X.shape
        return self

    def _ovo(self, X):
        """Pairwise decision values in LIBSVM's sign convention, (n, K(K-1)/2)."""
        _svm = _kernels.load("_svm")
        check_is_fitted(self, "support_")
        X = validate_data(self, X, reset=False)
        kind = _KERNELS[self.kernel]
        if kind == 4:
            if X.shape[1] != self.shape_fit_[0]:
                raise ValueError(f"X must have {self.shape_fit_[0]} columns (one per "
                                 f"training sample) for a precomputed kernel")
            K = X[:, self.support_]
        else:
            K = np.empty((X.shape[0], len(self.support_)), dtype=X.dtype)
            _svm.kernel_matrix(X, np.ascontiguousarray(self.support_vectors_, X.dtype),
                               kind, self._gamma, float(self.coef0), int(self.degree), K,
                               _kernels.threads_for(K.size, 2**16))
        start = np.concatenate([[0], np.cumsum(self.n_support_)])
        n_cls = len(self.classes_)
        dec = np.empty((X.shape[0], n_cls * (n_cls - 1) // 2), dtype=X.dtype)
        k = 0
        for i in range(n_cls):
            si = slice(start[i], start[i + 1])
            for j in range(i + 1, n_cls):
                sj = slice(start[j], start[j + 1])
                dec[:, k] = K[:, si] @ self._dual_coef[j - 1, si] + \
                    K[:, sj] @ self._dual_coef[i, sj] + self._intercept[k]
                k += 1
        return dec

    def decision_function(self, X):
        """Binary: (n,) with positive meaning classes_[1]; else ovr (n, K) or ovo pairs."""
        dec = self._ovo(X)
        if len(self.classes_) == 2:
            return -dec.ravel()
        if self.decision_function_shape == "ovr":
            return _ovr_from_ovo(dec, len(self.classes_)).astype(dec.dtype)
        return dec

    def predict(self, X):
        """Majority vote over the one-vs-one classifiers (ties: lowest class index)."""
        dec = self._ovo(X)
        n_cls = len(self.classes_)
        votes = np.zeros((dec.shape[0], n_cls), dtype=np.int64)
        k = 0
        for i in range(n_cls):
            for j in range(i + 1, n_cls):
                votes[:, i] += dec[:, k] > 0
                votes[:, j] += dec[:, k] <= 0
                k += 1
        return self.classes_[votes.argmax(axis=1)]


def _l2svc_primal_newton(Xa, t, C, tol, max_iter):
    """Newton's method on the squared-hinge primal (Keerthi & DeCoste 2005).

    f(w) = 1/2 w'w + C sum_i max(0, 1 - t_i w'x_i)^2 is piecewise quadratic; on the set
    I = {i: t_i w'x_i < 1} its gradient is g = w + 2C X_I'(X_I w - t_I) and its
    (generalised) Hessian H = I + 2C X_I'X_I. Each step solves H d = -g by Cholesky and
    backtracks until f decreases enough; it stops when ||g|| <= tol ||g_0|| scaled as in
    LIBLINEAR (tol max(min(n+, n-), 1) / n). Returns (w, n_iter, converged).
    """
    from fastml.linalg import _cho_solve, _cholesky

    n, d = Xa.shape
    n_pos = int(np.sum(t > 0))
    eps = tol * max(min(n_pos, n - n_pos), 1) / n

    def objective(w):
        margin = np.maximum(1 - t * (Xa @ w), 0)
        return 0.5 * w @ w + C * margin @ margin

    w = np.zeros(d)
    g0 = None
    f = objective(w)
    for it in range(max_iter):
        z = Xa @ w
        active = t * z < 1
        XI = Xa[active]
        g = w + 2 * C * (XI.T @ (z[active] - t[active]))
        gnorm = float(np.linalg.norm(g))
        g0 = gnorm if g0 is None else g0
        if gnorm <= eps * g0:
            return w, it, True
        H = 2 * C * (XI.T @ XI)
        H.flat[:: d + 1] += 1
        step = -_cho_solve(_cholesky(H)[0], np.array(g, dtype=H.dtype))
        slope = float(g @ step)
        s = 1.0
        while True:
            f_new = objective(w + s * step)
            if f_new <= f + 1e-4 * s * slope or s < 1e-10:
                break
            s *= 0.5
        w, f = w + s * step, f_new
    return w, max_iter, False


class LinearSVC(LinearClassifierMixin, ClassifierMixin, BaseEstimator):
    """Linear support vector classification by dual coordinate descent (one-vs-rest).

    Minimises 1/2 ||w~||^2 + C sum_i loss(t_i w~'x~_i) with x~ = (x, intercept_scaling)
    (the intercept is a penalised weight on a constant feature, as in LIBLINEAR),
    loss = max(0, 1 - m)^2 ("squared_hinge") or max(0, 1 - m) ("hinge").
    ``dual=True``: dual coordinate descent with random order and shrinking (Hsieh et al.
    2008) until the projected-gradient spread falls below ``tol``. ``dual=False``
    (squared hinge only): Newton's method on the primal with a Cholesky solve of the
    (p+1)-square generalised Hessian. ``"auto"``: primal when n > p and the loss allows,
    as scikit-learn does.
    """

    _parameter_constraints = {
        "loss": [Options("squared_hinge", "hinge")],
        "dual": [Options("auto"), FLAG],
        "tol": [Interval(numbers.Real, 0)],
        "C": [Interval(numbers.Real, 0, closed="neither")],
        "fit_intercept": [FLAG],
        "intercept_scaling": [Interval(numbers.Real, 0, closed="neither")],
        "random_state": [RANDOM_STATE],
        "max_iter": [Interval(numbers.Integral, 1)],
    }

    def __init__(self, *, loss="squared_hinge", dual="auto", tol=1e-4, C=1.0,
                 fit_intercept=True, intercept_scaling=1.0, random_state=None,
                 max_iter=1000):
        self.loss = loss
        self.dual = dual
        self.tol = tol
        self.C = C
        self.fit_intercept = fit_intercept
        self.intercept_scaling = intercept_scaling
        self.random_state = random_state
        self.max_iter = max_iter

    def fit(self, X, y):
        _svm = _kernels.load("_svm")
        C, tol, max_iter = self.C, self.tol, int(self.max_iter)
        fit_intercept, scaling = bool(self.fit_intercept), self.intercept_scaling
        rng = check_random_state(self.random_state)
        X, y = validate_data(self, X, y, requires_y=True)
        classes, y_idx = check_classification_targets(y)
        squared = self.loss == "squared_hinge"
        if self.dual is False and not squared:
            raise ValueError("loss='hinge' is only solved in the dual; use dual=True")
        primal = squared and (self.dual is False or
                              (self.dual == "auto" and X.shape[0] > X.shape[1]))
        targets = [1] if len(classes) == 2 else range(len(classes))
        bias = float(scaling) if fit_intercept else 0.0
        W = np.empty((len(targets), X.shape[1] + 1))
        if primal:
            Xa = np.hstack([X, np.full((X.shape[0], 1), bias, dtype=X.dtype)]
                           ).astype(np.float64, copy=False)
        iters = []
        for row, k in enumerate(targets):
            t = np.where(y_idx == k, 1.0, -1.0)
            if primal:
                W[row], it, converged = _l2svc_primal_newton(Xa, t, C, tol, max_iter)
            else:
                it = _svm.linear_svc_dual_cd(X, t, C, squared, bias, tol, max_iter,
                                             int(rng.integers(1, 2**63)), W[row])
                converged = it >= 0
            if not converged:
                warnings.warn("LinearSVC did not converge; increase max_iter",
                              _also_sklearns(ConvergenceWarning), stacklevel=2)
            iters.append(abs(it))
        self.classes_ = classes
        self.coef_ = W[:, :-1].astype(X.dtype)
        self.intercept_ = (bias * W[:, -1]).astype(X.dtype)
        self.n_iter_ = max(iters)
        return self
