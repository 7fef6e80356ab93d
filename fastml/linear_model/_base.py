"""Shared pieces of the linear models: centring, intercepts, prediction."""


import numpy as np

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
