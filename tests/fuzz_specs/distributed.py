"""Fuzz specs of fastml.distributed (NumPy input runs on Dask's in-process scheduler)."""

import numpy as np

from fastml import distributed
from fuzz_specs import HUGE, estimator


def _blobs(rng, dtype):
    centers = np.array([[0.0, 0.0], [6.0, 6.0], [0.0, 7.0]])
    X = centers[rng.integers(0, 3, 40)] + 0.5 * rng.standard_normal((40, 2))
    return {"X": X.astype(dtype)}


SPECS = [
    estimator("fastml.distributed.KMeans", distributed.KMeans, _blobs,
              params={"n_clusters": 3, "random_state": 0},
              bad_params={"n_clusters": [0, -1, 2.5, "3", HUGE, 41], "max_iter": [0, -1],
                          "tol": [-1.0, np.nan], "init": ["best"],
                          "oversampling_factor": [0, -1.0, np.nan], "init_max_iter": [0]}),
]

EXEMPT = {
    "fastml.distributed.sample": "needs a distributed.Client (tests/test_distributed.py "
                                 "starts one); every other argument goes through "
                                 "fastml.mcmc.sample's checks, fuzzed under that name",
    "fastml.distributed.ParallelPostFit": "passes NumPy input to the wrapped estimator "
                                          "unchanged: each estimator's own spec fuzzes it",
}
