"""Shared pieces of the linear models: centring, intercepts, prediction."""


import numpy as np

from fastml._validation import check_array, check_n_features
from fastml.base import check_is_fitted, validate_data

SPARSE_FORMATS = ("csc", "csr")


def is_sparse(X):
    """True for a SciPy sparse matrix or array (without importing SciPy)."""
    return hasattr(X, "tocsc") and hasattr(X, "nnz")


def validate_xy(est, X, y=None, *, reset=True, **kwargs):
    """:func:`fastml.base.validate_data` that also takes SciPy sparse ``X``, returned as
    a canonical CSC/CSR matrix (``check_array(accept_sparse=...)``); ``y`` gets the
    same checks as with dense ``X``."""
    if not is_sparse(X):
        return validate_data(est, X, y, reset=reset, **kwargs)
    X = check_array(X, "X", ndim=2, accept_sparse=SPARSE_FORMATS)
    if y is None and not kwargs.get("requires_y"):
        if not reset and hasattr(est, "n_features_in_"):
            check_n_features(X.shape[1], est, est.n_features_in_)
        return X
    # the dense checks of y and of the shape, on an (n, 1) stand-in for X
    _, y = validate_data(est, np.zeros((X.shape[0], 1), dtype=X.dtype), y, reset=reset,
                         **kwargs)
    if reset:
        est.n_features_in_ = X.shape[1]
    return X, y


def weighted_offsets(X, y, sw, fit_intercept):
    """Weighted column means x_off = X'sw / sum(sw), y_off = y'sw / sum(sw) (zeros
    without intercept; ``sw=None`` is the plain mean); X may be sparse."""
    if not fit_intercept:
        return np.zeros(X.shape[1], dtype=X.dtype), np.zeros(y.shape[1:], dtype=X.dtype)
    if sw is None:
        x_off = np.asarray(X.mean(axis=0)).reshape(-1)
        return x_off.astype(X.dtype, copy=False), y.mean(axis=0)
    total = sw.sum()
    return ((X.T @ sw) / total).astype(X.dtype), ((sw @ y) / total).astype(X.dtype)


def overwrite_input(est, X_in, x_off, sw):
    """``copy_X=False``: leave the caller's dense float X centred on ``x_off`` (rows scaled
    by sqrt(sw) when weighted) in place, as scikit-learn's ``_preprocess_data`` does.
    Other inputs (lists, ints, sparse, read-only) are left alone."""
    if est.copy_X or not isinstance(X_in, np.ndarray) or X_in.dtype.kind != "f" or \
            not X_in.flags.writeable or X_in.ndim != 2:
        return
    X_in -= x_off.astype(X_in.dtype)
    if sw is not None:
        X_in *= np.sqrt(sw).astype(X_in.dtype)[:, None]


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
        X = validate_xy(self, X, reset=False)
        coef = np.asarray(self.coef_, dtype=X.dtype)
        return np.asarray(X @ coef.T) + np.asarray(self.intercept_, dtype=X.dtype)

    def predict(self, X):
        """y_hat = X w + b."""
        return self._decision(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
