"""Logistic regression: binary and multinomial; L2, L1, elastic-net or no penalty."""

import numbers
import warnings

import numpy as np

from fastml import _kernels
from fastml._errors import ConvergenceWarning, JitterWarning
from fastml._validation import (
    FLAG,
    RANDOM_STATE,
    InstanceOf,
    Interval,
    Options,
    check_array,
    check_classification_targets,
    check_n_features,
    check_sample_weight,
)
from fastml.base import (
    BaseEstimator,
    ClassifierMixin,
    LinearClassifierMixin,
    _also_sklearns,
    check_is_fitted,
    validate_data,
)


def _is_sparse(X):
    return hasattr(X, "tocsr") and hasattr(X, "nnz")


def validate_sparse_or_dense(estimator, X, y=None, *, reset=True, requires_y=False):
    """``validate_data`` that also takes SciPy CSR/CSC input (returned as CSR, float).

    Dense input goes through ``validate_data`` unchanged; sparse X is checked by
    ``check_array(accept_sparse="csr")`` and y against a zero-width stand-in of X.
    """
    if not _is_sparse(X):
        return validate_data(estimator, X, y, reset=reset, requires_y=requires_y)
    X = check_array(X, "X", ndim=2, accept_sparse="csr")
    if reset:
        estimator.n_features_in_ = X.shape[1]
    elif hasattr(estimator, "n_features_in_"):
        check_n_features(X.shape[1], estimator, estimator.n_features_in_)
    if y is None and not requires_y:
        return X
    p = estimator.n_features_in_
    _, y = validate_data(estimator, np.zeros((X.shape[0], 1)), y, requires_y=True)
    estimator.n_features_in_ = p
    return X, y


def scores(X, coef, intercept):
    """Z = X W' + b for dense or sparse X (and W), shape (n, K)."""
    Z = X @ coef.T
    return (Z.toarray() if _is_sparse(Z) else np.asarray(Z)) + intercept


def class_sample_weight(class_weight, classes, y_idx, sample_weight):
    """sample_weight times the weight of each sample's class (None: unchanged).

    "balanced": w_c = sum_i s_i / (K sum_{i: y_i = c} s_i), s the sample weights
    (scikit-learn's ``compute_class_weight``); a dict maps class labels to weights
    (classes not in it weigh 1).
    """
    if class_weight is None:
        return sample_weight
    K = len(classes)
    if isinstance(class_weight, str):  # "balanced"
        counts = np.bincount(y_idx, weights=sample_weight, minlength=K)
        w = sample_weight.sum() / (K * np.maximum(counts, np.finfo(float).tiny))
    else:
        w = np.array([float(class_weight.get(c, 1.0)) for c in classes.tolist()])
    return sample_weight * w[y_idx].astype(sample_weight.dtype)


