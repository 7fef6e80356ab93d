"""Fuzz specs of fastml.manifold."""

import numpy as np

from fastml import manifold
from fuzz_specs import HUGE, estimator


def _data(rng, dtype):
    return {"X": rng.standard_normal((14, 3)).astype(dtype)}


SPECS = [
    estimator("fastml.manifold.TSNE", manifold.TSNE, _data, method=None,
              params={"perplexity": 4.0, "max_iter": 250, "random_state": 0},
              bad_params={"n_components": [0, -1, HUGE], "perplexity": [0.0, -1.0, 14.0, np.nan],
                          "early_exaggeration": [0.0], "learning_rate": [-1.0, "fast"],
                          "max_iter": [0, -1], "metric": ["manhattan?"], "init": ["best"]}),
]
