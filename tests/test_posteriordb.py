"""fastml's NUTS on five posteriordb posteriors against Stan's reference draws.

Means and standard deviations of every reference parameter agree within Monte Carlo
error: |estimate - reference| / sqrt(MCSE^2 + reference SE^2) < 5 (the reference's SE
from its 10 000 draws: sd / sqrt(n) for the mean, sd / sqrt(2 n) for the sd). With about
60 comparisons a 5-sigma bound keeps the chance of a false alarm below 1e-4 whatever the
chain's exact trajectory on this machine (libm and BLAS may round differently). The
densities' gradients are checked against central differences.
"""

import warnings

import numpy as np
import pytest

from fastml import mcmc
from fastml.benchmarks._posteriordb import NAMES, load

pytestmark = pytest.mark.skipif(load(NAMES[0]) is None,
                                reason="../shared/data/posteriordb is absent")
Z_MAX = 5.0


@pytest.fixture(scope="module", params=NAMES)
def posterior(request):
    """(posterior, logp, value_and_grad), the density compiled once per module."""
    post = load(request.param)
    return (post, *post.density())


def test_gradient_matches_central_differences(posterior):
    posterior, _, value_and_grad = posterior
    x = posterior.x0 + 0.1 * np.random.default_rng(0).standard_normal(posterior.x0.size)
    _, grad = value_and_grad(x)
    h = 1e-6
    numeric = [(value_and_grad(x + h * e)[0] - value_and_grad(x - h * e)[0]) / (2 * h)
               for e in np.eye(x.size)]
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-5)


def test_nuts_matches_reference_moments(posterior):
    posterior, logp, value_and_grad = posterior
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mcmc.SamplingWarning)
        trace = mcmc.sample(logp, posterior.x0, grad=value_and_grad, draws=1000, tune=1000,
                            chains=4, seed=1, progress=False)
    draws = posterior.named(posterior.constrain(trace.samples))
    for name, ref in posterior.reference.items():
        n_ref = ref.size
        z_mean = (draws[name].mean() - ref.mean()) / np.hypot(mcmc.mcse(draws[name]),
                                                             ref.std() / np.sqrt(n_ref))
        z_sd = (draws[name].std() - ref.std()) / np.hypot(mcmc.mcse(draws[name], "sd"),
                                                         ref.std() / np.sqrt(2 * n_ref))
        assert abs(z_mean) < Z_MAX, (name, z_mean)
        assert abs(z_sd) < Z_MAX, (name, z_sd)
