"""Per-token and summed log-probabilities of completions under a GPT, forward and backward.

For a prompt x (P tokens) and a completion y (C tokens, valid where ``mask``), the
model reads the window [x, y_1 .. y_{C-1}] once and

    log pi(y_t | x, y_<t) = logits_{P-1+t}[y_t] - logsumexp(logits_{P-1+t})
    log pi(y | x) = sum_t mask_t log pi(y_t | x, y_<t)
    H_t = -sum_v p_v log p_v   (entropy of the next-token distribution)

Attention is causal, so the padding after a completion's end (mask False) influences no
valid position, and padded positions get zero gradient: padding cannot leak. Prompts
are rectangular (same length, no padding).
"""

import weakref

import numpy as np

from fastml._validation import (
    check_array,
    check_bounds,
    check_instance,
    check_nonempty_axes,
    check_shape,
)
from fastml.models import GPT
from fastml.models._gpt import _layer_norm
from fastml.rlhf._task import _completion_mask, _token_array

__all__ = ["SequenceLogprobs", "sequence_logprobs"]

# The result of the last differentiable forward per model: the layers keep one forward's
# activations, so only that result may run backward.
_LAST_FORWARD = weakref.WeakKeyDictionary()
# Per model: the key/value buffers of the last inference forward's shape (a workspace).
_INFER_CACHES = weakref.WeakKeyDictionary()


def _check_model(model, name="model"):
    return check_instance(model, name, GPT, "a fastml.models.GPT")


def _check_sequences(model, prompts, completions, completion_mask, extra=1):
    """Checked (prompts, completions, mask) for a window of P + C - 1 + ``extra`` tokens."""
    prompts = _token_array(prompts, "prompts")
    completions = _token_array(completions, "completions")
    B, P = check_nonempty_axes(prompts, "prompts", (1,), "rows (a token at least)").shape
    if completions.shape[0] != B:
        raise ValueError(f"completions has {completions.shape[0]} rows, prompts has {B}")
    check_nonempty_axes(completions, "completions", (1,), "rows (a token at least)")
    window = P + completions.shape[1] - 1 + extra
    if window > model.config.block_size:
        raise ValueError(f"prompts ({P} tokens) + completions ({completions.shape[1]}) need "
                         f"a window of {window} tokens > block_size "
                         f"{model.config.block_size}")
    V = model.config.vocab_size
    for name, a in (("prompts", prompts), ("completions", completions)):
        check_bounds(a, name, low=0, high=V, closed="left", detail=" (token ids)")
    mask = _completion_mask(completion_mask, completions.shape, "completion_mask")
    return prompts, completions, mask


def _hidden_forward(model, idx):
    """ln_f(blocks(wte[idx] + wpe)) (B, T, E) through the layers' forward (they keep
    their activations for :func:`_hidden_backward`)."""
    t = model.transformer
    x = t.drop.forward(t.wte.forward(idx) + t.wpe.weight.data[:idx.shape[1]])
    return t.ln_f.forward(t.h.forward(x))


