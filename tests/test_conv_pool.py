"""max_pool2d / avg_pool2d forward and backward against PyTorch and the reference."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import fastml
from fastml.nn import functional as F
from fastml.reference import conv as reference

torch = pytest.importorskip("torch")
tF = torch.nn.functional


@pytest.fixture(autouse=True)
def every_thread_works(monkeypatch):
    """Small test problems still run on all requested threads (no grain-size cut)."""
    from fastml.nn.functional import _conv

    monkeypatch.setattr(_conv, "_CONV_GRAIN", 1)
    monkeypatch.setattr(_conv, "_POOL_GRAIN", 1)


@st.composite
def pool_problem(draw):
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = draw(st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    size = (draw(st.integers(1, 9)), draw(st.integers(1, 9)))
    for k, p, n in zip(kernel, padding, size):
        assume(n + 2 * p >= k)
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3)), *size)
    # small integers make ties common; the tie rule is part of the contract
    ties = draw(st.booleans())
    return dict(shape=shape, kernel=kernel, stride=stride, padding=padding, ties=ties,
                dtype=draw(st.sampled_from([np.float32, np.float64])),
                seed=draw(st.integers(0, 2**16)))


def _inputs(p):
    rng = np.random.default_rng(p["seed"])
    if p["ties"]:
        x = rng.integers(-2, 3, size=p["shape"]).astype(p["dtype"])
    else:
        x = rng.standard_normal(p["shape"]).astype(p["dtype"])
    return x, rng


@settings(max_examples=25, deadline=None)
@given(pool_problem(), st.sampled_from([1, 2]))
def test_max_pool2d_matches_torch(p, n_threads):
    x, rng = _inputs(p)
    args = (p["kernel"], p["stride"], p["padding"])
    with fastml.threads(n_threads):
        y, idx = F.max_pool2d(x, *args, return_indices=True)
        go = rng.standard_normal(y.shape).astype(p["dtype"])
        gx = F.max_pool2d_backward(go, x, *args)
        gx_idx = F.max_pool2d_backward(go, x, *args, indices=idx)
    xt = torch.tensor(x, requires_grad=True)
    yt, it = tF.max_pool2d(xt, *args, return_indices=True)
    (gxt,) = torch.autograd.grad(yt, xt, torch.tensor(go))
    np.testing.assert_array_equal(y, yt.detach().numpy())
    np.testing.assert_array_equal(idx, it.numpy())
    tol = 1e-6 if p["dtype"] == np.float32 else 1e-14
    np.testing.assert_allclose(gx, gxt.numpy(), rtol=tol, atol=tol)
    np.testing.assert_array_equal(gx, gx_idx)
    assert y.dtype == gx.dtype == p["dtype"]


@settings(max_examples=25, deadline=None)
@given(pool_problem(), st.booleans())
def test_avg_pool2d_matches_torch(p, count_include_pad):
    x, rng = _inputs(p)
    args = (p["kernel"], p["stride"], p["padding"])
    y = F.avg_pool2d(x, *args, count_include_pad=count_include_pad)
    go = rng.standard_normal(y.shape).astype(p["dtype"])
    gx = F.avg_pool2d_backward(go, x, *args, count_include_pad=count_include_pad)
    xt = torch.tensor(x, requires_grad=True)
    yt = tF.avg_pool2d(xt, *args, count_include_pad=count_include_pad)
    (gxt,) = torch.autograd.grad(yt, xt, torch.tensor(go))
    tol = 1e-5 if p["dtype"] == np.float32 else 1e-12
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(gx, gxt.numpy(), rtol=tol, atol=tol)
    assert y.dtype == gx.dtype == p["dtype"]


def test_reference_pooling_matches_fastml():
    rng = np.random.default_rng(0)
    x = rng.integers(-2, 3, size=(2, 3, 7, 6)).astype(float)
    x[0, 1, 3, 3] = np.nan
    args = ((3, 2), (2, 1), (1, 1))
    y, idx = F.max_pool2d(x, *args, return_indices=True)
    ry, ridx = reference.max_pool2d(x, *args, return_indices=True)
    np.testing.assert_array_equal(y, ry)
    np.testing.assert_array_equal(idx, ridx)
    go = rng.standard_normal(y.shape)
    np.testing.assert_allclose(F.max_pool2d_backward(go, x, *args),
                               reference.max_pool2d_backward(go, x, *args), rtol=1e-14)
    x = rng.standard_normal((2, 3, 7, 6))
    for cip in (True, False):
        y = F.avg_pool2d(x, *args, count_include_pad=cip)
        np.testing.assert_allclose(y, reference.avg_pool2d(x, *args, count_include_pad=cip),
                                   rtol=1e-13)
        np.testing.assert_allclose(
            F.avg_pool2d_backward(go, x, *args, count_include_pad=cip),
            reference.avg_pool2d_backward(go, x, *args, count_include_pad=cip), rtol=1e-13)


def test_max_pool_ties_and_nan_follow_torch():
    # a window of equal values: the first (top-left) position wins, as in PyTorch
    x = np.zeros((1, 1, 2, 2), dtype=np.float32)
    y, idx = F.max_pool2d(x, 2, return_indices=True)
    assert idx.item() == 0
    np.testing.assert_array_equal(F.max_pool2d_backward(np.ones_like(y), x, 2),
                                  [[[[1, 0], [0, 0]]]])
    # NaN wins over numbers; with two NaNs the last one in window order is kept
    x = np.array([[[[1.0, np.nan], [np.nan, 5.0]]]])
    y, idx = F.max_pool2d(x, 2, return_indices=True)
    yt, it = tF.max_pool2d(torch.tensor(x), 2, return_indices=True)
    assert np.isnan(y.item()) and np.isnan(yt.item())
    assert idx.item() == it.item() == 2


def test_unbatched_pooling_and_windows_overlapping():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 8, 8)).astype(np.float32)
    y = F.max_pool2d(x, 3, stride=1, padding=1)
    np.testing.assert_array_equal(y, tF.max_pool2d(torch.tensor(x), 3, 1, 1).numpy())
    go = np.ones_like(y)
    gx = F.avg_pool2d_backward(go, x, 3, 1, 1)
    xt = torch.tensor(x, requires_grad=True)
    (gxt,) = torch.autograd.grad(tF.avg_pool2d(xt, 3, 1, 1), xt, torch.tensor(go))
    np.testing.assert_allclose(gx, gxt.numpy(), rtol=1e-6)


@pytest.mark.parametrize("call, match", [
    (lambda: F.max_pool2d(np.ones((1, 1, 4, 4)), 2, padding=2), "at most half"),
    (lambda: F.avg_pool2d(np.ones((1, 1, 2, 2)), 3, padding=1, stride=1), None),
    (lambda: F.avg_pool2d(np.ones((1, 1, 2, 2)), 5, padding=1), "larger than the padded"),
    (lambda: F.max_pool2d(np.ones((4, 4)), 2), "x must be 3-D or 4-D"),
    (lambda: F.max_pool2d(np.ones((1, 1, 0, 4)), 2, padding=1), "non-empty spatial"),
    (lambda: F.avg_pool2d_backward(np.ones((1, 1, 1, 1)), np.ones((1, 1, 4, 0)), 2,
                                   padding=1), "non-empty spatial"),
    (lambda: F.max_pool2d(np.ones((1, 1, 4, 4)), 0), "kernel_size"),
    (lambda: F.max_pool2d(np.ones((1, 1, 4, 4)), 2, stride=0), "stride"),
    (lambda: F.max_pool2d_backward(np.ones((1, 1, 3, 3)), np.ones((1, 1, 4, 4)), 2),
     "grad_out must have the output shape"),
    (lambda: F.max_pool2d_backward(np.ones((1, 1, 2, 2)), np.ones((1, 1, 4, 4)), 2,
                                   indices=np.full((1, 1, 2, 2), 16)), r"\[0, 16\)"),
])
def test_pool_bad_input(call, match):
    if match is None:   # a valid call: the window may cover padding on both sides
        assert call().shape == (1, 1, 2, 2)
        return
    with pytest.raises(ValueError, match=match):
        call()
