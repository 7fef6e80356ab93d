"""Fuzz specs of fastml.vi."""


import numpy as np

from fastml import vi
from fuzz_specs import HUGE, Spec, estimator


def _logp(x):
    return -0.5 * float(x @ x)


def _grad(x):
    return -x


def _advi(x0, **kw):
    fit = vi.advi(_logp, x0, grad=_grad, n_steps=50, seed=0, **kw)
    return fit.mean, fit.cov, fit.elbo, fit.sample(5, seed=0)


def _gauss(rng, dtype, names=("mu", "log_var", "eps")):
    return {n: (0.5 * rng.standard_normal((4, 3))).astype(dtype) for n in names}


def _regression(rng, dtype):
    X = rng.standard_normal((20, 3))
    return {"X": X.astype(dtype), "y": (X @ [1.0, -0.5, 0.2] + rng.standard_normal(20))
            .astype(dtype)}


SPECS = [
    estimator("fastml.vi.BayesianLinearRegressionCAVI", vi.BayesianLinearRegressionCAVI,
              _regression, bad_params={"alpha": [0.0, -1.0, np.nan], "a0": [0.0], "b0": [-1.0],
                                       "max_iter": [0, 1.5], "tol": [-1.0]}),
    Spec("fastml.vi.advi", lambda rng, dtype: {"x0": np.zeros(2), "method": "fullrank"},
         _advi, also=("fastml.vi.Approximation",), dtypes=("float64",), any_ndim=("x0",),
         huge=False,
         bad_params={"method": ["lowrank"], "n_steps": [0, -1, HUGE], "n_mc": [0, -1, 1.5],
                     "lr": [0.0, -1.0, np.nan, np.inf], "tol": [-1.0, np.nan],
                     "window": [0], "init_scale": [0.0, np.inf], "batch_size": [0, 3]}),
    Spec("fastml.vi.reparameterize", _gauss, lambda **kw: vi.reparameterize(**kw),
         any_ndim=("mu", "log_var", "eps"), same_length=(("mu", "log_var", "eps"),)),
    Spec("fastml.vi.reparameterize_backward",
         lambda rng, dtype: _gauss(rng, dtype, ("grad_z", "log_var", "eps")),
         lambda **kw: vi.reparameterize_backward(**kw),
         any_ndim=("grad_z", "log_var", "eps"), same_length=(("grad_z", "log_var", "eps"),)),
    Spec("fastml.vi.kl_standard_normal", lambda rng, dtype: _gauss(rng, dtype, ("mu", "log_var")),
         lambda **kw: vi.kl_standard_normal(**kw), any_ndim=("mu", "log_var"),
         same_length=(("mu", "log_var"),)),
    Spec("fastml.vi.kl_standard_normal_backward",
         lambda rng, dtype: _gauss(rng, dtype, ("mu", "log_var")),
         lambda **kw: vi.kl_standard_normal_backward(**kw), any_ndim=("mu", "log_var"),
         same_length=(("mu", "log_var"),)),
]