class _Objective:
    """f(theta) = 1/S sum_i s_i loss_i + lam/2 ||W||^2, theta = rows (w_k, b_k) flattened.

    S = sum_i s_i (n without sample weights), lam = (1 - l1_ratio) / (C S); the L1 part
    l1_ratio / (C S) ||W||_1 is handled by the solver (``l1``). Binary models have one
    row (scores for classes_[1]); multinomial ones one per class. Dense unweighted data
    runs the fused compiled kernels; sparse or weighted data runs NumPy/SciPy products
    (X W', R' X, X' D X).
    """

    def __init__(self, X, y, n_rows, fit_intercept, C, sample_weight=None, l1_ratio=0.0):
        self.X, self.y = X, y
        self.k, self.p = n_rows, X.shape[1]
        self.fit_intercept = fit_intercept
        self.n = X.shape[0]
        self.sw = sample_weight
        self.S = float(self.n if sample_weight is None else np.sum(sample_weight))
        scale = 0.0 if np.isinf(C) else 1.0 / (C * self.S)
        self.lam = (1 - l1_ratio) * scale
        self.l1 = l1_ratio * scale
        self.compiled = sample_weight is None and not _is_sparse(X)
        self.n_threads = _kernels.threads_for(self.n * self.p * self.k, 2**20)

    def unpack(self, theta):
        t = theta.reshape(self.k, self.p + self.fit_intercept).astype(self.X.dtype)
        coef = np.ascontiguousarray(t[:, : self.p])
        intercept = np.ascontiguousarray(t[:, self.p]) if self.fit_intercept else \
            np.zeros(self.k, dtype=self.X.dtype)
        return coef, intercept

    def _probs(self, coef, intercept):
        """Probabilities P (n, K) and the summed weighted loss (NumPy path)."""
        Z = scores(self.X, coef, intercept).astype(np.float64)
        if self.k == 1:
            z = Z[:, 0]
            loss = np.logaddexp(0, z) - self.y * z
            P = np.exp(-np.logaddexp(0, -z))[:, None]
        else:
            mx = Z.max(axis=1, keepdims=True)
            E = np.exp(Z - mx)
            s = E.sum(axis=1, keepdims=True)
            loss = (mx + np.log(s))[:, 0] - Z[np.arange(self.n), self.y]
            P = E / s
        sw = 1.0 if self.sw is None else self.sw
        return P, float(np.sum(sw * loss))

    def _loss_grad(self, coef, intercept):
        if self.compiled:
            _logistic = _kernels.load("_logistic")
            g_coef = np.empty_like(coef)
            g_int = np.empty_like(intercept)
            loss = _logistic.loss_grad(self.X, self.y, coef, intercept, g_coef, g_int,
                                       self.n_threads)
            return loss, g_coef, g_int
        R, loss = self._probs(coef, intercept)
        if self.k == 1:
            R[:, 0] -= self.y
        else:
            R[np.arange(self.n), self.y] -= 1
        if self.sw is not None:
            R *= self.sw[:, None]
        return loss, np.asarray(self.X.T @ R).T, R.sum(axis=0)

    def value_grad(self, theta):
        coef, intercept = self.unpack(theta)
        loss, g_coef, g_int = self._loss_grad(coef, intercept)
        w = coef.astype(np.float64)
        f = loss / self.S + 0.5 * self.lam * float(np.sum(w * w))
        g = g_coef / self.S + self.lam * w
        if self.fit_intercept:
            g = np.hstack([g, (g_int / self.S)[:, None]])
        return f, g.ravel().astype(np.float64)

    def _loss_hessian(self, coef, intercept):
        """Summed loss Hessian; the compiled kernel fills the lower triangle only."""
        p1 = self.p + self.fit_intercept
        d = self.k * p1
        if self.compiled:
            _logistic = _kernels.load("_logistic")
            H = np.zeros((d, d), dtype=self.X.dtype)  # upper triangle stays zero
            _logistic.hessian(self.X, coef, intercept, self.fit_intercept, H, self.n_threads)
            return H.astype(np.float64)
        import scipy.sparse as sp

        P, _ = self._probs(coef, intercept)
        sw = np.ones(self.n) if self.sw is None else self.sw.astype(np.float64)
        X = self.X
        if self.fit_intercept:
            ones = np.ones((self.n, 1), dtype=X.dtype)
            X = sp.hstack([X, ones], format="csr") if _is_sparse(X) else np.hstack([X, ones])
        H = np.empty((d, d))
        for a in range(self.k):
            for b in range(a + 1):
                # block (a, b): X~' diag(s (delta_ab p_a - p_a p_b)) X~ (binary: p (1 - p))
                D = sw * (P[:, a] * (a == b or self.k == 1) - P[:, a] * P[:, b])
                B = X.T @ (X.multiply(D[:, None]).tocsr() if _is_sparse(X) else X * D[:, None])
                B = B.toarray() if _is_sparse(B) else B
                H[a * p1:(a + 1) * p1, b * p1:(b + 1) * p1] = B
                H[b * p1:(b + 1) * p1, a * p1:(a + 1) * p1] = B.T
        return H

    def penalised(self):
        """Mask of the entries of theta that the penalty acts on (not the intercepts)."""
        p1 = self.p + self.fit_intercept
        mask = np.ones(self.k * p1, dtype=bool)
        if self.fit_intercept:
            mask[p1 - 1 :: p1] = False
        return mask

    def hessian(self, theta):
        """Hessian of f (float64); the lower triangle is exact (upper: zero or exact)."""
        coef, intercept = self.unpack(theta)
        H = self._loss_hessian(coef, intercept) / self.S
        penalised = self.penalised()
        if self.fit_intercept and self.k > 1:
            # softmax is invariant to shifting all intercepts: the loss Hessian is
            # singular along v = (1 on every intercept). The gradient is orthogonal
            # to v, so adding v v' / k leaves the Newton step unchanged and makes
            # H positive definite.
            idx = np.flatnonzero(~penalised)
            H[np.ix_(idx, idx)] += 1.0 / self.k
        H[np.diag_indices(H.shape[0])] += self.lam * penalised
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
        theta, f, g, t = _armijo(obj, theta, f, float(g @ step), step, g, lambda th: 0.0)
        if t is None:
            return theta, it + 1, False  # no progress possible at working precision
    return theta, max_iter, bool(np.max(np.abs(g)) <= tol)


