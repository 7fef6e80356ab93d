"""
A character-level GPT on tiny-shakespeare
=========================================

nanoGPT's CPU recipe in :class:`fastml.models.GPT`: the loss curve, a sample drawn with the
KV cache, and the attention weights of the first layer's heads on a line of text. See
:doc:`/sequences/gpt`, :doc:`/sequences/transformer` and :doc:`/sequences/attention`.

::

    python examples/gpt_shakespeare.py ../shared/data/tinyshakespeare/input.txt
    python examples/gpt_shakespeare.py input.txt --torch      # the same script in PyTorch

nanoGPT's ``config/train_shakespeare_char.py`` with its CPU overrides: 4 layers, 4 heads,
d = 128, block 64, batch 12, dropout 0, 2000 iterations, AdamW (lr 1e-3, betas (0.9,
0.99), weight decay 0.1 on matrices), 100 warm-up iterations then cosine decay to 1e-4,
gradient clipping at 1.0; the first 90% of the text trains, the last 10% validates.
Prints the loss curve (train/val estimated on 20 batches every 250 iterations), the
wall time and a 500-character sample drawn with the KV cache. nanoGPT reports a
validation loss of about 1.88 for this recipe. The text defaults to
``../shared/data/tinyshakespeare/input.txt`` (read in place). The documentation build
(``FASTML_EXAMPLE_QUICK=1``) trains a 2-layer, 2-head, 32-wide model for 150 iterations.
"""

# %%
# The training loop
# -----------------
# ``logits, loss = model(x, y)``, ``model.backward()`` fills every gradient (the chain rule
# written out block by block), then gradient clipping and an AdamW step with nanoGPT's
# warm-up + cosine learning rate.
import argparse
import math
import os
import time
from pathlib import Path

import numpy as np

import fastml
from fastml.benchmarks._data import shared_data
from fastml.models import GPT, GPTConfig
from fastml.nn import clip_grad_norm_

DEFAULT_PATH = (shared_data("tinyshakespeare", "input.txt")  # found without __file__ too
                or Path(__file__).resolve().parents[2] / "shared" / "data" / "tinyshakespeare"
                / "input.txt")
QUICK = dict(max_iters=150, n_layer=2, n_head=2, n_embd=32, block_size=32, eval_iters=4,
             eval_interval=25, warmup_iters=10, learning_rate=3e-3, sample_chars=200)
RECIPE = dict(n_layer=4, n_head=4, n_embd=128, block_size=64, batch_size=12, dropout=0.0,
              max_iters=2000, learning_rate=1e-3, min_lr=1e-4, warmup_iters=100,
              weight_decay=0.1, beta1=0.9, beta2=0.99, grad_clip=1.0, eval_interval=250,
              eval_iters=20)


