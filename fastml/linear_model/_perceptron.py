"""Rosenblatt's perceptron (compiled update loop, one-vs-rest)."""

import numbers

import numpy as np

from fastml import _kernels
from fastml._validation import (
    FLAG,
    RANDOM_STATE,
    Interval,
    check_classification_targets,
    check_random_state,
)
from fastml.base import BaseEstimator, ClassifierMixin, LinearClassifierMixin, validate_data


class Perceptron(LinearClassifierMixin, ClassifierMixin, BaseEstimator):
    """Rosenblatt's perceptron: on every mistake t_i (w'x_i + b) <= 0, w += eta t_i x_i.

    t_i = +1 for the positive class and -1 otherwise; with more than two classes one
    perceptron per class is trained (one-vs-rest, in parallel) and the prediction is the
    class with the largest score. Samples are visited in a new random order each epoch
    (``shuffle``). A problem stops after an epoch without mistakes (on linearly separable
    data this happens after at most (R / margin)^2 updates, Novikoff 1962), when the
    perceptron loss sum_i max(0, -t_i f(x_i)) has not decreased by ``tol * n`` for
    ``n_iter_no_change`` epochs, or after ``max_iter`` epochs.
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
    }

    def __init__(self, *, fit_intercept=True, max_iter=1000, tol=1e-3, shuffle=True,
                 eta0=1.0, n_iter_no_change=5, random_state=0, warm_start=False):
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.shuffle = shuffle
        self.eta0 = eta0
        self.n_iter_no_change = n_iter_no_change
        self.random_state = random_state
        self.warm_start = warm_start

    def fit(self, X, y):
        _linear = _kernels.load("_linear")
        fit_intercept, shuffle = bool(self.fit_intercept), bool(self.shuffle)
        max_iter, n_no_change = int(self.max_iter), int(self.n_iter_no_change)
        tol = -np.inf if self.tol is None else self.tol
        eta = self.eta0
        rng = check_random_state(self.random_state)
        X, y = validate_data(self, X, y, requires_y=True)
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
        _linear.perceptron(X, y_idx, target, W, b, float(eta), fit_intercept, max_iter,
                           float(tol), n_no_change, shuffle, seeds, n_iter,
                           min(k, _kernels.threads_for(X.size * k, 2**18)))
        self.classes_ = classes
        self.coef_ = W
        self.intercept_ = b
        self.n_iter_ = int(n_iter.max())
        return self
