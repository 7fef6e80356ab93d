"""Scaled dot-product and multi-head attention vs PyTorch (oracle) and the NumPy reference."""

import contextlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastml
from fastml.nn import functional as F
from fastml.reference import attention as reference

torch = pytest.importorskip("torch")
TF = torch.nn.functional

RTOL = {np.float32: 1e-4, np.float64: 1e-10}


def assert_close(actual, expected, dtype, scale=None):
    """Relative agreement to the largest entry (``scale``) of the expected answer."""
    expected = np.asarray(expected)
    if scale is None:
        scale = max(float(np.max(np.abs(expected), initial=0.0)), 1e-30)
    assert actual.dtype == dtype
    np.testing.assert_allclose(actual, expected, rtol=RTOL[dtype], atol=RTOL[dtype] * scale)


def torch_mask(mask, causal, nq, nk):
    """The mask torch needs for (mask, causal): torch cannot take both at once."""
    m = None if mask is None else torch.from_numpy(np.asarray(mask))
    if causal:
        tri = torch.ones(nq, nk, dtype=torch.bool).tril()
        if m is None:
            m = tri
        elif m.dtype == torch.bool:
            m = m & tri
        else:
            m = m.masked_fill(~tri, -float("inf"))
    return m


def torch_attention(q, k, v, grad_out, mask=None, causal=False, scale=None):
    """Output and (grad_q, grad_k, grad_v) from torch SDPA."""
    tq, tk, tv = (torch.from_numpy(x).requires_grad_() for x in (q, k, v))
    out = TF.scaled_dot_product_attention(
        tq, tk, tv, attn_mask=torch_mask(mask, causal, q.shape[-2], k.shape[-2]), scale=scale)
    out.backward(torch.from_numpy(grad_out))
    return out.detach().numpy(), tuple(t.grad.numpy() for t in (tq, tk, tv))


def check_against_torch(q, k, v, mask=None, causal=False, scale=None, seed=0):
    dtype = q.dtype.type
    rng = np.random.default_rng(seed)
    g = rng.standard_normal(q.shape[:-1] + v.shape[-1:]).astype(dtype)
    expected, expected_grads = torch_attention(q, k, v, g, mask, causal, scale)
    out = F.scaled_dot_product_attention(q, k, v, mask, causal, scale)
    grads = F.scaled_dot_product_attention_backward(g, q, k, v, mask, causal, scale)
    assert_close(out, expected, dtype)
    gscale = max(float(np.abs(e).max(initial=0.0)) for e in expected_grads) or 1e-30
    for got, want in zip(grads, expected_grads):
        assert got.shape == want.shape
        assert_close(got, want, dtype, scale=gscale)
    return out, grads


def make_mask(rng, kind, shape, dtype):
    """A boolean or additive mask of ``shape``; some rows may be fully masked."""
    keep = rng.random(shape) < 0.7
    if kind == "bool":
        return keep
    return np.where(keep, rng.standard_normal(shape), -np.inf).astype(dtype)


@st.composite
def problems(draw):
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    batched_heads = draw(st.booleans())
    B, H = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    nq, nk = draw(st.integers(1, 40)), draw(st.integers(1, 40))
    d, dv = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    causal = draw(st.booleans())
    mask_kind = draw(st.sampled_from([None, "bool", "float"]))
    lead = (B, H) if batched_heads else (B,)
    full = lead + (nq, nk)
    # a broadcastable mask shape: drop leading axes, or set some axes to 1
    drop = draw(st.integers(0, len(lead)))
    ones = draw(st.lists(st.booleans(), min_size=len(full) - drop, max_size=len(full) - drop))
    mask_shape = tuple(1 if o else n for o, n in zip(ones, full[drop:]))
    # tiles smaller than the problem exercise the online softmax across tiles
    tiles = draw(st.sampled_from([None, (3, 5, (4, 3)), (8, 4, (5, 7))]))
    seed = draw(st.integers(0, 2**16))
    return dtype, lead, nq, nk, d, dv, causal, mask_kind, mask_shape, tiles, seed


@contextlib.contextmanager
def tile_sizes(tiles):
    """Run with (query tile, key tile, backward tiles) instead of the defaults."""
    from fastml.nn.functional import _attention

    names = ("_QUERY_TILE", "_KEY_TILE", "_BACKWARD_TILES")
    saved = [getattr(_attention, n) for n in names]
    try:
        if tiles is not None:
            for n, t in zip(names, tiles):
                setattr(_attention, n, t)
        yield
    finally:
        for n, t in zip(names, saved):
            setattr(_attention, n, t)