def load_text(path):
    """(train ids, val ids, itos) of the character-level encoding of the file at ``path``."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    ids = np.array([stoi[c] for c in text], dtype=np.int64)
    n = int(0.9 * len(ids))
    return ids[:n], ids[n:], chars


def get_batch(data, block_size, batch_size, rng):
    starts = rng.integers(0, len(data) - block_size - 1, batch_size)
    x = np.stack([data[i:i + block_size] for i in starts])
    y = np.stack([data[i + 1:i + 1 + block_size] for i in starts])
    return x, y


def learning_rate(it, r):
    """Linear warm-up, then cosine decay from learning_rate to min_lr (nanoGPT's get_lr)."""
    if it < r["warmup_iters"]:
        return r["learning_rate"] * (it + 1) / (r["warmup_iters"] + 1)
    ratio = (it - r["warmup_iters"]) / max(1, r["max_iters"] - r["warmup_iters"])
    coeff = 0.5 * (1.0 + math.cos(math.pi * min(ratio, 1.0)))
    return r["min_lr"] + coeff * (r["learning_rate"] - r["min_lr"])


class _FastmlTrainer:
    def __init__(self, config, r, seed):
        self.model = GPT(config, random_state=seed)
        self.opt = self.model.configure_optimizers(r["weight_decay"], r["learning_rate"],
                                                   (r["beta1"], r["beta2"]))
        self.params = self.model.parameters()

    def step(self, x, y, lr, clip):
        for group in self.opt.param_groups:
            group["lr"] = lr
        _, loss = self.model(x, y)
        self.opt.zero_grad()
        self.model.backward()
        clip_grad_norm_(self.params, clip)
        self.opt.step()
        return loss

    def loss(self, x, y):
        return self.model(x, y)[1]

    def sample(self, prompt, n, seed):
        return self.model.generate(prompt, n, seed=seed)[0]


class _TorchTrainer:
    """The same model and loop in PyTorch (fastml.benchmarks' nanoGPT port)."""

    def __init__(self, config, r, seed):
        import torch

        from fastml.benchmarks.cases.transformer import torch_gpt

        self.torch = torch
        torch.set_num_threads(fastml.get_num_threads())
        self.model = torch_gpt(config)
        self.model.load_state_dict({k: torch.from_numpy(v) for k, v in
                                    GPT(config, random_state=seed).state_dict().items()})
        params = list(self.model.parameters())
        self.opt = torch.optim.AdamW(
            [{"params": [p for p in params if p.dim() >= 2],
              "weight_decay": r["weight_decay"]},
             {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}],
            lr=r["learning_rate"], betas=(r["beta1"], r["beta2"]))

    def step(self, x, y, lr, clip):
        torch = self.torch
        for group in self.opt.param_groups:
            group["lr"] = lr
        _, loss = self.model(torch.from_numpy(x), torch.from_numpy(y))
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), clip)
        self.opt.step()
        return loss.item()

    def loss(self, x, y):
        with self.torch.no_grad():
            return self.model(self.torch.from_numpy(x), self.torch.from_numpy(y))[1].item()

    def sample(self, prompt, n, seed):
        return None


def main(path, *, max_iters=None, sample_chars=500, use_torch=False, seed=1337,
         verbose=True, **overrides):
    """Train, print the loss curve and a sample; return a dict with ``val_loss`` (last
    estimate), ``train_loss``, ``wall_time`` (training seconds), ``curve``, ``sample``
    and ``model`` (the trained fastml GPT, None with ``use_torch``) and ``itos``."""
    r = {**RECIPE, **overrides}
    if max_iters is not None:
        r["max_iters"] = max_iters
    train, val, itos = load_text(path)
    config = GPTConfig(vocab_size=len(itos), block_size=r["block_size"], n_layer=r["n_layer"],
                       n_head=r["n_head"], n_embd=r["n_embd"], dropout=r["dropout"])
    trainer = (_TorchTrainer if use_torch else _FastmlTrainer)(config, r, seed)
    rng = np.random.default_rng(seed)
    eval_rng = np.random.default_rng(seed + 1)

    def estimate():
        return {name: float(np.mean([trainer.loss(*get_batch(data, r["block_size"],
                                                            r["batch_size"], eval_rng))
                                     for _ in range(r["eval_iters"])]))
                for name, data in (("train", train), ("val", val))}

    curve, train_time = [], 0.0
    for it in range(r["max_iters"] + 1):
        if it % r["eval_interval"] == 0 or it == r["max_iters"]:
            losses = estimate()
            curve.append((it, losses["train"], losses["val"]))
            if verbose:
                print(f"step {it:5d}: train loss {losses['train']:.4f}, "
                      f"val loss {losses['val']:.4f}, {train_time:.1f} s", flush=True)
        if it == r["max_iters"]:
            break
        x, y = get_batch(train, r["block_size"], r["batch_size"], rng)
        start = time.perf_counter()
        trainer.step(x, y, learning_rate(it, r), r["grad_clip"])
        train_time += time.perf_counter() - start
    text = None
    if sample_chars:
        ids = trainer.sample(np.array([[itos.index("\n")]]), sample_chars, seed)
        text = None if ids is None else "".join(itos[i] for i in ids)
    if verbose:
        print(f"wall time (training): {train_time:.1f} s "
              f"({'torch' if use_torch else 'fastml'}, {fastml.get_num_threads()} threads)")
        if text is not None:
            print("sample:\n" + text)
    return {"val_loss": curve[-1][2], "train_loss": curve[-1][1], "wall_time": train_time,
            "curve": curve, "sample": text, "itos": itos,
            "model": None if use_torch else trainer.model}


