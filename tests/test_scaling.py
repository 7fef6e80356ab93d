"""fastml.scaling: Chinchilla approach-3 fit (recovers Hoffmann et al.'s constants), the
compute-optimal allocation, the GPT family driver and the plot."""

import os

import numpy as np
import pytest

import fastml
from fastml import scaling
from fastml.reference import scaling as reference

CHINCHILLA = {"E": 1.69337, "A": 406.401, "B": 410.723, "alpha": 0.33917, "beta": 0.28491}
SHAKESPEARE = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data",
                           "tinyshakespeare", "input.txt")


def _points(noise, seed=0, n_sizes=8, n_budgets=6):
    """Runs on Chinchilla's range (N 70M..16B, D 5B..500B), log-normal noise on L."""
    N = np.repeat(np.geomspace(7e7, 1.6e10, n_sizes), n_budgets)
    D = np.tile(np.geomspace(5e9, 5e11, n_budgets), n_sizes)
    L = scaling.scaling_law(N, D, **CHINCHILLA)
    return N, D, L * np.exp(noise * np.random.default_rng(seed).standard_normal(L.size))


def test_recovers_constants_without_noise():
    fit = scaling.fit_scaling_law(*_points(0.0), n_starts=8)
    for name, value in CHINCHILLA.items():
        assert fit.params[name] == pytest.approx(value, rel=1e-4), name
    assert fit.objective < 1e-12


def test_recovers_chinchilla_constants_from_noisy_points():
    """0.2% noise on L: every constant is recovered to a few percent (A and B, which
    trade off against alpha and beta, to 30%) and lies within its 95% bootstrap interval
    widened by the interval's width on both sides."""
    fit = scaling.fit_scaling_law(*_points(0.002), n_starts=16, n_bootstrap=40,
                                  random_state=0)
    tolerance = {"E": 0.03, "A": 0.3, "B": 0.3, "alpha": 0.05, "beta": 0.05}
    for name, value in CHINCHILLA.items():
        assert fit.params[name] == pytest.approx(value, rel=tolerance[name]), name
        low, high = fit.intervals[name]
        assert low < fit.params[name] * (1 + 1e-9) and fit.params[name] < high * (1 + 1e-9)
        assert low - (high - low) <= value <= high + (high - low), (name, low, high)
    assert fit.bootstrap.shape == (40, 5)
    assert "interval" in fit.summary()
    a_n, b_d = fit.exponents
    assert a_n + b_d == pytest.approx(1.0)
    assert a_n == pytest.approx(0.28491 / (0.33917 + 0.28491), abs=0.03)


def test_objective_gradient_matches_finite_differences():
    N, D, L = _points(0.01)
    args = (np.log(N), np.log(D), np.log(L), 1e-3)
    theta = np.array([6.0, 6.2, 0.5, 0.35, 0.3])
    value, grad = scaling._objective(theta, *args)
    batch_value, batch_grad = scaling._objective_batch(theta[:, None], *args)
    assert value == pytest.approx(batch_value[0], rel=1e-12)
    np.testing.assert_allclose(grad, batch_grad[:, 0], rtol=1e-12)
    step = 1e-6
    numeric = [(scaling._objective(theta + step * e, *args)[0] -
                scaling._objective(theta - step * e, *args)[0]) / (2 * step)
               for e in np.eye(5)]
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-8)
    assert value == pytest.approx(reference._objective(theta, N, D, L, 1e-3), rel=1e-10)


def test_fit_is_at_least_as_good_as_reference():
    N, D, L = _points(0.005, seed=1, n_sizes=4, n_budgets=3)
    fit = scaling.fit_scaling_law(N, D, L, n_starts=8)
    naive = reference.fit_scaling_law(N, D, L, n_starts=2)
    theta = lambda p: [np.log(p["A"]), np.log(p["B"]), np.log(p["E"]), p["alpha"],  # noqa: E731
                       p["beta"]]
    ours = reference._objective(theta(fit.params), N, D, L, 1e-3)
    theirs = reference._objective(theta(naive), N, D, L, 1e-3)
    assert ours == pytest.approx(fit.objective, rel=1e-9)
    assert ours <= theirs * (1 + 1e-6)


