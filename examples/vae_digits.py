r"""
A variational autoencoder on the digits, and amortised inference on PPCA
=========================================================================

Run as a script: ``python examples/vae_digits.py [--epochs 60] [--out-dir vae_digits]``.

**Part 1.** :class:`fastml.models.VAE` 64-256-2 (ReLU, Bernoulli decoder on pixel
intensities in [0, 1]) trained with Adam on the ELBO, one reparameterised draw per digit;
every step is written out (forward -> loss, backward -> parameter gradients through the
sampling and the analytic KL, optimizer step). It writes three PNGs: the train/test ELBO
per epoch, test digits above their reconstructions, and the 2-D posterior means of the
test digits coloured by class (the VAE's latent space). It prints the final test ELBO and
the IWAE bound :math:`L_{100}` (a tighter lower bound on :math:`\log p(x)`).

**Part 2, amortised inference.** Probabilistic PCA, :math:`x = W z + b + \sigma
\varepsilon` with :math:`z \sim \mathcal N(0, I)`, has the exact posterior
:math:`\mathcal N(\Lambda^{-1} W^\top (x - b) / \sigma^2, \Lambda^{-1})`,
:math:`\Lambda = I + W^\top W / \sigma^2`, and
:math:`\log p(x) = \log \mathcal N(x; b, W W^\top + \sigma^2 I)`. With the true
decoder (a VAE with one Linear decoder layer and a Gaussian likelihood) we fit (a) the
VAE encoder, one network for all points (amortised), and (b) per-datapoint mean-field
ADVI (:func:`fastml.vi.advi`) on :math:`\log p(x_n, z)`, and compare their ELBOs (exact
here: every term is Gaussian) with the best mean-field ELBO (means :math:`\mu_n`,
variances :math:`1 / \Lambda_{jj}`). Gaps in nats per datapoint:

* approximation gap = log p(x) - best mean-field ELBO (mean-field cannot fit the
  posterior's correlations),
* amortisation gap = best mean-field ELBO - encoder ELBO,
* ADVI gap = best mean-field ELBO - ADVI's ELBO (optimisation / Monte-Carlo noise).
"""

import argparse
import math
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from _digits import load_digits_split

import fastml
from fastml import nn
from fastml.models import VAE

# The docs gallery sets this: a short run whose figures stay open for the page.
QUICK = os.environ.get("FASTML_EXAMPLE_QUICK") == "1"


# ------------------------------------------------------------------ part 1: digits
def train(model, X_train, X_test, *, epochs, lr, batch_size=64, seed=0, verbose=True):
    """Adam on the negative ELBO; returns (train ELBO per epoch, test ELBO per epoch)."""
    opt = nn.Adam(model.parameters(), lr=lr)
    rng = np.random.default_rng(seed)
    train_elbo, test_elbo = [], []
    start = time.perf_counter()
    for epoch in range(epochs):
        order = rng.permutation(len(X_train))
        total = 0.0
        for i in range(0, len(X_train), batch_size):
            batch = X_train[order[i:i + batch_size]]
            eps = rng.standard_normal((len(batch), model.n_latent)).astype(batch.dtype)
            total += model.forward(batch, eps) * len(batch)   # -ELBO of the batch
            opt.zero_grad()
            model.backward()                                   # pathwise gradient
            opt.step()
        train_elbo.append(-total / len(X_train))
        test_elbo.append(float(model.elbo(X_test, random_state=epoch).mean()))
        if verbose and (epoch % 10 == 0 or epoch == epochs - 1):
            print(f"epoch {epoch + 1:3d}  train ELBO {train_elbo[-1]:8.3f}  "
                  f"test ELBO {test_elbo[-1]:8.3f}  {time.perf_counter() - start:.1f} s")
    return np.asarray(train_elbo), np.asarray(test_elbo)