@settings(max_examples=25, deadline=None)
@given(problems())
def test_matches_torch_on_random_problems(problem):
    dtype, lead, nq, nk, d, dv, causal, mask_kind, mask_shape, tiles, seed = problem
    rng = np.random.default_rng(seed)
    q = rng.standard_normal(lead + (nq, d)).astype(dtype)
    k = rng.standard_normal(lead + (nk, d)).astype(dtype)
    v = rng.standard_normal(lead + (nk, dv)).astype(dtype)
    mask = None if mask_kind is None else make_mask(rng, mask_kind, mask_shape, dtype)
    with tile_sizes(tiles):
        check_against_torch(q, k, v, mask, causal, seed=seed)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("causal", [False, True])
def test_many_tiles_with_mask_and_custom_scale(dtype, causal):
    """Several query and key tiles (Nq != Nk), a broadcast padding mask and a scale."""
    rng = np.random.default_rng(1)
    q = rng.standard_normal((2, 2, 300, 16)).astype(dtype)
    k = rng.standard_normal((2, 2, 700, 16)).astype(dtype)
    v = rng.standard_normal((2, 2, 700, 8)).astype(dtype)
    mask = (rng.random((2, 1, 1, 700)) < 0.8)
    check_against_torch(q, k, v, mask, causal, scale=0.3)


def test_reference_matches_torch():
    rng = np.random.default_rng(2)
    q, k, v, g = (rng.standard_normal((2, 3, 9, 5)) for _ in range(4))
    mask = rng.random((9, 9)) < 0.6
    mask[4] = False
    expected, expected_grads = torch_attention(q, k, v, g, mask, causal=True)
    np.testing.assert_allclose(reference.scaled_dot_product_attention(q, k, v, mask, True),
                               expected, rtol=1e-12, atol=1e-12)
    for got, want in zip(reference.scaled_dot_product_attention_backward(g, q, k, v, mask,
                                                                         True),
                         expected_grads):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_fully_masked_rows_are_zero_and_do_not_leak():
    rng = np.random.default_rng(3)
    q, k, v, g = (rng.standard_normal((1, 2, 6, 4)) for _ in range(4))
    mask = np.ones((6, 6), bool)
    mask[2] = False
    out, grads = check_against_torch(q, k, v, mask)
    assert np.all(out[:, :, 2] == 0) and np.all(grads[0][:, :, 2] == 0)
    assert all(np.isfinite(x).all() for x in (out, *grads))
    additive = np.where(mask, 0.0, -np.inf)
    np.testing.assert_array_equal(F.scaled_dot_product_attention(q, k, v, additive), out)
    # a fully masked row must not change the others
    np.testing.assert_allclose(out[:, :, 3:], F.scaled_dot_product_attention(
        q[:, :, 3:], k, v, mask[3:]), rtol=1e-14, atol=1e-14)


def test_causal_with_more_keys_than_queries_is_top_left_aligned():
    rng = np.random.default_rng(4)
    q = rng.standard_normal((1, 1, 3, 4)).astype(np.float32)
    k, v = (rng.standard_normal((1, 1, 8, 4)).astype(np.float32) for _ in range(2))
    out = F.scaled_dot_product_attention(q, k, v, causal=True)
    np.testing.assert_allclose(out[0, 0, 0], v[0, 0, 0], rtol=1e-6)
    check_against_torch(q, k, v, causal=True)


def test_log_sum_exp_and_saved_forward():
    rng = np.random.default_rng(5)
    q, k, v, g = (rng.standard_normal((2, 3, 40, 8)) for _ in range(4))
    out, lse = F.scaled_dot_product_attention(q, k, v, causal=True, return_lse=True)
    s = q @ np.swapaxes(k, -1, -2) / np.sqrt(8) + np.where(np.tri(40, dtype=bool), 0, -np.inf)
    np.testing.assert_allclose(lse, np.logaddexp.reduce(s, axis=-1), rtol=1e-13)
    assert lse.shape == (2, 3, 40)
    fresh = F.scaled_dot_product_attention_backward(g, q, k, v, causal=True)
    saved = F.scaled_dot_product_attention_backward(g, q, k, v, causal=True, out=out, lse=lse)
    for a, b in zip(fresh, saved):
        np.testing.assert_array_equal(a, b)


