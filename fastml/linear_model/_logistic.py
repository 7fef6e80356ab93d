"""Logistic regression: binary and multinomial, L2 penalty, Newton or L-BFGS."""

import numbers
import warnings

import numpy as np

from fastml import _kernels
from fastml._errors import ConvergenceWarning, JitterWarning
from fastml._validation import FLAG, Interval, Options, check_classification_targets
from fastml.base import (
    BaseEstimator,
    ClassifierMixin,
    LinearClassifierMixin,
    _also_sklearns,
    check_is_fitted,
    validate_data,
)


class _Objective:
    """f(theta) = 1/n sum_i loss_i + 1/(2 C n) ||W||^2, theta = rows (w_k, b_k) flattened.

    Binary models have one row (scores for classes_[1]); multinomial ones one per class.
    """

    def __init__(self, X, y, n_rows, fit_intercept, C):
        self.X, self.y = X, y
        self.k, self.p = n_rows, X.shape[1]
        self.fit_intercept = fit_intercept
        self.n = X.shape[0]
        self.lam = 1.0 / (C * self.n)
        self.n_threads = _kernels.threads_for(self.n * self.p * self.k, 2**20)

    def unpack(self, theta):
        t = theta.reshape(self.k, self.p + self.fit_intercept).astype(self.X.dtype)
        coef = np.ascontiguousarray(t[:, : self.p])
        intercept = np.ascontiguousarray(t[:, self.p]) if self.fit_intercept else \
            np.zeros(self.k, dtype=self.X.dtype)
        return coef, intercept

    def value_grad(self, theta):
        _logistic = _kernels.load("_logistic")
        coef, intercept = self.unpack(theta)
        g_coef = np.empty_like(coef)
        g_int = np.empty_like(intercept)
        loss = _logistic.loss_grad(self.X, self.y, coef, intercept, g_coef, g_int,
                                   self.n_threads)
        w = coef.astype(np.float64)
        f = loss / self.n + 0.5 * self.lam * float(np.sum(w * w))
        g = g_coef / self.n + self.lam * w
        if self.fit_intercept:
            g = np.hstack([g, (g_int / self.n)[:, None]])
        return f, g.ravel().astype(np.float64)

    def hessian(self, theta):
        """Full symmetric Hessian (float64); lower triangle from the kernel."""
        _logistic = _kernels.load("_logistic")
        coef, intercept = self.unpack(theta)
        p1 = self.p + self.fit_intercept
        d = self.k * p1
        H = np.zeros((d, d), dtype=self.X.dtype)  # upper triangle stays zero
        _logistic.hessian(self.X, coef, intercept, self.fit_intercept, H, self.n_threads)
        H = H.astype(np.float64) / self.n
        penalised = np.ones(d, dtype=bool)
        if self.fit_intercept:
            penalised[p1 - 1 :: p1] = False
            if self.k > 1:
                # softmax is invariant to shifting all intercepts: the loss Hessian is
                # singular along v = (1 on every intercept). The gradient is orthogonal
                # to v, so adding v v' / k leaves the Newton step unchanged and makes
                # H positive definite.
                idx = np.flatnonzero(~penalised)
                H[np.ix_(idx, idx)] += 1.0 / self.k
        H[np.diag_indices(d)] += self.lam * penalised
        return H


def _newton(obj, theta, max_iter, tol):
    """Damped Newton: solve H d = -g by Cholesky, Armijo backtracking on f."""
    from fastml.linalg import _cho_solve, _cholesky

    f, g = obj.value_grad(theta)
    for it in range(max_iter):
        if np.max(np.abs(g)) <= tol:
            return theta, it, True
        H = obj.hessian(theta)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", JitterWarning)
            L, _ = _cholesky(H, True, "auto")
        step = -_cho_solve(L, np.array(g, dtype=L.dtype))
        slope = float(g @ step)
        t = 1.0
        slack = 16 * np.finfo(float).eps * abs(f)  # rounding noise in f near the optimum
        while True:
            f_new, g_new = obj.value_grad(theta + t * step)
            if f_new <= f + 1e-4 * t * slope + slack or t < 1e-10:
                break
            t *= 0.5
        if t < 1e-10 and f_new > f:
            return theta, it + 1, False  # no progress possible at working precision
        theta, f, g = theta + t * step, f_new, g_new
    return theta, max_iter, bool(np.max(np.abs(g)) <= tol)


