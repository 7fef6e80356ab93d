"""Optimisation: smooth and composite minimisation, quadratic programs, constraints.

- :func:`minimize`: gradient descent (fixed, Armijo, exact), momentum, Nesterov, Adagrad,
  RMSProp, Adam, Newton with Hessian modification, BFGS, L-BFGS (L-BFGS-B semantics with
  bounds), nonlinear CG, proximal gradient and FISTA; SciPy's :class:`OptimizeResult`.
"""

from fastml.optimize._minimize import METHODS, OptimizeResult, minimize

__all__ = ["METHODS", "OptimizeResult", "minimize"]
