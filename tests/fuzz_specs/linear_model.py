"""Fuzz specs of fastml.linear_model."""

import numpy as np

from fastml import linear_model as lm
from fuzz_specs import Spec, estimator


def _regression(rng, dtype):
    X = rng.standard_normal((15, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.standard_normal(15)
    return {"X": X.astype(dtype), "y": y.astype(dtype)}


def _classification(rng, dtype):
    X = rng.standard_normal((20, 3))
    y = (X[:, 0] - X[:, 1] + 0.3 * rng.standard_normal(20) > 0).astype(int)
    return {"X": X.astype(dtype), "y": y}


_ALPHA = [-1.0, np.nan, "big"]

SPECS = [
    estimator("fastml.linear_model.LinearRegression", lm.LinearRegression, _regression,
              bad_params={"solver": ["magic"]}),
    estimator("fastml.linear_model.Ridge", lm.Ridge, _regression,
              bad_params={"alpha": _ALPHA, "solver": ["magic"]}),
    estimator("fastml.linear_model.Lasso", lm.Lasso, _regression, params={"alpha": 0.1},
              bad_params={"alpha": _ALPHA, "max_iter": [0, -1], "tol": [-1.0],
                          "selection": ["best"]}),
    estimator("fastml.linear_model.ElasticNet", lm.ElasticNet, _regression,
              params={"alpha": 0.1},
              bad_params={"alpha": _ALPHA, "l1_ratio": [-0.5, 1.5, np.nan], "max_iter": [0]}),
    estimator("fastml.linear_model.LogisticRegression", lm.LogisticRegression, _classification,
              method="predict_proba",
              bad_params={"C": [0.0, -1.0, np.nan], "max_iter": [-1], "solver": ["sag?"],
                          "tol": [-1.0], "l1_ratio": [-0.1, 1.5], "penalty": ["l3"],
                          "intercept_scaling": [0.0], "class_weight": ["bal", 3]}),
    estimator("fastml.linear_model.Perceptron", lm.Perceptron, _classification,
              method="decision_function", also=("fastml.nn.Perceptron",),
              bad_params={"eta0": [0.0, -1.0], "max_iter": [0, -1], "n_iter_no_change": [0],
                          "alpha": [-1.0], "l1_ratio": [1.5], "penalty": ["l3"]}),
    Spec("fastml.linear_model.lasso_path",
         lambda rng, dtype: {**_regression(rng, dtype), "n_alphas": 5},
         lambda X, y, **kw: lm.lasso_path(X, y, **kw), same_length=(("X", "y"),),
         aliases={"X": ("sample", "feature")},
         bad_params={"n_alphas": [0, -1], "eps": [0.0, -1.0], "alphas": [np.array([-1.0])]}),
    Spec("fastml.linear_model.enet_path",
         lambda rng, dtype: {**_regression(rng, dtype), "n_alphas": 5, "l1_ratio": 0.5},
         lambda X, y, **kw: lm.enet_path(X, y, **kw), same_length=(("X", "y"),),
         aliases={"X": ("sample", "feature")},
         bad_params={"l1_ratio": [-0.5, 1.5, np.nan], "n_alphas": [0]}),
]
