"""
A character-level LSTM on tiny-shakespeare
==========================================

A language model embedding -> LSTM 2x256 -> linear, trained on characters; it prints a
sample drawn one character at a time and plots the training loss. See
:doc:`/sequences/lstm_gru` and :doc:`/sequences/rnn`.

::

    python examples/char_lstm_shakespeare.py [PATH] [--budget 240] [--threads 1]

PATH is the text file; by default ``../shared/data/tinyshakespeare/input.txt`` relative
to the repository (1,115,394 characters of Shakespeare, the corpus of Karpathy's
char-rnn: github.com/karpathy/char-rnn, ``data/tinyshakespeare/input.txt``; public-domain
text; see ``../shared/data/README.md``). The first 90% trains, the last 10% validates.

Every step draws a batch of random windows, runs the forward pass, the explicit
backward pass (cross-entropy -> linear -> LSTM (BPTT, compiled) -> embedding), clips the
gradient norm to 1 and takes an Adam step. Training stops after ``--budget`` seconds;
the script prints the training and validation loss (nats per character) as it goes,
then a sample drawn one character at a time from the trained model, carrying (h, c).
The documentation build (``FASTML_EXAMPLE_QUICK=1``) trains a 1-layer LSTM of 128 for 60
steps (the sample is then mostly letters and spaces).
"""

# %%
# The model
# ---------
# ``backward`` is the chain rule written out: the gradient of the logits goes back
# through the linear head, the LSTM (backpropagation through time, compiled) and the
# embedding, whose gradient is a scatter-add into the looked-up rows.
import argparse
import os
import time
from pathlib import Path

import numpy as np

import fastml
import fastml.nn as nn
from fastml.benchmarks._data import shared_data

DEFAULT_PATH = (shared_data("tinyshakespeare", "input.txt")  # found without __file__ too
                or Path(__file__).resolve().parents[2] / "shared" / "data" / "tinyshakespeare"
                / "input.txt")


class CharLM(nn.Module):
    """logits = W LSTM(E[chars]) + b, for (B, T) character indices."""

    def __init__(self, vocab, embed=64, hidden=256, layers=2, seed=0):
        super().__init__()
        self.embed = nn.Embedding(vocab, embed, random_state=seed)
        self.lstm = nn.LSTM(embed, hidden, num_layers=layers, batch_first=True,
                            random_state=seed + 1)
        self.head = nn.Linear(hidden, vocab, random_state=seed + 2)

    def forward(self, idx, state=None):
        out, state = self.lstm(self.embed(idx), state)
        return self.head(out), state

    def backward(self, grad_logits):
        self.embed.backward(self.lstm.backward(self.head.backward(grad_logits)))


# %%
# Data, training and sampling
# ---------------------------
def load_text(path):
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: pass the path of tiny-shakespeare's "
                                f"input.txt (see ../shared/data/README.md)")
    text = path.read_text(encoding="utf-8")
    chars = sorted(set(text))
    lookup = {c: i for i, c in enumerate(chars)}
    data = np.fromiter((lookup[c] for c in text), dtype=np.int64, count=len(text))
    return data, chars


def batch(data, batch_size, seq_len, rng):
    starts = rng.integers(0, len(data) - seq_len - 1, batch_size)
    idx = starts[:, None] + np.arange(seq_len + 1)
    windows = data[idx]
    return windows[:, :-1], windows[:, 1:]


def evaluate(model, loss_fn, data, batch_size, seq_len, n_batches=8, seed=1234):
    """Mean loss over fixed validation windows."""
    rng = np.random.default_rng(seed)
    losses = []
    for _ in range(n_batches):
        x, y = batch(data, batch_size, seq_len, rng)
        logits, _ = model(x)
        losses.append(loss_fn(logits.reshape(-1, logits.shape[-1]), y.reshape(-1)))
    return float(np.mean(losses))


