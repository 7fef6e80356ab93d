"""Attention straight from the formulas: the whole Nq x Nk score matrix in memory.

S = scale Q K^T + M,  P = softmax(S) row-wise,  O = P V;  fully masked rows give zeros.
Backward: dV = P^T dO,  dP = dO V^T,  dS = P * (dP - rowsum(dP * P)),
dQ = scale dS K,  dK = scale dS^T Q.
"""

import numpy as np


def _t(x):
    return np.swapaxes(x, -1, -2)


def _softmax_probabilities(q, k, mask, causal, scale):
    q, k = np.asarray(q), np.asarray(k)
    scale = 1.0 / np.sqrt(max(q.shape[-1], 1)) if scale is None else scale
    s = scale * (q @ _t(k))
    if mask is not None:
        mask = np.asarray(mask)
        s = np.where(mask, s, -np.inf) if mask.dtype == bool else s + mask
    if causal:
        s = np.where(np.tri(*s.shape[-2:], dtype=bool), s, -np.inf)
    row_max = s.max(axis=-1, keepdims=True, initial=-np.inf)
    e = np.exp(s - np.where(np.isfinite(row_max), row_max, 0))
    total = e.sum(axis=-1, keepdims=True)
    return np.divide(e, total, out=np.zeros_like(e), where=total > 0), scale


def scaled_dot_product_attention(q, k, v, mask=None, causal=False, scale=None):
    """O = softmax(scale q k^T + mask) v."""
    p, _ = _softmax_probabilities(q, k, mask, causal, scale)
    return p @ np.asarray(v)


def scaled_dot_product_attention_backward(grad_out, q, k, v, mask=None, causal=False,
                                          scale=None):
    """(dQ, dK, dV) of sum(grad_out * O)."""
    p, scale = _softmax_probabilities(q, k, mask, causal, scale)
    grad_out = np.asarray(grad_out)
    grad_v = _t(p) @ grad_out
    grad_p = grad_out @ _t(np.asarray(v))
    grad_s = p * (grad_p - (grad_p * p).sum(axis=-1, keepdims=True))
    return scale * grad_s @ np.asarray(k), scale * _t(grad_s) @ np.asarray(q), grad_v


def _split_heads(x, num_heads):
    """(B, N, E) -> (B, H, N, E / H)."""
    B, N, E = x.shape
    return x.reshape(B, N, num_heads, E // num_heads).transpose(0, 2, 1, 3)


def _merge_heads(x):
    B, H, N, dh = x.shape
    return x.transpose(0, 2, 1, 3).reshape(B, N, H * dh)


def _linear(x, w, b):
    return x @ w.T + (0 if b is None else b)


def multi_head_attention(x_q, x_kv, w_q, w_k, w_v, w_o, b_q=None, b_k=None, b_v=None,
                         b_o=None, *, num_heads, mask=None, causal=False):
    """concat_h(attention(x_q w_q^T + b_q, x_kv w_k^T + b_k, x_kv w_v^T + b_v)) w_o^T + b_o
    for batched (B, N, E) inputs."""
    q, k, v = (_split_heads(_linear(x, w, b), num_heads)
               for x, w, b in ((x_q, w_q, b_q), (x_kv, w_k, b_k), (x_kv, w_v, b_v)))
    return _linear(_merge_heads(scaled_dot_product_attention(q, k, v, mask, causal)),
                   w_o, b_o)
