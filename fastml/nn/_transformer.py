"""Transformer building blocks: RMSNorm, packed self-attention, encoder and decoder layers.

``TransformerEncoderLayer``, ``TransformerDecoderLayer`` and ``TransformerEncoder`` take
PyTorch's constructor arguments and carry its ``state_dict`` names, so
``layer.load_state_dict(torch_layer.state_dict())`` gives the same function. Each
forward keeps what its explicit backward needs; backward returns d loss / d input and
adds every parameter gradient, the chain rule written out block by block:

    post-norm (default):  x <- norm1(x + SA(x));   x <- norm2(x + FF(x))
    pre-norm (norm_first): x <- x + SA(norm1(x));   x <- x + FF(norm2(x))

with SA the multi-head self-attention and FF(x) = linear2(dropout(act(linear1(x)))).

:class:`PackedSelfAttention` is the fast path used by GPT: one GEMM gives the
packed q, k, v (B, T, 3E), attention runs on strided head views (no copies) with the
FlashAttention kernel, and the output and row log-sum-exp are kept so backward never
recomputes the forward pass. Optional rotary embeddings rotate q and k; ALiBi or any
additive bias goes in as ``mask``. (The torch-style layers use
:class:`fastml.nn.MultiheadAttention`, whose backward recomputes the attention.)
"""

import copy
import numbers

import numpy as np

from fastml._validation import (
    check_array,
    check_bool,
    check_divisible,
    check_dtype_kind,
    check_instance,
    check_option,
    check_positive_int,
    check_scalar,
)
from fastml.nn import init
from fastml.nn._attention import MultiheadAttention
from fastml.nn._layers import GELU, Dropout, LayerNorm, Linear, ReLU, _dtype, _Norm
from fastml.nn._module import Module, Parameter
from fastml.nn.functional import _core
from fastml.nn.functional._attention import _Problem
from fastml.nn.functional._positional import _rotate

__all__ = ["PackedSelfAttention", "RMSNorm", "TransformerDecoderLayer", "TransformerEncoder",
           "TransformerEncoderLayer"]


class RMSNorm(_Norm):
    """y = x / sqrt(mean(x^2) + eps) * weight over the trailing ``normalized_shape`` axes
    (torch.nn.RMSNorm; ``eps=None`` uses the dtype's machine epsilon).

    backward, with r = 1 / sqrt(mean(x^2) + eps), xhat = x r and gw = g * weight:
    grad_x = r (gw - xhat mean(gw xhat)), grad_weight = sum g xhat.
    """

    def __init__(self, normalized_shape, eps=None, elementwise_affine=True, *,
                 dtype=np.float32):
        super().__init__()
        self.normalized_shape = _core._normalized_shape(normalized_shape)
        if eps is not None:
            check_scalar(eps, "eps", numbers.Real, min_val=0)
        self.eps = eps
        self._dtype = _dtype(dtype)
        self.weight = Parameter(np.ones(self.normalized_shape), self._dtype) \
            if elementwise_affine else None
        self._cache = None

    def _axes(self, x):
        k = len(self.normalized_shape)
        if x.shape[x.ndim - k:] != self.normalized_shape or x.ndim < k:
            raise ValueError(f"RMSNorm: x must end with the normalized shape "
                             f"{self.normalized_shape}, got shape {x.shape}")
        return tuple(range(x.ndim - k, x.ndim))

    def forward(self, x):
        x = self._check_input(x)
        axes = self._axes(x)
        eps = np.finfo(x.dtype).eps if self.eps is None else self.eps
        r = 1.0 / np.sqrt(np.mean(x * x, axis=axes, keepdims=True) + x.dtype.type(eps))
        xhat = x * r
        self._cache = (xhat, r, axes)
        return xhat * self.weight.data if self.weight is not None else xhat

    def backward(self, grad_out):
        xhat, r, axes = self._saved()
        g = self._check_grad(grad_out, xhat.shape, xhat.dtype)
        if self.weight is not None:
            lead = tuple(range(xhat.ndim - len(axes)))
            self.weight.grad += np.sum(g * xhat, axis=lead)
            g = g * self.weight.data
        return r * (g - xhat * np.mean(g * xhat, axis=axes, keepdims=True))

# head split/merge of packed projections, shared with fastml.models' GPT attention
__cores__ = ("_heads", "_packed_heads")


