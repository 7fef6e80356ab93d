"""Fuzz specs of fastml.bayes (conjugate models and their Gibbs samplers)."""

import numpy as np

from fastml import bayes
from fuzz_specs import Spec, estimator


def _fitted(model):
    return {k: v for k, v in vars(model).items() if k.endswith("_") and not k.startswith("_")}


def _beta_binomial(successes, trials, **params):
    return _fitted(bayes.BetaBinomial(**params).fit(successes, trials))


def _gamma_poisson(counts, exposure=None, **params):
    return _fitted(bayes.GammaPoisson(**params).fit(counts, exposure))


def _normal_known_variance(y, **params):
    return _fitted(bayes.NormalKnownVariance(**params).fit(y))


def _normal_inverse_gamma(y, **params):
    model = bayes.NormalInverseGamma(**params).fit(y)
    trace = model.sample_posterior(draws=20, tune=5, chains=2, seed=0)
    return _fitted(model), trace.samples


def _dirichlet_multinomial(counts, **params):
    return _fitted(bayes.DirichletMultinomial(**params).fit(counts))


def _blr(X, y, **params):
    model = bayes.BayesianLinearRegression(**params).fit(X, y)
    trace = model.sample_posterior(draws=20, tune=5, chains=2, seed=0)
    return model.predict(X, return_std=True), _fitted(model), trace.samples


_PRIOR = [0.0, -1.0, np.nan, np.inf, "one"]

SPECS = [
    Spec("fastml.bayes.BetaBinomial",
         lambda rng, dtype: {"successes": np.array([1, 3, 0, 2]), "trials": np.array([3, 4, 2, 2])},
         _beta_binomial, arrays=("successes", "trials"), same_length=(("successes", "trials"),),
         bad_params={"alpha": _PRIOR, "beta": _PRIOR}, dtypes=("float64",)),
    Spec("fastml.bayes.GammaPoisson",
         lambda rng, dtype: {"counts": np.array([1, 3, 0, 2]),
                             "exposure": np.array([1.0, 2.0, 0.5, 1.0])},
         _gamma_poisson, arrays=("counts", "exposure"), same_length=(("counts", "exposure"),),
         bad_params={"alpha": _PRIOR, "beta": _PRIOR}, dtypes=("float64",)),
    Spec("fastml.bayes.NormalKnownVariance",
         lambda rng, dtype: {"y": rng.standard_normal(6).astype(dtype)},
         _normal_known_variance, bad_params={"tau0": _PRIOR, "sigma": _PRIOR},
         any_ndim=("y",)),
    Spec("fastml.bayes.NormalInverseGamma",
         lambda rng, dtype: {"y": rng.standard_normal(6).astype(dtype)},
         _normal_inverse_gamma, bad_params={"kappa0": _PRIOR, "a0": _PRIOR, "b0": _PRIOR},
         any_ndim=("y",),
         dtypes=("float64",)),
    Spec("fastml.bayes.DirichletMultinomial",
         lambda rng, dtype: {"counts": rng.integers(0, 5, (4, 3))}, _dirichlet_multinomial,
         arrays=("counts",), bad_params={"alpha": _PRIOR}, dtypes=("float64",),
         any_ndim=("counts",)),
    estimator("fastml.bayes.BayesianLinearRegression", bayes.BayesianLinearRegression,
              lambda rng, dtype: {"X": rng.standard_normal((8, 2)).astype(dtype),
                                  "y": rng.standard_normal(8).astype(dtype)},
              method=None, bad_params={"a0": _PRIOR, "b0": _PRIOR},
              dtypes=("float64",)),
]
# estimator() fits and reads fitted arrays; the Gibbs sampler runs in the custom spec above
SPECS[-1].run = _blr
