"""scikit-learn-compatible estimator base classes, without depending on scikit-learn.

``get_params`` / ``set_params`` read the constructor signature, fitted attributes end
with an underscore, and ``__sklearn_tags__`` (imported lazily from scikit-learn, which
only calls it when installed) lets ``sklearn.utils.estimator_checks.check_estimator``
run on every fastml estimator.
"""

import functools
import inspect
import sys
import warnings

import numpy as np

from fastml._errors import DataConversionWarning, NotFittedError
from fastml._validation import (
    check_array,
    check_consistent_length,
    check_n_features,
    check_params,
    check_samples_array,
    check_y_given,
)


def _checks_params_first(method):
    """``method`` (fit, partial_fit) preceded by the estimator's parameter check."""
    @functools.wraps(method)
    def checked(self, *args, **kwargs):
        self._validate_params()
        return method(self, *args, **kwargs)

    checked._checks_params = True
    return checked


class BaseEstimator:
    """Parameters are the constructor's keyword arguments, stored unchanged.

    A subclass declares them once in ``_parameter_constraints`` (name -> list of accepted
    kinds, see :func:`fastml._validation.check_params`, as scikit-learn's table of the
    same name); they are checked when ``fit``, ``partial_fit``, ``fit_predict`` or
    ``fit_transform`` is called, before any data is looked at, so ``fit`` itself only
    converts them.
    """

    _parameter_constraints = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name in ("fit", "partial_fit", "fit_predict", "fit_transform"):
            method = cls.__dict__.get(name)
            if method is not None and not getattr(method, "_checks_params", False):
                setattr(cls, name, _checks_params_first(method))

    def _validate_params(self):
        if self._parameter_constraints:
            check_params({name: getattr(self, name) for name in self._parameter_constraints},
                         self._parameter_constraints)

    @classmethod
    def _get_param_names(cls):
        init = cls.__init__
        if init is object.__init__:
            return []
        params = inspect.signature(init).parameters.values()
        return sorted(p.name for p in params
                      if p.name != "self" and p.kind != p.VAR_KEYWORD)

    def get_params(self, deep=True):
        out = {}
        for key in self._get_param_names():
            value = getattr(self, key)
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                out.update((f"{key}__{k}", v) for k, v in value.get_params().items())
            out[key] = value
        return out

    def set_params(self, **params):
        valid = self.get_params(deep=True)
        nested = {}
        for key, value in params.items():
            name, _, sub = key.partition("__")
            if name not in valid:
                raise ValueError(f"invalid parameter {name!r} for estimator "
                                 f"{type(self).__name__}; valid: {sorted(self._get_param_names())}")
            if sub:
                nested.setdefault(name, {})[sub] = value
            else:
                setattr(self, name, value)
        for name, sub_params in nested.items():
            getattr(self, name).set_params(**sub_params)
        return self

    def __repr__(self):
        defaults = {p.name: p.default
                    for p in inspect.signature(type(self).__init__).parameters.values()}
        changed = []
        for k in self._get_param_names():
            v = getattr(self, k)
            d = defaults.get(k, inspect.Parameter.empty)
            same = v is d or (type(v) is type(d) and not isinstance(v, np.ndarray) and v == d)
            if not same:
                changed.append(f"{k}={v!r}")
        return f"{type(self).__name__}({', '.join(changed)})"

    def __sklearn_tags__(self):
        from sklearn.utils import Tags, TargetTags

        return Tags(estimator_type=None, target_tags=TargetTags(required=False),
                    transformer_tags=None, regressor_tags=None, classifier_tags=None)


class RegressorMixin:
    """``score`` is the coefficient of determination R^2 = 1 - SS_res / SS_tot."""

    def __sklearn_tags__(self):
        from sklearn.utils import RegressorTags

        tags = super().__sklearn_tags__()
        tags.estimator_type = "regressor"
        tags.regressor_tags = RegressorTags()
        tags.target_tags.required = True
        return tags

    def score(self, X, y, sample_weight=None):
        y = np.asarray(y, dtype=np.float64)
        pred = np.asarray(self.predict(X), dtype=np.float64).reshape(y.shape)
        w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, float)
        w = w.reshape((-1,) + (1,) * (y.ndim - 1))
        ss_res = (w * (y - pred) ** 2).sum(axis=0)
        ss_tot = (w * (y - np.average(y, axis=0, weights=w.ravel())) ** 2).sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            r2 = np.where(ss_tot > 0, 1 - ss_res / np.where(ss_tot > 0, ss_tot, 1),
                          np.where(ss_res > 0, 0.0, 1.0))
        return float(np.mean(r2))


class ClassifierMixin:
    """``score`` is the (weighted) accuracy."""

    def __sklearn_tags__(self):
        from sklearn.utils import ClassifierTags

        tags = super().__sklearn_tags__()
        tags.estimator_type = "classifier"
        tags.classifier_tags = ClassifierTags()
        tags.target_tags.required = True
        return tags

    def score(self, X, y, sample_weight=None):
        return float(np.average(self.predict(X) == np.asarray(y), weights=sample_weight))


