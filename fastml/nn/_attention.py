"""Multi-head attention as a module over :func:`fastml.nn.functional.multi_head_attention`."""

import numpy as np

from fastml._validation import check_bool, check_divisible, check_positive_int
from fastml.nn import functional as F
from fastml.nn import init
from fastml.nn._layers import Linear, _dtype
from fastml.nn._module import Module, Parameter

__all__ = ["MultiheadAttention"]


class MultiheadAttention(Module):
    """out = concat_h softmax(q_h k_h^T / sqrt(d_h) [+ mask]) v_h  W_o^T + b_o, with
    q = x W_q^T + b_q, k = x_kv W_k^T + b_k, v = x_kv W_v^T + b_v (see
    :func:`fastml.nn.functional.multi_head_attention`).

    Parameters and their names are those of ``torch.nn.MultiheadAttention(embed_dim,
    num_heads, batch_first=True)``: ``in_proj_weight`` (3E, E) = [W_q; W_k; W_v],
    ``in_proj_bias`` (3E,), ``out_proj.weight`` (E, E), ``out_proj.bias``; initialised as
    PyTorch (Xavier-uniform in-projection, zero biases). Inputs are (B, N, E) or (N, E).

    ``forward(x)`` is self-attention; ``forward(x, x_kv)`` attends from x to x_kv.
    ``mask`` (bool, True = attend, or additive float) broadcasts to (B, heads, Nq, Nk);
    ``causal`` (constructor) lets query i see keys j <= i. ``backward`` returns
    d loss / d x for self-attention, (d loss / d x, d loss / d x_kv) otherwise.
    """

    def __init__(self, embed_dim, num_heads, bias=True, *, causal=False, dtype=np.float32,
                 random_state=None):
        super().__init__()
        self.embed_dim = check_positive_int(embed_dim, "embed_dim")
        self.num_heads = check_positive_int(num_heads, "num_heads")
        check_divisible(self.embed_dim, "embed_dim", self.num_heads, "num_heads")
        bias = check_bool(bias, "bias")
        self.causal = check_bool(causal, "causal")
        dtype = _dtype(dtype)
        rng = init._rng(random_state)
        E = embed_dim
        self.in_proj_weight = Parameter(np.zeros((3 * E, E)), dtype)
        init.xavier_uniform_(self.in_proj_weight, random_state=rng)
        self.in_proj_bias = Parameter(np.zeros(3 * E), dtype) if bias else None
        self.out_proj = Linear(E, E, bias=bias, dtype=dtype, random_state=rng)
        if bias:
            self.out_proj.bias.data[...] = 0
        self._cache = None

    def extra_repr(self):
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, causal={self.causal}"

    def _weights(self):
        E = self.embed_dim
        w = self.in_proj_weight.data
        b = self.in_proj_bias.data if self.in_proj_bias is not None else None
        bq, bk, bv = (None, None, None) if b is None else (b[:E], b[E:2 * E], b[2 * E:])
        return (w[:E], w[E:2 * E], w[2 * E:], self.out_proj.weight.data, bq, bk, bv,
                None if self.out_proj.bias is None else self.out_proj.bias.data)

    def forward(self, x, x_kv=None, mask=None):
        x = self._check_input(x)
        kv = x if x_kv is None else self._check_input(x_kv, "x_kv")
        if x.ndim not in (2, 3) or x.shape[-1] != self.embed_dim:
            raise ValueError(f"MultiheadAttention expects (B, N, {self.embed_dim}) or "
                             f"(N, {self.embed_dim}) input, got {x.shape}")
        self._cache = (x, kv, x_kv is None, mask)
        return F.multi_head_attention(x, kv, *self._weights(), num_heads=self.num_heads,
                                      mask=mask, causal=self.causal)

    def backward(self, grad_out):
        x, kv, self_attention, mask = self._saved()
        gx, gkv, gwq, gwk, gwv, gwo, gbq, gbk, gbv, gbo = F.multi_head_attention_backward(
            grad_out, x, kv, *self._weights(), num_heads=self.num_heads, mask=mask,
            causal=self.causal)
        E = self.embed_dim
        for i, gw in enumerate((gwq, gwk, gwv)):
            self.in_proj_weight.grad[i * E:(i + 1) * E] += gw
        self.out_proj.weight.grad += gwo
        if self.in_proj_bias is not None:
            for i, gb in enumerate((gbq, gbk, gbv)):
                self.in_proj_bias.grad[i * E:(i + 1) * E] += gb
            self.out_proj.bias.grad += gbo
        return gx + gkv if self_attention else (gx, gkv)
