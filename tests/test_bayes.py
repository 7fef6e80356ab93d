"""fastml.bayes: conjugate posteriors against independent oracles, Gibbs and NUTS.

Log marginal likelihoods are checked against the chain rule of posterior predictives
(p(y_1..n) = prod_i p(y_i | y_<i), with SciPy's predictive distributions) or SciPy's
multivariate densities; Monte Carlo checks use MCSE tolerances.
"""

import numpy as np
import pytest
from scipy import stats

import fastml
from fastml import bayes, mcmc
from fastml.reference import bayes as reference

Z = 5.0


def test_beta_binomial():
    k, n = np.array([3, 0, 7, 5]), np.array([10, 4, 9, 5])
    m = bayes.BetaBinomial(2.0, 3.0).fit(k, n)
    assert (m.alpha_, m.beta_) == (2 + 15, 3 + 13)
    chain, a, b = 0.0, 2.0, 3.0
    for ki, ni in zip(k, n):
        chain += stats.betabinom.logpmf(ki, ni, a, b)
        a, b = a + ki, b + ni - ki
    np.testing.assert_allclose(m.log_marginal_likelihood_, chain, rtol=1e-12)
    np.testing.assert_allclose(m.map_, 16 / 31)
    assert m.mle_ == 15 / 28
    assert m.posterior().mean() == pytest.approx(17 / 33)
    assert m.posterior_predictive(3).pmf(np.arange(4)).sum() == pytest.approx(1.0)
    assert bayes.BetaBinomial(0.5, 2.0).fit([0], [3]).map_ == 0.0
    assert np.isnan(bayes.BetaBinomial(0.5, 0.5).fit([], []).map_)
    assert np.isnan(bayes.BetaBinomial().fit([], []).mle_)


def test_gamma_poisson():
    y, t = np.array([2, 0, 5, 3]), np.array([1.0, 0.5, 2.0, 1.5])
    m = bayes.GammaPoisson(2.0, 1.0).fit(y, exposure=t)
    assert (m.alpha_, m.beta_) == (12.0, 6.0)
    chain, a, b = 0.0, 2.0, 1.0
    for yi, ti in zip(y, t):
        chain += stats.nbinom.logpmf(yi, a, b / (b + ti))
        a, b = a + yi, b + ti
    np.testing.assert_allclose(m.log_marginal_likelihood_, chain, rtol=1e-12)
    assert m.map_ == pytest.approx(11 / 6)
    assert m.mle_ == pytest.approx(10 / 5)
    assert m.posterior().mean() == pytest.approx(2.0)
    assert m.posterior_predictive(2.0).mean() == pytest.approx(4.0)


def test_normal_known_variance_and_nuts():
    rng = np.random.default_rng(0)
    y = rng.normal(1.5, 2.0, 20)
    m = bayes.NormalKnownVariance(mu0=0.5, tau0=3.0, sigma=2.0).fit(y)
    cov = 4.0 * np.eye(20) + 9.0
    np.testing.assert_allclose(m.log_marginal_likelihood_,
                               stats.multivariate_normal(np.full(20, 0.5), cov).logpdf(y))
    prec = 1 / 9 + 20 / 4
    np.testing.assert_allclose([m.mu_, m.tau_], [(0.5 / 9 + y.sum() / 4) / prec,
                                                 prec ** -0.5])
    assert m.posterior_predictive().std() == pytest.approx(np.hypot(m.tau_, 2.0))

    def logp(mu):
        return float(-((mu[0] - 0.5) ** 2) / 18 - ((y - mu[0]) ** 2).sum() / 8)

    def grad(mu):
        return np.array([-(mu[0] - 0.5) / 9 + (y - mu[0]).sum() / 4])

    tr = mcmc.sample(logp, np.zeros(1), grad=grad, draws=1000, tune=300, chains=2, seed=0)
    x = tr.samples
    assert abs(x.mean() - m.mu_) < Z * mcmc.mcse(x)[0]
    assert abs(((x - m.mu_) ** 2).mean() - m.tau_ ** 2) < Z * mcmc.mcse((x - m.mu_) ** 2)[0]


