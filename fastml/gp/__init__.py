"""Gaussian processes: kernels, exact regression with analytic LML gradients, sparse GP.

- :mod:`fastml.gp.kernels`: RBF, Matern, RationalQuadratic, ExpSineSquared, DotProduct,
  ConstantKernel, WhiteKernel, ``+`` and ``*``, with scikit-learn's ``theta``.
- :class:`GaussianProcessRegressor`: scikit-learn's estimator, with the LML gradient
  contracted in compiled code and ``add_observations`` for online updates.
"""

from fastml.gp import kernels
from fastml.gp._gpr import GaussianProcessRegressor

__all__ = ["GaussianProcessRegressor", "kernels"]
