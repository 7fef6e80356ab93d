"""Reduced runs of the examples (fewer epochs); the full runs reach >= 97% (MLP) and
>= 98% (CNN) test accuracy on the digits."""


import pytest

pytest.importorskip("sklearn")

def test_mlp_digits_reduced(load_example):
    acc = load_example("mlp_digits").main(epochs=4, verbose=False)
    assert acc >= 0.95


def test_cnn_digits_reduced(load_example):
    import fastml.nn.functional as F

    if not hasattr(F, "conv2d"):
        pytest.skip("fastml.nn.functional.conv2d is not available")
    acc = load_example("cnn_digits").main(epochs=6, width=8, verbose=False)
    assert acc >= 0.95
