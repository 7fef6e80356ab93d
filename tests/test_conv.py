"""conv1d / conv2d forward and backward against PyTorch (autograd) and the reference."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import fastml
from fastml.nn import functional as F
from fastml.reference import conv as reference

torch = pytest.importorskip("torch")
tF = torch.nn.functional
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")

TOL = {np.float32: 1e-4, np.float64: 1e-10}


@pytest.fixture(autouse=True)
def every_thread_works(monkeypatch):
    """Small test problems still run on all requested threads (no grain-size cut)."""
    from fastml.nn.functional import _conv

    monkeypatch.setattr(_conv, "_CONV_GRAIN", 1)
    monkeypatch.setattr(_conv, "_POOL_GRAIN", 1)


def assert_close(actual, expected, dtype):
    """Relative error 1e-4 (float32) / 1e-10 (float64), measured against the largest entry.

    Entries near zero come from cancelling sums, so the tolerance is scaled by the
    largest magnitude rather than by each entry.
    """
    expected = np.asarray(expected)
    assert actual.shape == expected.shape
    assert actual.dtype == np.dtype(dtype)
    scale = max(float(np.max(np.abs(expected), initial=0.0)), 1e-30)
    tol = TOL[dtype]
    np.testing.assert_allclose(actual, expected, rtol=tol, atol=tol * scale)


def torch_conv(x, w, b, go, nd=2, **kw):
    """Forward and (grad_x, grad_w, grad_b) from torch.autograd."""
    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(w, requires_grad=True)
    bt = torch.tensor(b, requires_grad=True)
    y = (tF.conv2d if nd == 2 else tF.conv1d)(xt, wt, bt, **kw)
    grads = torch.autograd.grad(y, (xt, wt, bt), torch.tensor(go)) if go is not None else ()
    return y.detach().numpy(), [g.numpy() for g in grads]


def check_against_torch(x, w, b, dtype, nd=2, **kw):
    fwd, bwd = (F.conv2d, F.conv2d_backward) if nd == 2 else (F.conv1d, F.conv1d_backward)
    y = fwd(x, w, b, **kw)
    rng = np.random.default_rng(1)
    go = rng.standard_normal(y.shape).astype(dtype)
    ty, tgrads = torch_conv(np.ascontiguousarray(x), w, b, go, nd, **kw)
    assert_close(y, ty, dtype)
    for mine, theirs in zip(bwd(go, x, w, **kw), tgrads):
        assert_close(mine, theirs, dtype)


@st.composite
def conv_problem(draw, nd):
    groups = draw(st.integers(1, 3))
    cg, cog = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    padding = tuple(draw(st.integers(0, 2)) for _ in range(nd))
    size = tuple(draw(st.integers(1, 9)) for _ in range(nd))
    for k, d, p, n in zip(kernel, dilation, padding, size):
        assume(d * (k - 1) + 1 <= n + 2 * p)
    batch = draw(st.integers(1, 3))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    seed = draw(st.integers(0, 2**16))
    return dict(shape=(batch, cg * groups, *size), w_shape=(cog * groups, cg, *kernel),
                kw=dict(stride=stride, padding=padding, dilation=dilation, groups=groups),
                dtype=dtype, seed=seed)


@settings(max_examples=25, deadline=None)
@given(conv_problem(2), st.sampled_from([1, 2, 3]))
def test_conv2d_matches_torch(p, n_threads):
    rng = np.random.default_rng(p["seed"])
    x = rng.standard_normal(p["shape"]).astype(p["dtype"])
    w = rng.standard_normal(p["w_shape"]).astype(p["dtype"])
    b = rng.standard_normal(p["w_shape"][0]).astype(p["dtype"])
    with fastml.threads(n_threads):
        check_against_torch(x, w, b, p["dtype"], **p["kw"])


@settings(max_examples=15, deadline=None)
@given(conv_problem(1))
def test_conv1d_matches_torch(p):
    rng = np.random.default_rng(p["seed"])
    x = rng.standard_normal(p["shape"]).astype(p["dtype"])
    w = rng.standard_normal(p["w_shape"]).astype(p["dtype"])
    b = rng.standard_normal(p["w_shape"][0]).astype(p["dtype"])
    check_against_torch(x, w, b, p["dtype"], nd=1, **p["kw"])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, w_shape, kw", [
    # several column tiles per image (K = 576: about 455 float32 pixels per tile)
    ((1, 64, 24, 40), (16, 64, 3, 3), dict(padding=1)),
    ((3, 64, 24, 40), (16, 64, 3, 3), dict(padding=1, stride=2)),
    # 1x1 stride 1: GEMM straight on x, tiled
    ((2, 8, 40, 40), (5, 8, 1, 1), {}),
    # depthwise with a channel multiplier, strided and dilated
    ((2, 6, 11, 10), (12, 1, 3, 3), dict(groups=6, stride=2, dilation=2, padding=2)),
    ((2, 6, 11, 10), (6, 1, 5, 5), dict(groups=6, padding="same")),
    # "same" with an even kernel: the extra padding goes after
    ((2, 3, 8, 9), (4, 3, 4, 2), dict(padding="same", dilation=(1, 3))),
    ((2, 3, 8, 9), (4, 3, 4, 2), dict(padding="valid")),
])
@pytest.mark.parametrize("n_threads", [1, 3])
def test_conv2d_paths(shape, w_shape, kw, dtype, n_threads):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    b = rng.standard_normal(w_shape[0]).astype(dtype)
    with fastml.threads(n_threads):
        check_against_torch(x, w, b, dtype, **kw)


def test_padding_wider_than_the_output_row():
    rng = np.random.default_rng(9)
    x, w, b = rng.standard_normal((2, 3, 1, 1)), rng.standard_normal((4, 3, 3, 3)), np.zeros(4)
    check_against_torch(x, w, b, np.float64, padding=2, dilation=2)


def test_conv1d_same_padding_and_unbatched():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 30))
    w = rng.standard_normal((3, 4, 4))
    b = rng.standard_normal(3)
    check_against_torch(x, w, b, np.float64, nd=1, padding="same", dilation=3)
    check_against_torch(x[None], w, b, np.float64, nd=1, stride=2, padding=3)


def test_non_contiguous_and_integer_inputs():
    rng = np.random.default_rng(3)
    base = rng.standard_normal((3, 8, 12, 14)).astype(np.float32)
    x = base[:, ::2, ::-1, 1::2]                 # strided, reversed view
    w = np.asfortranarray(rng.standard_normal((6, 4, 3, 3)).astype(np.float32))
    b = rng.standard_normal(6).astype(np.float32)
    check_against_torch(x, w, b, np.float32, padding=1)
    xi = rng.integers(-3, 4, size=(2, 3, 5, 5))
    wi = rng.integers(-2, 3, size=(2, 3, 2, 2))
    y = F.conv2d(xi, wi)
    assert y.dtype == np.float64
    np.testing.assert_array_equal(y, reference.conv2d(xi, wi))


def test_unbatched_conv2d_and_dtype_promotion():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 7, 6)).astype(np.float32)
    w = rng.standard_normal((2, 3, 3, 3))               # float64 weight
    y = F.conv2d(x, w, padding=1)
    assert y.shape == (2, 7, 6) and y.dtype == np.float64
    expected = tF.conv2d(torch.tensor(x, dtype=torch.float64), torch.tensor(w), padding=1)
    assert_close(y, expected.numpy(), np.float64)
    gx, gw, gb = F.conv2d_backward(np.ones_like(y), x, w, padding=1)
    assert gx.shape == x.shape and gw.shape == w.shape and gb.shape == (2,)


def test_no_bias_and_empty_batch():
    rng = np.random.default_rng(5)
    w = rng.standard_normal((4, 2, 3, 3))
    x = np.zeros((0, 2, 5, 5))
    y = F.conv2d(x, w)
    assert y.shape == (0, 4, 3, 3)
    gx, gw, gb = F.conv2d_backward(y, x, w)
    assert gx.shape == x.shape
    np.testing.assert_array_equal(gw, 0)
    np.testing.assert_array_equal(gb, 0)
    x = rng.standard_normal((2, 2, 5, 5))
    np.testing.assert_allclose(F.conv2d(x, w), reference.conv2d(x, w), rtol=1e-12,
                               atol=1e-12)
    w0 = np.zeros((0, 2, 3, 3))           # no output channels
    y = F.conv2d(x, w0)
    assert y.shape == (2, 0, 3, 3)
    gx, gw, gb = F.conv2d_backward(y, x, w0)
    np.testing.assert_array_equal(gx, 0)
    assert gw.shape == w0.shape and gb.shape == (0,)


def test_nan_propagates_like_torch():
    x = np.ones((1, 2, 5, 5), dtype=np.float32)
    x[0, 1, 2, 2] = np.nan
    w = np.ones((3, 2, 3, 3), dtype=np.float32)
    y = F.conv2d(x, w)
    expected = tF.conv2d(torch.tensor(x), torch.tensor(w)).numpy()
    np.testing.assert_array_equal(np.isnan(y), np.isnan(expected))
    assert np.isnan(y).all()


@pytest.mark.parametrize("nd", [1, 2])
def test_reference_matches_torch(nd):
    rng = np.random.default_rng(6)
    shape = (2, 4, 9) if nd == 1 else (2, 4, 7, 8)
    w_shape = (6, 2, 3) if nd == 1 else (6, 2, 3, 2)
    x, w, b = rng.standard_normal(shape), rng.standard_normal(w_shape), rng.standard_normal(6)
    kw = dict(stride=2, padding=1, dilation=2 if nd == 1 else (1, 2), groups=2)
    fwd, bwd = (reference.conv2d, reference.conv2d_backward)
    y = fwd(x, w, b, **kw)
    go = rng.standard_normal(y.shape)
    ty, tgrads = torch_conv(x, w, b, go, nd, **kw)
    assert_close(y, ty, np.float64)
    for mine, theirs in zip(bwd(go, x, w, **kw), tgrads):
        assert_close(mine, theirs, np.float64)


@pytest.mark.parametrize("call, match", [
    (lambda: F.conv2d(np.ones((1, 3, 5, 5)), np.ones((2, 2, 3, 3))), "x has 3 channels"),
    (lambda: F.conv2d(np.ones((1, 4, 5, 5)), np.ones((3, 2, 3, 3)), groups=2),
     "groups=2 must divide"),
    (lambda: F.conv2d(np.ones((1, 3, 5, 5)), np.ones((2, 1, 3, 3)), groups=2),
     "groups=2 must divide"),
    (lambda: F.conv2d(np.ones((1, 2, 2, 5)), np.ones((2, 2, 3, 3))), "padded input size 2"),
    (lambda: F.conv2d(np.ones((1, 2, 5, 5)), np.ones((2, 2, 3, 3)), dilation=3),
     "spans 7"),
    (lambda: F.conv2d(np.ones((1, 2, 5, 5)), np.ones((2, 2, 3, 3)), stride=0), "stride"),
    (lambda: F.conv2d(np.ones((1, 2, 5, 5)), np.ones((2, 2, 3, 3)), dilation=(1, -1)),
     "dilation"),
    (lambda: F.conv2d(np.ones((1, 2, 5, 5)), np.ones((2, 2, 3, 3)), padding=-1), "padding"),
    (lambda: F.conv2d(np.ones((2, 5, 5)), np.ones((2, 2, 3))), "w must be 4-D"),
    (lambda: F.conv2d(np.ones((5, 5)), np.ones((2, 2, 3, 3))), "x must be 3-D or 4-D"),
    (lambda: F.conv1d(np.ones((1, 2, 3, 5)), np.ones((2, 2, 3))), "x must be 2-D or 3-D"),
    (lambda: F.conv2d(np.ones((1, 2, 5, 5)), np.ones((2, 2, 3, 3)), np.ones(3)),
     r"b must have shape \(2,\)"),
    (lambda: F.conv2d(np.ones((1, 2, 5, 5)), np.ones((2, 2, 3, 3)), padding="full"),
     "padding must be one of"),
    (lambda: F.conv2d(np.ones((1, 2, 5, 5)), np.ones((2, 2, 3, 3)), stride=2,
                      padding="same"), "needs stride 1"),
    (lambda: F.conv2d(np.ones((1, 0, 5, 5)), np.ones((2, 0, 3, 3))), "at least one input"),
    (lambda: F.conv2d_backward(np.ones((1, 2, 4, 3)), np.ones((1, 2, 5, 5)),
                               np.ones((2, 2, 3, 3))), r"grad_out must have the output shape"),
])
def test_bad_input_raises_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_bad_kinds_raise_type_error():
    with pytest.raises(TypeError, match="stride"):
        F.conv2d(np.ones((1, 2, 5, 5)), np.ones((2, 2, 3, 3)), stride=(1, 1, 1))
    with pytest.raises(TypeError, match="groups"):
        F.conv2d(np.ones((1, 2, 5, 5)), np.ones((2, 2, 3, 3)), groups=1.5)
    with pytest.raises(TypeError, match="x must be"):
        F.conv2d(np.ones((1, 2, 5, 5), dtype=complex), np.ones((2, 2, 3, 3)))


@pytest.mark.parametrize("n_threads", [1, 2, 3])
@pytest.mark.parametrize("shape, w_shape, stride, pad", [
    ((2, 3, 20, 21), (4, 3, 3, 3), 1, 1),    # 64-pixel tiles cut across output rows
    ((1, 2, 23, 17), (3, 2, 2, 4), 2, 1),    # one image: per-thread grad_x copies
    ((3, 4, 12, 12), (5, 4, 1, 1), 1, 0),    # 1x1: GEMM on x, tiled
    # a tile ends 1 pixel into a row (OW = 63), where padding 2 is wider than the segment
    ((1, 2, 5, 61), (3, 2, 3, 3), 1, 2),
])
def test_tiling_does_not_change_the_answer(shape, w_shape, stride, pad, n_threads):
    """Kernel level: the smallest tiles (64 pixels) give the reference's answer."""
    from fastml.kernels import _conv

    rng = np.random.default_rng(7)
    x, w = rng.standard_normal(shape), rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[0])
    expected = reference.conv2d(x, w, b, stride=stride, padding=pad)
    y = np.empty_like(expected)
    go = rng.standard_normal(y.shape)
    gx, gw, gb = np.empty_like(x), np.empty_like(w), np.empty_like(b)
    with fastml._threads.blas_single_threaded():
        _conv.conv2d_forward(x, w, b, True, y, stride, stride, pad, pad, 1, 1, 1, n_threads,
                             tile_bytes=1)
        _conv.conv2d_backward(go, x, w, gx, gw, gb, stride, stride, pad, pad, 1, 1, 1,
                              n_threads, tile_bytes=1)
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12)
    for mine, ref in zip((gx, gw, gb), reference.conv2d_backward(go, x, w, stride=stride,
                                                                 padding=pad)):
        np.testing.assert_allclose(mine, ref, rtol=1e-12, atol=1e-12)


