"""Reduced runs of the examples (fewer epochs); the full runs reach >= 97% (MLP) and
>= 98% (CNN) test accuracy on the digits."""

import importlib
from pathlib import Path

import pytest

pytest.importorskip("sklearn")

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture
def example(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))

    def load(name):
        return importlib.import_module(name)

    return load


def test_mlp_digits_reduced(example):
    acc = example("mlp_digits").main(epochs=4, verbose=False)
    assert acc >= 0.95


def test_cnn_digits_reduced(example):
    import fastml.nn.functional as F

    if not hasattr(F, "conv2d"):
        pytest.skip("fastml.nn.functional.conv2d is not available")
    acc = example("cnn_digits").main(epochs=6, width=8, verbose=False)
    assert acc >= 0.95
