"""
Scaling laws on a CPU
=====================

A family of character-level GPTs on tiny-shakespeare and Chinchilla's fit of their
losses. See :doc:`/sequences/scaling_laws`.

::

    python examples/scaling_laws.py [--data ../shared/data/tinyshakespeare/input.txt]
                                    [--out scaling_laws.png] [--quick] [--threads 1]

Trains every (model size, token budget) pair of a small grid (GPTs of 2 layers and width
16..64, budgets 25k..200k tokens, block 32, batch 16, AdamW with a cosine schedule that
ends at each budget), measures the validation loss, fits
L(N, D) = E + A / N^alpha + B / D^beta by Hoffmann et al.'s approach 3 (Huber on log L,
L-BFGS from a grid, bootstrap intervals), prints the constants with 95% intervals and the
compute-optimal N*(C), D*(C), and draws the log-log plot (written to ``--out``).
``--quick`` (and the documentation build, ``FASTML_EXAMPLE_QUICK=1``) trains a tiny
family of 6 runs in seconds; its constants are then only indicative.
"""

# %%
# Train the family and fit the law
# --------------------------------
# :func:`fastml.scaling.train_family` trains a fresh GPT for exactly D tokens per
# (size, budget) pair; :func:`fastml.scaling.fit_scaling_law` minimises the Huber loss of
# the log-residuals from a grid of starts.
import argparse
import os
import time
from pathlib import Path

import numpy as np

import fastml
from fastml import scaling
from fastml.benchmarks._data import shared_data

DATA = (shared_data("tinyshakespeare", "input.txt")  # found without __file__ too
        or Path(__file__).resolve().parents[2] / "shared" / "data" / "tinyshakespeare"
        / "input.txt")
FULL = {"sizes": [(2, 2, 16), (2, 2, 32), (2, 4, 48), (2, 4, 64)],
        "budgets": [25_000, 50_000, 100_000, 200_000], "block_size": 32, "batch_size": 16}
QUICK = {"sizes": [(1, 2, 16), (1, 2, 32)], "budgets": [2_048, 4_096, 8_192],
         "block_size": 16, "batch_size": 8}


def char_tokens(path):
    """Character ids of the text at ``path`` (vocabulary: its sorted characters)."""
    text = Path(path).read_text(encoding="utf-8")
    lookup = {c: i for i, c in enumerate(sorted(set(text)))}
    return np.array([lookup[c] for c in text], dtype=np.int64)


def main(data=DATA, out="scaling_laws.png", quick=False, threads=1, seed=0, verbose=True,
         n_bootstrap=200):
    """Train the family, fit the law, plot (figure left open; saved to ``out`` unless
    None); returns (runs, fit)."""
    recipe = QUICK if quick else FULL
    say = print if verbose else None
    tokens = char_tokens(data)
    start = time.perf_counter()
    with fastml.threads(threads):
        runs = scaling.train_family(tokens, recipe["sizes"], recipe["budgets"],
                                    block_size=recipe["block_size"],
                                    batch_size=recipe["batch_size"], random_state=seed,
                                    progress=say)
        fit = scaling.fit_scaling_law(runs.N, runs.D, runs.loss, n_bootstrap=n_bootstrap,
                                      random_state=seed)
    scaling.plot_scaling_law(fit, runs.N, runs.D, runs.loss, out,
                             title="char-level GPTs on tiny-shakespeare")
    if verbose:
        print(f"\n{len(runs.loss)} runs in {time.perf_counter() - start:.1f} s")
        print(fit.summary())
        C = 6 * runs.N.max() * runs.D.max()
        n_opt, d_opt = fit.compute_optimal([C / 100, C])
        for c, n, d in zip([C / 100, C], n_opt, d_opt):
            print(f"C = {c:.3g} FLOPs: N* = {n:.3g} parameters, D* = {d:.3g} tokens")
        if out:
            print(f"plot: {out}")
    return runs, fit


if __name__ == "__main__":
    docs_build = os.environ.get("FASTML_EXAMPLE_QUICK") == "1"
    parser = argparse.ArgumentParser(description="Scaling laws on a CPU")
    parser.add_argument("--data", default=str(DATA), help="tiny-shakespeare input.txt")
    parser.add_argument("--out", default=None if docs_build else "scaling_laws.png",
                        help="plot file (PNG)")
    parser.add_argument("--quick", action="store_true", help="tiny family (seconds)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    main(args.data, args.out, args.quick or docs_build, args.threads, args.seed,
         n_bootstrap=8 if docs_build else 200)
