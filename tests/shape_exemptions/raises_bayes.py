"""Raises in fastml/bayes.py that are not single-argument checks (see __init__.py)."""
RAISES = {
    "fastml/bayes.py": {
        "cross-argument: successes must not exceed trials, entry by entry": 1,
    },
}
