"""Raises in fastml/datasets.py that are not single-argument checks (see __init__.py)."""
RAISES = {
    "fastml/datasets.py": {
        "cross-argument: root is None and the FASTML_PLANETOID environment variable is "
        "unset": 1,
    },
}
