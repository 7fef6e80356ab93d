"""Positional encodings: sinusoidal, rotary (RoPE, with backward) and ALiBi biases.

- Sinusoidal (Vaswani et al. 2017), added to the token embeddings:
  ``PE[p, 2i] = sin(p / base^(2i/d))``, ``PE[p, 2i+1] = cos(p / base^(2i/d))``.
- Learned: a trainable table, :class:`fastml.nn.Embedding` over positions (GPT's ``wpe``).
- Rotary (Su et al. 2021), applied to queries and keys inside attention: feature pairs
  ``(x_2j, x_2j+1)`` of position p are the complex number ``x_2j + i x_2j+1`` multiplied by
  ``exp(i p theta_j)``, ``theta_j = base^(-2j/d)``, so ``q_p . k_s`` depends on p - s only.
  The backward pass is the inverse rotation (multiplication by ``exp(-i p theta_j)``).
- ALiBi (Press et al. 2022): no embedding; head h adds ``-m_h |i - j|`` to the score of
  query i and key j, with slopes ``m_h = 2^(-8 (h+1) / H)`` (H a power of two; otherwise
  the ALiBi paper's interleaving of the next power of two).
"""

import math
import numbers

import numpy as np

from fastml._validation import (
    check_array,
    check_divisible,
    check_float_dtype,
    check_min_ndim,
    check_positive_int,
    check_scalar,
)

__all__ = ["alibi_bias", "alibi_slopes", "apply_rotary", "apply_rotary_backward",
           "rotary_frequencies", "sinusoidal_positional_encoding"]


def _check_base(base):
    return float(check_scalar(base, "base", numbers.Real, min_val=0,
                              include_boundaries="neither"))


def sinusoidal_positional_encoding(num_positions, dim, base=10000.0, *, dtype=np.float32):
    """The (num_positions, dim) table PE[p, 2i] = sin(p w_i), PE[p, 2i+1] = cos(p w_i),
    with w_i = base^(-2i / dim); an odd ``dim`` drops the last cosine column."""
    n = check_positive_int(num_positions, "num_positions", min_val=0)
    d = check_positive_int(dim, "dim")
    angles = np.arange(n)[:, None] * _check_base(base) ** (-np.arange(0, d, 2) / d)
    pe = np.empty((n, d), np.float64)
    pe[:, 0::2] = np.sin(angles)
    pe[:, 1::2] = np.cos(angles[:, : d // 2])
    return pe.astype(check_float_dtype(dtype))


def rotary_frequencies(seq_len, head_dim, base=10000.0, *, offset=0, dtype=np.float32):
    """(cos, sin), each of shape (seq_len, head_dim / 2): cos(p theta_j), sin(p theta_j)
    for positions p = offset, ..., offset + seq_len - 1 and theta_j = base^(-2j/head_dim)."""
    n = check_positive_int(seq_len, "seq_len", min_val=0)
    d = check_positive_int(head_dim, "head_dim")
    check_divisible(d, "head_dim", 2)
    offset = check_positive_int(offset, "offset", min_val=0)
    angles = np.arange(offset, offset + n)[:, None] * \
        _check_base(base) ** (-np.arange(0, d, 2) / d)
    dtype = check_float_dtype(dtype)
    return np.cos(angles).astype(dtype), np.sin(angles).astype(dtype)


def _check_rotary(x, cos, sin, name):
    x = check_array(x, name, finite=False, order=None)
    check_min_ndim(x, name, 2, " (..., seq_len, head_dim)")
    half = (x.shape[-2], x.shape[-1] // 2)
    cos = check_array(cos, "cos", dtype=x.dtype, ndim=2)
    sin = check_array(sin, "sin", dtype=x.dtype, ndim=2)
    if x.shape[-1] % 2 or cos.shape != half or sin.shape != half:
        raise ValueError(f"cos and sin must have shape (seq_len, head_dim / 2) = {half} "
                         f"for {name} of shape {x.shape} (even head_dim), got "
                         f"{cos.shape} and {sin.shape}")
    return x, cos, sin


def _rotate(x, cos, sin, out=None):
    """(x_e cos - x_o sin, x_e sin + x_o cos) on the interleaved pairs; ``out`` may be a
    strided view (e.g. a head of a packed q/k/v gradient)."""
    if out is None:
        out = np.empty(x.shape, x.dtype)
    xe, xo = x[..., 0::2], x[..., 1::2]
    np.multiply(xe, cos, out=out[..., 0::2])
    out[..., 0::2] -= xo * sin
    np.multiply(xe, sin, out=out[..., 1::2])
    out[..., 1::2] += xo * cos
    return out


def apply_rotary(x, cos, sin):
    """Rotary position embedding of ``x`` (..., seq_len, head_dim) (interleaved pairs):
    ``out_2j = x_2j cos_pj - x_2j+1 sin_pj``, ``out_2j+1 = x_2j sin_pj + x_2j+1 cos_pj``,
    i.e. (x_2j + i x_2j+1) exp(i p theta_j). ``cos``, ``sin`` from
    :func:`rotary_frequencies`. Result in ``x``'s float dtype."""
    x, cos, sin = _check_rotary(x, cos, sin, "x")
    return _rotate(x, cos, sin)


def apply_rotary_backward(grad_out, cos, sin):
    """d loss / d x of :func:`apply_rotary`: the rotation is orthogonal, so the gradient
    is rotated back, (g_2j + i g_2j+1) exp(-i p theta_j)."""
    g, cos, sin = _check_rotary(grad_out, cos, sin, "grad_out")
    return _rotate(g, cos, -sin)


def alibi_slopes(num_heads):
    """ALiBi head slopes m_h, shape (num_heads,), float64.

    For H a power of two, m_h = 2^(-8 (h+1) / H); otherwise the slopes of the closest
    smaller power of two followed by every other slope of twice that (the ALiBi paper).
    """
    h = check_positive_int(num_heads, "num_heads")

    def power_of_two(n):
        start = 2.0 ** (-8.0 / n)
        return [start ** (i + 1) for i in range(n)]

    closest = 2 ** int(math.floor(math.log2(h)))
    slopes = power_of_two(closest)
    if closest < h:
        slopes += power_of_two(2 * closest)[0::2][: h - closest]
    return np.array(slopes)


def alibi_bias(num_heads, num_queries, num_keys=None, *, dtype=np.float32):
    """Additive attention bias of shape (num_heads, num_queries, num_keys):
    ``bias[h, i, j] = -m_h |i - j|`` (queries aligned to the last keys when
    num_queries < num_keys, as in decoding). Pass it as ``mask`` to
    :func:`scaled_dot_product_attention` (with ``causal=True`` for a decoder)."""
    nq = check_positive_int(num_queries, "num_queries", min_val=0)
    nk = nq if num_keys is None else check_positive_int(num_keys, "num_keys", min_val=0)
    distance = np.abs(np.arange(nk)[None, :] - (np.arange(nq)[:, None] + nk - nq))
    bias = -alibi_slopes(num_heads)[:, None, None] * distance
    return bias.astype(check_float_dtype(dtype))
