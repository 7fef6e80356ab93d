"""GPT: a decoder-only Transformer language model (GPT-2 / nanoGPT layout) with a KV cache.

    x_0 = wte[idx] + wpe[0..T-1]
    x_l = x_{l-1} + attn_l(ln_1(x_{l-1}));  x_l = x_l + mlp_l(ln_2(x_l))   (pre-norm)
    logits = ln_f(x_L) wte^T                                              (weight tying)
    loss = mean_t cross_entropy(logits_t, targets_t)  (targets == -1 ignored)

with causal multi-head attention and mlp(x) = c_proj(gelu(c_fc(x))), 4 n_embd hidden
units. Parameter names are nanoGPT's (``transformer.wte.weight``,
``transformer.h.0.attn.c_attn.weight``, ... ``lm_head.weight`` tied to ``wte``), so
``load_state_dict`` takes a nanoGPT ``state_dict()``.

Training is explicit: ``logits, loss = model(idx, targets)``, ``model.backward()`` adds
d loss / d theta to every ``param.grad``, then ``optimizer.step()`` with the optimizer of
:meth:`GPT.configure_optimizers`.

Generation keeps a key/value cache per layer: the prompt is run once (prefill), then
each new token costs one row through every layer, attending to the cached keys and
values (no recomputation of the past).
"""

import math
import numbers
from dataclasses import dataclass

import numpy as np

from fastml import _kernels
from fastml._validation import (
    check_array,
    check_divisible,
    check_float_dtype,
    check_index_array,
    check_instance,
    check_min_length,
    check_positive_int,
    check_scalar,
    check_shape,
)
from fastml.nn import init
from fastml.nn._layers import GELU, Dropout, Embedding, LayerNorm, Linear
from fastml.nn._module import Module, Sequential
from fastml.nn._transformer import (
    PackedSelfAttention,
    _heads,
    _packed_heads,
    packed_attention,
    packed_attention_backward,
)
from fastml.nn.functional import _core
from fastml.nn.functional._attention import _Problem
from fastml.nn.optim import AdamW

# Cores for internal callers: fastml.rlhf applies the final LayerNorm on its inference
# path with GPT's own once-checked call.
__cores__ = ("_layer_norm",)

__all__ = ["GPT", "GPTConfig"]


@dataclass
class GPTConfig:
    """nanoGPT's configuration: vocabulary, context length, depth, heads, width,
    dropout probability and whether Linear/LayerNorm layers have biases."""

    block_size: int = 1024
    vocab_size: int = 50304
    n_layer: int = 12
    n_head: int = 12
    n_embd: int = 768
    dropout: float = 0.0
    bias: bool = True

    def __post_init__(self):
        for name in ("block_size", "vocab_size", "n_layer", "n_head", "n_embd"):
            setattr(self, name, check_positive_int(getattr(self, name), name))
        check_divisible(self.n_embd, "n_embd", self.n_head, "n_head")
        self.dropout = float(check_scalar(self.dropout, "dropout", numbers.Real, min_val=0,
                                          max_val=1, include_boundaries="left"))
        self.bias = bool(self.bias)


class MLP(Module):
    """c_proj(gelu(c_fc(x))) with 4 n_embd hidden units, then dropout. (Inside GPT the
    block runs these layers' kernels itself, see :class:`Block`.)"""

    def __init__(self, config, dtype, rng):
        super().__init__()
        d = config.n_embd
        self.c_fc = Linear(d, 4 * d, bias=config.bias, dtype=dtype, random_state=rng)
        self.gelu = GELU()
        self.c_proj = Linear(4 * d, d, bias=config.bias, dtype=dtype, random_state=rng)
        self.dropout = Dropout(config.dropout, random_state=rng)

    def forward(self, x):
        return self.dropout.forward(self.c_proj.forward(self.gelu.forward(
            self.c_fc.forward(x))))

    def backward(self, grad_out):
        return self.c_fc.backward(self.gelu.backward(self.c_proj.backward(
            self.dropout.backward(grad_out))))

    def infer(self, x):
        h = _core._linear_forward(x, self.c_fc.weight.data, _data(self.c_fc.bias))
        return _core._linear_forward(_core.gelu(h), self.c_proj.weight.data,
                                     _data(self.c_proj.bias))


def _data(p):
    return None if p is None else p.data


def _layer_norm_saved(ln, x):
    """(ln(x), mean, rstd) by the LayerNorm kernel."""
    return _core._layer_norm_forward(x, ln.normalized_shape, ln.weight.data, _data(ln.bias),
                                     ln.eps)


