"""Bias–variance decomposition: exact identities, known limits, Monte-Carlo checks."""

import numpy as np
import pytest

from fastml.base import BaseEstimator
from fastml.linear_model import LinearRegression, LogisticRegression, Ridge
from fastml.model_selection import (
    bias_variance_curve,
    bias_variance_decomposition,
    plot_bias_variance,
)


class ConstantModel(BaseEstimator):
    """Ignores the data: predicts ``value`` everywhere (zero variance)."""

    def __init__(self, value=0.0):
        self.value = value

    def fit(self, X, y):
        self.fitted_ = True
        return self

    def predict(self, X):
        return np.full(len(X), self.value)


def _linear_problem(n=40, p=3, sigma=0.5, seed=0):
    rng = np.random.default_rng(seed)
    w = np.array([1.0, -2.0, 0.5])[:p]
    X = rng.standard_normal((n, p))
    Xt = rng.standard_normal((200, p))
    return X, X @ w + sigma * rng.standard_normal(n), Xt, \
        Xt @ w + sigma * rng.standard_normal(200), (lambda Z: Z @ w)


def test_mse_identity_and_constant_model():
    X, y, Xt, yt, f = _linear_problem()
    res = bias_variance_decomposition(Ridge(alpha=5.0), X, y, Xt, yt, n_rounds=30,
                                      random_state=0)
    assert res["expected_loss"] == pytest.approx(res["bias2"] + res["variance"], rel=1e-12)
    assert res["predictions"].shape == (30, 200) and res["noise"] is None
    const = bias_variance_decomposition(ConstantModel(1.5), X, y, Xt, yt, n_rounds=5)
    assert const["variance"] == 0.0
    assert const["bias2"] == pytest.approx(np.mean((1.5 - yt) ** 2))


def test_known_noise_and_unbiased_ols():
    """OLS on a correctly specified linear model: bias^2 ~ 0, noise ~ sigma^2."""
    sigma = 0.5
    X, y, Xt, yt, f = _linear_problem(n=60, sigma=sigma, seed=1)
    res = bias_variance_decomposition(LinearRegression(), X, y, Xt, yt, n_rounds=200,
                                      random_state=1, y_true_func=f)
    # noise = mean of 200 squared N(0, sigma^2) draws: sd of the mean = sigma^2 sqrt(2/200)
    assert abs(res["noise"] - sigma**2) < 4 * sigma**2 * np.sqrt(2 / 200)
    assert res["expected_loss"] == pytest.approx(
        res["bias2"] + res["variance"] + res["noise"], rel=1e-12)
    # OLS variance ~ sigma^2 p / n per test point. Bootstrap rounds share one training
    # sample, so f_bar is the full-sample fit and bias^2 is its error, also ~ sigma^2 p / n.
    scale = sigma**2 * 3 / 60
    assert 0.2 * scale < res["variance"] < 5 * scale
    assert 0.2 * scale < res["bias2"] < 5 * scale


def test_ridge_complexity_sweep_tradeoff():
    X, y, Xt, yt, f = _linear_problem(n=30, sigma=1.0, seed=2)
    curve = bias_variance_curve(Ridge(fit_intercept=False), "alpha", [0.01, 10.0, 1000.0],
                                X, y, Xt, yt, n_rounds=40, random_state=0, y_true_func=f)
    # more shrinkage: more bias, less variance
    assert np.all(np.diff(curve["bias2"]) > 0)
    assert np.all(np.diff(curve["variance"]) < 0)
    import matplotlib

    matplotlib.use("Agg")
    ax = plot_bias_variance(curve, xlabel="alpha", logx=True)
    assert len(ax.lines) == 3


def test_zero_one_loss():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((80, 2))
    y = (X[:, 0] + 0.3 * rng.standard_normal(80) > 0).astype(int)
    Xt = rng.standard_normal((100, 2))
    yt = (Xt[:, 0] > 0).astype(int)
    res = bias_variance_decomposition(LogisticRegression(), X, y, Xt, yt, n_rounds=20,
                                      loss="0-1", random_state=0)
    main = (res["predictions"].mean(0) > 0.5).astype(int)
    assert res["bias"] == pytest.approx(np.mean(main != yt))
    assert 0 <= res["variance"] <= 0.5 and res["expected_loss"] < 0.2
    const = bias_variance_decomposition(ConstantModel(1), X, y, Xt, yt, n_rounds=3,
                                        loss="0-1")
    assert const["variance"] == 0 and const["bias"] == pytest.approx(np.mean(yt != 1))


def test_bad_arguments():
    X, y, Xt, yt, _ = _linear_problem()
    with pytest.raises(ValueError, match="loss"):
        bias_variance_decomposition(Ridge(), X, y, Xt, yt, loss="hinge")
    with pytest.raises(ValueError, match="inconsistent"):
        bias_variance_decomposition(Ridge(), X, y[:-1], Xt, yt)
    with pytest.raises(ValueError, match="features"):
        bias_variance_decomposition(Ridge(), X, y, Xt[:, :2], yt)
    with pytest.raises(ValueError, match="n_rounds"):
        bias_variance_decomposition(Ridge(), X, y, Xt, yt, n_rounds=0)