def test_tiny_problems_use_fewer_threads():
    from fastml._kernels import threads_for as _n_threads

    with fastml.threads(4):
        assert _n_threads(10, 1000) == 1
        assert _n_threads(2500, 1000) == 2
        assert _n_threads(10**9, 1000) == 4


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, c_out, pad", [
    ((1, 64, 64, 64), 64, 1),        # even sizes
    ((1, 64, 65, 67), 65, 0),        # odd output sizes: clipped edge tiles
    ((1, 66, 62, 62), 64, 2),
])
def test_winograd_forward_matches_torch(shape, c_out, pad, dtype):
    """3x3 stride-1 layers with >= 64 channels and >= 1024 tiles run Winograd F(2x2, 3x3)
    in the forward; same tolerances as every other path."""
    from fastml.kernels import _conv

    rng = np.random.default_rng(8)
    x = rng.standard_normal(shape).astype(dtype)
    w = (rng.standard_normal((c_out, shape[1], 3, 3)) / 10).astype(dtype)
    b = rng.standard_normal(c_out).astype(dtype)
    y = F.conv2d(x, w, b, padding=pad)
    ty, _ = torch_conv(x, w, b, None, padding=pad)
    assert_close(y, ty, dtype)
    with fastml._threads.blas_single_threaded():
        assert _conv.conv2d_forward(x, w, b, True, y, 1, 1, pad, pad, 1, 1, 1, 2) == "winograd"
        assert _conv.conv2d_forward(x, w, b, True, y, 1, 1, pad, pad, 1, 1, 1, 2,
                                    allow_winograd=False) == "im2col-gemm"
    assert_close(y, ty, dtype)
