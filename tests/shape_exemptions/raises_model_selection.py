"""Raises in fastml/model_selection.py that are not single-argument checks (see
__init__.py)."""
RAISES = {
    "fastml/model_selection.py": {
        "cross-argument: X_test's features vs X's": 1,
    },
}