def sample(model, chars, length=300, temperature=0.8, seed=0, prompt="ROMEO:\n"):
    rng = np.random.default_rng(seed)
    lookup = {c: i for i, c in enumerate(chars)}
    idx = np.array([[lookup[c] for c in prompt]])
    logits, state = model(idx)
    out = list(prompt)
    for _ in range(length):
        z = logits[0, -1].astype(np.float64) / temperature
        p = np.exp(z - z.max())
        nxt = rng.choice(len(chars), p=p / p.sum())
        out.append(chars[nxt])
        logits, state = model(np.array([[nxt]]), state)
    return "".join(out)


def main(path=DEFAULT_PATH, budget=240.0, max_steps=None, batch_size=32, seq_len=64,
         hidden=256, layers=2, lr=3e-3, eval_every=50, threads=1, seed=0,
         verbose=True, history=None):
    """Train for ``budget`` seconds (or ``max_steps``); return (final validation loss,
    training seconds, sample text). ``history``: a list that receives every step's
    training loss."""
    data, chars = load_text(path)
    split = int(0.9 * len(data))
    train, val = data[:split], data[split:]
    model = CharLM(len(chars), hidden=hidden, layers=layers, seed=seed)
    loss_fn = nn.CrossEntropyLoss()
    opt = nn.Adam(model.parameters(), lr=lr)
    rng = np.random.default_rng(seed)
    log = print if verbose else (lambda *a, **k: None)
    log(f"{len(data):,} characters, vocabulary {len(chars)}, model "
        f"{sum(p.size for p in model.parameters()):,} parameters; "
        f"initial validation loss {evaluate(model, loss_fn, val, batch_size, seq_len):.3f}")
    with fastml.threads(threads):
        start, step, recent = time.perf_counter(), 0, []
        while time.perf_counter() - start < budget and (max_steps is None or step < max_steps):
            x, y = batch(train, batch_size, seq_len, rng)
            logits, _ = model(x)
            recent.append(loss_fn(logits.reshape(-1, len(chars)), y.reshape(-1)))
            if history is not None:
                history.append(recent[-1])
            opt.zero_grad()
            model.backward(loss_fn.backward().reshape(logits.shape))
            nn.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            step += 1
            if step % eval_every == 0:
                log(f"step {step:5d}  {time.perf_counter() - start:6.1f} s  train "
                    f"{np.mean(recent):.3f}  val "
                    f"{evaluate(model, loss_fn, val, batch_size, seq_len):.3f}")
                recent = []
        seconds = time.perf_counter() - start
        val_loss = evaluate(model, loss_fn, val, batch_size, seq_len)
        text = sample(model, chars, seed=seed)
    log(f"final: {step} steps in {seconds:.1f} s, validation loss {val_loss:.3f} nats/char")
    log("-" * 60 + "\n" + text)
    return val_loss, seconds, text


def plot_history(history, val_loss):
    """Training loss per step (matplotlib figure, left open)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(np.arange(1, len(history) + 1), history, lw=1)
    ax.axhline(np.log(65), color="gray", ls=":", label="uniform over 65 characters")
    ax.axhline(val_loss, color="C1", ls="--", label=f"final validation loss {val_loss:.2f}")
    ax.set(xlabel="step", ylabel="cross-entropy (nats per character)",
           title="Character LSTM on tiny-shakespeare")
    ax.legend()
    fig.tight_layout()
    return fig


if __name__ == "__main__":
    quick = os.environ.get("FASTML_EXAMPLE_QUICK") == "1"
    parser = argparse.ArgumentParser(description="A character-level LSTM on tiny-shakespeare")
    parser.add_argument("path", nargs="?", default=str(DEFAULT_PATH),
                        help="tiny-shakespeare input.txt (default: %(default)s)")
    parser.add_argument("--budget", type=float, default=240.0, help="training seconds")
    parser.add_argument("--steps", type=int, default=60 if quick else None,
                        help="stop after this many steps")
    parser.add_argument("--threads", type=int, default=1,
                        help="threads (one is fastest on a shared or small machine)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    small = {"batch_size": 16, "seq_len": 32, "hidden": 128, "layers": 1, "lr": 1e-2,
             "eval_every": 20} if quick else {}
    history = []
    val_loss, _, _ = main(args.path, budget=args.budget, max_steps=args.steps,
                          threads=args.threads, seed=args.seed, history=history, **small)
    plot_history(history, val_loss)
