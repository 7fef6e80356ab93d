"""Test configuration: a bounded, deterministic hypothesis profile, and the fixtures
shared by several test modules."""

import importlib
import os
import sys
import warnings
from pathlib import Path

import pytest
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


# Helpers shared by several test modules live in tests/_testing.py; with
# --import-mode=importlib the tests folder is not on sys.path by itself.
sys.path.insert(0, str(Path(__file__).parent))
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture
def load_example(monkeypatch):
    """``load_example("name")`` imports ``examples/name.py`` (the examples folder is on
    ``sys.path`` for the test only)."""
    monkeypatch.syspath_prepend(str(EXAMPLES))
    return importlib.import_module


@pytest.fixture
def one_thread_quiet():
    """fastml on one thread, with ConvergenceWarning and UserWarning silenced (EM tests
    that stop early on purpose)."""
    import fastml

    with fastml.threads(1), warnings.catch_warnings():
        warnings.simplefilter("ignore", fastml.ConvergenceWarning)
        warnings.simplefilter("ignore", UserWarning)
        yield
