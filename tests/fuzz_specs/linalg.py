"""Fuzz specs of fastml.linalg."""

import numpy as np

from fastml import NotPositiveDefiniteError, linalg
from fuzz_specs import Spec, spd

_PD = (NotPositiveDefiniteError,)  # a bool/int matrix need not be positive definite


def _factor(rng, dtype, n=5):
    return np.linalg.cholesky(spd(rng, n, "float64")).astype(dtype)


def _triangular(rng, dtype):
    return {"L": _factor(rng, dtype), "B": rng.standard_normal((5, 3)).astype(dtype)}


def _update(rng, dtype):
    return {"L": _factor(rng, dtype), "x": (0.3 * rng.standard_normal(5)).astype(dtype)}


_FLAGS = [None, 1, "yes", np.nan]

SPECS = [
    Spec("fastml.linalg.cholesky", lambda rng, dtype: {"A": spd(rng, 6, dtype)},
         lambda A, **kw: linalg.cholesky(A, **kw),
         bad_params={"jitter": [-1.0, 0.0, np.nan, "big"]}, errors=_PD),
    Spec("fastml.linalg.cho_solve", _triangular, lambda L, B, **kw: linalg.cho_solve(L, B, **kw),
         any_ndim=("B",), same_length=(("L", "B"),)),
    Spec("fastml.linalg.solve_triangular", _triangular,
         lambda L, B, **kw: linalg.solve_triangular(L, B, **kw),
         any_ndim=("B",), same_length=(("L", "B"),)),
    Spec("fastml.linalg.chol_update", _update, lambda L, x, **kw: linalg.chol_update(L, x, **kw),
         same_length=(("L", "x"),), errors=_PD),
    Spec("fastml.linalg.chol_downdate", _update,
         lambda L, x, **kw: linalg.chol_downdate(L, x, **kw), same_length=(("L", "x"),),
         errors=_PD),
    Spec("fastml.linalg.logdet_chol", lambda rng, dtype: {"L": _factor(rng, dtype)},
         lambda L: linalg.logdet_chol(L)),
]
