"""BayesianLinearRegressionCAVI: fixed point of the closed-form updates, the reference, and
the exact posterior mean (1-D quadrature over the noise precision)."""

import numpy as np
import pytest
from scipy import stats

from fastml import vi
from fastml.reference import vi as ref


def _data(n=60, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    return X, X @ np.array([1.0, -0.5, 0.25]) + 0.7 * rng.standard_normal(n)


def test_matches_reference_and_fixed_point():
    X, y = _data()
    est = vi.BayesianLinearRegressionCAVI(alpha=2.0, a0=1.0, b0=0.5).fit(X, y)
    m, S, a_n, b_n = ref.cavi_linear_regression(X, y, alpha=2.0, a0=1.0, b0=0.5)
    np.testing.assert_allclose(est.coef_, m, rtol=1e-8)
    np.testing.assert_allclose(est.sigma_, S, rtol=1e-8)
    assert est.noise_rate_ == pytest.approx(b_n, rel=1e-8) and est.converged_
    e_tau = a_n / b_n
    np.testing.assert_allclose(np.linalg.inv(2.0 * np.eye(3) + e_tau * X.T @ X), est.sigma_,
                               rtol=1e-8)


def test_mean_close_to_exact_posterior():
    """p(tau | y) ∝ Gamma(tau; a0, b0) N(y; 0, I / tau + X X^T / alpha); E[w | y] =
    E_tau[(alpha / tau I + X^T X)^-1 X^T y]. Mean-field CAVI is exact up to the spread of
    tau, which is small for n = 60: agreement to 1e-3."""
    X, y = _data()
    alpha, a0, b0 = 2.0, 1.0, 0.5
    est = vi.BayesianLinearRegressionCAVI(alpha=alpha, a0=a0, b0=b0).fit(X, y)
    taus = np.linspace(0.2, 6.0, 2000)
    logw = np.array([stats.gamma.logpdf(t, a0, scale=1 / b0) + stats.multivariate_normal.logpdf(
        y, np.zeros(len(y)), np.eye(len(y)) / t + X @ X.T / alpha) for t in taus])
    w = np.exp(logw - logw.max())
    w /= w.sum()
    means = np.array([np.linalg.solve(alpha / t * np.eye(3) + X.T @ X, X.T @ y) for t in taus])
    np.testing.assert_allclose(est.coef_, w @ means, atol=1e-3)
    assert est.noise_precision_ == pytest.approx(w @ taus, rel=0.02)
    mean, sd = est.predict(X[:4], return_std=True)
    np.testing.assert_allclose(mean, X[:4] @ est.coef_)
    assert np.all(sd > 1 / np.sqrt(est.noise_precision_))


def test_bad_input():
    X, y = _data()
    for name, value in [("alpha", 0.0), ("a0", -1.0), ("b0", 0.0), ("max_iter", 0)]:
        with pytest.raises(ValueError, match=name):
            vi.BayesianLinearRegressionCAVI(**{name: value}).fit(X, y)
    with pytest.raises(ValueError):
        vi.BayesianLinearRegressionCAVI().fit(X, y[:-1])
