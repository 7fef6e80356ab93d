"""A multi-layer perceptron on scikit-learn's 8x8 digits (>= 97% test accuracy).

    python examples/mlp_digits.py [--epochs 30]

64 -> 256 -> 256 -> 10 with ReLU, GELU, LayerNorm and dropout, trained with AdamW and
a warm-up + cosine schedule; every layer's backward pass is explicit (fastml.nn).
"""

from _digits import command_line, train_and_score

import fastml.nn as nn


def build(seed=0, hidden=256, dropout=0.1):
    nn.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(64, hidden), nn.ReLU(), nn.Dropout(dropout, random_state=seed),
        nn.Linear(hidden, hidden), nn.GELU(), nn.LayerNorm(hidden),
        nn.Linear(hidden, 10))


def main(epochs=30, seed=0, hidden=256, threads=1, verbose=True):
    """Train and return the test accuracy."""
    return train_and_score(build(seed, hidden), images=False, lr=2e-3, epochs=epochs,
                           seed=seed, threads=threads, verbose=verbose)


if __name__ == "__main__":
    command_line(main, __doc__.splitlines()[0])
