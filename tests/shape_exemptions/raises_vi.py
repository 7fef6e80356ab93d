"""Raises in fastml/vi/ that are not single-argument checks (see __init__.py)."""
RAISES = {
    "fastml/vi/_advi.py": {
        "cross-argument: n_data with / without batch_size": 2,
    },
}
