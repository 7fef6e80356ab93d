"""BERT: a bidirectional Transformer encoder with a masked-LM head and a classification head.

    h_0 = LayerNorm(word[ids] + position[0..T-1] + token_type[type_ids]),  dropout
    h_l = TransformerEncoderLayer_l(h_{l-1})   (post-norm, GELU, key padding from mask)
    MLM:   logits = LayerNorm(gelu(dense(h_L))) word^T + bias        (tied decoder)
    class: logits = classifier(dropout(tanh(pooler(h_L[:, 0]))))      ([CLS] token)

The encoder is :class:`fastml.nn.TransformerEncoder` (PyTorch's layer names and
masks), so every block is the one tested against torch. Pre-training data comes from
:func:`mask_tokens`, the masking of BERT and Hugging Face's
``DataCollatorForLanguageModeling``: each non-special token is selected with
probability 0.15; a selected token becomes ``[MASK]`` with probability 0.8, a uniformly
random token with probability 0.1, and stays unchanged otherwise; labels are the
original ids at selected positions and -100 elsewhere.
"""

import numbers
from dataclasses import dataclass

import numpy as np

from fastml._validation import (
    check_array,
    check_divisible,
    check_float_dtype,
    check_index_array,
    check_instance,
    check_positive_int,
    check_random_state,
    check_scalar,
    check_shape,
)
from fastml.nn import init
from fastml.nn._layers import GELU, Dropout, Embedding, LayerNorm, Linear, Tanh
from fastml.nn._module import Module, Parameter
from fastml.nn._transformer import TransformerEncoder, TransformerEncoderLayer
from fastml.nn.functional import _core

__all__ = ["BERT", "BERTConfig", "BERTForSequenceClassification", "mask_tokens"]

IGNORE_INDEX = -100


@dataclass
class BERTConfig:
    """Hugging Face's ``BertConfig`` names (the sizes of BERT-base by default)."""

    vocab_size: int = 30522
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_dropout_prob: float = 0.1
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    pad_token_id: int = 0
    num_labels: int = 2

    def __post_init__(self):
        for name in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                     "intermediate_size", "max_position_embeddings", "type_vocab_size",
                     "num_labels"):
            setattr(self, name, check_positive_int(getattr(self, name), name))
        check_divisible(self.hidden_size, "hidden_size", self.num_attention_heads,
                        "num_attention_heads")
        self.hidden_dropout_prob = float(check_scalar(
            self.hidden_dropout_prob, "hidden_dropout_prob", numbers.Real, min_val=0,
            max_val=1, include_boundaries="left"))
        check_scalar(self.layer_norm_eps, "layer_norm_eps", numbers.Real, min_val=0)
        check_scalar(self.pad_token_id, "pad_token_id", numbers.Integral, min_val=0,
                     max_val=self.vocab_size - 1)


def mask_tokens(input_ids, vocab_size, mask_token_id, *, special_tokens_mask=None,
                mlm_probability=0.15, seed=None):
    """BERT's masked-LM corruption: returns (inputs, labels), int64 arrays like input_ids.

    Each token not flagged by ``special_tokens_mask`` (True = never masked, e.g. [CLS],
    [SEP], padding) is selected with probability ``mlm_probability``; selected tokens
    become ``mask_token_id`` (80%), a uniform random id in [0, vocab_size) (10%), or
    stay (10%). ``labels`` holds the original id at selected positions, -100 elsewhere.
    """
    ids = check_index_array(input_ids, "input_ids", None, what="token ids")
    vocab_size = check_positive_int(vocab_size, "vocab_size")
    check_scalar(mask_token_id, "mask_token_id", numbers.Integral, min_val=0,
                 max_val=vocab_size - 1)
    p = check_scalar(mlm_probability, "mlm_probability", numbers.Real, min_val=0, max_val=1)
    check_index_array(ids, "input_ids", vocab_size, what="token ids")
    rng = check_random_state(seed)
    selected = rng.random(ids.shape) < p
    if special_tokens_mask is not None:
        special = check_array(special_tokens_mask, "special_tokens_mask", dtype=bool,
                              finite=False)
        check_shape(special, "special_tokens_mask", ids.shape, " (input_ids' shape)")
        selected &= ~special
    labels = np.where(selected, ids, IGNORE_INDEX).astype(np.int64)
    inputs = ids.astype(np.int64, copy=True)
    replaced = selected & (rng.random(ids.shape) < 0.8)
    inputs[replaced] = mask_token_id
    randomised = selected & ~replaced & (rng.random(ids.shape) < 0.5)
    inputs[randomised] = rng.integers(0, vocab_size, ids.shape)[randomised]
    return inputs, labels


def _normal_init(module, rng, std=0.02):
    """BERT's initialisation: N(0, 0.02) weights and embeddings, zero biases, unit norms."""
    for name, p in module.named_parameters():
        if "norm" in name.lower():
            p.data[...] = 1.0 if name.endswith("weight") else 0.0
        elif name.endswith("bias"):
            p.data[...] = 0.0
        else:
            p.data[...] = rng.normal(0.0, std, p.shape)


