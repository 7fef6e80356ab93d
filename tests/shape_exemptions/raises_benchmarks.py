"""Raises in fastml/benchmarks/ that are not single-argument checks (see __init__.py)."""
RAISES = {
    "fastml/benchmarks/__init__.py": {
        "state: a case id registered twice": 1,
        "data content: a case without a 'fastml' implementation": 1,
    },
}
