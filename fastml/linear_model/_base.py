"""Shared pieces of the linear models: centring, prediction, class labels, parameters."""

import numbers

import numpy as np

from fastml._validation import check_array, check_scalar
from fastml.base import check_is_fitted, validate_data


def center_data(X, y, fit_intercept):
    """X - mean(X), y - mean(y) (copies) and the offsets; no-op offsets without intercept.

    Fitting on centred data and setting b = y_mean - x_mean' w gives the unpenalised
    intercept of every least-squares model here.
    """
    if not fit_intercept:
        x_off = np.zeros(X.shape[1], dtype=X.dtype)
        y_off = np.zeros(y.shape[1:], dtype=X.dtype)
        return X, y, x_off, y_off
    x_off = X.mean(axis=0)
    y_off = y.mean(axis=0)
    return X - x_off, y - y_off, x_off, y_off


def set_intercept(est, x_off, y_off, fit_intercept):
    """intercept_ = y_mean - coef_ x_mean (zeros without intercept), a scalar for 1-D y."""
    b = np.asarray(y_off - est.coef_ @ x_off if fit_intercept else np.zeros_like(y_off))
    est.intercept_ = b[()] if b.ndim == 0 else b


def check_nonneg(value, name):
    return check_scalar(value, name, numbers.Real, min_val=0)


def check_positive(value, name):
    return check_scalar(value, name, numbers.Real, min_val=0, include_boundaries="neither")


def check_bool(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__}")
    return bool(value)


class LinearModelMixin:
    """``predict`` / ``decision_function`` = X coef_' + intercept_ for regressors."""

    def _decision(self, X):
        check_is_fitted(self, "coef_")
        X = validate_data(self, X, reset=False)
        coef = np.asarray(self.coef_, dtype=X.dtype)
        return X @ coef.T + np.asarray(self.intercept_, dtype=X.dtype)

    def predict(self, X):
        """y_hat = X w + b."""
        return self._decision(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


def check_classification_targets(y):
    """Encode class labels; reject continuous targets and fewer than two classes.

    Returns (classes_, y as int32 indices into classes_).
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D class labels, got shape {y.shape}")
    if y.dtype.kind == "f":
        check_array(y, "y", ndim=1, dtype=None)
        if not np.all(y == np.round(y)):
            raise ValueError("Unknown label type: continuous. Classifiers need discrete "
                             "class labels (integers or strings), not a continuous target")
    if y.dtype.kind not in "biufUSO":
        raise ValueError(f"Unknown label type: dtype {y.dtype}")
    classes, y_idx = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ValueError("The number of classes has to be greater than one; got "
                         f"{len(classes)} class")
    return classes, np.ascontiguousarray(y_idx, dtype=np.int32)


class LinearClassifierMixin:
    """Scores X coef_' + intercept_; label = classes_[argmax] (binary: score > 0)."""

    def decision_function(self, X):
        """Signed scores: shape (n,) for two classes (positive means classes_[1])."""
        check_is_fitted(self, "coef_")
        X = validate_data(self, X, reset=False)
        scores = X @ self.coef_.astype(X.dtype, copy=False).T + \
            self.intercept_.astype(X.dtype, copy=False)
        return scores.ravel() if scores.shape[1] == 1 else scores

    def predict(self, X):
        scores = self.decision_function(X)
        idx = (scores > 0).astype(int) if scores.ndim == 1 else scores.argmax(axis=1)
        return self.classes_[idx]