def _armijo(obj, theta, f, slope, step, g, h):
    """Backtrack t = 1, 1/2, ... until F = f + h decreases by 1e-4 t slope (rounding
    slack allowed); returns (theta, F-smooth f, g, t), t None when no step decreases F."""
    t = 1.0
    F = f + h(theta)
    slack = 16 * np.finfo(float).eps * abs(F)  # rounding noise in F near the optimum
    while True:
        new = theta + t * step
        f_new, g_new = obj.value_grad(new)
        if f_new + h(new) <= F + 1e-4 * t * slope + slack or t < 1e-10:
            break
        t *= 0.5
    if t < 1e-10 and f_new + h(new) > F:
        return theta, f, g, None
    return new, f_new, g_new, t


def _prox_newton(obj, theta, max_iter, tol):
    """Proximal Newton for f + l1 ||W||_1 (glmnet / newGLMNET): the step d minimises the
    quadratic model g'd + 1/2 d'Hd + l1 ||W + d||_1 by coordinate descent, then Armijo
    backtracking on the composite objective with slope g'd + l1 (||W + d||_1 - ||W||_1).
    Stops when the minimum-norm subgradient has max-norm <= tol."""
    cd = _kernels.load("_logistic_cd").cd_quadratic
    l1 = obj.l1 * obj.penalised()

    def h(th):
        return float(l1 @ np.abs(th))

    f, g = obj.value_grad(theta)
    for it in range(max_iter):
        sub = np.where(theta != 0, g + l1 * np.sign(theta), np.maximum(np.abs(g) - l1, 0))
        if np.max(np.abs(sub)) <= tol:
            return theta, it, True
        H = obj.hessian(theta)
        H = np.tril(H) + np.tril(H, -1).T
        step = np.zeros_like(theta)
        cd(H, g, theta, l1, step, 1000, 1e-4)
        slope = float(g @ step) + h(theta + step) - h(theta)
        theta, f, g, t = _armijo(obj, theta, f, slope, step, g, h)
        if t is None:
            return theta, it + 1, False
    sub = np.where(theta != 0, g + l1 * np.sign(theta), np.maximum(np.abs(g) - l1, 0))
    return theta, max_iter, bool(np.max(np.abs(sub)) <= tol)


def _lbfgs(obj, theta, max_iter, tol):
    import scipy.optimize

    res = scipy.optimize.minimize(
        obj.value_grad, theta, method="L-BFGS-B", jac=True,
        options={"maxiter": max_iter, "maxls": 50, "gtol": tol,
                 "ftol": 64 * np.finfo(float).eps})
    return res.x, int(res.nit), bool(res.success)


_SOLVERS = ("lbfgs", "newton", "newton-cg", "newton-cholesky", "liblinear", "sag", "saga")


