"""Shared by the digits examples: data split, seeded mini-batch training, accuracy,
the command line and the training-curve figure."""

import argparse
import os
import time

import numpy as np

import fastml
import fastml.nn as nn


def load_digits_split(seed=0, test_size=0.25, images=False):
    """scikit-learn's 8x8 digits scaled to [0, 1], float32, stratified train/test split.

    ``images``: shape (N, 1, 8, 8) for convolutions instead of (N, 64).
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    if images:
        X = X.reshape(-1, 1, 8, 8)
    return train_test_split(X, y, test_size=test_size, random_state=seed, stratify=y)


def accuracy(model, X, y, batch_size=512):
    model.eval()
    pred = np.concatenate([model(X[i:i + batch_size]).argmax(axis=1)
                           for i in range(0, len(X), batch_size)])
    return float(np.mean(pred == y))


def fit(model, X, y, *, epochs, lr, batch_size=64, weight_decay=1e-4, warmup=2,
        label_smoothing=0.05, seed=0, verbose=True, history=None):
    """AdamW with linear warm-up then cosine decay, one schedule step per epoch.

    Each step is written out: forward, loss, loss.backward() -> d loss / d logits,
    model.backward (fills every parameter's grad), optimizer step. ``history``: a list
    that receives (mean training loss, learning rate) after every epoch.
    """
    loss_fn = nn.CrossEntropyLoss(label_smoothing=label_smoothing)
    opt = nn.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    warmup = min(warmup, epochs - 1)
    if warmup > 0:
        sched = nn.SequentialLR(opt, [nn.LinearLR(opt, 0.1, 1.0, warmup),
                                      nn.CosineAnnealingLR(opt, epochs - warmup)], [warmup])
    else:
        sched = nn.CosineAnnealingLR(opt, epochs)
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    for epoch in range(epochs):
        model.train()
        order = rng.permutation(len(X))
        total = 0.0
        for i in range(0, len(X), batch_size):
            batch = order[i:i + batch_size]
            if len(batch) < 2:      # BatchNorm needs two samples per channel
                continue
            loss = loss_fn(model(X[batch]), y[batch])
            opt.zero_grad()
            model.backward(loss_fn.backward())
            opt.step()
            total += loss * len(batch)
        sched.step()
        if history is not None:
            history.append((total / len(X), opt.param_groups[0]["lr"]))
        if verbose:
            print(f"epoch {epoch + 1:3d}  loss {total / len(X):.4f}  "
                  f"lr {opt.param_groups[0]['lr']:.2e}  {time.perf_counter() - start:.1f} s")
    return model


def train_and_score(model, *, images, lr, epochs, seed, threads, verbose, history=None):
    """Train ``model`` on the digits training split and return its test accuracy.

    One thread by default in the examples: the models are so small that splitting their
    layers over threads costs more in synchronisation than it saves.
    """
    X_train, X_test, y_train, y_test = load_digits_split(seed, images=images)
    with fastml.threads(threads):
        model = fit(model, X_train, y_train, epochs=epochs, lr=lr, seed=seed, verbose=verbose,
                    history=history)
        acc = accuracy(model, X_test, y_test)
    if verbose:
        print(f"test accuracy {acc:.4f} ({len(y_test)} digits)")
    return acc


def command_line(main, description, quick_epochs):
    """Run ``main(epochs, seed, threads=..., history=...)`` with the examples' common
    options and draw its training curve. With ``FASTML_EXAMPLE_QUICK=1`` (the docs build)
    the default is ``quick_epochs`` epochs. Returns (test accuracy, history)."""
    quick = os.environ.get("FASTML_EXAMPLE_QUICK") == "1"
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--epochs", type=int, default=quick_epochs if quick else 30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    history = []
    acc = main(args.epochs, args.seed, threads=args.threads, history=history)
    plot_history(history, f"{description}: test accuracy {acc:.1%}")
    return acc, history


def plot_history(history, title):
    """Training loss and learning rate per epoch (matplotlib figure, left open)."""
    import matplotlib.pyplot as plt

    loss, lr = np.array(history).T
    epochs = np.arange(1, len(loss) + 1)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(epochs, loss, "o-", label="training loss")
    ax.set(xlabel="epoch", ylabel="cross-entropy (label smoothing 0.05)", title=title)
    twin = ax.twinx()
    twin.plot(epochs, lr, color="C1", ls="--", label="learning rate")
    twin.set_ylabel("learning rate")
    fig.legend(loc="upper right", bbox_to_anchor=(0.88, 0.88))
    fig.tight_layout()
    return fig
