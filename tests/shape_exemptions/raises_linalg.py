"""fastml.linalg's raise statements that are not single-argument checks (see __init__.py)."""

RAISES = {
    "fastml/linalg.py": {
        "cross-argument: B's rows and x's length against L; overwrite=True with an L that "
        "is not a C-contiguous float array": 3,
        "data content: L must be a Cholesky factor (positive diagonal)": 1,
    },
}
