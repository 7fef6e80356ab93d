"""Fuzz specs of fastml.models: GPT (training step and KV-cache generation), BERT
(masked LM, sequence classification) and BERT's token masking.

The diffusion names (DiffusionMLP, ...) have their own owner and entries elsewhere.
"""

import numpy as np

from fuzz_specs import Spec

_VOCAB, _T = 11, 5
_SIZE = [0, -1, 2.5, "4"]
_PROB = [-0.1, 1.5, np.nan]


def _ids(rng, shape, high=_VOCAB):
    return rng.integers(0, high, shape).astype(np.int64)


def _grads(model):
    return [p.grad.copy() for p in model.parameters()]


def _gpt_inputs(rng, dtype):
    return {"idx": _ids(rng, (2, _T)), "targets": _ids(rng, (2, _T)), "dtype": dtype,
            "vocab_size": _VOCAB, "block_size": 8, "n_layer": 1, "n_head": 2, "n_embd": 8,
            "dropout": 0.0, "temperature": 0.8, "top_k": 4, "top_p": 0.9}


def _gpt_run(idx, targets, dtype, temperature, top_k, top_p, **config):
    """Forward with targets, backward, one AdamW step, then sampling 3 tokens with the
    cache from the same prompt."""
    from fastml.models import GPT, GPTConfig

    model = GPT(GPTConfig(**config), dtype=dtype, random_state=0)
    logits, loss = model(idx, targets)
    model.backward()
    grads = _grads(model)
    model.configure_optimizers(0.1, 1e-3).step()
    tokens = model.generate(idx, 3, temperature=temperature, top_k=top_k, top_p=top_p,
                            seed=0)
    return logits, loss, grads, tokens


def _bert_config(config):
    from fastml.models import BERTConfig

    return BERTConfig(intermediate_size=16, max_position_embeddings=8, **config)


def _bert_inputs(rng, dtype):
    return {"input_ids": _ids(rng, (2, _T)), "labels": _ids(rng, (2, _T)),
            "attention_mask": np.array([[1] * _T, [1] * (_T - 2) + [0, 0]]),
            "dtype": dtype, "vocab_size": _VOCAB, "hidden_size": 8, "num_hidden_layers": 1,
            "num_attention_heads": 2, "hidden_dropout_prob": 0.0}


def _bert_run(input_ids, labels, attention_mask, dtype, **config):
    from fastml.models import BERT

    model = BERT(_bert_config(config), dtype=dtype, random_state=0)
    logits, loss = model(input_ids, attention_mask=attention_mask, labels=labels)
    model.backward()
    return logits, loss, _grads(model)


def _classifier_inputs(rng, dtype):
    kw = _bert_inputs(rng, dtype)
    kw["labels"] = _ids(rng, (2,), 3)
    kw["num_labels"] = 3
    return kw


def _classifier_run(input_ids, labels, attention_mask, dtype, **config):
    from fastml.models import BERTForSequenceClassification

    model = BERTForSequenceClassification(_bert_config(config), dtype=dtype, random_state=0)
    logits, loss = model(input_ids, attention_mask=attention_mask, labels=labels)
    model.backward()
    return logits, loss, _grads(model)


def _mask_inputs(rng, dtype):
    ids = _ids(rng, (3, 7))
    special = np.zeros(ids.shape, bool)
    special[:, 0] = True
    return {"input_ids": ids, "special_tokens_mask": special, "vocab_size": _VOCAB,
            "mask_token_id": 3, "mlm_probability": 0.5}


def _mask_run(input_ids, **kw):
    from fastml.models import mask_tokens

    return mask_tokens(input_ids, seed=0, **kw)


_BERT_BAD = {"vocab_size": _SIZE, "hidden_size": [0, 7], "num_attention_heads": [0, 3],
             "num_hidden_layers": _SIZE, "hidden_dropout_prob": _PROB}

SPECS = [
    Spec("fastml.models.GPT", _gpt_inputs, _gpt_run, also=("fastml.models.GPTConfig",),
         arrays=("idx", "targets"), same_length=(("idx", "targets"),), dtypes=("float32",
                                                                                "float64"),
         # a window longer than block_size is reported as idx's sequence length
         aliases={"block_size": ("idx", "sequence length")},
         bad_params={"vocab_size": _SIZE, "block_size": [0, 3, -1], "n_layer": _SIZE,
                     "n_head": [0, 3], "n_embd": [0, 9], "dropout": _PROB,
                     "temperature": [0, -1.0, np.nan], "top_k": [0, -2, 1.5],
                     "top_p": [0, 1.5, np.nan], "dtype": [np.int32]}),
    Spec("fastml.models.BERT", _bert_inputs, _bert_run, also=("fastml.models.BERTConfig",),
         arrays=("input_ids", "labels", "attention_mask"),
         same_length=(("input_ids", "labels", "attention_mask"),), bad_params=_BERT_BAD),
    Spec("fastml.models.BERTForSequenceClassification", _classifier_inputs, _classifier_run,
         arrays=("input_ids", "labels", "attention_mask"),
         same_length=(("input_ids", "labels", "attention_mask"),),
         bad_params={**_BERT_BAD, "num_labels": _SIZE}),
    Spec("fastml.models.mask_tokens", _mask_inputs, _mask_run,
         arrays=("input_ids", "special_tokens_mask"), dtypes=("float64",),
         same_length=(("input_ids", "special_tokens_mask"),),
         bad_params={"vocab_size": _SIZE, "mask_token_id": [-1, _VOCAB, 1.5],
                     "mlm_probability": _PROB}),
]
