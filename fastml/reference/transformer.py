"""Transformer pieces straight from the formulas: positional encodings, a GPT forward
pass from a state_dict, and cache-free sampling.

- sinusoidal: PE[p, 2i] = sin(p / base^(2i/d)), PE[p, 2i+1] = cos(p / base^(2i/d)).
- rotary: the pair (x_2j, x_2j+1) at position p is the complex number z = x_2j + i x_2j+1,
  rotated to z exp(i p theta_j), theta_j = base^(-2j/d) (complex arithmetic, no tricks).
- ALiBi: bias[h, i, j] = -m_h |i - j|.
- GPT: x = wte[idx] + wpe[pos]; per block x += attn(ln_1(x)); x += mlp(ln_2(x));
  logits = ln_f(x) wte^T, written with the whole score matrix.
"""

import math

import numpy as np

from fastml.reference.attention import scaled_dot_product_attention


def sinusoidal_positional_encoding(num_positions, dim, base=10000.0, *, dtype=np.float32):
    """The (num_positions, dim) table, one entry at a time."""
    pe = np.zeros((num_positions, dim))
    for p in range(num_positions):
        for c in range(dim):
            angle = p / base ** (2 * (c // 2) / dim)
            pe[p, c] = math.sin(angle) if c % 2 == 0 else math.cos(angle)
    return pe.astype(dtype)


def apply_rotary(x, positions=None, base=10000.0):
    """RoPE of x (..., T, d) by complex multiplication: z_pj exp(i p theta_j)."""
    x = np.asarray(x)
    T, d = x.shape[-2:]
    positions = np.arange(T) if positions is None else np.asarray(positions)
    theta = base ** (-np.arange(0, d, 2) / d)
    z = x[..., 0::2] + 1j * x[..., 1::2]
    z = z * np.exp(1j * positions[:, None] * theta[None, :])
    out = np.empty(x.shape, np.float64)
    out[..., 0::2], out[..., 1::2] = z.real, z.imag
    return out.astype(x.dtype)


def alibi_bias(num_heads, num_queries, num_keys=None, *, dtype=np.float32):
    """bias[h, i, j] = -m_h |i + (nk - nq) - j| with the ALiBi slopes m_h."""
    from fastml.nn.functional import alibi_slopes

    nk = num_queries if num_keys is None else num_keys
    slopes = alibi_slopes(num_heads)
    bias = np.zeros((num_heads, num_queries, nk))
    for h in range(num_heads):
        for i in range(num_queries):
            for j in range(nk):
                bias[h, i, j] = -slopes[h] * abs(i + nk - num_queries - j)
    return bias.astype(dtype)


def _layer_norm(x, w, b, eps=1e-5):
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    y = (x - mean) / np.sqrt(var + eps) * w
    return y if b is None else y + b


def _gelu(x):
    from scipy.special import erf

    return 0.5 * x * (1 + erf(x / math.sqrt(2)))


def gpt_logits(state_dict, n_head, idx):
    """Logits (B, T, V) of a GPT given its (nanoGPT-named) state_dict and ids (B, T)."""
    s = {k: np.asarray(v) for k, v in state_dict.items()}
    idx = np.asarray(idx)
    T = idx.shape[1]
    x = s["transformer.wte.weight"][idx] + s["transformer.wpe.weight"][:T]
    layer = 0
    while f"transformer.h.{layer}.ln_1.weight" in s:
        p = f"transformer.h.{layer}."

        def lin(h, name, p=p):
            y = h @ s[p + name + ".weight"].T
            return y + s[p + name + ".bias"] if p + name + ".bias" in s else y

        h = _layer_norm(x, s[p + "ln_1.weight"], s.get(p + "ln_1.bias"))
        B, _, E = h.shape
        q, k, v = np.split(lin(h, "attn.c_attn"), 3, axis=-1)
        heads = [t.reshape(B, T, n_head, E // n_head).transpose(0, 2, 1, 3) for t in (q, k, v)]
        y = scaled_dot_product_attention(*heads, causal=True)
        x = x + lin(y.transpose(0, 2, 1, 3).reshape(B, T, E), "attn.c_proj")
        h = _layer_norm(x, s[p + "ln_2.weight"], s.get(p + "ln_2.bias"))
        x = x + lin(_gelu(lin(h, "mlp.c_fc")), "mlp.c_proj")
        layer += 1
    x = _layer_norm(x, s["transformer.ln_f.weight"], s.get("transformer.ln_f.bias"))
    return x @ s["transformer.wte.weight"].T


def gpt_generate(model, idx, max_new_tokens, temperature=1.0, top_k=None, top_p=None,
                 seed=None):
    """Cache-free sampling: the whole window goes through ``model.forward`` for every new
    token. The window is the one :meth:`fastml.models.GPT.generate` keeps: the last
    block_size prompt tokens, restarted from the last block_size // 2 tokens whenever it
    is full; the same sampler and random stream."""
    from fastml.models._gpt import _sample

    rng = np.random.default_rng(seed)
    out = np.array(idx, dtype=np.int64, ndmin=2)
    block = model.config.block_size
    start = max(0, out.shape[1] - block)
    for _ in range(max_new_tokens):
        if out.shape[1] - start > block:
            start = out.shape[1] - (block // 2 or 1)
        logits, _ = model.forward(out[:, start:])
        nxt = _sample(logits[:, -1], temperature, top_k, top_p, rng)
        out = np.concatenate([out, nxt[:, None]], axis=1)
    return out
