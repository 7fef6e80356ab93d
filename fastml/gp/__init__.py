"""Gaussian processes: kernels, exact regression with analytic LML gradients, sparse GP.

- :mod:`fastml.gp.kernels`: RBF, Matern, RationalQuadratic, ExpSineSquared, DotProduct,
  ConstantKernel, WhiteKernel, ``+`` and ``*``, with scikit-learn's ``theta``.
- :class:`GaussianProcessRegressor`: scikit-learn's estimator, with the LML gradient
  contracted in compiled code and ``add_observations`` for online updates.
- :class:`SparseGaussianProcessRegressor`: Titsias' variational sparse GP (collapsed
  bound) with analytic gradients in the hyperparameters, noise and inducing inputs.
"""

from fastml.gp import kernels
from fastml.gp._gpr import GaussianProcessRegressor
from fastml.gp._sparse import SparseGaussianProcessRegressor

__all__ = ["GaussianProcessRegressor", "SparseGaussianProcessRegressor", "kernels"]
