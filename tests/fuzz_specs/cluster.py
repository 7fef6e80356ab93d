"""Fuzz specs of fastml.cluster."""

import numpy as np

from fastml import cluster
from fuzz_specs import HUGE, Spec, estimator


def _blobs(rng, dtype):
    centers = np.array([[0.0, 0.0], [5.0, 5.0], [0.0, 6.0]])
    X = centers[rng.integers(0, 3, 30)] + 0.5 * rng.standard_normal((30, 2))
    return {"X": X.astype(dtype)}


_SIZES = [0, -1, 2.5, "3", HUGE]

SPECS = [
    estimator("fastml.cluster.KMeans", cluster.KMeans, _blobs,
              params={"n_clusters": 3, "random_state": 0, "n_init": 2},
              bad_params={"n_clusters": _SIZES + [31], "max_iter": [0, -1], "tol": [-1.0, np.nan],
                          "n_init": [0, "all"], "algorithm": ["fast"], "init": ["best"]}),
    estimator("fastml.cluster.MiniBatchKMeans", cluster.MiniBatchKMeans, _blobs,
              params={"n_clusters": 3, "random_state": 0, "batch_size": 8, "max_iter": 5},
              bad_params={"n_clusters": _SIZES, "batch_size": [0, -1],
                          "reassignment_ratio": [-1.0]}),
    Spec("fastml.cluster.kmeans_plusplus",
         lambda rng, dtype: {**_blobs(rng, dtype), "n_clusters": 3, "random_state": 0,
                             "sample_weight": rng.random(30).astype(dtype)},
         lambda X, n_clusters, **kw: cluster.kmeans_plusplus(X, n_clusters, **kw),
         same_length=(("X", "sample_weight"),), aliases={"X": ("sample", "feature")},
         any_ndim=("sample_weight",),  # a scalar weight is documented (every sample)
         bad_params={"n_clusters": _SIZES, "n_local_trials": [0, -1]}),
]
