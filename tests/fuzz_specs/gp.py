"""Fuzz specs of fastml.gp and fastml.gp.kernels."""

import numpy as np

from fastml import gp
from fastml.gp import kernels as K
from fuzz_specs import Spec, estimator


def _data(rng, dtype, n=12):
    X = rng.uniform(0, 4, (n, 2))
    return {"X": X.astype(dtype), "y": np.sin(X[:, 0]).astype(dtype)}


def _kernel_spec(name, make_kernel, bad_params):
    """A kernel called on (X, Y) with its gradient, and on X's diagonal."""
    def run(X, Y, **params):
        k = make_kernel(**params)
        return k(X, Y), k(X, eval_gradient=True), k.diag(X), k.clone_with_theta(k.theta).theta

    def make(rng, dtype):
        return {"X": rng.standard_normal((5, 2)).astype(dtype),
                "Y": rng.standard_normal((4, 2)).astype(dtype)}

    return Spec(f"fastml.gp.kernels.{name}", make, run, bad_params=bad_params)


# Like scikit-learn's, the kernels store hyper-parameters unchecked (theta is their log):
# only values that fail at the first call are fuzzed. See the issue-13 report.
_SCALE = [0.0, -1.0]

SPECS = [
    estimator("fastml.gp.GaussianProcessRegressor", gp.GaussianProcessRegressor, _data,
              params={"alpha": 1e-2, "random_state": 0},
              bad_params={"alpha": [-1.0, np.nan], "n_restarts_optimizer": [-1],
                          "optimizer": ["newton"]}),
    estimator("fastml.gp.SparseGaussianProcessRegressor", gp.SparseGaussianProcessRegressor,
              _data, params={"n_inducing": 4, "max_iter": 5, "random_state": 0},
              bad_params={"n_inducing": [0, -1], "noise_level": [0.0, -1.0, np.nan],
                          "max_iter": [-1], "jitter": [-1.0], "inducing": ["random?"]}),
    _kernel_spec("RBF", K.RBF, {"length_scale": _SCALE}),
    _kernel_spec("Matern", K.Matern, {"length_scale": _SCALE, "nu": [0.0, -1.0, np.nan]}),
    _kernel_spec("RationalQuadratic", K.RationalQuadratic,
                 {"length_scale": _SCALE, "alpha": _SCALE}),
    _kernel_spec("ExpSineSquared", K.ExpSineSquared,
                 {"length_scale": _SCALE, "periodicity": _SCALE}),
    _kernel_spec("DotProduct", K.DotProduct, {}),
    _kernel_spec("ConstantKernel", K.ConstantKernel, {}),
    _kernel_spec("WhiteKernel", K.WhiteKernel, {}),
    _kernel_spec("Sum", lambda: K.RBF(1.5) + K.WhiteKernel(0.1), {}),
    _kernel_spec("Product", lambda: K.ConstantKernel(2.0) * K.Matern(1.0, nu=2.5), {}),
]

EXEMPT = {
    "fastml.gp.kernels.Kernel": "abstract base class; every concrete kernel has a spec",
    "fastml.gp.kernels.Hyperparameter": "a record (name, bounds) with no numeric input",
}