def _heads(x, num_heads):
    """(B, T, E) -> (B, H, T, E / H) view, no copy."""
    B, T, E = x.shape
    return x.reshape(B, T, num_heads, E // num_heads).transpose(0, 2, 1, 3)


def _packed_heads(qkv, num_heads):
    """(B, T, 3E) -> q, k, v views, each (B, H, T, E / H)."""
    B, T, E3 = qkv.shape
    return qkv.reshape(B, T, 3, num_heads, E3 // (3 * num_heads)).transpose(2, 0, 3, 1, 4)


def packed_attention(qkv, num_heads, mask=None, causal=False, rotary=None):
    """Multi-head attention of packed projections: y (B, T, E) and what backward needs.

    ``qkv`` (B, T, 3E) holds [q | k | v] (head h = features h dh .. (h+1) dh - 1 of
    each part, dh = E / num_heads); ``rotary`` = (cos, sin) of shape (T, dh / 2) rotates
    q and k first (:func:`fastml.nn.functional.apply_rotary`); ``mask`` is additive or
    boolean (True = keep), broadcastable to (B, H, T, T).
    """
    q, k, v = _packed_heads(qkv, num_heads)
    if rotary is not None:
        q, k = _rotate(q, *rotary), _rotate(k, *rotary)
    prob = _Problem(q, k, v, mask, causal, None, finite=False)
    B, T, E3 = qkv.shape
    y = np.empty((B, T, E3 // 3), prob.dtype)
    lse = prob.forward(_heads(y, num_heads))
    return y, (prob, y, lse, rotary, num_heads)


def packed_attention_backward(grad_y, saved):
    """d loss / d qkv (B, T, 3E) of :func:`packed_attention` from d loss / d y."""
    prob, y, lse, rotary, num_heads = saved
    B, T, E = y.shape
    grad_qkv = np.zeros((B, T, 3 * E), y.dtype)
    gq, gk, gv = _packed_heads(grad_qkv, num_heads)
    if rotary is not None:
        gq_rot, gk_rot = np.zeros(gq.shape, y.dtype), np.zeros(gk.shape, y.dtype)
        prob.backward(_heads(grad_y, num_heads), _heads(y, num_heads), lse,
                      (gq_rot, gk_rot, gv))
        cos, sin = rotary
        _rotate(gq_rot, cos, -sin, out=gq)
        _rotate(gk_rot, cos, -sin, out=gk)
    else:
        prob.backward(_heads(grad_y, num_heads), _heads(y, num_heads), lse, (gq, gk, gv))
    return grad_qkv


class PackedSelfAttention(Module):
    """Causal or bidirectional self-attention with one packed projection (GPT-2 layout).

    y = c_proj(attention(split(c_attn(x)))) with ``c_attn`` (3E, E) = [W_q; W_k; W_v]
    and ``c_proj`` (E, E), nanoGPT's names. ``forward(x, mask=None, rotary=None)``:
    ``mask`` additive or boolean (True = keep) broadcastable to (B, H, T, T),
    ``rotary`` = (cos, sin) from :func:`fastml.nn.functional.rotary_frequencies`.
    Dropout applies to the output projection (``resid_dropout``); attention weights are
    never materialised, so there is no dropout on them.
    """

    def __init__(self, n_embd, n_head, bias=True, dropout=0.0, causal=True, *,
                 dtype=np.float32, random_state=None):
        super().__init__()
        self.n_embd = check_positive_int(n_embd, "n_embd")
        self.n_head = check_positive_int(n_head, "n_head")
        check_divisible(self.n_embd, "n_embd", self.n_head, "n_head")
        self.causal = check_bool(causal, "causal")
        bias = check_bool(bias, "bias")
        rng = init._rng(random_state)
        self.c_attn = Linear(n_embd, 3 * n_embd, bias=bias, dtype=dtype, random_state=rng)
        self.c_proj = Linear(n_embd, n_embd, bias=bias, dtype=dtype, random_state=rng)
        self.resid_dropout = Dropout(_check_dropout(dropout), random_state=rng)
        self._cache = None

    def extra_repr(self):
        return f"n_embd={self.n_embd}, n_head={self.n_head}, causal={self.causal}"

    def forward(self, x, mask=None, rotary=None):
        x = self._check_input(x)
        if x.ndim != 3 or x.shape[-1] != self.n_embd:
            raise ValueError(f"PackedSelfAttention: x must be (B, T, {self.n_embd}), "
                             f"got shape {x.shape}")
        y, self._cache = packed_attention(self.c_attn.forward(x), self.n_head, mask,
                                          self.causal, rotary)
        return self.resid_dropout.forward(self.c_proj.forward(y))

    def backward(self, grad_out):
        g = self.c_proj.backward(self.resid_dropout.backward(grad_out))
        return self.c_attn.backward(packed_attention_backward(g, self._saved()))


def _check_dropout(dropout):
    return check_scalar(dropout, "dropout", numbers.Real, min_val=0, max_val=1)


# ---------------------------------------------------------------- torch-style layers
def _activation(activation):
    if isinstance(activation, Module):
        return activation
    return {"relu": ReLU, "gelu": GELU}[check_option(activation, "activation",
                                                     ("relu", "gelu"))]()


def _attention_mask(attn_mask, key_padding_mask, is_causal, batch, num_heads, nq, nk,
                    dtype, names):
    """One additive mask (B or 1, H or 1, nq, nk) from PyTorch's masks, or None.

    ``attn_mask`` (nq, nk) or (B * H, nq, nk): boolean True = do not attend, or float
    added to the scores; ``key_padding_mask`` (B, nk): True = padding (or float added);
    ``is_causal``: key j is hidden from query i when j > i.
    """
    mask_name, padding_name = names
    total = np.zeros((1, 1, nq, nk), dtype)
    used = False
    if attn_mask is not None:
        m = np.asarray(attn_mask)
        if m.shape == (nq, nk):
            m = m[None, None]
        elif m.shape == (batch * num_heads, nq, nk):
            m = m.reshape(batch, num_heads, nq, nk)
        else:
            raise ValueError(f"{mask_name} must have shape ({nq}, {nk}) or "
                             f"({batch * num_heads}, {nq}, {nk}), got {m.shape}")
        total = total + _additive(m, mask_name, dtype)
        used = True
    if key_padding_mask is not None:
        m = np.asarray(key_padding_mask)
        if m.shape != (batch, nk):
            raise ValueError(f"{padding_name} must have shape ({batch}, {nk}), got {m.shape}")
        total = total + _additive(m, padding_name, dtype)[:, None, None, :]
        used = True
    if is_causal:
        total = total + np.triu(np.full((nq, nk), -np.inf, dtype), 1)
        used = True
    return total if used else None


def _additive(m, name, dtype):
    if m.dtype == np.bool_:
        return np.where(m, -np.inf, 0.0).astype(dtype)
    check_dtype_kind(m, name, "f", "boolean (True = masked) or float (additive)")
    return m.astype(dtype)


class _TransformerLayer(Module):
    """Shared parts of the encoder and decoder layers: the feed-forward block
    linear2(dropout(act(linear1(x)))) and the (B, S, E) <-> (S, B, E) layout."""

    def _init_common(self, d_model, nhead, dim_feedforward, dropout, activation,
                     layer_norm_eps, batch_first, norm_first, bias, dtype, rng):
        self.d_model = check_positive_int(d_model, "d_model")
        self.nhead = check_positive_int(nhead, "nhead")
        check_divisible(self.d_model, "d_model", self.nhead, "nhead")
        check_positive_int(dim_feedforward, "dim_feedforward")
        check_scalar(layer_norm_eps, "layer_norm_eps", numbers.Real, min_val=0)
        self.batch_first = check_bool(batch_first, "batch_first")
        self.norm_first = check_bool(norm_first, "norm_first")
        bias = check_bool(bias, "bias")
        dropout = _check_dropout(dropout)
        self.self_attn = MultiheadAttention(d_model, nhead, bias=bias, dtype=dtype,
                                            random_state=rng)
        self._extra_attention(d_model, nhead, bias, dtype, rng)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype,
                              random_state=rng)
        self.dropout = Dropout(dropout, random_state=rng)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype,
                              random_state=rng)
        for i in range(1, self._n_blocks + 1):
            setattr(self, f"norm{i}", LayerNorm(d_model, eps=layer_norm_eps, bias=bias,
                                                dtype=dtype))
        for i in range(1, self._n_blocks + 1):
            setattr(self, f"dropout{i}", Dropout(dropout, random_state=rng))
        self.activation = _activation(activation)
        self._cache = None

    def _extra_attention(self, d_model, nhead, bias, dtype, rng):
        pass

    def extra_repr(self):
        return (f"d_model={self.d_model}, nhead={self.nhead}, batch_first={self.batch_first}, "
                f"norm_first={self.norm_first}")

    def _in(self, x, name):
        x = self._check_input(x, name)
        if x.ndim not in (2, 3) or x.shape[-1] != self.d_model:
            raise ValueError(f"{type(self).__name__}: {name} must be (S, E), (B, S, E) "
                             f"(batch_first) or (S, B, E) with E = {self.d_model}, "
                             f"got {x.shape}")
        if x.ndim == 2:
            return x[None]
        return x if self.batch_first else np.ascontiguousarray(x.transpose(1, 0, 2))

    @staticmethod
    def _finite(x, name):
        """Forward inputs: NaN/inf rejected here, naming the layer's argument (the
        attention would reject them as its projections)."""
        return check_array(x, name, dtype=None, order=None)

    def _out(self, y, like):
        if like.ndim == 2:
            return y[0]
        return y if self.batch_first else np.ascontiguousarray(y.transpose(1, 0, 2))

    def _ff(self, x):
        return self.linear2.forward(self.dropout.forward(
            self.activation.forward(self.linear1.forward(x))))

    def _ff_backward(self, g):
        return self.linear1.backward(self.activation.backward(self.dropout.backward(
            self.linear2.backward(g))))

    def _residual(self, x, i, block):
        """x + dropout_i(block(norm_i(x))) (pre-norm) or norm_i(x + dropout_i(block(x)))."""
        norm, drop = getattr(self, f"norm{i}"), getattr(self, f"dropout{i}")
        if self.norm_first:
            return x + drop.forward(block(norm.forward(x)))
        return norm.forward(x + drop.forward(block(x)))

    def _residual_backward(self, g, i, block_backward):
        norm, drop = getattr(self, f"norm{i}"), getattr(self, f"dropout{i}")
        if self.norm_first:
            return g + norm.backward(block_backward(drop.backward(g)))
        g = norm.backward(g)
        return g + block_backward(drop.backward(g))


class TransformerEncoderLayer(_TransformerLayer):
    """Self-attention and feed-forward blocks with residuals (torch.nn.TransformerEncoderLayer).

    post-norm: x = norm1(x + SA(x)); x = norm2(x + FF(x)); pre-norm (``norm_first``):
    x = x + SA(norm1(x)); x = x + FF(norm2(x)); FF(x) = linear2(dropout(act(linear1(x)))),
    dropout1 / dropout2 on the branches. Same constructor, defaults and ``state_dict``
    names as PyTorch (``self_attn.in_proj_weight``, ``linear1.weight``, ``norm1.weight``,
    ...). Input (S, B, E), or (B, S, E) with ``batch_first``, or unbatched (S, E).

    ``forward(src, src_mask=None, src_key_padding_mask=None, is_causal=False)``:
    ``src_mask`` (S, S) or (B * nhead, S, S), boolean True = not allowed to attend, or
    float added to the scores; ``src_key_padding_mask`` (B, S), True = padding;
    ``is_causal`` adds the causal mask. A query with every key masked gives zeros
    (PyTorch gives NaN). ``backward(grad_out)`` returns d loss / d src.
    """

    _n_blocks = 2

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu",
                 layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True, *,
                 dtype=np.float32, random_state=None):
        super().__init__()
        self._init_common(d_model, nhead, dim_feedforward, dropout, activation,
                          layer_norm_eps, batch_first, norm_first, bias, _dtype(dtype),
                          init._rng(random_state))

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        x = self._finite(self._in(src, "src"), "src")
        B, S, _ = x.shape
        mask = _attention_mask(src_mask, src_key_padding_mask, is_causal, B, self.nhead, S,
                               S, x.dtype, ("src_mask", "src_key_padding_mask"))
        x = self._residual(x, 1, lambda h: self.self_attn.forward(h, mask=mask))
        x = self._residual(x, 2, self._ff)
        self._cache = np.asarray(src)
        return self._out(x, self._cache)

    def backward(self, grad_out):
        src = self._saved()
        g = self._in(check_array(grad_out, "grad_out", dtype=self.dtype, finite=False),
                     "grad_out")
        g = self._residual_backward(g, 2, self._ff_backward)
        g = self._residual_backward(g, 1, self.self_attn.backward)
        return self._out(g, src)


class TransformerDecoderLayer(_TransformerLayer):
    """Self-attention, cross-attention to ``memory`` and feed-forward blocks
    (torch.nn.TransformerDecoderLayer; norm1/2/3, dropout1/2/3, ``multihead_attn``).

    ``forward(tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
    memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False)`` with
    PyTorch's mask conventions (see :class:`TransformerEncoderLayer`);
    ``backward(grad_out)`` returns (d loss / d tgt, d loss / d memory).
    """

    _n_blocks = 3

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu",
                 layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True, *,
                 dtype=np.float32, random_state=None):
        super().__init__()
        self._init_common(d_model, nhead, dim_feedforward, dropout, activation,
                          layer_norm_eps, batch_first, norm_first, bias, _dtype(dtype),
                          init._rng(random_state))

    def _extra_attention(self, d_model, nhead, bias, dtype, rng):
        self.multihead_attn = MultiheadAttention(d_model, nhead, bias=bias, dtype=dtype,
                                                 random_state=rng)

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False):
        x = self._finite(self._in(tgt, "tgt"), "tgt")
        mem = self._finite(self._in(memory, "memory"), "memory")
        if mem.shape[0] != x.shape[0]:
            raise ValueError(f"tgt and memory must have the same batch size, got "
                             f"{x.shape[0]} and {mem.shape[0]}")
        B, T, _ = x.shape
        S = mem.shape[1]
        self_mask = _attention_mask(tgt_mask, tgt_key_padding_mask, tgt_is_causal, B,
                                    self.nhead, T, T, x.dtype,
                                    ("tgt_mask", "tgt_key_padding_mask"))
        cross_mask = _attention_mask(memory_mask, memory_key_padding_mask, memory_is_causal,
                                     B, self.nhead, T, S, x.dtype,
                                     ("memory_mask", "memory_key_padding_mask"))
        x = self._residual(x, 1, lambda h: self.self_attn.forward(h, mask=self_mask))
        x = self._residual(x, 2, lambda h: self.multihead_attn.forward(h, mem,
                                                                       mask=cross_mask))
        x = self._residual(x, 3, self._ff)
        self._cache = (np.asarray(tgt), np.asarray(memory), mem.shape)
        return self._out(x, self._cache[0])

    def backward(self, grad_out):
        tgt, memory, mem_shape = self._saved()
        g = self._in(check_array(grad_out, "grad_out", dtype=self.dtype, finite=False),
                     "grad_out")
        grad_mem = np.zeros(mem_shape, g.dtype)

        def cross_backward(g_out):
            g_x, g_m = self.multihead_attn.backward(g_out)
            grad_mem[...] += g_m
            return g_x

        g = self._residual_backward(g, 3, self._ff_backward)
        g = self._residual_backward(g, 2, cross_backward)
        g = self._residual_backward(g, 1, self.self_attn.backward)
        return self._out(g, tgt), self._out(grad_mem, memory)


