"""stats suite: maximum-likelihood fits vs scipy.stats ``fit``."""

import numpy as np

from fastml import stats
from fastml.benchmarks import Case, Impl, register
from fastml.reference import stats as reference


def _gamma_setup(n, rng):
    return {"x": rng.gamma(2.5, 1.7, n)}


def _scipy_gamma(x):
    import scipy.stats

    a, _, scale = scipy.stats.gamma.fit(x, floc=0)
    return np.array([a, scale])


def _fastml(dist):
    return lambda x: np.array(list(stats.fit(dist, x).params.values()))


register(Case(
    suite="stats", name="fit_gamma",
    description="Gamma MLE (shape by Newton, scale profiled) vs scipy.stats.gamma.fit "
                "(floc=0) and the Nelder-Mead reference.",
    setup=_gamma_setup,
    sizes=[10_000, 1_000_000], quick_sizes=[10_000], test_sizes=[50, 500],
    rtol=1e-6,
    impls=[
        Impl("fastml", _fastml("gamma")),
        Impl("reference", lambda x: reference.fit("gamma", x, [2.0, 2.0]), max_size=500),
        Impl("scipy", _scipy_gamma, requires=("scipy",)),
    ],
))


def _t_setup(n, rng):
    return {"x": 1.0 + 2.0 * rng.standard_t(4.0, n)}


def _scipy_t(x):
    import scipy.stats

    return np.array(scipy.stats.t.fit(x))


register(Case(
    suite="stats", name="fit_student_t",
    description="Student-t (df, loc, scale) MLE by L-BFGS vs scipy.stats.t.fit.",
    setup=_t_setup,
    sizes=[10_000, 100_000], quick_sizes=[5_000], test_sizes=[2_000],
    rtol=1e-3,
    impls=[
        Impl("fastml", _fastml("t")),
        Impl("scipy", _scipy_t, requires=("scipy",)),
    ],
))


def _beta_setup(n, rng):
    return {"x": rng.beta(2.0, 5.0, n)}


def _scipy_beta(x):
    import scipy.stats

    return np.array(scipy.stats.beta.fit(x, floc=0, fscale=1)[:2])


register(Case(
    suite="stats", name="fit_beta",
    description="Beta MLE by Newton (analytic trigamma Hessian) vs scipy.stats.beta.fit.",
    setup=_beta_setup,
    sizes=[10_000, 1_000_000], quick_sizes=[10_000], test_sizes=[300],
    rtol=1e-6,
    impls=[
        Impl("fastml", _fastml("beta")),
        Impl("scipy", _scipy_beta, requires=("scipy",)),
    ],
))
