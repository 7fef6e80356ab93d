"""Variational inference: the ELBO toolkit, ADVI and coordinate-ascent VI (CAVI).

* :mod:`fastml.vi._elbo`: Gaussian reparameterisation z = mu + sigma * eps with its
  pathwise gradients, and the analytic KL(N(mu, diag sigma^2) || N(0, I)) with its
  gradient (shared with :class:`fastml.models.VAE`).
* :func:`advi`: mean-field or full-rank Gaussian ADVI, the whole Adam loop compiled for
  ``@njit`` densities (same ``logp``/``grad`` as :func:`fastml.mcmc.sample`), minibatch
  SVI for densities that are sums over data.
* :class:`BayesianLinearRegressionCAVI`: mean-field CAVI for Bayesian linear regression
  with a Gamma prior on the noise precision.

CAVI for a Bayesian Gaussian mixture (scikit-learn's ``BayesianGaussianMixture``) lives
in :class:`fastml.mixture.BayesianGaussianMixture`, on the compiled GaussianMixture steps.
"""

from fastml.vi._advi import Approximation, advi
from fastml.vi._cavi import BayesianLinearRegressionCAVI
from fastml.vi._elbo import (
    kl_standard_normal,
    kl_standard_normal_backward,
    reparameterize,
    reparameterize_backward,
)

__all__ = ["Approximation", "BayesianLinearRegressionCAVI", "advi", "kl_standard_normal",
           "kl_standard_normal_backward", "reparameterize", "reparameterize_backward"]
