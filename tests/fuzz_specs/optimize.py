"""Fuzz specs of fastml.optimize (solve_qp, solve_equality_qp, minimize); the rest is
PENDING (see EXEMPT)."""

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

PENDING = "new in this session, spec still to write"

EXEMPT = {
    "fastml.optimize.minimize_constrained": PENDING,
    "fastml.optimize.qp_residuals": PENDING,
}
