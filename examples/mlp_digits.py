"""A multi-layer perceptron on scikit-learn's 8x8 digits (>= 97% test accuracy).

    python examples/mlp_digits.py [--epochs 30]

64 -> 256 -> 256 -> 10 with ReLU, GELU, LayerNorm and dropout, trained with AdamW and
a warm-up + cosine schedule; every layer's backward pass is explicit (fastml.nn).
"""

import argparse

from _digits import accuracy, fit, load_digits_split

import fastml
import fastml.nn as nn


def build(seed=0, hidden=256, dropout=0.1):
    nn.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(64, hidden), nn.ReLU(), nn.Dropout(dropout, random_state=seed),
        nn.Linear(hidden, hidden), nn.GELU(), nn.LayerNorm(hidden),
        nn.Linear(hidden, 10))


def main(epochs=30, seed=0, hidden=256, threads=1, verbose=True):
    """Train and return the test accuracy. One thread by default: the model is so small
    that splitting its layers over threads costs more in synchronisation than it saves."""
    X_train, X_test, y_train, y_test = load_digits_split(seed)
    with fastml.threads(threads):
        model = fit(build(seed, hidden), X_train, y_train, epochs=epochs, lr=2e-3, seed=seed,
                    verbose=verbose)
        acc = accuracy(model, X_test, y_test)
    if verbose:
        print(f"test accuracy {acc:.4f} ({len(y_test)} digits)")
    return acc


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    main(args.epochs, args.seed, threads=args.threads)
