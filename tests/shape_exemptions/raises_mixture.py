"""Raises in fastml/mixture.py that are not single-argument checks (see __init__.py)."""
RAISES = {
    "fastml/mixture.py": {
        "numerical: a component's covariance is not positive definite during EM": 2,
        "cross-argument: n_samples vs n_components (scikit-learn's words)": 1,
        "data content: weights_init is a probability vector (sums to 1)": 1,
        "data content: precisions_init is symmetric positive definite": 1,
        "cross-argument: degrees_of_freedom_prior vs X's features": 1,
        "cross-argument: covariance_type='spherical' asks a positive float "
        "covariance_prior": 1,
        "data content: covariance_prior is symmetric positive definite": 1,
    },
}
