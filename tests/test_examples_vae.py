"""Shortened run of examples/vae_digits.py: a few epochs on the digits, the three PNGs,
and the amortised-inference gaps on probabilistic PCA."""


import numpy as np
import pytest


def test_vae_digits_quick(load_example, tmp_path):
    pytest.importorskip("matplotlib")
    pytest.importorskip("sklearn")
    example = load_example("vae_digits")
    result, gaps = example.main(epochs=4, out_dir=tmp_path, ppca_epochs=40, advi_points=3,
                                verbose=False)
    for png in result["pngs"]:
        assert png.stat().st_size > 10_000
    # the untrained VAE's test ELBO is about -45 nats per digit; 4 epochs reach about -28
    assert result["test_elbo"].shape == (4,) and -32 < result["final_test_elbo"] < -20
    assert np.isfinite(result["iwae_100"])
    # exact ELBOs (all terms Gaussian): the best mean-field ELBO bounds every mean-field
    # q from above and is itself below log p(x), so all three gaps are >= 0 up to rounding
    assert 0 < gaps["approximation_gap"] < 1
    assert -1e-9 < gaps["amortisation_gap"] < 1
    assert -1e-9 < gaps["advi_gap"] < 0.1