class _ModuleList(Module):
    """Children named "0", "1", ... (torch.nn.ModuleList's state_dict names)."""

    def __init__(self, modules):
        super().__init__()
        for i, m in enumerate(modules):
            setattr(self, str(i), m)

    def __iter__(self):
        return iter(self._modules.values())

    def __len__(self):
        return len(self._modules)

    def __getitem__(self, index):
        return list(self._modules.values())[index]


class TransformerEncoder(Module):
    """``num_layers`` copies of ``encoder_layer`` applied in turn, then ``norm`` if given
    (torch.nn.TransformerEncoder: ``layers.0.self_attn.in_proj_weight``, ...).

    ``forward(src, mask=None, src_key_padding_mask=None, is_causal=None)`` passes the
    masks to every layer; ``backward(grad_out)`` runs the layers in reverse.
    """

    def __init__(self, encoder_layer, num_layers, norm=None):
        super().__init__()
        check_instance(encoder_layer, "encoder_layer", TransformerEncoderLayer)
        self.num_layers = check_positive_int(num_layers, "num_layers")
        self.layers = _ModuleList([copy.deepcopy(encoder_layer) for _ in range(num_layers)])
        self.norm = norm
        self._cache = None

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        is_causal = False if is_causal is None else check_bool(is_causal, "is_causal")
        x = src
        for layer in self.layers:
            x = layer.forward(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask,
                              is_causal=is_causal)
        self._cache = True
        return x if self.norm is None else self.norm.forward(x)

    def backward(self, grad_out):
        self._saved()
        g = grad_out if self.norm is None else self.norm.backward(grad_out)
        for layer in reversed(list(self.layers)):
            g = layer.backward(g)
        return g