def _layer_norm(ln, x):
    return _layer_norm_saved(ln, x)[0]


# The training path of a block calls its layers' kernels directly: the block's input is
# checked once by GPT.forward (shape, dtype, contiguity follow from it), so re-checking
# it in each of the ~10 layers per block only costs Python time.
def _linear(lin, x):
    return _core._linear_forward(x, lin.weight.data, _data(lin.bias))


def _linear_backward(lin, g, x):
    """d loss / d x of ``lin`` at input ``x``; adds the weight and bias gradients."""
    return _core._linear_backward_into(g, x, lin.weight.data, lin.weight.grad,
                                       None if lin.bias is None else lin.bias.grad)


def _layer_norm_backward(ln, g, saved):
    x, mean, rstd = saved
    return _core._layer_norm_backward_into(g, x, ln.normalized_shape, ln.weight.data, mean,
                                           rstd, ln.weight.grad,
                                           None if ln.bias is None else ln.bias.grad)


def _dropout(drop, x):
    """(drop(x), mask): x scaled in place by the layer's mask in training, mask None
    when the layer is the identity (eval mode or p = 0)."""
    if not drop.training or drop.p == 0:
        return x, None
    mask = _core._dropout_mask(x.shape, drop.p, x.dtype, drop._rng)
    x *= mask
    return x, mask


def _scatter_add_rows(out, idx, rows):
    """out[idx[i]] += rows[i] for every i (repeated indices add up): rows sorted by index
    and summed per run of equal indices (np.add.reduceat), one add per distinct row."""
    order = np.argsort(idx, kind="stable")
    sorted_idx = idx[order]
    starts = np.flatnonzero(np.concatenate(([True], sorted_idx[1:] != sorted_idx[:-1])))
    out[sorted_idx[starts]] += np.add.reduceat(rows[order], starts, axis=0)


class Block(Module):
    """x + attn(ln_1(x)), then + mlp(ln_2(.)); backward adds the two paths' gradients.

    forward, with a = c_proj(attention(c_attn(ln_1(x)))) and
    m = mlp.c_proj(gelu(mlp.c_fc(ln_2(x + a)))):  out = x + a + m (dropout on a and m);
    backward: g_mid = g + ln_2'(mlp'(g));  g_x = g_mid + ln_1'(attn'(g_mid)).
    Forward keeps every intermediate backward needs (including attention's row lse, so
    attention is not recomputed in its forward form).
    """

    def __init__(self, config, dtype, rng):
        super().__init__()
        d = config.n_embd
        self.ln_1 = LayerNorm(d, bias=config.bias, dtype=dtype)
        self.attn = PackedSelfAttention(d, config.n_head, bias=config.bias,
                                        dropout=config.dropout, causal=True, dtype=dtype,
                                        random_state=rng)
        self.ln_2 = LayerNorm(d, bias=config.bias, dtype=dtype)
        self.mlp = MLP(config, dtype, rng)

    def forward(self, x):
        attn, mlp = self.attn, self.mlp
        ln1 = _layer_norm_saved(self.ln_1, x)
        y, att = packed_attention(_linear(attn.c_attn, ln1[0]), attn.n_head, None, True)
        a, mask_a = _dropout(attn.resid_dropout, _linear(attn.c_proj, y))
        a += x
        ln2 = _layer_norm_saved(self.ln_2, a)
        f = _linear(mlp.c_fc, ln2[0])
        act = _core.gelu(f, mlp.gelu.approximate)
        out, mask_m = _dropout(mlp.dropout, _linear(mlp.c_proj, act))
        out += a
        self._cache = ((x,) + ln1[1:], ln1[0], att, y, mask_a, (a,) + ln2[1:], ln2[0], f,
                       act, mask_m)
        return out

    def backward(self, grad_out):
        attn, mlp = self.attn, self.mlp
        saved1, h1, att, y, mask_a, saved2, h2, f, act, mask_m = self._saved()
        g = grad_out
        g_m = g if mask_m is None else g * mask_m
        g_f = _core.gelu_backward(_linear_backward(mlp.c_proj, g_m, act), f,
                                  mlp.gelu.approximate)
        g = g + _layer_norm_backward(self.ln_2, _linear_backward(mlp.c_fc, g_f, h2), saved2)
        g_a = g if mask_a is None else g * mask_a
        g_qkv = packed_attention_backward(_linear_backward(attn.c_proj, g_a, y), att)
        return g + _layer_norm_backward(self.ln_1, _linear_backward(attn.c_attn, g_qkv, h1),
                                        saved1)

    def infer(self, x, cache_k, cache_v, start):
        """Inference forward of x (B, T, E) at positions start .. start+T-1 (a prefill
        from start = 0, or one decoded token, T = 1): writes the new keys and values
        into the caches (B, H, block_size, dh) and attends to the cached positions."""
        attn = self.attn
        B, T, _ = x.shape
        qkv = _core._linear_forward(_layer_norm(self.ln_1, x), attn.c_attn.weight.data,
                                    _data(attn.c_attn.bias))
        q, k, v = _packed_heads(qkv, attn.n_head)
        end = start + T
        cache_k[:, :, start:end] = k
        cache_v[:, :, start:end] = v
        y = np.empty(x.shape, x.dtype)
        # Prefill (start = 0) is causal; one new token (decode) sees every cached key.
        _Problem(q, cache_k[:, :, :end], cache_v[:, :, :end], None, T > 1, None,
                 finite=False).forward(_heads(y, attn.n_head))
        x = x + _core._linear_forward(y, attn.c_proj.weight.data, _data(attn.c_proj.bias))
        return x + self.mlp.infer(_layer_norm(self.ln_2, x))