def _lbfgs(obj, theta, max_iter, tol):
    import scipy.optimize

    res = scipy.optimize.minimize(
        obj.value_grad, theta, method="L-BFGS-B", jac=True,
        options={"maxiter": max_iter, "maxls": 50, "gtol": tol,
                 "ftol": 64 * np.finfo(float).eps})
    return res.x, int(res.nit), bool(res.success)


class LogisticRegression(LinearClassifierMixin, ClassifierMixin, BaseEstimator):
    """L2-regularised logistic regression, binary or multinomial (softmax).

    Minimises  1/n sum_i loss_i(W x_i + b) + 1/(2 C n) ||W||^2  (intercepts unpenalised;
    the same minimiser as scikit-learn's C sum_i loss_i + 1/2 ||W||^2), where for two
    classes loss_i = log(1 + exp(z_i)) - y_i z_i with one score z_i for classes_[1], and
    for K > 2 classes loss_i = log sum_k exp(z_ik) - z_{i,y_i}.

    Solvers: ``"newton"`` — Newton/IRLS, H d = -g solved by Cholesky of the
    (p+1)K-square Hessian sum_i (diag(p_i) - p_i p_i') (x) x~_i x~_i' + penalty, with an
    Armijo line search; stops when max|g| <= tol. ``"lbfgs"`` — SciPy's L-BFGS-B with
    the fused loss/gradient kernel, stops when the projected gradient <= tol.

    Attributes: ``classes_``, ``coef_`` (1, p) or (K, p), ``intercept_``, ``n_iter_``.
    """

    _parameter_constraints = {
        "C": [Interval(numbers.Real, 0, closed="neither")],
        "fit_intercept": [FLAG],
        "tol": [Interval(numbers.Real, 0)],
        "solver": [Options("lbfgs", "newton")],
        "max_iter": [Interval(numbers.Integral, 1)],
        "warm_start": [FLAG],
    }

    def __init__(self, C=1.0, *, fit_intercept=True, tol=1e-4, solver="lbfgs", max_iter=100,
                 warm_start=False):
        self.C = C
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.solver = solver
        self.max_iter = max_iter
        self.warm_start = warm_start

    def fit(self, X, y):
        C, tol, max_iter = self.C, self.tol, int(self.max_iter)
        fit_intercept = bool(self.fit_intercept)
        X, y = validate_data(self, X, y, requires_y=True)
        classes, y_idx = check_classification_targets(y)
        k = 1 if len(classes) == 2 else len(classes)
        obj = _Objective(X, y_idx, k, fit_intercept, C)
        shape = (k, X.shape[1] + fit_intercept)
        theta = np.zeros(shape)
        if self.warm_start and getattr(self, "coef_", None) is not None \
                and self.coef_.shape == (k, X.shape[1]):
            theta[:, : X.shape[1]] = self.coef_
            if fit_intercept:
                theta[:, -1] = self.intercept_
        solve = _newton if self.solver == "newton" else _lbfgs
        # The kernels parallelise over row chunks with OpenMP and call BLAS inside; the
        # solvers' own BLAS work is on short vectors. Pin BLAS to one thread throughout.
        with _kernels.blas_single_threaded():
            theta, n_iter, converged = solve(obj, theta.ravel(), max_iter, tol)
        if not converged:
            warnings.warn(f"{self.solver} did not converge in {max_iter} iterations; "
                          "increase max_iter or scale the data.",
                          _also_sklearns(ConvergenceWarning),
                          stacklevel=2)
        coef, intercept = obj.unpack(theta)
        if k > 1 and fit_intercept:
            intercept = intercept - intercept.mean()  # the softmax-invariant offset
        self.classes_ = classes
        self.coef_ = coef
        self.intercept_ = intercept
        self.n_iter_ = np.array([n_iter])
        return self

    def predict_proba(self, X):
        """Class probabilities: [1 - sigmoid(z), sigmoid(z)] or softmax(z), (n, K)."""
        _logistic = _kernels.load("_logistic")
        check_is_fitted(self, "coef_")
        X = validate_data(self, X, reset=False)
        coef = self.coef_.astype(X.dtype)
        intercept = self.intercept_.astype(X.dtype)
        out = np.empty((X.shape[0], coef.shape[0]), dtype=X.dtype)
        with _kernels.blas_single_threaded():
            _logistic.predict_proba(X, coef, intercept, out,
                                    _kernels.threads_for(X.size * coef.shape[0], 2**20))
        if coef.shape[0] == 1:
            out = np.hstack([1 - out, out])
        return out

    def predict_log_proba(self, X):
        return np.log(self.predict_proba(X))
