"""``ParallelPostFit``: fit in memory, then predict/transform/score block by block."""

import numpy as np

from fastml.base import BaseEstimator, check_is_fitted
from fastml.distributed._dask import (
    as_dask_array,
    is_dask_collection,
    one_thread_per_task,
    require,
)


def _is_classifier(estimator):
    return getattr(estimator, "_estimator_type", None) == "classifier" or \
        hasattr(estimator, "classes_") and hasattr(estimator, "predict_proba")


def _is_regressor(estimator):
    return getattr(estimator, "_estimator_type", None) == "regressor" or \
        type(estimator).__name__.endswith("Regressor")


def _call_block(block, estimator, method, kwargs):
    """``estimator.method(block, **kwargs)`` on one block, fastml on one thread (Dask runs
    ``nthreads`` blocks at a time on each worker). Several outputs (``return_std``) are
    stacked as columns."""
    with one_thread_per_task():
        out = getattr(estimator, method)(block, **kwargs)
    if isinstance(out, tuple):
        return np.stack([np.asarray(o) for o in out], axis=-1)
    return np.asarray(out)


class ParallelPostFit(BaseEstimator):
    """Fit on one machine, then predict, transform and score a Dask collection in blocks.

    The same results as the wrapped estimator on the whole array in memory: every
    prediction of a row depends only on that row, so ``predict(X)`` is the row-wise
    concatenation of ``estimator.predict(X_b)`` over the row blocks ``X_b`` of ``X``
    (computed on the workers; nothing is gathered on the client until ``.compute()``).
    Works for every fastml estimator and any scikit-learn-compatible one, e.g.
    ``ParallelPostFit(GaussianProcessRegressor(...)).predict(X, return_std=True)`` gives
    the predictive means and standard deviations of a dask array of test points.

    Parameters
    ----------
    estimator : estimator
        Fitted in memory by :meth:`fit` (a Dask collection given to ``fit`` is
        computed first: the training set must fit on one machine). NumPy input to any
        method is passed to the estimator unchanged.

    Attributes
    ----------
    estimator_ : the fitted estimator (``estimator`` itself when it was fitted already
        and :meth:`fit` was not called).
    """

    def __init__(self, estimator):
        self.estimator = estimator

    def fit(self, X, y=None, **fit_params):
        """``estimator.fit(X, y, **fit_params)`` in memory; returns self."""
        X = X.compute() if is_dask_collection(X) else X
        y = y.compute() if is_dask_collection(y) else y
        self.estimator_ = self.estimator.fit(X, y, **fit_params) if y is not None \
            else self.estimator.fit(X, **fit_params)
        if self.estimator_ is None:
            self.estimator_ = self.estimator
        for attr in ("classes_", "n_features_in_"):
            if hasattr(self.estimator_, attr):
                setattr(self, attr, getattr(self.estimator_, attr))
        return self

    def _fitted(self):
        if hasattr(self, "estimator_"):
            return self.estimator_
        check_is_fitted(self.estimator)
        return self.estimator

    def _blockwise(self, method, X, **kwargs):
        estimator = self._fitted()
        if not hasattr(estimator, method):
            raise AttributeError(f"{type(estimator).__name__} has no method {method!r}")
        if not is_dask_collection(X):  # in memory: the estimator's own call
            return getattr(estimator, method)(X, **kwargs)
        da = require("dask.array")
        X = as_dask_array(X, "X")
        probe = self._probe(X, estimator, method, kwargs)
        chunks = (X.chunks[0],) + probe.shape[1:]
        out = da.map_blocks(_call_block, X, estimator, method, kwargs, dtype=probe.dtype,
                            chunks=chunks, drop_axis=list(range(probe.ndim, X.ndim)),
                            new_axis=list(range(X.ndim, probe.ndim)), meta=probe[:0])
        n_out = 2 if kwargs.get("return_std") or kwargs.get("return_cov") else 1
        if n_out > 1:
            return tuple(out[..., i] for i in range(n_out))
        return out

    @staticmethod
    def _probe(X, estimator, method, kwargs):
        """The method's output on one row, for the result's dtype and shape: a row of
        zeros (no round trip to the cluster), or X's first row if zeros are rejected."""
        try:
            return _call_block(np.zeros((1,) + X.shape[1:], dtype=X.dtype), estimator, method,
                               kwargs)
        except (ValueError, TypeError, ArithmeticError):
            return _call_block(X[:1].compute(), estimator, method, kwargs)

    def predict(self, X, **kwargs):
        """``estimator.predict`` block by block (a dask array for Dask input)."""
        return self._blockwise("predict", X, **kwargs)

    def predict_proba(self, X):
        """``estimator.predict_proba`` block by block."""
        return self._blockwise("predict_proba", X)

    def predict_log_proba(self, X):
        """``estimator.predict_log_proba`` block by block."""
        return self._blockwise("predict_log_proba", X)

    def decision_function(self, X):
        """``estimator.decision_function`` block by block."""
        return self._blockwise("decision_function", X)

    def transform(self, X):
        """``estimator.transform`` block by block."""
        return self._blockwise("transform", X)

    def score(self, X, y, sample_weight=None):
        """The estimator's score over all blocks, reduced exactly as in memory.

        Classifiers: weighted accuracy ``sum w [y == y_hat] / sum w``; regressors:
        R^2 = 1 - sum w (y - y_hat)^2 / sum w (y - ybar_w)^2 (averaged over outputs);
        other estimators: ``estimator.score`` on the computed arrays.
        """
        estimator = self._fitted()
        if not is_dask_collection(X):
            return estimator.score(X, y) if sample_weight is None else \
                estimator.score(X, y, sample_weight=sample_weight)
        da = require("dask.array")
        y = as_dask_array(y, "y")
        w = da.ones(y.shape[0], chunks=y.chunks[0]) if sample_weight is None else \
            as_dask_array(sample_weight, "sample_weight")
        if _is_classifier(estimator):
            hit = (self.predict(X) == y).astype(float)
            return float(((w * hit).sum() / w.sum()).compute())
        if _is_regressor(estimator):
            y_hat = self.predict(X)
            wc = w[:, None] if y.ndim == 2 else w
            ybar = (wc * y).sum(axis=0) / w.sum()
            ss_res = (wc * (y - y_hat) ** 2).sum(axis=0)
            ss_tot = (wc * (y - ybar) ** 2).sum(axis=0)
            return float(da.mean(1 - ss_res / ss_tot).compute())
        X, y = X.compute(), y.compute()
        return estimator.score(X, y) if sample_weight is None else \
            estimator.score(X, y, sample_weight=np.asarray(sample_weight))
