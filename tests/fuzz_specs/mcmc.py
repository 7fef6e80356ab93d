"""Fuzz specs of fastml.mcmc."""

import numpy as np

from fastml import mcmc
from fuzz_specs import HUGE, Spec


def _logp(x):
    return -0.5 * float(x @ x)


def _grad(x):
    return -x


def _sample(x0, **kw):
    trace = mcmc.sample(_logp, x0, grad=_grad, draws=15, tune=15, chains=2, seed=0, **kw)
    return trace.samples, trace.summary().mean if hasattr(trace.summary(), "mean") else ()


def _draws(rng, dtype):
    return {"samples": rng.standard_normal((3, 20, 2)).astype(dtype)}


# diagnostics of draws holding NaN are NaN, as ArviZ's
_DIAGNOSTIC = {"any_ndim": ("samples",), "dtypes": ("float64",), "nonfinite_ok": "all"}

SPECS = [
    Spec("fastml.mcmc.sample", lambda rng, dtype: {"x0": np.zeros(2), "method": "hmc"},
         _sample, also=("fastml.mcmc.Trace", "fastml.mcmc.Summary"), dtypes=("float64",),
         any_ndim=("x0",), huge=False,
         bad_params={"method": ["gibbs"], "draws": [0, -1, HUGE], "tune": [-1],
                     "chains": [0, -1]}),
    Spec("fastml.mcmc.ess", _draws, lambda samples, **kw: mcmc.ess(samples, **kw),
         bad_params={"method": ["median"]}, **_DIAGNOSTIC),
    Spec("fastml.mcmc.rhat", _draws, lambda samples: mcmc.rhat(samples), **_DIAGNOSTIC),
    Spec("fastml.mcmc.mcse", _draws, lambda samples, **kw: mcmc.mcse(samples, **kw),
         bad_params={"method": ["median"]}, **_DIAGNOSTIC),
    Spec("fastml.mcmc.adaptation_plan", lambda rng, dtype: {"tune": 200},
         lambda **kw: mcmc.adaptation_plan(**kw), dtypes=("float64",),
         bad_params={"tune": [-1, 2.5, "many"], "base_window": [0, -3]}),
]
