"""
Class-conditional diffusion on the 8x8 digits with classifier-free guidance
===========================================================================

The denoiser is fastml.models.DiffusionCNN (32 channels, 2 residual blocks, 10 classes
plus the null class; ``--denoiser mlp``: a DiffusionMLP of width ``--channels`` on the 64
flattened pixels, sampled by the fused DDIM kernel), trained with
fastml.diffusion.train_step (epsilon loss, min-SNR-5 weighting, T = 1000 linear betas,
labels dropped to the null class with probability 0.1, Adam). Samples come from 20 DDIM
steps (eta = 0, x_0 clipped to [-1, 1]) at guidance scales w = 0 (unconditional),
1 (conditional) and 3. A logistic regression (fastml.linear_model) trained on the real
digits labels the samples; the printed accuracy is the fraction labelled as the requested
class (chance: 10%). Draws an image grid (one panel per w, one row per class) and writes
it to ``--out``. See :doc:`/advanced/guidance` and :doc:`/advanced/ddim`.

::

    python examples/diffusion_digits.py --steps 3000 --out diffusion_digits.png
    python examples/diffusion_digits.py --denoiser mlp --channels 128 --steps 1000

The documentation build (``FASTML_EXAMPLE_QUICK=1``) trains the MLP denoiser (128 wide)
for 600 steps.
"""

# %%
# Training with label dropout
# ---------------------------
# Each label is replaced by the null class with probability 0.1, so one network learns
# both the conditional and the unconditional noise prediction.

import argparse
import os

import numpy as np

from fastml import diffusion, nn
from fastml.benchmarks.cases.diffusion import digits_images
from fastml.linear_model import LogisticRegression
from fastml.models import DiffusionCNN, DiffusionMLP

GUIDANCE_SCALES = (0, 1, 3)


def classifier(images, labels):
    """Logistic regression on the pixels (in [0, 1]) of the real digits."""
    return LogisticRegression(C=1.0, max_iter=500).fit(pixels(images), labels)


def pixels(images):
    return np.clip((images.reshape(len(images), -1) + 1) / 2, 0, 1)


def train(images, labels, *, steps, channels=32, n_blocks=2, batch_size=128, lr=2e-3,
          seed=0, denoiser="cnn", verbose=True):
    """A DiffusionCNN (or a DiffusionMLP on the flattened images, ``denoiser="mlp"``)
    trained for ``steps`` Adam steps."""
    rng = np.random.default_rng(seed)
    if denoiser == "mlp":
        images = images.reshape(len(images), -1)
        model = DiffusionMLP(images.shape[1], channels, n_blocks, num_classes=10,
                             random_state=seed)
    else:
        model = DiffusionCNN(1, 8, channels=channels, n_blocks=n_blocks, num_classes=10,
                             random_state=seed)
    opt = nn.Adam(model.parameters(), lr=lr)
    schedule = diffusion.DDPMScheduler(clip_sample=False)
    for step in range(steps):
        idx = rng.integers(0, len(images), batch_size)
        loss = diffusion.train_step(model, opt, images[idx], schedule, labels=labels[idx],
                                    p_uncond=0.1, snr_gamma=5.0, random_state=rng)
        if verbose and (step % 500 == 0 or step == steps - 1):
            print(f"step {step:5d}  loss {loss:.4f}")
    return model


# %%
# Guided sampling
# ---------------
# 20 DDIM steps from the same noise at w = 0 (unconditional), 1 (conditional) and 3; a
# logistic regression trained on the real digits says whether each sample shows the
# requested class.
def guided_samples(model, per_class, guidance_scale, seed=1):
    """``per_class`` samples of each digit at guidance scale w; returns (images, labels)."""
    labels = np.repeat(np.arange(10), per_class)
    sampler = diffusion.DDIMScheduler(clip_sample=True)
    images = diffusion.sample(model, sampler, len(labels), num_inference_steps=20,
                              labels=labels, guidance_scale=guidance_scale,
                              random_state=seed)
    return images.reshape(len(labels), 1, 8, 8), labels


def main(out="diffusion_digits.png", steps=3000, per_class=20, channels=32, n_blocks=2,
         seed=0, denoiser="cnn", verbose=True):
    """Train, sample at each w, score, plot (figure left open; saved to ``out`` unless
    None). Returns {w: accuracy}."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    images, labels = digits_images()
    clf = classifier(images, labels)
    model = train(images, labels, steps=steps, channels=channels, n_blocks=n_blocks,
                  seed=seed, denoiser=denoiser, verbose=verbose)
    accuracy, grids = {}, {}
    for w in GUIDANCE_SCALES:
        samples, requested = guided_samples(model, per_class, w, seed=seed + 1)
        accuracy[w] = float(np.mean(clf.predict(pixels(samples)) == requested))
        grids[w] = samples[:, 0].reshape(10, per_class, 8, 8)
        if verbose:
            print(f"w = {w}: classifier agrees with the requested digit for "
                  f"{accuracy[w]:.1%} of {len(requested)} samples")
    shown = min(per_class, 8)
    fig, axes = plt.subplots(1, len(GUIDANCE_SCALES), figsize=(4 * len(GUIDANCE_SCALES), 5))
    for ax, w in zip(axes, GUIDANCE_SCALES):
        grid = grids[w][:, :shown].transpose(0, 2, 1, 3).reshape(10 * 8, shown * 8)
        ax.imshow(grid, cmap="gray_r", vmin=-1, vmax=1)
        ax.set_title(f"w = {w}: {accuracy[w]:.0%} recognised")
        ax.set_yticks(np.arange(10) * 8 + 3.5, [str(d) for d in range(10)])
        ax.set_xticks([])
    fig.suptitle(f"{type(model).__name__}, {steps} training steps, 20 DDIM steps, CFG")
    if out:
        fig.savefig(out, dpi=100)
    return accuracy


if __name__ == "__main__":
    quick = os.environ.get("FASTML_EXAMPLE_QUICK") == "1"
    parser = argparse.ArgumentParser(description="Class-conditional DDPM on the digits")
    parser.add_argument("--out", default=None if quick else "diffusion_digits.png",
                        help="image grid (PNG)")
    parser.add_argument("--steps", type=int, default=600 if quick else 3000,
                        help="training steps")
    parser.add_argument("--per-class", type=int, default=8 if quick else 20,
                        help="samples per digit and w")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--denoiser", choices=("cnn", "mlp"), default="mlp" if quick else "cnn")
    parser.add_argument("--channels", type=int, default=128 if quick else 32,
                        help="width of the denoiser")
    args = parser.parse_args()
    main(args.out, args.steps, args.per_class, args.channels, seed=args.seed,
         denoiser=args.denoiser)
