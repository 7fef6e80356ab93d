"""Raises in fastml/decomposition.py that are not single-argument checks (see
__init__.py)."""
RAISES = {
    "fastml/decomposition.py": {
        "cross-argument: a fractional n_components with svd_solver='randomized'": 1,
        "cross-argument: n_components vs min(n_samples, n_features) and svd_solver": 2,
        "cross-argument: n_components='mle' with svd_solver arpack/randomized": 1,
        "cross-argument: n_components='mle' needs n_samples >= n_features": 1,
        "cross-argument: fit_inverse_transform with kernel='precomputed'": 1,
        "data content: the (centred) kernel matrix is not PSD, seen in its eigenvalues": 2,
    },
}
