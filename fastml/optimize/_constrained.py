"""Equality-constrained QPs by Lagrange multipliers; nonlinear constraints by an
augmented Lagrangian.

- :func:`solve_equality_qp`: min 1/2 x^T P x + q^T x s.t. A x = b. Stationarity of the
  Lagrangian L = 1/2 x^T P x + q^T x + y^T (A x - b) gives the KKT system
  [[P, A^T], [A, 0]] [x; y] = [-q; b], solved in one step (Cholesky + Schur complement,
  LDL^T when P is singular; see ``_qp._Saddle``).
- :func:`minimize_constrained`: min f(x) s.t. c(x) = 0, g(x) <= 0 by the
  Powell-Hestenes-Rockafellar augmented Lagrangian
  L_rho(x, y, z) = f + y^T c + rho/2 ||c||^2 + 1/(2 rho) sum(max(0, z + rho g)^2 - z^2):
  minimise over x by L-BFGS, then y <- y + rho c(x), z <- max(0, z + rho g(x)), and
  multiply rho by 10 when the violation did not fall by 4x (Nocedal & Wright 17.4).
"""

import numbers

import numpy as np

from fastml._validation import (
    check_array,
    check_callable,
    check_positive_int,
    check_scalar,
    check_shape,
    check_symmetric,
)
from fastml.optimize._minimize import OptimizeResult, _minimize_core
from fastml.optimize._qp import _Saddle

__all__ = ["minimize_constrained", "solve_equality_qp"]


def solve_equality_qp(P, q, A, b):
    """Solve min 1/2 x^T P x + q^T x s.t. A x = b by the KKT system (direct, one step).

    P (n, n) symmetric PSD and positive definite on the null space of A; A (p, n), b (p,).
    Returns OptimizeResult with x, y (Lagrange multipliers: P x + q + A^T y = 0), fun,
    primal_residual ||A x - b||_inf and dual_residual ||P x + q + A^T y||_inf.
    """
    Pm = check_array(P, "P", ndim=2, dtype=np.float64)
    qv = check_array(q, "q", ndim=1, dtype=np.float64)
    Am = check_array(A, "A", ndim=2, dtype=np.float64)
    bv = check_array(b, "b", ndim=1, dtype=np.float64)
    n = qv.size
    check_shape(Pm, "P", (n, n), " to match q")
    check_symmetric(Pm, "P")
    if Am.shape[1] != n or bv.shape != (Am.shape[0],):
        raise ValueError(f"A must have {n} columns and b one entry per row of A, got A "
                         f"{Am.shape}, b {bv.shape}")
    return _solve_equality_qp_core(Pm, qv, Am, bv)


def _solve_equality_qp_core(P, q, A, b):
    x, y = _Saddle(P, A).solve(-q, b)
    return OptimizeResult(x=x, y=y, fun=float(0.5 * x @ P @ x + q @ x),
                          primal_residual=float(np.abs(A @ x - b).max(initial=0.0)),
                          dual_residual=float(np.abs(P @ x + q + A.T @ y).max(initial=0.0)),
                          success=True, status="solved")


def _constraint(fn, jac, name, x0):
    if fn is None:
        return None
    if not callable(fn) or not callable(jac):
        raise TypeError(f"{name} and {name}_jac must both be callables")
    value = np.atleast_1d(np.asarray(fn(x0), dtype=np.float64))
    J = np.atleast_2d(np.asarray(jac(x0), dtype=np.float64))
    if value.ndim != 1 or J.shape != (value.size, x0.size):
        raise ValueError(f"{name}_jac(x0) must have shape ({value.size}, {x0.size}), got "
                         f"{J.shape}")
    if not np.all(np.isfinite(value)):
        raise ValueError(f"{name}(x0) is not finite")

    def both(x):
        return (np.atleast_1d(np.asarray(fn(x), dtype=np.float64)),
                np.atleast_2d(np.asarray(jac(x), dtype=np.float64)))
    return both, value.size