# %%
# Figures: the loss curve and an attention map
# --------------------------------------------
# The fused attention kernel never stores the attention weights, so the map is recomputed
# here from the trained parameters with the formulas of the reference (first block:
# ``ln_1``, the q and k rows of ``c_attn``, a causal softmax of q k^T / sqrt(d_h)).
def plot_curve(result):
    import matplotlib.pyplot as plt

    it, train_loss, val_loss = np.array(result["curve"]).T
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(it, train_loss, "o-", label="train")
    ax.plot(it, val_loss, "s-", label="validation")
    ax.set(xlabel="iteration", ylabel="cross-entropy (nats per character)",
           title="GPT on tiny-shakespeare")
    ax.legend()
    fig.tight_layout()
    return fig


def attention_weights(model, ids):
    """(n_head, T, T) causal attention probabilities of the first block for ids (T,)."""
    from fastml.nn import functional as F

    s = model.state_dict()
    T, H = len(ids), model.config.n_head
    x = s["transformer.wte.weight"][ids] + s["transformer.wpe.weight"][:T]
    h = F.layer_norm(x, x.shape[-1:], s["transformer.h.0.ln_1.weight"],
                     s.get("transformer.h.0.ln_1.bias"))
    qkv = F.linear(h, s["transformer.h.0.attn.c_attn.weight"],
                   s.get("transformer.h.0.attn.c_attn.bias"))
    q, k, _ = np.split(qkv, 3, axis=-1)
    q, k = (a.reshape(T, H, -1).transpose(1, 0, 2) for a in (q, k))
    scores = q @ k.transpose(0, 2, 1) / np.sqrt(q.shape[-1])
    scores = np.where(np.tri(T, dtype=bool), scores, -np.inf)
    return F.softmax(scores, dim=-1)


def plot_attention(result, line="ROMEO: But soft, what light"):
    import matplotlib.pyplot as plt

    model, itos = result["model"], result["itos"]
    line = line[:model.config.block_size]
    P = attention_weights(model, np.array([itos.index(c) for c in line]))
    fig, axes = plt.subplots(1, len(P), figsize=(4.2 * len(P), 4.4), squeeze=False)
    labels = [repr(c)[1:-1] for c in line]
    for head, ax in enumerate(axes[0]):
        ax.imshow(P[head], cmap="viridis", vmin=0)
        ax.set_xticks(range(len(line)), labels, fontsize=6)
        ax.set_yticks(range(len(line)), labels, fontsize=6)
        ax.set(title=f"layer 0, head {head}", xlabel="key", ylabel="query")
    fig.tight_layout()
    return fig


if __name__ == "__main__":
    quick = os.environ.get("FASTML_EXAMPLE_QUICK") == "1"
    parser = argparse.ArgumentParser(description="A character-level GPT on tiny-shakespeare")
    parser.add_argument("path", nargs="?", default=str(DEFAULT_PATH),
                        help="tinyshakespeare input.txt (default: %(default)s)")
    parser.add_argument("--iters", type=int, default=None)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--torch", action="store_true", help="train the same model in torch")
    args = parser.parse_args()
    if args.threads:
        fastml.set_num_threads(args.threads)
    result = main(args.path, use_torch=args.torch,
                  **{**(QUICK if quick else {}),
                     **({"max_iters": args.iters} if args.iters else {})})
    plot_curve(result)
    if result["model"] is not None:
        plot_attention(result)
