"""fastml._linalg_spectral's raise statements that are not single-argument checks (see
__init__.py)."""

RAISES = {
    "fastml/_linalg_spectral.py": {
        "cross-argument: subset_by_index outside 0 <= lo <= hi < n of A; a subset asked of "
        "a driver ('ev', 'evd') that cannot compute one": 2,
        "protocol: A must be an array, a sparse matrix or a LinearOperator with a square "
        "shape (duck-typed operator)": 2,
        "cross-argument: k against n or min(A.shape), ncv between k and n, v0 of A's length, "
        "n_components against min(M.shape), solver='gram' with which='SM'": 8,
    },
}
