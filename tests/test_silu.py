"""SiLU (fastml.nn.functional.silu, fastml.nn.SiLU) vs torch, finite differences, bad input."""

import numpy as np
import pytest
import torch

import fastml.nn as nn
from fastml.nn import functional as F

TOL = {np.float32: 1e-6, np.float64: 1e-13}


def _torch_silu(x, g):
    xt = torch.tensor(x, requires_grad=True)
    y = torch.nn.functional.silu(xt)
    y.backward(torch.tensor(g))
    return y.detach().numpy(), xt.grad.numpy()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_silu_matches_torch(dtype):
    rng = np.random.default_rng(0)
    # the full range: the tails (|x| > 88 overflows float32 exp), both signs, odd length
    x = np.concatenate([rng.standard_normal(20001) * 6, np.linspace(-120, 120, 241)])
    x = x.astype(dtype)
    g = rng.standard_normal(x.shape).astype(dtype)
    y_ref, gx_ref = _torch_silu(x, g)
    y, gx = F.silu(x), F.silu_backward(g, x)
    assert y.dtype == dtype and gx.dtype == dtype
    tol = TOL[dtype]
    np.testing.assert_allclose(y, y_ref, rtol=4 * tol, atol=tol)
    np.testing.assert_allclose(gx, gx_ref, rtol=4 * tol, atol=tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_silu_nonfinite_as_torch(dtype):
    x = np.array([-np.inf, -1e4, -100.0, 0.0, 100.0, np.inf, np.nan], dtype)
    g = np.ones_like(x)
    y_ref, gx_ref = _torch_silu(x, g)
    np.testing.assert_array_equal(F.silu(x), y_ref)
    np.testing.assert_array_equal(F.silu_backward(g, x), gx_ref)


def test_silu_module_gradient_finite_differences():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 5, 7))
    layer = nn.SiLU()
    y = layer(x)
    np.testing.assert_array_equal(y, F.silu(x))
    g = rng.standard_normal(y.shape)
    gx = layer.backward(g)
    h = 1e-6
    numeric = (np.sum(g * F.silu(x + h)) - np.sum(g * F.silu(x - h))) / (2 * h)
    # directional derivative along the all-ones direction, and elementwise
    assert abs(numeric - gx.sum()) < 1e-7 * max(1.0, abs(numeric))
    elementwise = g * (F.silu(x + h) - F.silu(x - h)) / (2 * h)
    np.testing.assert_allclose(gx, elementwise, rtol=1e-7, atol=1e-9)


def test_silu_bad_input():
    with pytest.raises(ValueError, match="grad_out"):
        F.silu_backward(np.ones(3), np.ones(4))
    with pytest.raises(TypeError, match="grad_out"):
        F.silu_backward(np.ones(3, np.float32), np.ones(3))
    with pytest.raises((TypeError, ValueError), match="x"):
        F.silu("abc")
    assert F.silu(np.arange(3)).dtype == np.float64
    assert F.silu(np.array([], np.float32)).dtype == np.float32