def _hidden_infer(model, idx):
    """The same hidden states as :func:`_hidden_forward`, without dropout and without
    keeping activations (no backward; a pending backward stays valid): GPT's KV-cache
    inference path run over the whole window from position 0."""
    c = model.config
    B, T = idx.shape
    shape = (B, c.n_head, T, c.n_embd // c.n_head)
    caches = _INFER_CACHES.get(model)
    if caches is None or caches[0][0].shape != shape or caches[0][0].dtype != model.dtype:
        caches = [(np.empty(shape, model.dtype), np.empty(shape, model.dtype))
                  for _ in range(c.n_layer)]
        _INFER_CACHES[model] = caches
    t = model.transformer
    x = t.wte.weight.data[idx] + t.wpe.weight.data[:T]
    return _layer_norm(t.ln_f, model._run_blocks(x, caches, 0))


def _token_logprobs(hidden, wte, completions, mask):
    """Log-softmax of the tied head, hidden @ wte.T (B, C, V), and the masked log-probs of
    the completion tokens (B, C) (0 at padding)."""
    logits = hidden @ wte.T
    logits -= logits.max(axis=-1, keepdims=True)
    logits -= np.log(np.exp(logits).sum(axis=-1, keepdims=True))
    token = np.take_along_axis(logits, completions[..., None], axis=-1)[..., 0]
    return logits, np.where(mask, token, 0).astype(logits.dtype)


def _infer_logprobs(model, prompts, completions, mask):
    """(token log-probs (B, C), hidden (B, C, E)) as :class:`SequenceLogprobs` computes
    them, by the inference forward (for frozen models and old-policy scoring)."""
    P = prompts.shape[1]
    window = np.concatenate([prompts, completions[:, :-1]], axis=1)
    hidden = np.ascontiguousarray(_hidden_infer(model, window)[:, P - 1:])
    return _token_logprobs(hidden, model.transformer.wte.weight.data, completions,
                           mask)[1], hidden


def _hidden_backward(model, grad):
    """Add d loss / d theta given d loss / d hidden (B, T, E) of the last forward."""
    t = model.transformer
    g = t.drop.backward(t.h.backward(t.ln_f.backward(grad)))
    t.wte.backward(g)
    t.wpe.weight.grad[:g.shape[1]] += g.sum(axis=0)


class SequenceLogprobs:
    """Log-probabilities of completions and their backward.

    Attributes: ``token_logps`` (B, C) (0 at padding), ``logps`` (B,) summed over valid
    tokens, ``entropy`` (B, C) of each next-token distribution (0 at padding), ``mask``
    (B, C) and ``hidden`` (B, C, E), the final hidden states at the positions that predict
    the completion tokens (for a value head on the same backbone). All in the model's dtype.
    """

    def __init__(self, model, prompts, completions, mask):
        self.model = model
        P = prompts.shape[1]
        window = np.concatenate([prompts, completions[:, :-1]], axis=1)
        hidden_all = _hidden_forward(model, window)
        self.hidden = np.ascontiguousarray(hidden_all[:, P - 1:])
        logits, self.token_logps = _token_logprobs(
            self.hidden, model.transformer.wte.weight.data, completions, mask)
        self._logp_all = logits  # log-probabilities of every token
        self._targets = completions
        self._window = window.shape
        self.mask = mask
        self.logps = self.token_logps.sum(axis=1)
        probs = np.exp(logits)
        self._probs = probs
        self.entropy = np.where(mask, -(probs * logits).sum(axis=-1), 0).astype(logits.dtype)
        _LAST_FORWARD[model] = self

    def backward(self, grad_logps=None, grad_token_logps=None, grad_entropy=None,
                 grad_hidden=None):
        """Add to the model's ``param.grad`` the gradient of

        sum_b g_b logps_b + sum_bt (G_bt token_logps_bt + E_bt entropy_bt)

        (``grad_logps`` g (B,), ``grad_token_logps`` G (B, C), ``grad_entropy`` E (B, C);
        masked entries ignored) plus ``grad_hidden`` (B, C, E) flowing into ``hidden``.
        Only the latest forward of a model can run backward (its layers keep one
        forward's activations).
        """
        if _LAST_FORWARD.get(self.model) is not self:
            raise RuntimeError("backward needs the model's latest sequence_logprobs forward: "
                               "another forward on this model ran since")
        B, C = self.mask.shape
        dtype = self._logp_all.dtype
        g_tok = np.zeros((B, C), dtype)
        if grad_logps is not None:
            g_tok += _grad(grad_logps, (B,), "grad_logps")[:, None]
        if grad_token_logps is not None:
            g_tok += _grad(grad_token_logps, (B, C), "grad_token_logps")
        g_tok *= self.mask
        probs = self._probs
        g_logits = -g_tok[..., None] * probs
        rows = np.arange(B)[:, None]
        cols = np.arange(C)[None, :]
        g_logits[rows, cols, self._targets] += g_tok
        if grad_entropy is not None:
            g_ent = _grad(grad_entropy, (B, C), "grad_entropy") * self.mask
            H = -(probs * self._logp_all).sum(axis=-1, keepdims=True)
            g_logits -= g_ent[..., None] * probs * (self._logp_all + H)
        g_logits = g_logits.astype(dtype, copy=False)
        wte = self.model.transformer.wte.weight
        E = wte.data.shape[1]
        wte.grad += g_logits.reshape(-1, g_logits.shape[-1]).T @ self.hidden.reshape(-1, E)
        g_hidden = g_logits @ wte.data
        if grad_hidden is not None:
            g_hidden += _grad(grad_hidden, (B, C, E), "grad_hidden")
        full = np.zeros(self._window + (E,), dtype)
        full[:, self._window[1] - C:] = g_hidden
        _hidden_backward(self.model, full)


def _grad(g, shape, name):
    return check_shape(check_array(g, name), name, shape)


def sequence_logprobs(model, prompts, completions, completion_mask=None):
    """Log-probabilities of ``completions`` after ``prompts`` under a GPT.

    Parameters
    ----------
    model : fastml.models.GPT
    prompts : int array (B, P), P >= 1 (all prompts of one length)
    completions : int array (B, C), C >= 1, right-padded
    completion_mask : bool array (B, C) or None
        True at valid tokens, each row valid-then-padding; None = all valid.

    P + C - 1 <= block_size. Returns a :class:`SequenceLogprobs` (``token_logps``,
    ``logps``, ``entropy``, ``hidden``; ``backward(...)`` adds the parameter gradients).
    Runs the layers' training forward: call ``model.eval()`` for no dropout.
    """
    model = _check_model(model)
    prompts, completions, mask = _check_sequences(model, prompts, completions,
                                                  completion_mask, extra=0)
    return SequenceLogprobs(model, prompts, completions, mask)
