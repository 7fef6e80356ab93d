"""Raises in fastml/mcmc/ that are not single-argument checks (see __init__.py)."""
RAISES = {
    "fastml/mcmc/_sample.py": {
        "cross-argument: options vs the method's valid options": 1,
        "cross-argument: x0's rows vs chains": 1,
        "cross-argument: a gradient method without grad": 1,
        "cross-argument: ensemble's chains vs 2 * dim": 1,
    },
}
