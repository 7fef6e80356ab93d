"""fastml.stats's raise statements that are not single-argument checks (see __init__.py)."""

RAISES = {
    "fastml/stats.py": {
        "data content: psi0 not symmetric positive definite; data outside the "
        "distribution's support (positive, (0, 1), non-negative integers, simplex rows), "
        "too few observations, constant data, fewer rows than columns": 8,
        "cross-argument: a conjugate prior for another distribution, mu0 against the "
        "data's columns, a Poisson posterior mode at 0; prior neither None, a conjugate "
        "prior of this dist nor a callable": 4,
    },
}
