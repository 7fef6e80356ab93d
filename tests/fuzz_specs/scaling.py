"""Fuzz specs of the scaling names added during the issue-13 session.

PENDING names are public but not fuzzed yet: they arrived while the fuzz module was
written. Each entry should become a Spec (see tests/fuzz_specs/__init__.py); the
coverage test accepts them only because they are listed here explicitly.
"""

SPECS = []

PENDING = "new in this session, spec still to write"

EXEMPT = {
    "fastml.scaling.ScalingLawFit": PENDING,
    "fastml.scaling.compute_optimal": PENDING,
    "fastml.scaling.fit_scaling_law": PENDING,
    "fastml.scaling.plot_scaling_law": PENDING,
    "fastml.scaling.scaling_law": PENDING,
    "fastml.scaling.train_family": PENDING,
}
