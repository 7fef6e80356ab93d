"""Fuzz specs of fastml.model_selection."""

import numpy as np

from fastml import model_selection as ms
from fastml.linear_model import Ridge
from fuzz_specs import Spec


def _data(rng, dtype):
    X = rng.uniform(-1, 1, (20, 1))
    Xt = rng.uniform(-1, 1, (8, 1))
    return {"X": X.astype(dtype), "y": np.sin(3 * X[:, 0]).astype(dtype),
            "X_test": Xt.astype(dtype), "y_test": np.sin(3 * Xt[:, 0]).astype(dtype)}


def _decomposition(**kw):
    return ms.bias_variance_decomposition(Ridge(), n_rounds=4, random_state=0, **kw)


def _curve(**kw):
    return ms.bias_variance_curve(Ridge(), "alpha", [0.1, 1.0], n_rounds=3, random_state=0,
                                  **kw)


def _plot(**kw):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    ax = ms.plot_bias_variance(_curve(**kw))
    plt.close("all")
    return type(ax).__name__


_COMMON = {"same_length": (("X", "y"), ("X_test", "y_test")), "dtypes": ("float64",),
           "aliases": {"X": ("sample", "feature"), "X_test": ("sample", "feature")},
           "any_ndim": ("y_test",)}

SPECS = [
    Spec("fastml.model_selection.bias_variance_decomposition", _data, _decomposition,
         bad_params={"n_rounds": [0, -1], "loss": ["hinge?"]}, **_COMMON),
    Spec("fastml.model_selection.bias_variance_curve", _data, _curve,
         bad_params={"n_rounds": [0]}, **_COMMON),
    Spec("fastml.model_selection.plot_bias_variance", _data, _plot, huge=False,
         arrays=(), dtypes=("float64",)),
]