class _Transformer(Module):
    """nanoGPT's ``transformer`` ModuleDict: wte, wpe, drop, h (the blocks), ln_f."""

    def __init__(self, config, dtype, rng):
        super().__init__()
        self.wte = Embedding(config.vocab_size, config.n_embd, dtype=dtype, random_state=rng)
        self.wpe = Embedding(config.block_size, config.n_embd, dtype=dtype, random_state=rng)
        self.drop = Dropout(config.dropout, random_state=rng)
        self.h = Sequential(*[Block(config, dtype, rng) for _ in range(config.n_layer)])
        self.ln_f = LayerNorm(config.n_embd, bias=config.bias, dtype=dtype)


def _sample(logits, temperature, top_k, top_p, rng):
    """One token per row of ``logits`` (B, V): softmax(logits / temperature) restricted
    to the top_k largest and to the smallest set of most likely tokens whose
    probability reaches top_p (nucleus), drawn by inverting the CDF with one uniform
    per row. ``temperature=0`` picks the arg-max."""
    logits = logits.astype(np.float64)
    if temperature == 0:
        return np.argmax(logits, axis=-1)
    logits = logits / temperature
    if top_k is not None and top_k < logits.shape[-1]:
        kth = np.partition(logits, -top_k, axis=-1)[:, -top_k][:, None]
        logits = np.where(logits < kth, -np.inf, logits)
    probs = np.exp(logits - logits.max(axis=-1, keepdims=True))
    probs /= probs.sum(axis=-1, keepdims=True)
    if top_p is not None and top_p < 1:
        order = np.argsort(-probs, axis=-1, kind="stable")
        sorted_p = np.take_along_axis(probs, order, axis=-1)
        drop_sorted = np.cumsum(sorted_p, axis=-1) - sorted_p >= top_p
        drop = np.zeros_like(drop_sorted)
        np.put_along_axis(drop, order, drop_sorted, axis=-1)
        probs = np.where(drop, 0.0, probs)
    cdf = np.cumsum(probs, axis=-1)
    u = rng.random(len(probs)) * cdf[:, -1]
    return np.minimum((cdf <= u[:, None]).sum(axis=-1), probs.shape[-1] - 1)


