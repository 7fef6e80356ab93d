"""Shortened runs of examples/diffusion_swissroll.py and examples/diffusion_digits.py,
and the digits example's classifier-free guidance accuracy."""


import numpy as np
import pytest


def test_swissroll_quick(load_example, tmp_path):
    pytest.importorskip("matplotlib")
    example = load_example("diffusion_swissroll")
    out = tmp_path / "swissroll.png"
    samples, data, distance = example.main(out=out, steps=100, n_samples=400, verbose=False)
    assert out.stat().st_size > 10_000
    assert samples.shape == (400, 2) and np.all(np.isfinite(samples))
    # N(0, I) (what an untrained model returns) is far from the roll; 100 steps already
    # move the samples closer to the data
    noise = np.random.default_rng(1).standard_normal((400, 2))
    assert distance < example.energy_distance(noise, data)


def test_digits_quick(load_example, tmp_path):
    """A short run of examples/diffusion_digits.py with the CNN: train, sample at
    w = 0, 1, 3, score, plot (the pipeline only; the accuracy is tested with the MLP)."""
    pytest.importorskip("matplotlib")
    pytest.importorskip("sklearn")
    example = load_example("diffusion_digits")
    out = tmp_path / "digits.png"
    accuracy = example.main(out=out, steps=20, per_class=4, channels=8, n_blocks=1,
                            verbose=False)
    assert out.stat().st_size > 10_000
    assert sorted(accuracy) == [0, 1, 3]
    assert all(0 <= a <= 1 for a in accuracy.values())


def test_digits_guided_samples_are_recognised(load_example, tmp_path):
    """Classifier-free guidance: a class-conditional DiffusionMLP (128 wide, 2 blocks) trained
    for 1000 steps on the digits; at w = 3, a fastml logistic regression trained on the real
    digits labels >= 90% of 500 samples as the requested class (seen over seeds 0-4:
    96.6-99.6%, binomial standard error <= 0.8%; w = 1: 84-92%; w = 0: chance, 9-11%).
    About 15 s on two loaded cores."""
    pytest.importorskip("matplotlib")
    pytest.importorskip("sklearn")
    example = load_example("diffusion_digits")
    accuracy = example.main(out=tmp_path / "digits.png", steps=1000, per_class=50,
                            channels=128, n_blocks=2, denoiser="mlp", verbose=False)
    assert accuracy[3] >= 0.9
    assert accuracy[0] < 0.3     # unguided samples are not steered to the requested class
