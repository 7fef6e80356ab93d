"""
Multi-layer perceptron on the 8x8 digits
========================================

A 64 -> 256 -> 256 -> 10 network with ReLU, GELU, LayerNorm and dropout on scikit-learn's
8x8 digits (>= 97% test accuracy after 30 epochs), trained with AdamW and a warm-up +
cosine schedule. Every layer's backward pass is explicit (:mod:`fastml.nn`): the training
step is forward, loss, ``loss.backward()`` (d loss / d logits), ``model.backward`` (fills
every parameter's gradient), optimizer step. See :doc:`/neural_networks/mlp`.

::

    python examples/mlp_digits.py [--epochs 30] [--seed 0] [--threads 1]

The documentation build (``FASTML_EXAMPLE_QUICK=1``) trains 5 epochs.
"""

# %%
# The model
# ---------
# ``nn.Sequential`` calls the layers' ``forward`` in order and their ``backward`` in
# reverse; dropout draws its masks from its own seeded generator.
from _digits import command_line, train_and_score

import fastml.nn as nn


def build(seed=0, hidden=256, dropout=0.1):
    nn.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(64, hidden), nn.ReLU(), nn.Dropout(dropout, random_state=seed),
        nn.Linear(hidden, hidden), nn.GELU(), nn.LayerNorm(hidden),
        nn.Linear(hidden, 10))


def main(epochs=30, seed=0, hidden=256, threads=1, verbose=True, history=None):
    """Train and return the test accuracy (``history`` receives the per-epoch loss)."""
    return train_and_score(build(seed, hidden), images=False, lr=2e-3, epochs=epochs,
                           seed=seed, threads=threads, verbose=verbose, history=history)


# %%
# Training
# --------
# The digits are split 75/25 (stratified); the learning rate warms up linearly for two
# epochs, then decays along a cosine. The figure shows the training loss per epoch.
if __name__ == "__main__":
    command_line(main, "MLP on the digits", quick_epochs=5)