def _regression(n=40, seed=0):
    rng = np.random.default_rng(seed)
    X = np.column_stack([np.ones(n), rng.standard_normal((n, 2))])
    return X, X @ [1.0, 2.0, -1.0] + rng.normal(0, 0.7, n)


def test_bayesian_linear_regression_closed_form():
    X, y = _regression()
    m0, V0, a0, b0 = np.array([0.0, 1.0, 0.0]), np.diag([4.0, 1.0, 2.0]), 3.0, 2.0
    m = bayes.BayesianLinearRegression(m0=m0, V0=V0, a0=a0, b0=b0).fit(X, y)
    # y ~ t_{2 a0}(X m0, b0/a0 (I + X V0 X^T)) marginally
    ref = stats.multivariate_t(X @ m0, b0 / a0 * (np.eye(len(y)) + X @ V0 @ X.T), df=2 * a0)
    np.testing.assert_allclose(m.log_marginal_likelihood_, ref.logpdf(y), rtol=1e-10)
    Vn = np.linalg.inv(np.linalg.inv(V0) + X.T @ X)
    np.testing.assert_allclose(m.coef_, Vn @ (np.linalg.inv(V0) @ m0 + X.T @ y), rtol=1e-10)
    np.testing.assert_allclose(m.V_, Vn, rtol=1e-10)
    assert m.a_ == a0 + 20
    np.testing.assert_allclose(m.mle_[0], np.linalg.lstsq(X, y, rcond=None)[0])
    assert m.map_[1] == pytest.approx(m.b_ / (m.a_ + 2.5))
    mean, std = m.predict(X[:3], return_std=True)
    np.testing.assert_allclose(mean, X[:3] @ m.coef_)
    scale2 = m.b_ / m.a_ * (1 + np.einsum("ij,jk,ik->i", X[:3], Vn, X[:3]))
    np.testing.assert_allclose(std, np.sqrt(scale2 * m.a_ / (m.a_ - 1)))
    assert m.score(X, y) > 0.8
    assert m.predict(X.astype(np.float32)).dtype == np.float32
    assert m.posterior().logpdf(m.coef_) > m.posterior().logpdf(m.coef_ + 0.1)


def test_normal_inverse_gamma_closed_form():
    y = np.random.default_rng(1).normal(3.0, 2.0, 25)
    m = bayes.NormalInverseGamma(mu0=1.0, kappa0=2.0, a0=3.0, b0=2.0).fit(y)
    ref = stats.multivariate_t(np.ones(25), 2 / 3 * (np.eye(25) + 0.5), df=6.0)
    np.testing.assert_allclose(m.log_marginal_likelihood_, ref.logpdf(y), rtol=1e-10)
    ybar = y.mean()
    assert m.mu_ == pytest.approx((2 * 1 + y.sum()) / 27)
    assert m.b_ == pytest.approx(2 + 0.5 * (((y - ybar) ** 2).sum() + 2 * 25 * (ybar - 1) ** 2
                                            / 27))
    assert m.mle_ == pytest.approx((ybar, y.var()))
    assert m.posterior_predictive().mean() == pytest.approx(m.mu_)


