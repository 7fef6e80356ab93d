"""Fuzz specs of fastml.mixture."""

import numpy as np

from fastml import mixture
from fuzz_specs import HUGE, estimator


def _data(rng, dtype):
    X = np.concatenate([rng.standard_normal((15, 2)), 4 + rng.standard_normal((15, 2))])
    return {"X": X.astype(dtype)}


SPECS = [
    estimator("fastml.mixture.GaussianMixture", mixture.GaussianMixture, _data,
              method="score_samples", params={"n_components": 2, "random_state": 0},
              bad_params={"n_components": [0, -1, 31, HUGE, 1.5], "reg_covar": [-1.0, np.nan],
                          "covariance_type": ["round"], "max_iter": [-1], "tol": [-1.0],
                          "n_init": [0], "init_params": ["best"]}),
    estimator("fastml.mixture.BayesianGaussianMixture", mixture.BayesianGaussianMixture,
              _data, method="score_samples", params={"n_components": 2, "random_state": 0},
              bad_params={"n_components": [0, -1, 31, HUGE, 1.5], "reg_covar": [-1.0, np.nan],
                          "covariance_type": ["round"], "max_iter": [-1], "tol": [-1.0],
                          "n_init": [0], "init_params": ["best"],
                          "weight_concentration_prior_type": ["beta"],
                          "weight_concentration_prior": [0.0, -1.0, np.nan],
                          "mean_precision_prior": [0.0, np.inf],  # inf: means pinned to the prior
                          "degrees_of_freedom_prior": [0.5, -1.0],
                          "mean_prior": [[0.0], [np.nan, 0.0]],
                          "covariance_prior": [np.eye(3), [[1.0, 2.0], [2.0, 1.0]], -1.0]}),
]
