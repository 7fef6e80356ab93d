"""Raises in fastml/decomposition.py that are not single-argument checks (see
__init__.py)."""
RAISES = {
    "fastml/decomposition.py": {
        "cross-argument: a fractional n_components with svd_solver='randomized'": 1,
        "cross-argument: n_components vs min(n_samples, n_features) and svd_solver": 1,
        "cross-argument: fit_inverse_transform with kernel='precomputed'": 1,
        "state: inverse_transform without fit_inverse_transform=True": 1,
    },
}