def test_three_dimensional_and_strided_inputs():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 4, 30, 8)).astype(np.float32)
    q, k, v = x[:, 0], x[:, 1], x[:, 2]            # (B, N, d) strided views
    qt = np.swapaxes(rng.standard_normal((2, 8, 30)), 1, 2).astype(np.float32)
    out = F.scaled_dot_product_attention(q, k, v, causal=True)
    assert out.shape == (2, 30, 8) and out.dtype == np.float32
    np.testing.assert_allclose(out, F.scaled_dot_product_attention(
        q.copy(), k.copy(), v.copy(), causal=True), rtol=1e-6, atol=1e-7)
    check_against_torch(qt, k.copy(), v.copy())
    grads = F.scaled_dot_product_attention_backward(out, q, k, v)
    assert [gr.shape for gr in grads] == [(2, 30, 8)] * 3


def test_broadcast_and_reversed_views():
    """Zero batch strides are read in place; reversed or overlapping rows are copied."""
    rng = np.random.default_rng(12)
    x = rng.standard_normal((1, 1, 20, 6))
    q = np.broadcast_to(x, (2, 3, 20, 6))
    k = rng.standard_normal((2, 3, 20, 6))[:, :, ::-1]
    v = np.lib.stride_tricks.as_strided(x, (2, 3, 20, 6), (0, 0, 8, 8))  # overlapping rows
    expected = F.scaled_dot_product_attention(q.copy(), k.copy(), v.copy(), causal=True)
    np.testing.assert_array_equal(F.scaled_dot_product_attention(q, k, v, causal=True),
                                  expected)
    check_against_torch(q.copy(), k.copy(), v.copy(), causal=True)


def test_result_does_not_depend_on_the_thread_count():
    rng = np.random.default_rng(7)
    q, k, v, g = (rng.standard_normal((2, 2, 200, 16)).astype(np.float32) for _ in range(4))
    with fastml.threads(1):
        one = (F.scaled_dot_product_attention(q, k, v, causal=True),
               *F.scaled_dot_product_attention_backward(g, q, k, v, causal=True))
    with fastml.threads(2):
        two = (F.scaled_dot_product_attention(q, k, v, causal=True),
               *F.scaled_dot_product_attention_backward(g, q, k, v, causal=True))
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)


def test_large_scores_do_not_overflow():
    """exp(200) overflows float32: only the running-max subtraction keeps it finite."""
    rng = np.random.default_rng(8)
    q, k, v = (rng.standard_normal((1, 1, 64, 8)).astype(np.float32) for _ in range(3))
    shifted = F.scaled_dot_product_attention(q, k, v, np.float32(200.0))
    assert_close(shifted, F.scaled_dot_product_attention(q, k, v), np.float32)
    check_against_torch(*(30 * x.astype(np.float64) for x in (q, k)), v.astype(np.float64))


def test_dtypes():
    rng = np.random.default_rng(9)
    q = rng.standard_normal((1, 4, 3))
    assert F.scaled_dot_product_attention(q.astype(np.float32), q.astype(np.float32),
                                          q.astype(np.float32)).dtype == np.float32
    assert F.scaled_dot_product_attention(q.astype(np.float32), q, q).dtype == np.float64
    ints = np.arange(12).reshape(1, 4, 3)
    assert F.scaled_dot_product_attention(ints, ints, ints).dtype == np.float64


@pytest.mark.parametrize(("q_shape", "k_shape", "v_shape", "out_shape"), [
    ((2, 0, 4), (2, 5, 4), (2, 5, 3), (2, 0, 3)),      # no query
    ((2, 3, 4), (2, 0, 4), (2, 0, 3), (2, 3, 3)),      # no key: every row masked
    ((2, 3, 0), (2, 5, 0), (2, 5, 3), (2, 3, 3)),      # d = 0: uniform weights
    ((2, 3, 4), (2, 5, 4), (2, 5, 0), (2, 3, 0)),      # dv = 0
    ((0, 3, 4), (0, 5, 4), (0, 5, 3), (0, 3, 3)),      # empty batch
])
def test_empty_sizes(q_shape, k_shape, v_shape, out_shape):
    rng = np.random.default_rng(10)
    q, k, v = (rng.standard_normal(s) for s in (q_shape, k_shape, v_shape))
    out = F.scaled_dot_product_attention(q, k, v)
    assert out.shape == out_shape
    np.testing.assert_allclose(out, reference.scaled_dot_product_attention(q, k, v),
                               atol=1e-15)
    grads = F.scaled_dot_product_attention_backward(np.ones(out_shape), q, k, v)
    expected = reference.scaled_dot_product_attention_backward(np.ones(out_shape), q, k, v)
    for got, want in zip(grads, expected):
        np.testing.assert_allclose(got, want, atol=1e-15)


