"""Raises in fastml/_kernels.py that are not single-argument checks (see __init__.py)."""
RAISES = {
    "fastml/_kernels.py": {
        "state: the FASTML_CPU environment variable names no CPU level": 1,
    },
}
