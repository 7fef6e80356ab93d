"""Scaled dot-product attention and multi-head attention, forward and backward.

For queries Q (Nq x d), keys K (Nk x d) and values V (Nk x dv) of one (batch, head):

    S = scale Q K^T + M,   P = softmax(S) (row-wise),   O = P V,

with ``scale = 1 / sqrt(d)`` by default and M the additive mask (0 = keep, -inf = drop;
a boolean mask means True = keep, as in PyTorch). ``causal=True`` keeps key j for query i
only when j <= i (top-left aligned, as ``torch.nn.functional.scaled_dot_product_attention``
with ``is_causal=True``); it may be combined with ``mask``. A query whose keys are all
masked gets an output row of zeros and zero gradients (PyTorch's CPU convention) and never
spreads NaN to other rows.

The compiled kernel (``fastml.kernels._attention``) is FlashAttention: it walks tiles of
queries x keys with an online softmax and never stores the Nq x Nk matrix, so extra memory
is O(tile) per thread; the backward pass recomputes P tile by tile from the saved
log-sum-exp ``lse_i = log sum_j exp(S_ij)`` (FlashAttention-2).

Inputs are (B, H, N, d) or (B, N, d); float32 and float64 (the result has the common
float dtype: float32 only when every input is float32). NaN or infinity in q, k, v or the
gradients raises ``ValueError``; an additive mask may hold -inf but not NaN or +inf.
"""

import numpy as np

from fastml import _kernels
from fastml._validation import (
    _shape_str,
    check_array,
    check_bool,
    check_dtype_kind,
    check_finite_real,
    check_positive_int,
    check_shape,
)
from fastml.nn.functional._core import linear, linear_backward

__all__ = ["multi_head_attention", "multi_head_attention_backward",
           "scaled_dot_product_attention", "scaled_dot_product_attention_backward"]

# Forward: key tile (columns of a score tile) and the largest query tile.
# Backward: (query tile, key tile).
_KEY_TILE = 512
_QUERY_TILE = 256
_BACKWARD_TILES = (256, 256)
_ATTENTION_GRAIN = 1 << 21  # multiply-adds per thread (score and output products)


