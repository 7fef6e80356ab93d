"""Raises in fastml/base.py that are not single-argument checks (see __init__.py)."""
RAISES = {
    "fastml/base.py": {
        "cross-argument: input_features vs the fitted n_features_in_": 1,
        "protocol: set_params names a parameter the estimator does not have": 1,
    },
}
