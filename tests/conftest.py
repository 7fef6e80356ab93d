"""Test configuration: a bounded, deterministic hypothesis profile."""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "fastml",
    max_examples=25,
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fastml"))