def test_compute_optimal_closed_form_matches_numeric_minimum():
    C = np.geomspace(1e18, 1e25, 5)
    n_opt, d_opt = scaling.compute_optimal(C, **CHINCHILLA)
    n_ref, d_ref = reference.compute_optimal(C, **CHINCHILLA)
    np.testing.assert_allclose(6 * n_opt * d_opt, C, rtol=1e-12)
    np.testing.assert_allclose(n_opt, n_ref, rtol=1e-5)
    np.testing.assert_allclose(d_opt, d_ref, rtol=1e-5)
    fit = scaling.ScalingLawFit(dict(CHINCHILLA), 0.0, {}, np.empty((0, 5)), 0.95)
    np.testing.assert_allclose(fit.compute_optimal(C)[0], n_opt)
    assert fit.E == CHINCHILLA["E"] and fit.predict(1e9, 1e10) > fit.E


def test_bad_input():
    N, D, L = _points(0.0)
    with pytest.raises(ValueError, match="N"):
        scaling.fit_scaling_law(-N, D, L)
    with pytest.raises(ValueError, match="L"):
        scaling.fit_scaling_law(N, D, L[:-1])
    with pytest.raises(ValueError, match="at least 5"):
        scaling.fit_scaling_law(N[:4], D[:4], L[:4])
    with pytest.raises(ValueError, match="delta"):
        scaling.fit_scaling_law(N, D, L, delta=0.0)
    with pytest.raises(ValueError, match="level"):
        scaling.fit_scaling_law(N, D, L, level=1.0)
    with pytest.raises(ValueError, match="n_bootstrap"):
        scaling.fit_scaling_law(N, D, L, n_bootstrap=-1)
    with pytest.raises(ValueError, match="C"):
        scaling.compute_optimal(-1.0, **CHINCHILLA)
    tokens = np.arange(1000) % 7
    with pytest.raises(ValueError, match="model_sizes"):
        scaling.train_family(tokens, [(1, 3, 16)], [100], block_size=8)
    with pytest.raises(ValueError, match="token_budgets"):
        scaling.train_family(tokens, [(1, 2, 16)], [0], block_size=8)
    with pytest.raises(TypeError, match="tokens"):
        scaling.train_family(tokens.astype(float), [(1, 2, 16)], [100], block_size=8)
    with pytest.raises(ValueError, match="too short"):
        scaling.train_family(tokens[:50], [(1, 2, 16)], [100], block_size=8)


@pytest.fixture(scope="module")
def char_tokens():
    if not os.path.exists(SHAKESPEARE):
        pytest.skip("../shared/data/tinyshakespeare is absent")
    with open(SHAKESPEARE, encoding="utf-8") as fh:
        text = fh.read(60_000)
    chars = sorted(set(text))
    lookup = {c: i for i, c in enumerate(chars)}
    return np.array([lookup[c] for c in text])


def test_train_family_tiny_gpts(char_tokens):
    pytest.importorskip("fastml.models")
    with fastml.threads(1):
        runs = scaling.train_family(char_tokens, [(1, 2, 16), (1, 2, 32)], [2048, 8192],
                                    block_size=16, batch_size=8, val_windows=64,
                                    random_state=0)
    assert runs.N.shape == runs.D.shape == runs.loss.shape == (4,)
    np.testing.assert_array_equal(runs.D, [2048, 8192, 2048, 8192])
    np.testing.assert_array_equal(runs.steps, [16, 64, 16, 64])
    assert runs.N[0] < runs.N[2] and runs.N[0] == runs.N[1]
    assert runs.configs[2].n_embd == 32 and runs.configs[2].vocab_size == char_tokens.max() + 1
    assert np.all(np.isfinite(runs.loss))
    # more tokens help, and every run beats the uniform guess log(vocab)
    assert runs.loss[1] < runs.loss[0] and runs.loss[3] < runs.loss[2]
    assert np.all(runs.loss < np.log(char_tokens.max() + 1))


def test_plot_writes_png(tmp_path):
    pytest.importorskip("matplotlib")
    N, D, L = _points(0.002, n_sizes=4, n_budgets=3)
    fit = scaling.ScalingLawFit(dict(CHINCHILLA), 0.0, {}, np.empty((0, 5)), 0.95)
    path = tmp_path / "scaling.png"
    fig = scaling.plot_scaling_law(fit, N, D, L, path)
    assert path.stat().st_size > 10_000
    assert len(fig.axes) == 2
    import matplotlib.pyplot as plt

    plt.close(fig)