def plot_digits(model, X_test, y_test, train_elbo, test_elbo, out_dir):
    """The three PNGs; returns their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = [out_dir / name for name in ("vae_elbo.png", "vae_reconstructions.png",
                                          "vae_latent.png")]
    fig, ax = plt.subplots(figsize=(6, 4))
    epochs = np.arange(1, len(train_elbo) + 1)
    ax.plot(epochs, train_elbo, label="train (1 draw per digit, during the epoch)")
    ax.plot(epochs, test_elbo, label="test (1 draw per digit)")
    ax.set(xlabel="epoch", ylabel="ELBO (nats per digit)", title="VAE 64-256-2 on digits")
    ax.legend()
    fig.tight_layout()
    fig.savefig(paths[0], dpi=100)
    if not QUICK:
        plt.close(fig)

    shown = X_test[:12]
    fig, axes = plt.subplots(2, len(shown), figsize=(len(shown), 2.3))
    for col, (x, r) in enumerate(zip(shown, model.reconstruct(shown))):
        for row, img in enumerate((x, r)):
            axes[row, col].imshow(img.reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
            axes[row, col].axis("off")
    fig.suptitle("test digits (top) and reconstructions decode(mu(x)) (bottom)")
    fig.savefig(paths[1], dpi=100)
    if not QUICK:
        plt.close(fig)

    mu, _ = model.encode(X_test)
    fig, ax = plt.subplots(figsize=(5.5, 5))
    points = ax.scatter(mu[:, 0], mu[:, 1], c=y_test, cmap="tab10", s=8)
    fig.colorbar(points, ax=ax, label="digit")
    ax.set(xlabel="z_1", ylabel="z_2", title="posterior means of the test digits")
    fig.tight_layout()
    fig.savefig(paths[2], dpi=100)
    if not QUICK:
        plt.close(fig)
    return paths


def digits(epochs=60, seed=0, out_dir=".", lr=1e-3, verbose=True):
    """Part 1. Returns a dict: train/test ELBO curves, final test ELBO, IWAE L_100, PNGs."""
    X_train, X_test, _, y_test = load_digits_split(seed)
    model = VAE((64, 256, 2), likelihood="bernoulli", random_state=seed)
    train_elbo, test_elbo = train(model, X_train, X_test, epochs=epochs, lr=lr, seed=seed,
                                  verbose=verbose)
    final = float(model.elbo(X_test, n_samples=10, random_state=seed).mean())
    iwae = float(model.iwae_bound(X_test, 100, random_state=seed).mean())
    pngs = plot_digits(model, X_test, y_test, train_elbo, test_elbo, Path(out_dir))
    if verbose:
        print(f"test ELBO {final:.3f} nats per digit (10 draws), IWAE L_100 {iwae:.3f}; "
              f"plots: {', '.join(str(p) for p in pngs)}")
    return {"train_elbo": train_elbo, "test_elbo": test_elbo, "final_test_elbo": final,
            "iwae_100": iwae, "pngs": pngs}


# ------------------------------------------------------------------ part 2: PPCA
def gaussian_elbo(x, mean, var, W, b, sigma):
    """Exact ELBO of q(z) = N(mean, diag var) per row under x = W z + b + sigma noise,
    z ~ N(0, I): E_q log p(x|z) + E_q log p(z) + H[q]."""
    D, d = W.shape
    resid = x - mean @ W.T - b
    log_lik = (-0.5 / sigma**2) * (np.sum(resid**2, axis=1) + var @ np.sum(W**2, axis=0)) \
        - 0.5 * D * math.log(2 * math.pi * sigma**2)
    log_prior = -0.5 * np.sum(mean**2 + var, axis=1) - 0.5 * d * math.log(2 * math.pi)
    entropy = 0.5 * np.sum(np.log(2 * math.pi * math.e * var), axis=1)
    return log_lik + log_prior + entropy


def amortised_inference_ppca(n_points=1000, n_features=8, n_latent=2, sigma=0.5, *,
                             epochs=200, advi_points=20, advi_steps=3000, seed=0,
                             verbose=True):
    """Part 2: gaps (nats per datapoint) of the amortised encoder and of per-datapoint
    ADVI against the best mean-field ELBO and the exact log p(x). Returns a dict."""
    from scipy.stats import multivariate_normal

    rng = np.random.default_rng(seed)
    model = VAE((n_features, 64, n_latent), (n_latent, n_features), likelihood="gaussian",
                decoder_std=sigma, activation="tanh", dtype=np.float64, random_state=seed)
    decoder = model.decoder[0]                       # the true model: x = W z + b + noise
    W, b = decoder.weight.data, decoder.bias.data
    W *= 2.0                                         # a signal well above the noise
    X = rng.standard_normal((n_points, n_latent)) @ W.T + b + \
        sigma * rng.standard_normal((n_points, n_features))
    log_px = multivariate_normal(b, W @ W.T + sigma**2 * np.eye(n_features)).logpdf(X)
    precision = np.eye(n_latent) + W.T @ W / sigma**2
    post_mean = np.linalg.solve(precision, W.T @ (X - b).T / sigma**2).T
    best = gaussian_elbo(X, post_mean, np.tile(1 / np.diag(precision), (n_points, 1)),
                         W, b, sigma)

    # (a) amortised: train only the encoder; the decoder stays the true model
    opt = nn.Adam(model.encoder.parameters(), lr=3e-3)
    for _ in range(epochs):
        order = rng.permutation(n_points)
        for i in range(0, n_points, 100):
            model.forward(X[order[i:i + 100]])
            opt.zero_grad()
            model.backward()
            opt.step()
    mu, logvar = model.encode(X)
    encoder = gaussian_elbo(X, mu, np.exp(logvar), W, b, sigma)

    # (b) per-datapoint mean-field ADVI on log p(x_n, z) = log p(x_n | z) + log p(z)
    advi = []
    for x in X[:advi_points]:
        def logp(z, x=x):
            r = x - W @ z - b
            return -0.5 * (r @ r) / sigma**2 - 0.5 * (z @ z)

        def grad(z, x=x):
            return W.T @ (x - W @ z - b) / sigma**2 - z

        q = fastml.vi.advi(logp, np.zeros(n_latent), grad=grad, n_steps=advi_steps,
                           lr=0.05, seed=seed)
        advi.append(gaussian_elbo(x[None], q.mean[None], q.std[None] ** 2, W, b, sigma)[0])
    advi = np.asarray(advi)
    gaps = {"log_px": float(log_px.mean()), "best_meanfield_elbo": float(best.mean()),
            "encoder_elbo": float(encoder.mean()),
            "approximation_gap": float((log_px - best).mean()),
            "amortisation_gap": float((best - encoder).mean()),
            "advi_gap": float((best[:advi_points] - advi).mean()),
            "encoder_gap_on_advi_points": float((best - encoder)[:advi_points].mean())}
    if verbose:
        print(f"PPCA D={n_features} d={n_latent} sigma={sigma}, {n_points} points: "
              f"log p(x) {gaps['log_px']:.4f}, best mean-field ELBO "
              f"{gaps['best_meanfield_elbo']:.4f}, encoder ELBO {gaps['encoder_elbo']:.4f}")
        print(f"gaps (nats per point): approximation {gaps['approximation_gap']:.4f}, "
              f"amortisation {gaps['amortisation_gap']:.4f}; on the first {advi_points} "
              f"points: per-datapoint ADVI {gaps['advi_gap']:.4f}, encoder "
              f"{gaps['encoder_gap_on_advi_points']:.4f}")
    return gaps


def main(epochs=60, seed=0, out_dir=".", threads=1, ppca_epochs=200, advi_points=20,
         verbose=True):
    """Both parts; returns (digits results, PPCA gaps)."""
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    with fastml.threads(threads):    # tiny layers: one thread beats synchronising two
        result = digits(epochs, seed, out_dir, verbose=verbose)
        gaps = amortised_inference_ppca(epochs=ppca_epochs, advi_points=advi_points,
                                        seed=seed, verbose=verbose)
    return result, gaps


# %%
# Train, plot and compare
# -----------------------
# The docs build runs a short version (8 epochs; the PNGs go to a temporary folder).
if __name__ == "__main__" and QUICK:
    main(epochs=8, out_dir=tempfile.mkdtemp(), ppca_epochs=40, advi_points=3)
elif __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out-dir", default=".", help="folder of the PNGs")
    args = parser.parse_args()
    main(args.epochs, args.seed, args.out_dir, args.threads)
