"""Raises in fastml/reference/ that are not single-argument checks (see __init__.py)."""
RAISES = {
    "fastml/reference/autograd.py": {
        "protocol: Value ** Value (only constant exponents)": 1,
    },
}