@pytest.mark.parametrize("model", ["regression", "normal"])
def test_gibbs_matches_closed_form(model):
    if model == "regression":
        X, y = _regression()
        m = bayes.BayesianLinearRegression(V0=4.0, a0=2.0, b0=1.0).fit(X, y)
        mean = np.append(m.coef_, m.b_ / (m.a_ - 1))
        var = np.append(m.b_ / (m.a_ - 1) * np.diag(m.V_),
                        m.b_ ** 2 / ((m.a_ - 1) ** 2 * (m.a_ - 2)))
    else:
        m = bayes.NormalInverseGamma(1.0, 2.0, 3.0, 2.0).fit(np.arange(10.0))
        mean = np.array([m.posterior_mu().mean(), m.posterior_sigma2().mean()])
        var = np.array([m.posterior_mu().var(), m.posterior_sigma2().var()])
    tr = m.sample_posterior(2000, chains=4, seed=0)
    x = tr.samples
    np.testing.assert_array_less(np.abs(x.mean(axis=(0, 1)) - mean), Z * mcmc.mcse(x))
    sq = (x - mean) ** 2
    np.testing.assert_array_less(np.abs(sq.mean(axis=(0, 1)) - var), Z * mcmc.mcse(sq))
    with fastml.threads(1):
        again = m.sample_posterior(2000, chains=4, seed=0)
    np.testing.assert_array_equal(x, again.samples)


def test_reference_gibbs_matches_closed_form():
    X, y = _regression()
    m = bayes.BayesianLinearRegression(V0=4.0, a0=2.0, b0=1.0).fit(X, y)
    x = reference.gibbs_nig(X, y, np.zeros(3), 4.0 * np.eye(3), 2.0, 1.0, draws=3000,
                            seed=0)[None, 100:]
    mean = np.append(m.coef_, m.b_ / (m.a_ - 1))
    np.testing.assert_array_less(np.abs(x.mean(axis=(0, 1)) - mean), Z * mcmc.mcse(x))


def test_dirichlet_multinomial():
    x = np.array([[2, 0, 1], [1, 3, 0], [0, 1, 4]])
    m = bayes.DirichletMultinomial(alpha=[1.0, 2.0, 0.5]).fit(x)
    np.testing.assert_array_equal(m.alpha_, [4.0, 6.0, 5.5])
    chain, a = 0.0, np.array([1.0, 2.0, 0.5])
    for row in x:
        chain += stats.dirichlet_multinomial.logpmf(row, a, row.sum())
        a = a + row
    np.testing.assert_allclose(m.log_marginal_likelihood_, chain, rtol=1e-12)
    np.testing.assert_allclose(m.map_, (m.alpha_ - 1) / (15.5 - 3))
    np.testing.assert_allclose(m.mle_, [3 / 12, 4 / 12, 5 / 12])
    assert m.posterior_predictive(5).mean().sum() == pytest.approx(5.0)
    assert m.posterior().mean().sum() == pytest.approx(1.0)
    one = bayes.DirichletMultinomial().fit([0, 0, 1])
    np.testing.assert_array_equal(one.map_, [0.0, 0.0, 1.0])
    assert np.isnan(bayes.DirichletMultinomial(0.5).fit([0, 0, 1]).map_).all()


def test_bad_input():
    with pytest.raises(ValueError, match="successes must not exceed trials"):
        bayes.BetaBinomial().fit([3], [2])
    with pytest.raises(ValueError, match="non-negative integer counts"):
        bayes.BetaBinomial().fit([-1], [2])
    with pytest.raises(ValueError, match="non-negative integer counts"):
        bayes.GammaPoisson().fit([1.5])
    with pytest.raises(ValueError, match="alpha == 0"):
        bayes.BetaBinomial(alpha=0.0).fit([1], [2])
    with pytest.raises(ValueError, match="exposure must be positive"):
        bayes.GammaPoisson().fit([1, 2], exposure=[1.0, 0.0])
    with pytest.raises(ValueError, match="y contains NaN"):
        bayes.NormalKnownVariance().fit([1.0, np.nan])
    with pytest.raises(ValueError, match="V0 must have shape"):
        bayes.BayesianLinearRegression(V0=np.eye(2)).fit(np.ones((4, 3)), np.ones(4))
    with pytest.raises(ValueError, match="at least 2 categories"):
        bayes.DirichletMultinomial().fit([[3], [1]])
    with pytest.raises(fastml.NotFittedError):
        bayes.NormalInverseGamma().posterior_mu()
