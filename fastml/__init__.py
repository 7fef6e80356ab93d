"""fastml: machine-learning algorithms as fast compiled kernels behind a NumPy API.

Every public function validates its input once (:mod:`fastml._validation`) and calls one
compiled kernel (``fastml.kernels``); :mod:`fastml.reference` holds the readable
versions written straight from the math, and :mod:`fastml.benchmarks` compares the two
with the best-known peers (``fastml bench``).

Submodules are imported lazily, so ``import fastml`` stays fast.
"""

import importlib

from fastml._errors import (
    ConvergenceWarning,
    DataConversionWarning,
    JitterWarning,
    NotFittedError,
    NotPositiveDefiniteError,
)
from fastml._threads import get_num_threads, set_num_threads, threads

__version__ = "0.1.0"

_SUBMODULES = {
    "base", "bayes", "benchmarks", "cli", "cluster", "datasets", "decomposition", "diffusion",
    "distributed",
    "gp", "graph",
    "kernels", "linalg", "linear_model", "manifold", "mcmc", "mixture", "model_selection",
    "models", "nn", "optimize", "reference", "rl", "rlhf", "scaling", "stats", "svm",
    "text", "vi",
}

__all__ = [
    "ConvergenceWarning",
    "DataConversionWarning",
    "JitterWarning",
    "NotFittedError",
    "NotPositiveDefiniteError",
    "__version__",
    "get_num_threads",
    "set_num_threads",
    "threads",
    *sorted(_SUBMODULES),
]


def __getattr__(name):
    if name in _SUBMODULES:
        module = importlib.import_module(f"fastml.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'fastml' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | _SUBMODULES)
