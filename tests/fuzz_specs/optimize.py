"""Fuzz specs of fastml.optimize: solve_qp, qp_residuals, solve_equality_qp, minimize and
minimize_constrained."""

import numpy as np

from fastml import optimize
from fuzz_specs import HUGE, Spec


def _qp(rng, dtype):
    return {"P": np.array([[2.0, 0.5], [0.5, 1.0]]), "q": np.array([1.0, -1.0]),
            "G": np.array([[1.0, 1.0]]), "h": np.array([1.0])}


def _solution(result):
    return result.x


def _quadratic(x):
    return float(x @ x + x[0])


def _quadratic_grad(x):
    return 2 * x + np.array([1.0] + [0.0] * (len(x) - 1))


def _residuals_inputs(rng, dtype):
    """A QP with one inequality, one equality, bounds (one infinite) and a candidate
    solution with multipliers."""
    return {**_qp(rng, dtype), "A": np.array([[1.0, -1.0]]), "b": np.array([0.5]),
            "lb": np.array([-1.0, -np.inf]), "ub": np.array([2.0, 3.0]),
            "x": np.array([0.3, -0.2]), "y": np.array([0.1]), "z": np.array([0.7]),
            "z_box": np.array([0.0, -0.4])}


def _constrained(x0, **kw):
    """min x.x + x_0 s.t. sum(x) = 1, x_1 >= 0.5."""
    res = optimize.minimize_constrained(
        _quadratic, x0, jac=_quadratic_grad, eq=lambda x: np.array([x.sum() - 1.0]),
        eq_jac=lambda x: np.ones((1, x.size)), ineq=lambda x: np.array([0.5 - x[1]]),
        ineq_jac=lambda x: -np.eye(x.size)[1:2], **kw)
    return res.x, res.y, res.z


SPECS = [
    Spec("fastml.optimize.solve_qp", _qp, lambda **kw: _solution(optimize.solve_qp(**kw)),
         also=("fastml.optimize.OptimizeResult",), dtypes=("float64",), rtol=1e-6,
         same_length=(("P", "q"), ("G", "h")),
         any_ndim=("G", "h"),  # one inequality may be a 1-D row and a scalar, as qpsolvers
         bad_params={"solver": ["simplex?"], "tol": [-1.0, np.nan], "max_iter": [0, -1]}),
    Spec("fastml.optimize.solve_equality_qp",
         lambda rng, dtype: {"P": np.eye(3), "q": np.ones(3), "A": np.ones((1, 3)),
                             "b": np.array([1.0])},
         lambda **kw: optimize.solve_equality_qp(**kw), dtypes=("float64",),
         same_length=(("P", "q"), ("A", "b"))),
    Spec("fastml.optimize.minimize", lambda rng, dtype: {"x0": np.ones(3)},
         lambda x0, **kw: _solution(optimize.minimize(_quadratic, x0, jac=_quadratic_grad,
                                                      **kw)),
         dtypes=("float64",), rtol=1e-5, huge=False,
         bad_params={"method": ["simplex?"], "tol": [-1.0, np.nan], "max_iter": [-1, HUGE]}),
]


_POSITIVE = [0.0, -1.0, np.nan, "1"]

SPECS += [
    Spec("fastml.optimize.qp_residuals", _residuals_inputs,
         lambda **kw: optimize.qp_residuals(**kw), dtypes=("float64",),
         same_length=(("q", "P", "x", "z_box", "lb", "ub"), ("h", "G", "z"), ("b", "A", "y")),
         any_ndim=("G", "h", "A", "b"),  # one row may be 1-D with a scalar, as solve_qp
         nonfinite_ok=("lb", "ub"),  # infinite bounds mean no bound (NaN still raises)
         aliases={"z": ("h",), "y": ("b",), "x": ("q",), "z_box": ("q",)}),
    Spec("fastml.optimize.minimize_constrained", lambda rng, dtype: {"x0": np.ones(3)},
         _constrained, dtypes=("float64",), rtol=1e-5,
         bad_params={"tol": _POSITIVE, "gtol": _POSITIVE, "rho": _POSITIVE,
                     "max_iter": [0, -1, 2.5, HUGE]}),
]
