"""Reduced run of examples/scaling_laws.py: a tiny GPT family, the fit and the plot."""

import os

import numpy as np
import pytest


def test_scaling_laws_quick(load_example, tmp_path):
    pytest.importorskip("matplotlib")
    pytest.importorskip("fastml.models")
    example = load_example("scaling_laws")
    if not os.path.exists(example.DATA):
        pytest.skip("../shared/data/tinyshakespeare is absent")
    out = tmp_path / "scaling_laws.png"
    runs, fit = example.main(out=out, quick=True, verbose=False, n_bootstrap=8)
    assert out.stat().st_size > 10_000
    assert len(runs.loss) == 6 and np.all(np.isfinite(runs.loss))
    assert np.all(np.isfinite(list(fit.params.values())))
    assert set(fit.intervals) == {"E", "A", "B", "alpha", "beta"}
    # the fitted law reproduces the measured losses it was fitted to
    np.testing.assert_allclose(fit.predict(runs.N, runs.D), runs.loss, rtol=0.05)