def test_bad_input_raises():
    q = np.zeros((2, 3, 5, 4))
    sdpa = F.scaled_dot_product_attention
    with pytest.raises(ValueError, match="head dimension"):
        sdpa(q, np.zeros((2, 3, 5, 6)), q)
    with pytest.raises(ValueError, match="same sequence length"):
        sdpa(q, q, np.zeros((2, 3, 6, 4)))
    with pytest.raises(ValueError, match="batch dimensions"):
        sdpa(q, np.zeros((2, 2, 5, 4)), np.zeros((2, 2, 5, 4)))
    with pytest.raises(ValueError, match="number of dimensions"):
        sdpa(q, q[0], q[0])
    with pytest.raises(ValueError, match="3-D or 4-D"):
        sdpa(q[0, 0], q[0, 0], q[0, 0])
    with pytest.raises(ValueError, match=r"not broadcastable to \(2, 3, 5, 5\)"):
        sdpa(q, q, q, mask=np.ones((5, 4), bool))
    with pytest.raises(ValueError, match="not broadcastable"):
        sdpa(q, q, q, mask=np.ones((1, 2, 3, 5, 5), bool))
    with pytest.raises(TypeError, match="mask must be boolean"):
        sdpa(q, q, q, mask=np.ones((5, 5), int))
    with pytest.raises(ValueError, match="NaN or \\+inf"):
        sdpa(q, q, q, mask=np.full((5, 5), np.nan))
    with pytest.raises(ValueError, match="q contains NaN"):
        sdpa(np.full_like(q, np.nan), q, q)
    with pytest.raises(TypeError, match="causal must be a bool"):
        sdpa(q, q, q, causal=1)
    with pytest.raises(ValueError, match="scale must be finite"):
        sdpa(q, q, q, scale=np.inf)
    back = F.scaled_dot_product_attention_backward
    with pytest.raises(ValueError, match="grad_out must have the output's shape"):
        back(np.zeros((2, 3, 5, 3)), q, q, q)
    with pytest.raises(ValueError, match="both out and lse"):
        back(q, q, q, q, out=q)
    with pytest.raises(ValueError, match="out and lse must have shapes"):
        back(q, q, q, q, out=q, lse=np.zeros((2, 3, 4)))


# ---------------------------------------------------------------- multi-head attention
def torch_mha(E, H, kdim, bias, rng, dtype):
    mha = torch.nn.MultiheadAttention(E, H, bias=bias, batch_first=True, kdim=kdim,
                                      vdim=kdim, dtype=torch.float64 if dtype == np.float64
                                      else torch.float32)
    with torch.no_grad():
        for p in mha.parameters():
            p.copy_(torch.from_numpy(rng.standard_normal(tuple(p.shape)) * 0.3))
    return mha


def mha_weights(mha):
    """fastml arguments (w_q, w_k, w_v, w_o, b_q, b_k, b_v, b_o) from a torch module."""
    if mha._qkv_same_embed_dim:
        w = [x.detach().numpy() for x in mha.in_proj_weight.chunk(3)]
    else:
        w = [x.detach().numpy() for x in (mha.q_proj_weight, mha.k_proj_weight,
                                          mha.v_proj_weight)]
    w.append(mha.out_proj.weight.detach().numpy())
    if mha.in_proj_bias is None:
        return w + [None] * 4
    return w + [b.detach().numpy() for b in mha.in_proj_bias.chunk(3)] + [
        mha.out_proj.bias.detach().numpy()]


def mha_torch_grads(mha):
    """Gradients in fastml's order (w_q, w_k, w_v, w_o, b_q, b_k, b_v, b_o)."""
    if mha._qkv_same_embed_dim:
        w = list(mha.in_proj_weight.grad.chunk(3))
    else:
        w = [mha.q_proj_weight.grad, mha.k_proj_weight.grad, mha.v_proj_weight.grad]
    w.append(mha.out_proj.weight.grad)
    b = [None] * 4 if mha.in_proj_bias is None else [
        *mha.in_proj_bias.grad.chunk(3), mha.out_proj.bias.grad]
    return [None if x is None else x.numpy() for x in w + b]


