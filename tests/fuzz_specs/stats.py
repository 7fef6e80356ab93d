"""Fuzz specs of fastml.stats: fit (MLE) and the conjugate priors (MAP)."""

import numpy as np

from fastml import stats
from fuzz_specs import Spec

# hyper-parameters that must be > 0 (a proper prior)
_POSITIVE = [0.0, -1.0, np.nan, np.inf, "1"]


def _summary(result):
    """The fitted parameters, their standard errors and the log-likelihood, in order."""
    return ([result.params[k] for k in sorted(result.params)],
            [result.se[k] for k in sorted(result.se)], result.loglik, result.cov)


def _conjugate(dist, make_data, prior_cls, hyper, arrays=(), **options):
    """fit(dist, data, prior=prior_cls(**hyper)); data and the hyper-parameters fuzzed."""
    def make(rng, dtype):
        return {"data": make_data(rng).astype(dtype), **hyper(rng)}

    def run(data, **kw):
        return _summary(stats.fit(dist, data, prior=prior_cls(**kw)))

    return Spec(f"fastml.stats.{prior_cls.__name__}", make, run, arrays=("data", *arrays),
                rtol=1e-6, aliases={n: ("prior",) for n in ("data", *arrays)}, **options)


def _gamma_data(rng):
    return rng.gamma(2.0, 1.5, 30)


SPECS = [
    Spec("fastml.stats.fit",
         lambda rng, dtype: {"dist": "gamma", "data": _gamma_data(rng).astype(dtype)},
         lambda **kw: _summary(stats.fit(**kw)), also=("fastml.stats.FitResult",),
         arrays=("data",), rtol=1e-6,
         bad_params={"dist": ["weibull?", 3, None], "prior": ["flat", 3, np.ones(2)]}),
    _conjugate("poisson", lambda rng: rng.poisson(3.0, 25).astype(float), stats.GammaPrior,
               lambda rng: {"a": 2.0, "b": 1.0},
               bad_params={"a": _POSITIVE, "b": _POSITIVE}),
    _conjugate("normal", lambda rng: rng.normal(1.0, 2.0, 25), stats.NormalInverseGamma,
               lambda rng: {"mu0": 0.0, "kappa0": 1.0, "alpha0": 2.0, "beta0": 2.0},
               bad_params={"mu0": [np.nan, np.inf, "0"], "kappa0": _POSITIVE,
                           "alpha0": _POSITIVE, "beta0": _POSITIVE}),
    _conjugate("multivariate_normal", lambda rng: rng.normal(0.0, 1.0, (30, 2)),
               stats.NormalInverseWishart,
               lambda rng: {"mu0": np.zeros(2), "kappa0": 1.0, "nu0": 4.0,
                            "psi0": np.array([[2.0, 0.3], [0.3, 1.0]])},
               arrays=("mu0", "psi0"),
               bad_params={"kappa0": _POSITIVE, "nu0": [1.0, 0.5, np.nan, "4"],
                           "psi0": [-np.eye(2), np.array([[1.0, 2.0], [0.0, 1.0]])],
                           "mu0": [np.zeros(3)]}),
]