class TransformerMixin:
    """Mixin of transformers: ``fit_transform(X)`` is ``fit(X).transform(X)`` (as
    scikit-learn's mixin of this name)."""

    def __sklearn_tags__(self):
        from sklearn.utils import TransformerTags

        tags = super().__sklearn_tags__()
        tags.transformer_tags = TransformerTags()
        return tags

    def fit_transform(self, X, y=None, **fit_params):
        return self.fit(X, y, **fit_params).transform(X)


class ClassNamePrefixFeaturesOutMixin:
    """``get_feature_names_out`` for transformers whose outputs are new features named
    ``<lowercase class name><i>`` (as scikit-learn's mixin of this name): ``kmeans0``,
    ``pca1``, ...; the subclass gives their number as ``_n_features_out``."""

    def get_feature_names_out(self, input_features=None):
        """Output feature names, an object array of ``_n_features_out`` strings."""
        check_is_fitted(self)
        if input_features is not None and len(input_features) != self.n_features_in_:
            raise ValueError(f"input_features should have length equal to number of "
                             f"features ({self.n_features_in_}), got {len(input_features)}")
        prefix = type(self).__name__.lower()
        return np.asarray([f"{prefix}{i}" for i in range(self._n_features_out)], dtype=object)


class ClusterMixin:
    """Mixin of clusterers: ``fit_predict(X)`` fits and returns ``labels_`` (as
    scikit-learn's mixin of this name)."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.estimator_type = "clusterer"
        if tags.transformer_tags is not None:
            tags.transformer_tags.preserves_dtype = []
        return tags

    def fit_predict(self, X, y=None, **kwargs):
        self.fit(X, y, **kwargs)
        return self.labels_


class DensityMixin:
    """Mixin of density estimators: ``score(X)`` is the mean of ``score_samples(X)``, the
    average log-density per sample (as scikit-learn's mixin of this name)."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.estimator_type = "density_estimator"
        return tags

    def score(self, X, y=None):
        return float(np.mean(self.score_samples(X)))


def check_is_fitted(estimator, attributes=None):
    """Raise :class:`fastml.NotFittedError` unless ``fit`` has run."""
    if attributes is None:
        fitted = any(k.endswith("_") and not k.startswith("__") for k in vars(estimator))
    else:
        names = [attributes] if isinstance(attributes, str) else attributes
        fitted = all(hasattr(estimator, a) for a in names)
    if not fitted:
        raise _also_sklearns(NotFittedError)(
            f"This {type(estimator).__name__} instance is not fitted yet. Call 'fit' with "
            "appropriate arguments before using this estimator.")


def _also_sklearns(cls):
    """``cls``, or once scikit-learn is loaded a subclass that is also its class of that name.

    fastml does not import scikit-learn, but code that already has (its estimator
    checks, user pipelines) catches or filters its own ``NotFittedError`` and
    ``DataConversionWarning``; what fastml raises or warns is then an instance of both.
    """
    sklearn_exceptions = sys.modules.get("sklearn.exceptions")
    if sklearn_exceptions is None:
        return cls
    if cls not in _SKLEARN_TWINS:
        _SKLEARN_TWINS[cls] = type(cls.__name__, (cls, getattr(sklearn_exceptions,
                                                               cls.__name__)),
                                   {"__module__": "fastml"})
    return _SKLEARN_TWINS[cls]


_SKLEARN_TWINS = {}


def validate_data(estimator, X, y=None, *, reset=True, dtype="float", y_numeric=False,
                  multi_output=False, ensure_min_samples=1, requires_y=False):
    """Check ``X`` (and ``y``) for an estimator, recording or checking ``n_features_in_``.

    Returns ``X`` as a C-contiguous float array (and ``y`` when given). Answers follow
    scikit-learn's, so its estimator checks recognise them: a 1-D ``X`` asks to reshape,
    complex ``X`` is a ``ValueError``, object arrays of numbers are converted, a missing
    ``y`` (``requires_y``) is named, and a column-vector ``y`` where a 1-D one is
    expected is raveled with a :class:`fastml.DataConversionWarning`.
    """
    X = check_samples_array(X, "X", dtype=dtype, ensure_min_samples=ensure_min_samples)
    if reset:
        estimator.n_features_in_ = X.shape[1]
    elif hasattr(estimator, "n_features_in_"):
        check_n_features(X.shape[1], estimator, estimator.n_features_in_)
    if y is None:
        if requires_y:
            check_y_given(y, estimator)
        return X
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1 and not multi_output:
        warnings.warn("A column-vector y was passed when a 1d array was expected. Please "
                      "change the shape of y to (n_samples,), for example using ravel().",
                      _also_sklearns(DataConversionWarning), stacklevel=2)
        y = y.ravel()
    y_ndim = (1, 2) if multi_output else 1
    if y_numeric:
        y = check_array(y.astype(np.float64) if y.dtype.kind == "O" else y, "y",
                        ndim=y_ndim, dtype=X.dtype)
    elif y.dtype.kind not in "OUS":  # class labels: any dtype, but no NaN among numbers
        check_array(y, "y", ndim=y_ndim, dtype=None, order=None, finite=y.dtype.kind in "fc")
    check_consistent_length(("X", X), ("y", y))
    return X, y


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
