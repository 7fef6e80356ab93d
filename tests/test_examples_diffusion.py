"""Shortened run of examples/diffusion_swissroll.py: train briefly, sample, plot."""

import importlib
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_swissroll_quick(monkeypatch, tmp_path):
    pytest.importorskip("matplotlib")
    monkeypatch.syspath_prepend(str(EXAMPLES))
    example = importlib.import_module("diffusion_swissroll")
    out = tmp_path / "swissroll.png"
    samples, data, distance = example.main(out=out, steps=100, n_samples=400, verbose=False)
    assert out.stat().st_size > 10_000
    assert samples.shape == (400, 2) and np.all(np.isfinite(samples))
    # N(0, I) (what an untrained model returns) is far from the roll; 100 steps already
    # move the samples closer to the data
    noise = np.random.default_rng(1).standard_normal((400, 2))
    assert distance < example.energy_distance(noise, data)