_MESSAGES = {  # scikit-learn's ConvergenceWarning text per solver name
    "liblinear": "Liblinear failed to converge, increase the number of iterations.",
    "sag": "The max_iter was reached which means the coef_ did not converge",
    "saga": "The max_iter was reached which means the coef_ did not converge",
    "newton-cholesky": "Newton solver did not converge after {n} iterations.",
}


def _solver_rule(solver, penalty, l1_ratio, dual, n_classes, large_index, x_max):
    """scikit-learn's words for a solver/penalty/dual/classes/data combination it rejects
    (``large_index``: sparse X with 64-bit indices; ``x_max``: max(X) for liblinear)."""
    if large_index and solver in ("liblinear", "sag", "saga"):
        return ("Only sparse matrices with 32-bit integer indices are accepted. Got "
                "int64 indices. Please do report a minimal reproducer on scikit-learn "
                "issue tracker so that support for your use-case can be studied by "
                "maintainers. See: https://scikit-learn.org/dev/developers/minimal_reproducer.html")
    if solver == "liblinear" and x_max > 1e30:
        return ("Using the 'liblinear' solver while X contains a maximum value > 1e30 "
                "results in a frozen fit. Please choose another solver or rescale the input X.")
    if penalty == "elasticnet" and l1_ratio is None:
        return "l1_ratio must be specified when penalty is elasticnet."
    if solver not in ("liblinear", "saga") and penalty not in ("l2", None):
        return f"Solver {solver} supports only 'l2' or None penalties, got {penalty} penalty."
    if solver != "liblinear" and dual:
        return f"Solver {solver} supports only dual=False, got dual={dual}"
    if penalty == "elasticnet" and solver != "saga":
        return f"Only 'saga' solver supports elasticnet penalty, got solver={solver}."
    if solver == "liblinear" and penalty is None:
        return "C=np.inf as well as penalty=None is not supported for the liblinear solver"
    if solver == "liblinear" and n_classes > 2:
        return ("The 'liblinear' solver does not support multiclass classification"
                " (n_classes >= 3). Either use another solver or wrap the "
                "estimator in a OneVsRestClassifier to keep applying a "
                "one-versus-rest scheme.")
    if n_classes < 2:
        return ("This solver needs samples of at least 2 classes in the data, but the "
                "data contains only one class: %r")
    return None


class SparseLinearClassifierMixin(LinearClassifierMixin):
    """LinearClassifierMixin whose scores also take SciPy CSR/CSC X (and sparse coef_)."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def decision_function(self, X):
        """Scores X coef_' + intercept_: shape (n,) for two classes, else (n, K)."""
        check_is_fitted(self, "coef_")
        X = validate_sparse_or_dense(self, X, reset=False)
        Z = scores(X, self.coef_.astype(X.dtype, copy=False),
                   self.intercept_.astype(X.dtype, copy=False))
        return Z.ravel() if Z.shape[1] == 1 else Z