class _Embeddings(Module):
    """LayerNorm(word + position + token_type embeddings), then dropout."""

    def __init__(self, config, dtype, rng):
        super().__init__()
        d = config.hidden_size
        self.word_embeddings = Embedding(config.vocab_size, d, dtype=dtype, random_state=rng)
        self.position_embeddings = Embedding(config.max_position_embeddings, d, dtype=dtype,
                                             random_state=rng)
        self.token_type_embeddings = Embedding(config.type_vocab_size, d, dtype=dtype,
                                               random_state=rng)
        self.LayerNorm = LayerNorm(d, eps=config.layer_norm_eps, dtype=dtype)
        self.dropout = Dropout(config.hidden_dropout_prob, random_state=rng)

    def forward(self, ids, type_ids):
        T = ids.shape[1]
        x = (self.word_embeddings.forward(ids) + self.position_embeddings.forward(np.arange(T))
             + self.token_type_embeddings.forward(type_ids))
        return self.dropout.forward(self.LayerNorm.forward(x))

    def backward(self, grad_out):
        g = self.LayerNorm.backward(self.dropout.backward(grad_out))
        self.word_embeddings.backward(g)
        self.token_type_embeddings.backward(g)
        self.position_embeddings.weight.grad[:g.shape[1]] += g.sum(axis=0)


class BertModel(Module):
    """Embeddings and the encoder stack: ``forward(input_ids, token_type_ids=None,
    attention_mask=None)`` -> hidden states (B, T, hidden_size); ``attention_mask``
    (B, T) is Hugging Face's (1 = token, 0 = padding)."""

    def __init__(self, config, *, dtype=np.float32, random_state=None):
        super().__init__()
        check_instance(config, "config", BERTConfig, "a BERTConfig")
        self.config = config
        dtype = check_float_dtype(dtype, "dtype")
        rng = init._rng(random_state)
        self.embeddings = _Embeddings(config, dtype, rng)
        layer = TransformerEncoderLayer(
            config.hidden_size, config.num_attention_heads, config.intermediate_size,
            dropout=config.hidden_dropout_prob, activation="gelu",
            layer_norm_eps=config.layer_norm_eps, batch_first=True, dtype=dtype,
            random_state=rng)
        self.encoder = TransformerEncoder(layer, config.num_hidden_layers)
        self._cache = None

    def _ids(self, ids, name, high):
        ids = check_index_array(ids, name, high, what="ids", ndim=2)
        return np.ascontiguousarray(ids, dtype=np.int64)

    def forward(self, input_ids, token_type_ids=None, attention_mask=None):
        c = self.config
        ids = self._ids(input_ids, "input_ids", c.vocab_size)
        if ids.shape[1] > c.max_position_embeddings:
            raise ValueError(f"input_ids has sequence length {ids.shape[1]} > "
                             f"max_position_embeddings {c.max_position_embeddings}")
        types = np.zeros_like(ids) if token_type_ids is None else \
            self._ids(token_type_ids, "token_type_ids", c.type_vocab_size)
        padding = None
        if attention_mask is not None:
            m = check_array(attention_mask, "attention_mask", ndim=2, dtype=None, finite=False)
            check_shape(m, "attention_mask", ids.shape, " (input_ids' shape)")
            padding = m == 0
        check_shape(types, "token_type_ids", ids.shape, " (input_ids' shape)")
        self._cache = True
        return self.encoder.forward(self.embeddings.forward(ids, types),
                                    src_key_padding_mask=padding)

    def backward(self, grad_out):
        self._saved()
        self.embeddings.backward(self.encoder.backward(grad_out))


class _MLMHead(Module):
    """transform: LayerNorm(gelu(dense(h))); logits = transform word_embeddings^T + bias."""

    def __init__(self, config, dtype, rng):
        super().__init__()
        d = config.hidden_size
        self.dense = Linear(d, d, dtype=dtype, random_state=rng)
        self.transform_act_fn = GELU()
        self.LayerNorm = LayerNorm(d, eps=config.layer_norm_eps, dtype=dtype)
        self.bias = Parameter(np.zeros(config.vocab_size), dtype)


def _loss(logits, labels, n_classes):
    """Mean cross-entropy over labels != -100, and what its backward needs."""
    flat = logits.reshape(-1, n_classes)
    t = labels.reshape(-1)
    count = int(np.count_nonzero(t != IGNORE_INDEX))
    loss, lse = _core._cross_entropy_forward(flat, t, count, IGNORE_INDEX, 0.0, "mean")
    return float(loss), (flat, t, count, lse)


def _loss_backward(saved, grad):
    flat, t, count, lse = saved
    return _core._cross_entropy_backward(flat, t, count, lse, IGNORE_INDEX, 0.0, "mean",
                                         grad)


