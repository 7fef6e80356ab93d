"""Optimisation: smooth and composite minimisation, quadratic programs, constraints.

- :func:`minimize`: gradient descent (fixed, Armijo, exact), momentum, Nesterov, Adagrad,
  RMSProp, Adam, Newton with Hessian modification, BFGS, L-BFGS (L-BFGS-B semantics with
  bounds), nonlinear CG, proximal gradient and FISTA; SciPy's :class:`OptimizeResult`.
- :func:`solve_qp`: convex QPs with qpsolvers' conventions by a Mehrotra interior point,
  a primal active set or OSQP-style ADMM, with KKT multipliers and residuals.
- :func:`solve_equality_qp` (Lagrange multipliers, one KKT solve) and
  :func:`minimize_constrained` (augmented Lagrangian for smooth nonlinear constraints).
"""

from fastml.optimize._constrained import minimize_constrained, solve_equality_qp
from fastml.optimize._minimize import METHODS, OptimizeResult, minimize
from fastml.optimize._qp import SOLVERS, qp_residuals, solve_qp

__all__ = ["METHODS", "SOLVERS", "OptimizeResult", "minimize", "minimize_constrained",
           "qp_residuals", "solve_equality_qp", "solve_qp"]
