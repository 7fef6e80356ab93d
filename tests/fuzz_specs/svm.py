"""Fuzz specs of fastml.svm."""

import numpy as np

from fastml import svm
from fuzz_specs import estimator


def _data(rng, dtype):
    X = rng.standard_normal((20, 3))
    y = (X[:, 0] + 0.3 * rng.standard_normal(20) > 0).astype(int)
    return {"X": X.astype(dtype), "y": y}


SPECS = [
    estimator("fastml.svm.SVC", svm.SVC, _data, method="decision_function",
              bad_params={"C": [0.0, -1.0, np.nan], "kernel": ["cubic"], "gamma": [-1.0, "big"],
                          "degree": [-1], "tol": [-1.0]}),
    estimator("fastml.svm.LinearSVC", svm.LinearSVC, _data, method="decision_function",
              params={"random_state": 0},
              bad_params={"C": [0.0, -1.0, np.nan], "loss": ["l1"], "max_iter": [0],
                          "tol": [-1.0]}),
]