@pytest.mark.parametrize(("dtype", "kdim", "bias", "masking", "unbatched"), [
    (np.float32, None, True, None, False),        # self-attention
    (np.float64, None, True, "causal", False),
    (np.float64, 6, True, "padding", False),      # cross-attention, kdim != E
    (np.float32, 6, False, "additive", False),
    (np.float64, None, True, "causal", True),
])
def test_multi_head_attention_matches_torch(dtype, kdim, bias, masking, unbatched):
    rng = np.random.default_rng(11)
    B, nq, E, H = 2, 7, 8, 2
    nk = nq if kdim is None else 9
    mha = torch_mha(E, H, kdim, bias, rng, dtype)
    x_q = rng.standard_normal((B, nq, E)).astype(dtype)
    x_kv = x_q if kdim is None else rng.standard_normal((B, nk, kdim)).astype(dtype)
    if unbatched:
        x_q, x_kv = x_q[0], x_kv[0]
    mask, causal, torch_kw = None, False, {}
    if masking == "causal":
        causal = True
        torch_kw["attn_mask"] = torch.ones(nq, nk, dtype=torch.bool).triu(1)
    elif masking == "padding":
        keep = np.ones((B, nk), bool)
        keep[1, 5:] = False
        mask = keep[:, None, None, :]
        torch_kw["key_padding_mask"] = torch.from_numpy(~keep)
    elif masking == "additive":
        mask = (0.5 * rng.standard_normal((B, H, nq, nk))).astype(dtype)
        torch_kw["attn_mask"] = torch.from_numpy(mask.reshape(B * H, nq, nk))
    tq = torch.from_numpy(x_q).requires_grad_()
    tkv = tq if kdim is None else torch.from_numpy(x_kv).requires_grad_()
    expected, _ = mha(tq, tkv, tkv, need_weights=False, **torch_kw)
    g = rng.standard_normal(expected.shape).astype(dtype)
    expected.backward(torch.from_numpy(g))

    args = mha_weights(mha)
    out = F.multi_head_attention(x_q, x_kv, *args, num_heads=H, mask=mask, causal=causal)
    assert_close(out, expected.detach().numpy(), dtype)
    if not unbatched:
        np.testing.assert_allclose(out, reference.multi_head_attention(
            x_q, x_kv, *args, num_heads=H, mask=mask, causal=causal),
            rtol=10 * RTOL[dtype], atol=10 * RTOL[dtype])
    grads = F.multi_head_attention_backward(g, x_q, x_kv, *args, num_heads=H, mask=mask,
                                            causal=causal)
    if kdim is None:   # self-attention: x feeds both the queries and the keys/values
        pairs = [(grads[0] + grads[1], tq.grad.numpy())]
    else:
        pairs = [(grads[0], tq.grad.numpy()), (grads[1], tkv.grad.numpy())]
    for got, want in zip(grads[2:], mha_torch_grads(mha)):
        if want is None:
            assert got is None
        else:
            pairs.append((got, want))
    # one scale for all: grad b_k is zero up to rounding (softmax ignores row shifts)
    gscale = max(float(np.abs(want).max()) for _, want in pairs)
    for got, want in pairs:
        assert_close(got, want, dtype, scale=gscale)


def test_multi_head_attention_bad_input():
    x = np.zeros((2, 5, 6))
    w = np.zeros((6, 6))
    with pytest.raises(ValueError, match="num_heads=4 must divide the embedding dimension E=6"):
        F.multi_head_attention(x, x, w, w, w, w, num_heads=4)
    with pytest.raises(ValueError, match=r"w_k must have shape \(6, 6\)"):
        F.multi_head_attention(x, x, w, np.zeros((6, 5)), w, w, num_heads=2)
    with pytest.raises(ValueError, match=r"b_o must have shape \(6,\)"):
        F.multi_head_attention(x, x, w, w, w, w, b_o=np.zeros(5), num_heads=2)
    with pytest.raises(ValueError, match="x_q and x_kv"):
        F.multi_head_attention(x, x[0], w, w, w, w, num_heads=2)
    with pytest.raises(ValueError, match="not broadcastable"):
        F.multi_head_attention(x, x, w, w, w, w, num_heads=2, mask=np.ones((3, 5, 5), bool))
    with pytest.raises(TypeError):
        F.multi_head_attention(x, x, w, w, w, w, num_heads=2.0)
    with pytest.raises(ValueError, match="grad_out must have the output's shape"):
        F.multi_head_attention_backward(x[:, :4], x, x, w, w, w, w, num_heads=2)