def minimize_constrained(fun, x0, *, jac, eq=None, eq_jac=None, ineq=None, ineq_jac=None,
                         tol=1e-8, gtol=1e-6, max_iter=50, rho=10.0):
    """min f(x) s.t. eq(x) = 0 and ineq(x) <= 0 by the augmented Lagrangian method.

    Parameters
    ----------
    fun, jac : f(x) -> float and its gradient (n,).
    eq, eq_jac : c(x) -> (p,) and its Jacobian (p, n), optional.
    ineq, ineq_jac : g(x) -> (m,) and its Jacobian (m, n), optional.
    tol, gtol : stop when the constraint violation is <= tol and the gradient of the
        Lagrangian f + y^T c + z^T g is <= gtol (infinity norms).
    max_iter : outer (multiplier) iterations. rho : initial penalty.

    Returns
    -------
    OptimizeResult with x, fun, y (multipliers of eq), z (of ineq, >= 0), constr_violation,
    nit (outer iterations), success.
    """
    check_callable(fun, "fun")
    check_callable(jac, "jac")
    x = check_array(x0, "x0", ndim=1, dtype=np.float64, copy=True, allow_empty=False)
    f0 = float(fun(x))
    if not np.isfinite(f0):
        raise ValueError(f"fun(x0) is not finite ({f0})")
    eqc = _constraint(eq, eq_jac, "eq", x)
    inc = _constraint(ineq, ineq_jac, "ineq", x)
    tol = float(check_scalar(tol, "tol", numbers.Real, min_val=0.0,
                             include_boundaries="neither"))
    gtol = float(check_scalar(gtol, "gtol", numbers.Real, min_val=0.0,
                              include_boundaries="neither"))
    max_iter = check_positive_int(max_iter, "max_iter")
    rho = float(check_scalar(rho, "rho", numbers.Real, min_val=0.0,
                             include_boundaries="neither"))
    return _augmented_lagrangian_core(fun, jac, x, eqc, inc, tol, gtol, max_iter, rho)


def _augmented_lagrangian_core(fun, jac, x, eqc, inc, tol, gtol, max_iter, rho):
    y = np.zeros(eqc[1] if eqc else 0)
    z = np.zeros(inc[1] if inc else 0)
    n = x.size
    free = (np.full(n, -np.inf), np.full(n, np.inf))

    def violation(v):
        c = eqc[0](v)[0] if eqc else np.zeros(0)
        g = inc[0](v)[0] if inc else np.zeros(0)
        return max(np.abs(c).max(initial=0.0), np.maximum(g, 0.0).max(initial=0.0))

    def lagrangian(v, y, z, rho):
        value, grad = float(fun(v)), np.asarray(jac(v), dtype=np.float64)
        if eqc:
            c, J = eqc[0](v)
            value += y @ c + 0.5 * rho * c @ c
            grad = grad + J.T @ (y + rho * c)
        if inc:
            g, J = inc[0](v)
            shifted = np.maximum(0.0, z + rho * g)
            value += (shifted @ shifted - z @ z) / (2 * rho)
            grad = grad + J.T @ shifted
        return value, grad

    last = violation(x)
    inner_tol = max(tol, 1e-3)
    nit = 0
    while nit < max_iter:
        nit += 1
        res = _minimize_core(lambda v, y=y, z=z, rho=rho: lagrangian(v, y, z, rho), x, True,
                             None, "lbfgs", "lbfgs", np.array([10.0, 0.0]), *free,
                             inner_tol, 2000, None)
        x = res.x
        if eqc:
            y = y + rho * eqc[0](x)[0]
        if inc:
            z = np.maximum(0.0, z + rho * inc[0](x)[0])
        now = violation(x)
        grad = np.asarray(jac(x), dtype=np.float64)  # of the ordinary Lagrangian
        if eqc:
            grad = grad + eqc[0](x)[1].T @ y
        if inc:
            grad = grad + inc[0](x)[1].T @ z
        stationary = np.abs(grad).max() <= gtol
        if now <= tol and stationary:
            break
        if now > 0.25 * last:
            rho *= 10.0
        last = now
        inner_tol = max(min(tol, gtol), 0.1 * inner_tol)
    f = float(fun(x))
    return OptimizeResult(x=x, fun=f, y=y, z=z, constr_violation=float(violation(x)),
                          nit=nit, success=bool(violation(x) <= tol),
                          status="solved" if violation(x) <= tol else "max_iter")
