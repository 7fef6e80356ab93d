"""Fuzz specs of fastml.decomposition."""

import numpy as np

from fastml import decomposition
from fuzz_specs import HUGE, estimator


def _data(rng, dtype):
    return {"X": rng.standard_normal((12, 4)).astype(dtype)}


SPECS = [
    estimator("fastml.decomposition.PCA", decomposition.PCA, _data, method="transform",
              params={"n_components": 2},
              bad_params={"n_components": [-1, 5, 13, HUGE, "many"], "svd_solver": ["fast"]}),
    estimator("fastml.decomposition.KernelPCA", decomposition.KernelPCA, _data,
              method="transform", params={"n_components": 2, "kernel": "rbf"},
              bad_params={"n_components": [0, -1], "kernel": ["cubic"],
                          "gamma": [-1.0, np.nan], "alpha": [-1.0]}),
]
