"""Rosenblatt's perceptron (compiled update loop, one-vs-rest), optionally penalised."""

import numbers

import numpy as np

from fastml import _kernels
from fastml._validation import (
    FLAG,
    RANDOM_STATE,
    InstanceOf,
    Interval,
    Options,
    check_classification_targets,
    check_random_state,
)
from fastml.base import BaseEstimator, ClassifierMixin
from fastml.linear_model._logistic import (
    SparseLinearClassifierMixin,
    class_sample_weight,
    validate_sparse_or_dense,
)


class Perceptron(SparseLinearClassifierMixin, ClassifierMixin, BaseEstimator):
    """Rosenblatt's perceptron: on every mistake t_i (w'x_i + b) <= 0, w += eta t_i x_i.

    t_i = +1 for the positive class and -1 otherwise; with more than two classes one
    perceptron per class is trained (one-vs-rest, in parallel) and the prediction is the
    class with the largest score. Samples are visited in a new random order each epoch
    (``shuffle``). A problem stops after an epoch without mistakes (on linearly separable
    data this happens after at most (R / margin)^2 updates, Novikoff 1962), when the
    perceptron loss sum_i max(0, -t_i f(x_i)) has not decreased by ``tol * n`` for
    ``n_iter_no_change`` epochs, or after ``max_iter`` epochs.

    ``penalty`` ("l2", "l1", "elasticnet"; strength ``alpha``, mix ``l1_ratio``),
    ``class_weight`` (s_i = the weight of the sample's class) or sparse X run scikit-learn's
    SGDClassifier(loss="perceptron", learning_rate="constant") update instead (see
    :mod:`fastml.kernels._perceptron_sgd`): per sample, the L2 shrink
    w <- w max(0, 1 - (1 - l1_ratio) eta alpha), then w += eta s_i t_i x_i on a mistake,
    then the cumulative L1 truncation, with the same stopping rule; the intercept
    step is eta s_i t_i (no sparse intercept decay). ``verbose`` and ``n_jobs`` are
    accepted and change nothing.
    """

    _parameter_constraints = {
        "fit_intercept": [FLAG],
        "max_iter": [Interval(numbers.Integral, 1)],
        "tol": [None, Interval(numbers.Real, 0)],
        "shuffle": [FLAG],
        "eta0": [Interval(numbers.Real, 0, closed="neither")],
        "n_iter_no_change": [Interval(numbers.Integral, 1)],
        "random_state": [RANDOM_STATE],
        "warm_start": [FLAG],
        "penalty": [Options("l2", "l1", "elasticnet"), None],
        "alpha": [Interval(numbers.Real, 0)],
        "l1_ratio": [Interval(numbers.Real, 0, 1)],
        "class_weight": [InstanceOf(dict, "a dict, 'balanced' or None"), Options("balanced"),
                         None],
        "verbose": [Interval(numbers.Integral, 0), FLAG],
        "n_jobs": [Interval(numbers.Integral, None), None],
    }

    def __init__(self, *, fit_intercept=True, max_iter=1000, tol=1e-3, shuffle=True,
                 eta0=1.0, n_iter_no_change=5, random_state=0, warm_start=False,
                 penalty=None, alpha=0.0001, l1_ratio=0.15, class_weight=None, verbose=0,
                 n_jobs=None):
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.shuffle = shuffle
        self.eta0 = eta0
        self.n_iter_no_change = n_iter_no_change
        self.random_state = random_state
        self.warm_start = warm_start
        self.penalty = penalty
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.class_weight = class_weight
        self.verbose = verbose
        self.n_jobs = n_jobs

    def fit(self, X, y):
        """Fit the perceptron(s) (one per class for more than two classes)."""
        _linear = _kernels.load("_linear")
        fit_intercept, shuffle = bool(self.fit_intercept), bool(self.shuffle)
        max_iter, n_no_change = int(self.max_iter), int(self.n_iter_no_change)
        tol = -np.inf if self.tol is None else self.tol
        eta = self.eta0
        rng = check_random_state(self.random_state)
        X, y = validate_sparse_or_dense(self, X, y, requires_y=True)
        classes, y_idx = check_classification_targets(y)
        k = 1 if len(classes) == 2 else len(classes)
        target = np.array([1], dtype=np.int32) if k == 1 else np.arange(k, dtype=np.int32)
        W = np.zeros((k, X.shape[1]), dtype=X.dtype)
        b = np.zeros(k, dtype=X.dtype)
        if self.warm_start and getattr(self, "coef_", None) is not None \
                and self.coef_.shape == W.shape:
            W[:] = self.coef_
            b[:] = self.intercept_
        seeds = rng.integers(1, 2**63, size=k, dtype=np.uint64)
        n_iter = np.zeros(k, dtype=np.int32)
        sparse = hasattr(X, "tocsr")
        if self.penalty is None and self.class_weight is None and not sparse:
            _linear.perceptron(X, y_idx, target, W, b, float(eta), fit_intercept, max_iter,
                               float(tol), n_no_change, shuffle, seeds, n_iter,
                               min(k, _kernels.threads_for(X.size * k, 2**18)))
        else:
            sw = np.ones(X.shape[0])
            sw = class_sample_weight(self.class_weight, classes, y_idx, sw)
            self._fit_sgd(X, y_idx, target, sw, W, b, seeds, n_iter, tol)
        self.classes_ = classes
        self.coef_ = W
        self.intercept_ = b
        self.n_iter_ = int(n_iter.max())
        return self

    def _fit_sgd(self, X, y_idx, target, sw, W, b, seeds, n_iter, tol):
        """One penalised SGD perceptron per row of W (binary: one), on CSR rows."""
        import scipy.sparse as sp

        sgd = _kernels.load("_perceptron_sgd").sgd
        X = sp.csr_matrix(X, dtype=np.float64)
        penalty = self.penalty
        l1_ratio = {"l1": 1.0, "l2": 0.0, None: 0.0}.get(penalty, float(self.l1_ratio))
        alpha = float(self.alpha) if penalty is not None else 0.0
        for c in range(W.shape[0]):
            t = np.where(y_idx == target[c], 1.0, -1.0)
            w = W[c].astype(np.float64)
            bc = b[c : c + 1].astype(np.float64)
            n_iter[c] = sgd(X.data, X.indices, X.indptr, t, sw, w, bc, float(self.eta0),
                            alpha, l1_ratio, penalty in ("l2", "elasticnet"),
                            penalty in ("l1", "elasticnet"), bool(self.fit_intercept),
                            int(self.max_iter), float(tol), int(self.n_iter_no_change),
                            int(seeds[c] % 2**31), bool(self.shuffle))
            W[c], b[c] = w, bc[0]
