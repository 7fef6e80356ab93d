"""Optimisation: smooth and composite minimisation, quadratic programs, constraints.

- :func:`minimize`: gradient descent (fixed, Armijo, exact), momentum, Nesterov, Adagrad,
  RMSProp, Adam, Newton with Hessian modification, BFGS, L-BFGS (L-BFGS-B semantics with
  bounds), nonlinear CG, proximal gradient and FISTA; SciPy's :class:`OptimizeResult`.
- :func:`solve_qp`: convex QPs with qpsolvers' conventions by a Mehrotra interior point,
  a primal active set or OSQP-style ADMM, with KKT multipliers and residuals.
"""

from fastml.optimize._minimize import METHODS, OptimizeResult, minimize
from fastml.optimize._qp import SOLVERS, qp_residuals, solve_qp

__all__ = ["METHODS", "SOLVERS", "OptimizeResult", "minimize", "qp_residuals", "solve_qp"]