def _check_labels(labels, shape, n_classes):
    t = check_shape(check_index_array(labels, "labels", None, what="ids"), "labels", shape)
    check_index_array(t[t != IGNORE_INDEX], "labels (other than -100)", n_classes,
                      what="class ids")
    return np.ascontiguousarray(t, dtype=np.int64)


class BERT(Module):
    """BERT with its masked-language-model head (``BertForMaskedLM``).

    ``forward(input_ids, token_type_ids=None, attention_mask=None, labels=None)`` ->
    ``(logits, loss)``: logits (B, T, vocab_size); with ``labels`` (B, T) (-100 =
    not predicted, as from :func:`mask_tokens`) the mean cross-entropy, else None.
    ``backward()`` adds every parameter gradient (the decoder is tied to the word
    embeddings). Initialised N(0, 0.02) as BERT.
    """

    def __init__(self, config, *, dtype=np.float32, random_state=None):
        super().__init__()
        rng = init._rng(random_state)
        self.bert = BertModel(config, dtype=dtype, random_state=rng)
        self.cls = _MLMHead(config, self.bert.dtype, rng)
        _normal_init(self, rng)
        self.config = config
        self._cache = None

    def forward(self, input_ids, token_type_ids=None, attention_mask=None, labels=None):
        h = self.bert.forward(input_ids, token_type_ids, attention_mask)
        head = self.cls
        t = head.LayerNorm.forward(head.transform_act_fn.forward(head.dense.forward(h)))
        word = self.bert.embeddings.word_embeddings.weight
        logits = _core._linear_forward(t, word.data, head.bias.data)
        if labels is None:
            self._cache = None
            return logits, None
        labels = _check_labels(labels, logits.shape[:2], self.config.vocab_size)
        loss, saved = _loss(logits, labels, self.config.vocab_size)
        self._cache = (t, saved)
        return logits, loss

    def backward(self, grad=1.0):
        """Add d (grad * loss) / d theta to every parameter's grad (after a forward with
        labels)."""
        t, saved = self._saved()
        head = self.cls
        word = self.bert.embeddings.word_embeddings.weight
        g = _loss_backward(saved, grad)
        B, T, d = t.shape
        g = _core._linear_backward_into(g, t.reshape(B * T, d), word.data, word.grad,
                                        head.bias.grad).reshape(B, T, d)
        g = head.dense.backward(head.transform_act_fn.backward(head.LayerNorm.backward(g)))
        self.bert.backward(g)


class BERTForSequenceClassification(Module):
    """BERT fine-tuning head: logits = classifier(dropout(tanh(pooler(h[:, 0])))).

    Build it from a config, or from a (pre-trained) :class:`BERT` with
    :meth:`from_pretrained`, which copies the encoder and embeddings.
    ``forward(input_ids, token_type_ids=None, attention_mask=None, labels=None)`` ->
    ``(logits (B, num_labels), loss)``; labels (B,) class indices.
    """

    def __init__(self, config, *, dtype=np.float32, random_state=None):
        super().__init__()
        rng = init._rng(random_state)
        self.bert = BertModel(config, dtype=dtype, random_state=rng)
        d = config.hidden_size
        self.pooler = Linear(d, d, dtype=self.bert.dtype, random_state=rng)
        self.pooler_activation = Tanh()
        self.dropout = Dropout(config.hidden_dropout_prob, random_state=rng)
        self.classifier = Linear(d, config.num_labels, dtype=self.bert.dtype, random_state=rng)
        _normal_init(self, rng)
        self.config = config
        self._cache = None

    @classmethod
    def from_pretrained(cls, model, num_labels=None, *, random_state=None):
        """A classifier whose ``bert`` weights are copied from ``model`` (a :class:`BERT`)."""
        check_instance(model, "model", BERT, "a BERT")
        config = model.config
        if num_labels is not None:
            config = BERTConfig(**{**config.__dict__, "num_labels": num_labels})
        out = cls(config, dtype=model.bert.dtype, random_state=random_state)
        out.bert.load_state_dict(model.bert.state_dict())
        return out

    def forward(self, input_ids, token_type_ids=None, attention_mask=None, labels=None):
        h = self.bert.forward(input_ids, token_type_ids, attention_mask)
        first = np.ascontiguousarray(h[:, 0])
        pooled = self.pooler_activation.forward(self.pooler.forward(first))
        logits = self.classifier.forward(self.dropout.forward(pooled))
        if labels is None:
            self._cache = None
            return logits, None
        labels = _check_labels(labels, logits.shape[:1], self.config.num_labels)
        loss, saved = _loss(logits, labels, self.config.num_labels)
        self._cache = (h.shape, saved)
        return logits, loss

    def backward(self, grad=1.0):
        shape, saved = self._saved()
        g = self.classifier.backward(_loss_backward(saved, grad))
        g_first = self.pooler.backward(self.pooler_activation.backward(
            self.dropout.backward(g)))
        g_h = np.zeros(shape, g_first.dtype)
        g_h[:, 0] = g_first
        self.bert.backward(g_h)