def _query_tile(bh, nq, n_threads):
    """Largest query tile (<= _QUERY_TILE, >= 16) giving every thread a few tasks."""
    bq = _QUERY_TILE
    while bq > 16 and bh * -(-nq // bq) < 4 * n_threads:
        bq //= 2
    return bq

# the checked problem object; fastml.models' GPT builds it once per forward
__cores__ = ("_Problem",)


class _Problem:
    """Validated attention inputs as 4-D (batch, head, row, feature) views.

    Holds q, k, v (unit feature stride), the additive mask broadcast to
    (B, H, Nq, Nk) or a dummy, ``causal``, ``scale``, the dtype and the output shape.
    """

    def __init__(self, q, k, v, mask, causal, scale, names=("q", "k", "v"), finite=True):
        # finite=False: internal callers whose q, k, v come from checked layer inputs
        # (NaN/inf then propagate to the output instead of being named as q, k, v)
        q = check_array(q, names[0], ndim=(3, 4), order=None, finite=finite)
        k = check_array(k, names[1], ndim=(3, 4), order=None, finite=finite)
        v = check_array(v, names[2], ndim=(3, 4), order=None, finite=finite)
        shapes = (f"got {names[0]} {_shape_str(q.shape)}, {names[1]} {_shape_str(k.shape)}, "
                  f"{names[2]} {_shape_str(v.shape)}")
        if not q.ndim == k.ndim == v.ndim:
            raise ValueError(f"{', '.join(names)} must have the same number of dimensions "
                             f"((B, H, N, d) or (B, N, d)), {shapes}")
        if not q.shape[:-2] == k.shape[:-2] == v.shape[:-2]:
            raise ValueError(f"{', '.join(names)} must have the same batch dimensions "
                             f"(all but the last two), {shapes}")
        if q.shape[-1] != k.shape[-1]:
            raise ValueError(f"{names[0]} and {names[1]} must have the same head dimension "
                             f"(last axis), {shapes}")
        if k.shape[-2] != v.shape[-2]:
            raise ValueError(f"{names[1]} and {names[2]} must have the same sequence length "
                             f"(axis -2), {shapes}")
        self.dtype = np.dtype(np.float32) if q.dtype == k.dtype == v.dtype == np.float32 \
            else np.dtype(np.float64)
        self.ndim = q.ndim
        self.out_shape = q.shape[:-1] + v.shape[-1:]
        self.lse_shape = q.shape[:-1]
        self.q, self.k, self.v = (self._as4(x) for x in (q, k, v))
        self.causal = check_bool(causal, "causal")
        d = q.shape[-1]
        if scale is None:
            self.scale = 1.0 / np.sqrt(d) if d > 0 else 1.0
        else:
            self.scale = check_finite_real(scale, "scale")
        self.mask = self._check_mask(mask)

    def _as4(self, x):
        """A 4-D view in the working dtype that BLAS can read row by row.

        Kept without a copy when features are contiguous and rows do not overlap
        (row stride >= row length, as BLAS's ``lda`` requires); batch and head strides
        may be anything (e.g. zero for broadcast inputs).
        """
        x = x.astype(self.dtype, copy=False)
        if x.ndim == 3:
            x = x[:, None]
        n_rows, n_features = x.shape[-2:]
        if (n_features > 1 and x.strides[-1] != x.itemsize) or \
                (n_rows > 1 and x.strides[-2] < n_features * x.itemsize):
            x = np.ascontiguousarray(x)
        return x

    def _check_mask(self, mask):
        """Additive mask broadcast (zero strides) to (B, H, Nq, Nk), or None."""
        if mask is None:
            return None
        m = np.asarray(mask)
        full = self.lse_shape + (self.k.shape[2],)
        check_dtype_kind(m, "mask", "bf", "boolean (True = keep) or floating point (additive)")
        try:
            ok = m.ndim <= len(full) and np.broadcast_shapes(m.shape, full) == full
        except ValueError:
            ok = False
        if not ok:
            raise ValueError(f"mask of shape {_shape_str(m.shape)} is not broadcastable to "
                             f"{_shape_str(full)} (batch..., Nq, Nk)")
        if m.dtype == np.bool_:
            m = np.where(m, 0.0, -np.inf).astype(self.dtype)
        else:
            m = m.astype(self.dtype, copy=False)
            if np.isnan(m).any() or np.isposinf(m).any():
                raise ValueError("mask must not contain NaN or +inf (use -inf to drop a key)")
        m = np.broadcast_to(m, full)
        return m[:, None] if self.ndim == 3 else m

    def view4(self, x):
        """``x`` of the output layout as a 4-D view."""
        return x[:, None] if self.ndim == 3 else x

    def padded(self):
        """(q, k, v) with a zero feature column added where d or dv is 0.

        Scores with d = 0 are all zero, as with one zero column; the kernel needs
        every size >= 1.
        """
        q, k, v = self.q, self.k, self.v
        if q.shape[-1] == 0:
            q = np.zeros(q.shape[:-1] + (1,), self.dtype)
            k = np.zeros(k.shape[:-1] + (1,), self.dtype)
        if v.shape[-1] == 0:
            v = np.zeros(v.shape[:-1] + (1,), self.dtype)
        return q, k, v

    def empty(self):
        """True when the kernel has nothing to do (no query row or no key)."""
        B, H, nq, _ = self.q.shape
        return B * H * nq == 0 or self.k.shape[2] == 0

    def kernel_mask(self):
        """(mask, has_mask) for the kernel: a 1x1x1x1 placeholder when there is none."""
        if self.mask is not None:
            return self.mask, True
        return np.zeros((1, 1, 1, 1), self.dtype), False

    def n_threads(self, passes):
        """Threads worth waking for ``passes`` products of size B H Nq Nk (d + dv) / 2
        (causal) or B H Nq Nk (d + dv): forward 1, backward 2 (recomputed P, dP, dQ,
        dK, dV). A small problem runs serially instead of waking an OpenMP team."""
        B, H, nq, d = self.q.shape
        work = B * H * nq * self.k.shape[2] * (d + self.v.shape[-1]) * passes
        return _kernels.threads_for(work // 2 if self.causal else work, _ATTENTION_GRAIN)

    def forward(self, out4):
        """Fill ``out4`` (4-D, unit feature stride) and return lse, shape (B*H*Nq,)."""
        B, H, nq, _ = self.q.shape
        lse = np.full(B * H * nq, -np.inf, self.dtype)
        if self.empty():
            out4[...] = 0
            return lse
        q, k, v = self.padded()
        o = out4 if v is self.v else np.empty(v.shape[:2] + (nq, 1), self.dtype)
        mask, has_mask = self.kernel_mask()
        n_threads = self.n_threads(1)
        # loading the kernel loads SciPy's BLAS before threadpoolctl looks for it
        kernels = _kernels.load("_attention")
        with _kernels.blas_single_threaded():
            kernels.forward(q, k, v, mask, has_mask, self.causal, self.scale, o, lse,
                            _query_tile(B * H, nq, n_threads), _KEY_TILE, n_threads)
        return lse

    def backward(self, gout4, out4, lse, grads):
        """Accumulate into zeroed 4-D ``grads`` = (grad_q, grad_k, grad_v)."""
        if self.empty() or 0 in out4.shape:
            return
        q, k, v = self.padded()
        gq, gk, gv = grads
        if q is not self.q:
            gq, gk = np.zeros_like(q), np.zeros_like(k)
        mask, has_mask = self.kernel_mask()
        n_threads = self.n_threads(2)
        kernels = _kernels.load("_attention")
        with _kernels.blas_single_threaded():
            kernels.backward(gout4, q, k, v, mask, has_mask, self.causal, self.scale,
                             out4, lse, gq, gk, gv, *_BACKWARD_TILES, n_threads)


def scaled_dot_product_attention(q, k, v, mask=None, causal=False, scale=None, *,
                                 return_lse=False):
    """softmax(scale q k^T + mask) v, computed tile by tile (FlashAttention).

    Parameters
    ----------
    q : array_like, shape (B, H, Nq, d) or (B, Nq, d)
    k : array_like, shape (B, H, Nk, d) or (B, Nk, d)
    v : array_like, shape (B, H, Nk, dv) or (B, Nk, dv)
    mask : array_like of bool or float, optional
        Broadcastable to (B, H, Nq, Nk) (or (B, Nq, Nk)). Boolean: True = attend.
        Float: added to the scores (-inf drops a key).
    causal : bool
        Query i attends to keys j <= i only (combined with ``mask`` when both are given).
    scale : float, optional
        Score scale; default 1 / sqrt(d).
    return_lse : bool
        Also return the row log-sum-exp log sum_j exp(S_ij), shape (B, H, Nq) (or
        (B, Nq)), -inf for fully masked rows; pass it and the output to
        :func:`scaled_dot_product_attention_backward` to skip recomputing the forward.

    Returns
    -------
    out : ndarray, shape (B, H, Nq, dv) or (B, Nq, dv); zeros in fully masked rows.
    lse : ndarray, only when ``return_lse``.

    Cost: 2 Nq Nk (d + dv) flops per (batch, head) (about half with ``causal``); extra
    memory O(tile size) per thread.
    """
    prob = _Problem(q, k, v, mask, causal, scale)
    out = np.empty(prob.out_shape, prob.dtype)
    lse = prob.forward(prob.view4(out))
    if return_lse:
        return out, lse.reshape(prob.lse_shape)
    return out


def scaled_dot_product_attention_backward(grad_out, q, k, v, mask=None, causal=False,
                                          scale=None, *, out=None, lse=None):
    """Gradients (grad_q, grad_k, grad_v) of ``sum(grad_out * attention(q, k, v))``.

    With P = softmax(S), S = scale q k^T + mask, O = P v and D_i = sum_c dO_ic O_ic:

        dV = P^T dO,   dS = P * (dO V^T - D),   dQ = scale dS K,   dK = scale dS^T Q.

    P is recomputed tile by tile from the row log-sum-exp (FlashAttention-2), never
    stored whole. Arguments are those of :func:`scaled_dot_product_attention`;
    ``grad_out`` has the output's shape. ``out`` and ``lse``, as returned by
    ``scaled_dot_product_attention(..., return_lse=True)``, skip recomputing the forward
    pass (give both or neither). Fully masked query rows get zero gradients.

    Returns
    -------
    grad_q, grad_k, grad_v : ndarrays shaped like q, k, v, in the common float dtype.
    """
    prob = _Problem(q, k, v, mask, causal, scale)
    g = check_array(grad_out, "grad_out", dtype=prob.dtype)
    if g.shape != prob.out_shape:
        raise ValueError(f"grad_out must have the output's shape {_shape_str(prob.out_shape)}, "
                         f"got {_shape_str(g.shape)}")
    if (out is None) != (lse is None):
        raise ValueError("give both out and lse (from return_lse=True) or neither")
    if out is None:
        out = np.empty(prob.out_shape, prob.dtype)
        lse = prob.forward(prob.view4(out))
    else:
        out = check_array(out, "out", dtype=prob.dtype)
        lse = check_array(lse, "lse", dtype=prob.dtype, finite=False)
        if out.shape != prob.out_shape or lse.shape != prob.lse_shape:
            raise ValueError(f"out and lse must have shapes {_shape_str(prob.out_shape)} and "
                             f"{_shape_str(prob.lse_shape)}, got {_shape_str(out.shape)} and "
                             f"{_shape_str(lse.shape)}")
        lse = lse.reshape(-1)
    grads = tuple(np.zeros(x.shape, prob.dtype) for x in (prob.q, prob.k, prob.v))
    prob.backward(prob.view4(g), prob.view4(out), lse, grads)
    if prob.ndim == 3:
        grads = tuple(x[:, 0] for x in grads)
    return grads


class _MultiHead:
    """Validated multi-head attention inputs and the projections q, k, v (B, N, E)."""

    def __init__(self, x_q, x_kv, w_q, w_k, w_v, w_o, biases, num_heads, mask, causal):
        x_q = check_array(x_q, "x_q", ndim=(2, 3))
        x_kv = check_array(x_kv, "x_kv", ndim=(2, 3))
        if x_q.ndim != x_kv.ndim or x_q.shape[:-2] != x_kv.shape[:-2]:
            raise ValueError(f"x_q and x_kv must both be (B, N, E) with the same B, or both "
                             f"(N, E), got {_shape_str(x_q.shape)} and "
                             f"{_shape_str(x_kv.shape)}")
        self.unbatched = x_q.ndim == 2
        E, kdim = x_q.shape[-1], x_kv.shape[-1]
        self.num_heads = check_positive_int(num_heads, "num_heads")
        if E == 0 or E % self.num_heads:
            raise ValueError(f"num_heads={self.num_heads} must divide the embedding dimension "
                             f"E={E} of x_q {_shape_str(x_q.shape)} (E >= 1)")
        expected = {"w_q": (E, E), "w_k": (E, kdim), "w_v": (E, kdim), "w_o": (E, E)}
        weights = {}
        for name, w in zip(expected, (w_q, w_k, w_v, w_o)):
            weights[name] = check_shape(check_array(w, name, ndim=2), name, expected[name],
                                        f" (embedding E={E}, x_kv features {kdim})")
        checked = {}
        for name, b in zip(("b_q", "b_k", "b_v", "b_o"), biases):
            if b is not None:
                checked[name] = check_shape(check_array(b, name, ndim=1), name, (E,))
        arrays = [x_q, x_kv, *weights.values(), *checked.values()]
        self.dtype = np.dtype(np.float32) if all(a.dtype == np.float32 for a in arrays) \
            else np.dtype(np.float64)
        cast = lambda a: a.astype(self.dtype, copy=False)  # noqa: E731
        self.x_q = cast(x_q if x_q.ndim == 3 else x_q[None])
        self.x_kv = cast(x_kv if x_kv.ndim == 3 else x_kv[None])
        self.w = {name: cast(w) for name, w in weights.items()}
        self.b = {name: cast(checked[name]) if name in checked else None
                  for name in ("b_q", "b_k", "b_v", "b_o")}
        self.E = E
        self.q = self._project(self.x_q, "q")
        self.k = self._project(self.x_kv, "k")
        self.v = self._project(self.x_kv, "v")
        if mask is not None and self.unbatched and np.ndim(mask) == 4:
            raise ValueError(f"mask of shape {_shape_str(np.shape(mask))} needs batched "
                             "inputs; unbatched masks are broadcastable to (H, Nq, Nk)")
        self.attn = _Problem(self._heads(self.q), self._heads(self.k), self._heads(self.v),
                             mask, causal, None, names=("x_q w_q^T", "x_kv w_k^T", "x_kv w_v^T"))

    def _project(self, x, which):
        return linear(x, self.w["w_" + which], self.b["b_" + which])

    def project_backward(self, grad, x, which):
        """(grad_x, grad_w, grad_b) of the projection ``which`` given its output gradient."""
        return linear_backward(grad, x, self.w["w_" + which],
                               has_bias=self.b["b_" + which] is not None)

    def _heads(self, x):
        """(B, N, E) -> (B, H, N, E / H) view, no copy."""
        B, N, E = x.shape  # head size given explicitly: -1 is ambiguous for B or N = 0
        return x.reshape(B, N, self.num_heads, E // self.num_heads).transpose(0, 2, 1, 3)

    def attention(self):
        """Attention output (B, Nq, E) with heads concatenated, and the row lse."""
        B, nq, _ = self.q.shape
        out = np.empty((B, nq, self.E), self.dtype)
        return out, self.attn.forward(self._heads(out))

    def shape_out(self, y):
        return y[0] if self.unbatched else y


def multi_head_attention(x_q, x_kv, w_q, w_k, w_v, w_o, b_q=None, b_k=None, b_v=None,
                         b_o=None, *, num_heads, mask=None, causal=False):
    """Multi-head attention: concat_h(attention(x_q W_q^T, x_kv W_k^T, x_kv W_v^T)) W_o^T.

    With q = x_q w_q^T + b_q, k = x_kv w_k^T + b_k, v = x_kv w_v^T + b_v split into
    ``num_heads`` heads of size dh = E / num_heads (head h = features h dh ... (h+1) dh - 1),
    each head is :func:`scaled_dot_product_attention` with scale 1 / sqrt(dh); the heads
    are concatenated and projected: out = concat w_o^T + b_o.

    Layout matches ``torch.nn.MultiheadAttention(E, num_heads, batch_first=True)``:
    ``w_q, w_k, w_v = in_proj_weight.chunk(3)``, ``b_q, b_k, b_v = in_proj_bias.chunk(3)``,
    ``w_o = out_proj.weight``, ``b_o = out_proj.bias`` (with ``kdim = vdim``: ``w_k`` and
    ``w_v`` are ``k_proj_weight``, ``v_proj_weight``). Self-attention: pass the same
    array as ``x_q`` and ``x_kv``.

    Parameters
    ----------
    x_q : array_like, shape (B, Nq, E) or (Nq, E)
    x_kv : array_like, shape (B, Nk, kdim) or (Nk, kdim)
    w_q, w_o : array_like, shape (E, E);  w_k, w_v : shape (E, kdim)
    b_q, b_k, b_v, b_o : array_like, shape (E,), optional
    num_heads : int, dividing E
    mask : array_like of bool or float, optional
        Broadcastable to (B, num_heads, Nq, Nk); True = attend (the opposite of
        PyTorch's boolean ``attn_mask`` / ``key_padding_mask``, which mark positions to
        ignore: pass ``~attn_mask``, or ``~key_padding_mask[:, None, None, :]``).
    causal : bool
        Query i attends to keys j <= i only.

    Returns
    -------
    out : ndarray shaped like x_q (last axis E), in the common float dtype.
    """
    mh = _MultiHead(x_q, x_kv, w_q, w_k, w_v, w_o, (b_q, b_k, b_v, b_o), num_heads, mask,
                    causal)
    attn, _ = mh.attention()
    return mh.shape_out(mh._project(attn, "o"))


def multi_head_attention_backward(grad_out, x_q, x_kv, w_q, w_k, w_v, w_o, b_q=None,
                                  b_k=None, b_v=None, b_o=None, *, num_heads, mask=None,
                                  causal=False):
    """Gradients of ``sum(grad_out * multi_head_attention(...))`` (same arguments).

    The projections and attention are recomputed, then with A the concatenated heads:
    dW_o = dOut^T A, db_o = sum dOut, dA = dOut W_o; per head
    :func:`scaled_dot_product_attention_backward` gives dq, dk, dv; and
    dW_q = dq^T x_q, db_q = sum dq, dx_q = dq W_q, dx_kv = dk W_k + dv W_v (likewise
    dW_k, dW_v). For self-attention the gradient of x is dx_q + dx_kv.

    Returns
    -------
    (grad_x_q, grad_x_kv, grad_w_q, grad_w_k, grad_w_v, grad_w_o, grad_b_q, grad_b_k,
    grad_b_v, grad_b_o); a bias gradient is None when that bias is None.
    """
    mh = _MultiHead(x_q, x_kv, w_q, w_k, w_v, w_o, (b_q, b_k, b_v, b_o), num_heads, mask,
                    causal)
    B, nq, E = mh.q.shape
    g = check_array(grad_out, "grad_out", dtype=mh.dtype)
    if g.shape != mh.shape_out(mh.q).shape:
        raise ValueError(f"grad_out must have the output's shape "
                         f"{_shape_str(mh.shape_out(mh.q).shape)}, got {_shape_str(g.shape)}")
    attn, lse = mh.attention()
    grad_attn, grad_w_o, grad_b_o = mh.project_backward(g.reshape(B, nq, E), attn, "o")
    grads = (np.zeros_like(mh.q), np.zeros_like(mh.k), np.zeros_like(mh.v))
    mh.attn.backward(mh._heads(grad_attn), mh._heads(attn), lse,
                     tuple(mh._heads(x) for x in grads))
    grad_x_q, grad_w_q, grad_b_q = mh.project_backward(grads[0], mh.x_q, "q")
    grad_x_k, grad_w_k, grad_b_k = mh.project_backward(grads[1], mh.x_kv, "k")
    grad_x_v, grad_w_v, grad_b_v = mh.project_backward(grads[2], mh.x_kv, "v")
    return (mh.shape_out(grad_x_q), mh.shape_out(grad_x_k + grad_x_v), grad_w_q, grad_w_k,
            grad_w_v, grad_w_o, grad_b_q, grad_b_k, grad_b_v, grad_b_o)
