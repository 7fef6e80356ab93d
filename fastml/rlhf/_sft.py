"""Supervised fine-tuning: next-token cross-entropy on a corpus, GPT's own loss."""

import numbers

import numpy as np

from fastml._validation import (
    check_nonempty,
    check_positive_int,
    check_random_state,
    check_scalar,
)
from fastml.rlhf._logprobs import _check_model
from fastml.rlhf._task import _token_array

__all__ = ["sft_train"]


def sft_train(model, tokens, *, steps=200, batch_size=32, learning_rate=3e-3,
              weight_decay=0.0, random_state=None):
    """Fit a GPT to ``tokens`` (n, T + 1) by ``steps`` AdamW steps on random minibatches:
    loss = mean_t cross_entropy(logits(tokens[:, :T])_t, tokens[:, t + 1]). Returns the
    loss of every step."""
    model = _check_model(model)
    tokens = _token_array(tokens, "tokens")
    if tokens.shape[1] < 2 or tokens.shape[1] - 1 > model.config.block_size:
        raise ValueError(f"tokens must have 2 .. block_size + 1 = "
                         f"{model.config.block_size + 1} columns, got {tokens.shape[1]}")
    check_nonempty(tokens, "tokens")
    steps = check_positive_int(steps, "steps")
    batch_size = check_positive_int(batch_size, "batch_size")
    learning_rate = float(check_scalar(learning_rate, "learning_rate", numbers.Real,
                                       min_val=0, include_boundaries="neither"))
    weight_decay = float(check_scalar(weight_decay, "weight_decay", numbers.Real, min_val=0))
    rng = check_random_state(random_state)
    optimizer = model.configure_optimizers(weight_decay, learning_rate, (0.9, 0.99))
    model.train()
    losses = []
    for _ in range(steps):
        batch = tokens[rng.integers(0, len(tokens), batch_size)]
        _, loss = model.forward(np.ascontiguousarray(batch[:, :-1]),
                                np.ascontiguousarray(batch[:, 1:]))
        optimizer.zero_grad()
        model.backward()
        optimizer.step()
        losses.append(loss)
    return losses
