"""
A DDPM on the 2-D swiss roll
============================

Train a denoising diffusion model on the swiss roll and plot DDIM samples against the
data. See :doc:`/advanced/ddpm` and :doc:`/advanced/ddim`.

The denoiser is fastml.models.DiffusionMLP (3 residual blocks of 128, sinusoidal time
embedding), trained with fastml.diffusion.train_step (epsilon loss, T = 1000 linear betas,
Adam); samples come from 50 DDIM steps (eta = 0, predicted x_0 clipped to [-3, 3]).
Prints the energy distance between samples and held-out data (0 for identical
distributions) and draws the samples over the data (written to ``--out``).

::

    python examples/diffusion_swissroll.py --steps 3000 --out swissroll.png

The documentation build (``FASTML_EXAMPLE_QUICK=1``) trains 400 steps and draws 1000
samples.
"""

# %%
# Training and sampling
# ---------------------
# Every training step draws a timestep t and noise eps per point, forms
# x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps and regresses the denoiser on eps.
import argparse
import os

import numpy as np

from fastml import diffusion, nn
from fastml.benchmarks.cases.diffusion import energy_distance, swiss_roll
from fastml.models import DiffusionMLP


def main(out="diffusion_swissroll.png", steps=3000, n_samples=2000, seed=0, verbose=True):
    """Train, sample, plot (figure left open; saved to ``out`` unless None). Returns
    (samples, held-out data, energy distance)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(seed)
    data, held_out = swiss_roll(20_000, rng), swiss_roll(n_samples, rng)
    model = DiffusionMLP(2, hidden=128, n_blocks=3, random_state=seed)
    opt = nn.Adam(model.parameters(), lr=1e-3)
    train = diffusion.DDPMScheduler(clip_sample=False)
    for step in range(steps):
        loss = diffusion.train_step(model, opt, data[rng.integers(0, len(data), 256)], train,
                                    random_state=rng)
        if verbose and (step % 500 == 0 or step == steps - 1):
            print(f"step {step:5d}  loss {loss:.4f}")
    # x_0 predicted from eps at t ~ T divides by sqrt(abar_T) ~ 0.006: clip it to the data's
    # range (|x| < 3), as diffusers' clip_sample, so early errors do not fling samples away
    sampler = diffusion.DDIMScheduler(clip_sample=True, clip_sample_range=3.0)
    samples = diffusion.sample(model, sampler, n_samples, num_inference_steps=50,
                               random_state=rng)
    distance = energy_distance(samples, held_out)
    if verbose:   # the floor: two samples of the data itself differ by Monte-Carlo error
        print(f"energy distance(samples, data) = {distance:.4f} (data vs data: "
              f"{energy_distance(swiss_roll(n_samples, rng), held_out):.4f})")
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.scatter(*held_out.T, s=2, alpha=0.4, label="data")
    ax.scatter(*samples.T, s=2, alpha=0.4, label="DDIM samples")
    ax.set(xlim=(-3.2, 3.2), ylim=(-3.2, 3.2))
    ax.set_title(f"swiss roll, {steps} steps, energy distance {distance:.3f}")
    ax.legend(markerscale=5)
    if out:
        fig.savefig(out, dpi=100)
    return samples, held_out, distance


if __name__ == "__main__":
    quick = os.environ.get("FASTML_EXAMPLE_QUICK") == "1"
    parser = argparse.ArgumentParser(description="A DDPM on the 2-D swiss roll")
    parser.add_argument("--out", default=None if quick else "diffusion_swissroll.png",
                        help="plot file (PNG)")
    parser.add_argument("--steps", type=int, default=400 if quick else 3000,
                        help="training steps")
    parser.add_argument("--samples", type=int, default=1000 if quick else 2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    main(args.out, args.steps, args.samples, args.seed)