class GPT(Module):
    """Decoder-only Transformer language model with nanoGPT's structure and names.

    Parameters
    ----------
    config : GPTConfig
    dtype : float32 (default) or float64
    random_state : int or Generator, optional
        Initialisation as nanoGPT: N(0, 0.02) weights and embeddings, zero biases,
        residual projections (``c_proj``) N(0, 0.02 / sqrt(2 n_layer)).

    ``forward(idx, targets=None)`` takes int token ids (B, T), T <= block_size, and
    returns ``(logits, loss)``: logits (B, T, vocab_size) and the mean cross-entropy
    when ``targets`` (B, T) is given (entries -1 are ignored), otherwise logits of the
    last position only, (B, 1, vocab_size), and ``None``. ``backward()`` follows a
    forward with targets. Dropout (when ``config.dropout > 0``) applies to the
    embeddings, the residual branches and the MLP output, not to attention weights.
    """

    def __init__(self, config, *, dtype=np.float32, random_state=None):
        super().__init__()
        check_instance(config, "config", GPTConfig, "a GPTConfig")
        self.config = config
        dtype = check_float_dtype(dtype, "dtype")
        rng = init._rng(random_state)
        self.transformer = _Transformer(config, dtype, rng)
        std = 0.02
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                p.data[...] = rng.normal(0.0, std / math.sqrt(2 * config.n_layer), p.shape)
            elif name.endswith("bias") and ".ln_" not in name:
                p.data[...] = 0
            elif not (".ln_" in name or name.startswith("transformer.ln_f")):
                p.data[...] = rng.normal(0.0, std, p.shape)
        self._cache = None

    def extra_repr(self):
        c = self.config
        return (f"n_layer={c.n_layer}, n_head={c.n_head}, n_embd={c.n_embd}, "
                f"block_size={c.block_size}, vocab_size={c.vocab_size}")

    # ------------------------------------------------------------ parameters
    def get_num_params(self, non_embedding=True):
        """Number of parameters (the tied lm_head counted once); ``non_embedding``
        leaves out the position embeddings, as nanoGPT."""
        n = sum(p.size for p in self.parameters())
        return n - self.transformer.wpe.weight.size if non_embedding else n

    def state_dict(self):
        """nanoGPT's state_dict: every parameter plus ``lm_head.weight`` (= wte)."""
        out = super().state_dict()
        out["lm_head.weight"] = out["transformer.wte.weight"].copy()
        return out

    def load_state_dict(self, state_dict, strict=True):
        """Load a nanoGPT / fastml state_dict; ``lm_head.weight`` is tied to wte and
        ``attn.bias`` (nanoGPT's causal-mask buffer) is ignored."""
        own = {k: v for k, v in state_dict.items()
               if k != "lm_head.weight" and not k.endswith(".attn.bias")}
        return super().load_state_dict(own, strict=strict)

    # ------------------------------------------------------------ training
    def _check_idx(self, idx, name="idx", allow_ignore=False):
        idx = check_index_array(idx, name, None, what="token ids", ndim=2)
        if idx.shape[1] > self.config.block_size:
            raise ValueError(f"{name} has sequence length {idx.shape[1]} > block_size "
                             f"{self.config.block_size}")
        if allow_ignore:  # -1: no target at this position
            check_index_array(idx[idx != -1], f"{name} (other than -1)",
                              self.config.vocab_size, what="token ids")
        else:
            check_index_array(idx, name, self.config.vocab_size, what="token ids")
        return np.ascontiguousarray(idx, dtype=np.int64)

    def forward(self, idx, targets=None):
        idx = check_min_length(self._check_idx(idx), "idx", 1, "tokens per row", axis=1)
        if targets is not None:
            targets = check_shape(self._check_idx(targets, "targets", allow_ignore=True),
                                  "targets", idx.shape, " (idx's shape)")
        t = self.transformer
        B, T = idx.shape
        # one BLAS pin for the whole pass: the kernels' nested pins then cost nothing
        with _kernels.blas_single_threaded():
            x = t.drop.forward(t.wte.weight.data[idx] + t.wpe.weight.data[:T])
            x = t.ln_f.forward(t.h.forward(x))
        wte = t.wte.weight.data
        if targets is None:
            self._cache = None
            return _core._linear_forward(np.ascontiguousarray(x[:, -1:]), wte, None), None
        with _kernels.blas_single_threaded():
            logits = _core._linear_forward(x, wte, None)
        flat_logits = logits.reshape(B * T, -1)
        flat_targets = targets.reshape(-1)
        count = int(np.count_nonzero(flat_targets != -1))
        loss, lse = _core._cross_entropy_forward(flat_logits, flat_targets, count, -1, 0.0,
                                                 "mean")
        self._cache = (idx, x, flat_logits, flat_targets, count, lse)
        return logits, float(loss)

    def backward(self, grad=1.0):
        """Add d (grad * loss) / d theta to every parameter's ``grad`` (after a forward
        with targets)."""
        idx, x, logits, targets, count, lse = self._saved()
        t = self.transformer
        g_logits = _core._cross_entropy_backward(logits, targets, count, lse, -1, 0.0,
                                                 "mean", grad)
        B, T, E = x.shape
        with _kernels.blas_single_threaded():
            g = _core._linear_backward_into(g_logits, x.reshape(B * T, E), t.wte.weight.data,
                                            t.wte.weight.grad, None).reshape(B, T, E)
            g = t.drop.backward(t.h.backward(t.ln_f.backward(g)))
        _scatter_add_rows(t.wte.weight.grad, idx.reshape(-1), g.reshape(B * T, E))
        t.wpe.weight.grad[:T] += g.sum(axis=0)

    def configure_optimizers(self, weight_decay, learning_rate, betas=(0.9, 0.95),
                             device_type=None):
        """AdamW with ``weight_decay`` on the matrices (2-D parameters: Linear weights,
        embeddings) and none on biases and LayerNorm weights, as nanoGPT.
        ``device_type`` is accepted for nanoGPT compatibility and ignored (CPU)."""
        params = self.parameters()
        decay = [p for p in params if p.ndim >= 2]
        no_decay = [p for p in params if p.ndim < 2]
        return AdamW([{"params": decay, "weight_decay": weight_decay},
                      {"params": no_decay, "weight_decay": 0.0}],
                     lr=learning_rate, betas=betas)

    # ------------------------------------------------------------ generation
    def _check_generate(self, idx, max_new_tokens, temperature, top_k, top_p, seed):
        idx = check_array(idx, "idx", ndim=(1, 2), dtype=None, finite=False)
        if idx.ndim == 1:
            idx = idx[None]
        check_min_length(idx, "idx", 1, "tokens per row", axis=1)
        idx = self._check_idx(idx[:, -self.config.block_size:])
        max_new_tokens = check_positive_int(max_new_tokens, "max_new_tokens", min_val=0)
        temperature = float(check_scalar(temperature, "temperature", numbers.Real, min_val=0,
                                         include_boundaries="neither"))
        if top_k is not None:
            top_k = check_positive_int(top_k, "top_k")
        if top_p is not None:
            top_p = float(check_scalar(top_p, "top_p", numbers.Real, min_val=0, max_val=1,
                                       include_boundaries="right"))
        return idx, max_new_tokens, temperature, top_k, top_p, np.random.default_rng(seed)

    def _prefill(self, idx, caches):
        """Run the window ``idx`` (B, T) from position 0, filling the caches; returns the
        last position's logits (B, V)."""
        t = self.transformer
        x = t.wte.weight.data[idx] + t.wpe.weight.data[:idx.shape[1]]
        return self._head(self._run_blocks(x, caches, 0))

    def _run_blocks(self, x, caches, start):
        for block, (ck, cv) in zip(self.transformer.h, caches):
            x = block.infer(x, ck, cv, start)
        return x

    def _head(self, x):
        t = self.transformer
        last = np.ascontiguousarray(x[:, -1])
        return _core._linear_forward(_layer_norm(t.ln_f, last), t.wte.weight.data, None)

    def generate(self, idx, max_new_tokens, temperature=1.0, top_k=None, top_p=None,
                 seed=None):
        """Sample ``max_new_tokens`` tokens after the prompt ``idx`` (B, T) or (T,).

        Prefill runs the prompt (its last block_size tokens) once and caches every
        layer's keys and values; each new token then goes through the layers as a
        single row attending to the cache. When the window is full (block_size
        positions), the cache is rebuilt from the last block_size // 2 tokens (learned
        absolute positions cannot slide), then decoding continues.

        Sampling: softmax(logits / temperature) (``temperature`` > 0), restricted to
        the ``top_k`` most likely tokens and to the nucleus of probability ``top_p`` in
        (0, 1]; one uniform draw per row from ``np.random.default_rng(seed)``.
        Returns int64 ids (B, T + max_new_tokens), the prompt first. No dropout.
        """
        prompt = np.asarray(idx)
        idx, n_new, temperature, top_k, top_p, rng = self._check_generate(
            idx, max_new_tokens, temperature, top_k, top_p, seed)
        c = self.config
        B = idx.shape[0]
        dtype = self.dtype
        caches = [(np.empty((B, c.n_head, c.block_size, c.n_embd // c.n_head), dtype),
                   np.empty((B, c.n_head, c.block_size, c.n_embd // c.n_head), dtype))
                  for _ in range(c.n_layer)]
        tokens = np.asarray(prompt if prompt.ndim == 2 else prompt[None], np.int64)
        out = np.empty((B, tokens.shape[1] + n_new), np.int64)
        out[:, :tokens.shape[1]] = tokens
        n = tokens.shape[1]
        if n_new == 0:
            return out
        t = self.transformer
        logits = self._prefill(idx, caches)
        length = idx.shape[1]
        for step in range(n_new):
            nxt = _sample(logits, temperature, top_k, top_p, rng)
            out[:, n] = nxt
            n += 1
            if step == n_new - 1:
                break
            if length == c.block_size:
                length = c.block_size // 2 or 1
                logits = self._prefill(out[:, n - length:n], caches)
                continue
            x = t.wte.weight.data[nxt][:, None] + t.wpe.weight.data[length]
            logits = self._head(self._run_blocks(x, caches, length))
            length += 1
        return out