class LogisticRegression(SparseLinearClassifierMixin, ClassifierMixin, BaseEstimator):
    """Logistic regression, binary or multinomial (softmax), as scikit-learn 1.9's.

    Minimises  C sum_i s_i loss_i(W x_i + b) + r(W)  (intercepts unpenalised), in the
    scaled form  1/S sum_i s_i loss_i + r(W) / (C S),  S = sum_i s_i, with

        r(W) = (1 - l1_ratio)/2 ||W||_F^2 + l1_ratio ||W||_1,

    s_i = sample_weight_i times the weight of the sample's class (``class_weight``; dict
    or "balanced": S / (K S_c)); C = inf (or ``penalty=None``) drops r. For two classes
    loss_i = log(1 + exp(z_i)) - y_i z_i with one score z_i for classes_[1]; for K > 2
    classes always multinomial, loss_i = log sum_k exp(z_ik) - z_{i,y_i}. Softmax is
    invariant to adding one vector to every class row, so multinomial intercepts are
    reported with mean 0 and unpenalised multinomial coefficients with column sums 0
    (the minimum-norm minimiser, as scikit-learn).

    ``penalty`` is deprecated as in scikit-learn 1.8+: by default l1_ratio = 0 is L2,
    1 is L1, in between the elastic net; an explicit penalty ("l1", "l2", "elasticnet",
    None) warns (FutureWarning) and is applied.

    What runs for each ``solver`` name (all agree with scikit-learn within ``tol``):

    - "lbfgs" (and "sag", "saga" with an L2/no penalty and more than 200 parameters
      K (p + 1)): SciPy's L-BFGS-B on the fused compiled loss/gradient, stopping at
      projected gradient <= tol;
    - "newton", "newton-cg", "newton-cholesky" (and "sag", "saga" with L2/no penalty
      and at most 200 parameters, where an exact Newton step is cheap): Newton/IRLS,
      H d = -g by Cholesky of the (p+1)K-square Hessian
      sum_i s_i (diag(p_i) - p_i p_i') (x) x~_i x~_i' + penalty, Armijo line search,
      stopping at max|g| <= tol;
    - any L1/elastic-net fit ("saga"; "liblinear" with penalty l1): proximal Newton
      (glmnet): coordinate descent on the quadratic model with the L1 term, then a line
      search on the composite objective; stops at max|min-norm subgradient| <= tol;
    - "liblinear" (binary only, as in scikit-learn): the intercept is a feature of value
      ``intercept_scaling`` whose weight is penalised like the others (liblinear's
      model), solved by Newton (L2) or proximal Newton (L1); intercept_ =
      intercept_scaling * that weight.

    Dense unweighted X runs the compiled kernels; sparse CSR/CSC X and sample weights
    run SciPy/NumPy products for scores, gradients (R' X) and Hessians (X' D X).
    ``dual``, ``random_state``, ``verbose`` are accepted (all solvers here are primal
    and deterministic); ``n_jobs`` warns as in scikit-learn 1.8+.

    Attributes: ``classes_``, ``coef_`` (1, p) or (K, p), ``intercept_``, ``n_iter_``
    (shape (1,)), ``n_features_in_``.
    """

    _parameter_constraints = {
        "C": [Interval(numbers.Real, 0, closed="neither")],
        "fit_intercept": [FLAG],
        "tol": [Interval(numbers.Real, 0)],
        "solver": [Options(*_SOLVERS)],
        "max_iter": [Interval(numbers.Integral, 0)],
        "warm_start": [FLAG],
        "penalty": [Options("l1", "l2", "elasticnet", "deprecated"), None],
        "l1_ratio": [Interval(numbers.Real, 0, 1), None],
        "dual": [FLAG],
        "intercept_scaling": [Interval(numbers.Real, 0, closed="neither")],
        "class_weight": [InstanceOf(dict, "a dict, 'balanced' or None"), Options("balanced"),
                         None],
        "random_state": [RANDOM_STATE],
        "verbose": [Interval(numbers.Integral, 0), FLAG],
        "n_jobs": [Interval(numbers.Integral, None), None],
    }

    def __init__(self, C=1.0, *, fit_intercept=True, tol=1e-4, solver="lbfgs", max_iter=100,
                 warm_start=False, penalty="deprecated", l1_ratio=0.0, dual=False,
                 intercept_scaling=1, class_weight=None, random_state=None, verbose=0,
                 n_jobs=None):
        self.C = C
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.solver = solver
        self.max_iter = max_iter
        self.warm_start = warm_start
        self.penalty = penalty
        self.l1_ratio = l1_ratio
        self.dual = dual
        self.intercept_scaling = intercept_scaling
        self.class_weight = class_weight
        self.random_state = random_state
        self.verbose = verbose
        self.n_jobs = n_jobs

    def _penalty(self):
        """(penalty, C, l1_ratio) that run, with scikit-learn 1.9's warnings."""
        l1_ratio, C = self.l1_ratio, self.C
        if self.penalty == "deprecated":
            if l1_ratio is None:
                warnings.warn("'l1_ratio=None' was deprecated in version 1.8 and will "
                              "trigger an error in 1.10. Use 0<=l1_ratio<=1 instead.",
                              FutureWarning, stacklevel=3)
            l1_ratio = l1_ratio or 0.0
            penalty = "l2" if l1_ratio == 0 else "l1" if l1_ratio == 1 else "elasticnet"
            return (None if np.isinf(C) else penalty), C, l1_ratio
        penalty = self.penalty
        warnings.warn("'penalty' was deprecated in version 1.8 and will be removed in"
                      " 1.10. To avoid this warning, leave 'penalty' set to its default"
                      " value and use 'l1_ratio' or 'C' instead."
                      " Use l1_ratio=0 instead of penalty='l2',"
                      " l1_ratio=1 instead of penalty='l1',"
                      " l1_ratio set to a float between 0 and 1 instead of"
                      " penalty='elasticnet', and C=np.inf instead of penalty=None.",
                      FutureWarning, stacklevel=3)
        if penalty != "elasticnet" and l1_ratio is not None and 0 < l1_ratio < 1:
            warnings.warn("l1_ratio parameter is only used when penalty is "
                          f"'elasticnet'. Got (penalty={penalty})", stacklevel=3)
        if (penalty == "l2" and l1_ratio != 0) or (penalty == "l1" and l1_ratio != 1):
            warnings.warn(f"Inconsistent values: penalty={penalty} with "
                          f"l1_ratio={l1_ratio}. penalty is deprecated. Please use "
                          "l1_ratio only.", stacklevel=3)
        if penalty is None:
            if C != 1.0:
                warnings.warn("Setting penalty=None will ignore the C and l1_ratio "
                              "parameters", stacklevel=3)
            return None, np.inf, 0.0
        ratio = {"l1": 1.0, "l2": 0.0}.get(penalty, l1_ratio)
        return penalty, C, ratio

    def fit(self, X, y, sample_weight=None):
        """Fit the model; ``sample_weight`` (n,) weighs each sample's loss."""
        penalty, C, l1_ratio = self._penalty()
        tol, max_iter, solver = self.tol, int(self.max_iter), self.solver
        if self.n_jobs is not None:
            warnings.warn("'n_jobs' has no effect since 1.8 and will be removed in 1.10. "
                          f"You provided 'n_jobs={self.n_jobs}', please leave it "
                          "unspecified.", FutureWarning, stacklevel=2)
        large_index = _is_sparse(X) and getattr(X, "indices", np.empty(0, np.int32)).dtype \
            != np.int32
        X, y = validate_sparse_or_dense(self, X, y, requires_y=True)
        classes = np.unique(y[:1])
        if y.ndim != 1 or np.any(y != y[:1]):  # two or more classes (or a shape to report)
            classes, y_idx = check_classification_targets(y)
        x_max = -np.inf
        if solver == "liblinear" and X.shape[0] and X.shape[1]:
            x_max = float((X.data if _is_sparse(X) else X).max(initial=-np.inf))
        message = _solver_rule(solver, penalty, l1_ratio, bool(self.dual), len(classes),
                               large_index, x_max)
        if message is not None:
            raise ValueError(message % classes[0] if "%r" in message else message)
        sw = None
        if sample_weight is not None or self.class_weight is not None:
            sw = check_sample_weight(sample_weight, X.shape[0], np.float64)
            sw = class_sample_weight(self.class_weight, classes, y_idx, sw)
        k = 1 if len(classes) == 2 else len(classes)
        fit_intercept = bool(self.fit_intercept)
        scaling = float(self.intercept_scaling)
        liblinear = solver == "liblinear" and fit_intercept
        if liblinear:  # the intercept as a penalised feature of value intercept_scaling
            import scipy.sparse as sp

            col = np.full((X.shape[0], 1), scaling, dtype=X.dtype)
            X = sp.hstack([X, col], format="csr") if _is_sparse(X) else np.hstack([X, col])
            fit_intercept = False
        obj = _Objective(X, y_idx, k, fit_intercept, C, sw, l1_ratio)
        p = self.n_features_in_
        theta = np.zeros((k, X.shape[1] + fit_intercept))
        if self.warm_start and getattr(self, "coef_", None) is not None \
                and self.coef_.shape == (k, p):
            theta[:, :p] = _dense(self.coef_)
            if fit_intercept or liblinear:
                theta[:, -1] = self.intercept_ / (scaling if liblinear else 1.0)
        if l1_ratio > 0 and penalty is not None:
            solve = _prox_newton
        elif solver == "lbfgs" or (solver in ("sag", "saga") and obj.k * (obj.p + 1) > 200):
            solve = _lbfgs
        else:
            solve = _newton
        # The kernels parallelise over row chunks with OpenMP and call BLAS inside; the
        # solvers' own BLAS work is on short vectors. Pin BLAS to one thread throughout.
        with _kernels.blas_single_threaded():
            if max_iter == 0:
                theta, n_iter, converged = theta.ravel(), 0, True
            else:
                theta, n_iter, converged = solve(obj, theta.ravel(), max_iter, tol)
        if not converged:
            message = _MESSAGES.get(solver, "{solver} failed to converge after {n} "
                                    "iteration(s). Increase the number of iterations "
                                    "(max_iter) or scale the data.")
            warnings.warn(message.format(solver=solver, n=n_iter),
                          _also_sklearns(ConvergenceWarning),
                          stacklevel=2)
        coef, intercept = obj.unpack(theta)
        if liblinear:
            coef, intercept = np.ascontiguousarray(coef[:, :p]), coef[:, p] * scaling
        if k > 1 and fit_intercept:
            intercept = intercept - intercept.mean()  # the softmax-invariant offset
        if k > 1 and obj.lam == 0 and obj.l1 == 0:
            coef = coef - coef.mean(axis=0)  # unpenalised: the minimum-norm minimiser
        if solver == "liblinear":
            coef, intercept = coef.astype(np.float64), intercept.astype(np.float64)
        self.classes_ = classes
        self.coef_ = coef
        self.intercept_ = intercept
        self.n_iter_ = np.array([n_iter], dtype=np.int32)
        return self

    def predict_proba(self, X):
        """Class probabilities: [1 - sigmoid(z), sigmoid(z)] or softmax(z), (n, K)."""
        check_is_fitted(self, "coef_")
        X = validate_sparse_or_dense(self, X, reset=False)
        coef = _dense(self.coef_).astype(X.dtype)
        intercept = self.intercept_.astype(X.dtype)
        if _is_sparse(X):
            import scipy.special

            Z = scores(X, coef, intercept)
            out = scipy.special.expit(Z) if Z.shape[1] == 1 else scipy.special.softmax(Z, axis=1)
            return np.hstack([1 - out, out]) if Z.shape[1] == 1 else out
        out = np.empty((X.shape[0], coef.shape[0]), dtype=X.dtype)
        with _kernels.blas_single_threaded():
            _logistic = _kernels.load("_logistic")
            _logistic.predict_proba(X, coef, intercept, out,
                                    _kernels.threads_for(X.size * coef.shape[0], 2**20))
        if coef.shape[0] == 1:
            out = np.hstack([1 - out, out])
        return out

    def predict_log_proba(self, X):
        """log of :meth:`predict_proba`."""
        return np.log(self.predict_proba(X))

    def sparsify(self):
        """Store ``coef_`` as a SciPy CSR matrix (scikit-learn's ``SparseCoefMixin``)."""
        import scipy.sparse as sp

        check_is_fitted(self, "coef_")
        self.coef_ = sp.csr_matrix(self.coef_)
        return self

    def densify(self):
        """Store ``coef_`` as a dense array again (undoes :meth:`sparsify`)."""
        check_is_fitted(self, "coef_")
        self.coef_ = _dense(self.coef_)
        return self


def _dense(a):
    return a.toarray() if _is_sparse(a) else a
