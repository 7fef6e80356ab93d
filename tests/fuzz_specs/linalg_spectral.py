"""Fuzz specs of fastml.linalg's eigen- and singular-value solvers."""

import numpy as np

from fastml import linalg
from fuzz_specs import HUGE, Spec, spd


def _sym(rng, dtype):
    return {"A": spd(rng, 8, dtype)}


def _gapped(rng, dtype):
    """Symmetric with well-separated extreme eigenvalues (power iterations converge fast)."""
    return {"A": (np.diag(np.arange(1.0, 9.0) ** 2) + 0.01 * spd(rng, 8, "float64"))
            .astype(dtype)}


def _rect(rng, dtype):
    return {"A": rng.standard_normal((9, 6)).astype(dtype)}


def _abs_vectors(result):
    """Eigen/singular vectors up to sign: compare |v| (signs are a convention)."""
    return [np.abs(r) if isinstance(r, np.ndarray) and r.ndim == 2 else r for r in result]


_K = [0, -1, 9, HUGE, 2.5]

SPECS = [
    Spec("fastml.linalg.eigh", _sym, lambda A, **kw: _abs_vectors(linalg.eigh(A, **kw)),
         bad_params={"driver": ["qr?"], "subset_by_index": [(3, 1), (0, 99)]}),
    Spec("fastml.linalg.svd", _rect, lambda A, **kw: _abs_vectors(linalg.svd(A, **kw)),
         bad_params={"driver": ["qr?"]}),
    Spec("fastml.linalg.eigsh", lambda rng, dtype: {**_sym(rng, dtype), "k": 2},
         lambda A, **kw: _abs_vectors(linalg.eigsh(A, random_state=0, **kw)), rtol=1e-3,
         bad_params={"k": _K, "which": ["XX"], "tol": [-1.0, np.nan], "max_iter": [0, -1]}),
    Spec("fastml.linalg.svds", lambda rng, dtype: {**_rect(rng, dtype), "k": 2},
         lambda A, **kw: _abs_vectors(linalg.svds(A, random_state=0, **kw)), rtol=1e-3,
         bad_params={"k": _K, "which": ["XX"], "solver": ["qr?"]}),
    Spec("fastml.linalg.randomized_svd",
         lambda rng, dtype: {"M": rng.standard_normal((9, 6)).astype(dtype), "n_components": 2},
         lambda M, n_components, **kw: _abs_vectors(
             linalg.randomized_svd(M, n_components, random_state=0, **kw)), rtol=1e-3,
         bad_params={"n_components": _K, "n_oversamples": [-1], "n_iter": [-1, "many"]}),
    Spec("fastml.linalg.power_iteration", _gapped,
         lambda A, **kw: _abs_vectors(linalg.power_iteration(A, random_state=0, **kw)),
         rtol=1e-3, bad_params={"tol": [-1.0, np.nan], "max_iter": [0, -1]}),
    Spec("fastml.linalg.inverse_iteration", _gapped,
         lambda A, **kw: _abs_vectors(linalg.inverse_iteration(A, random_state=0, **kw)),
         rtol=1e-3, bad_params={"sigma": [np.nan, "x"], "max_iter": [0, -1]}),
]
