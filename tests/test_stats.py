"""fastml.stats.fit against scipy.stats fits and the textbook reference."""

import numpy as np
import pytest
import scipy.stats

from fastml import stats
from fastml.reference import stats as reference


def samples(dist, n=400, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "normal": lambda: rng.normal(2.0, 3.0, n),
        "gamma": lambda: rng.gamma(2.5, 1.7, n),
        "beta": lambda: rng.beta(2.0, 5.0, n),
        "poisson": lambda: rng.poisson(3.3, n).astype(float),
        "exponential": lambda: rng.exponential(2.0, n),
        "t": lambda: scipy.stats.t.rvs(4.0, 1.0, 2.0, size=n, random_state=seed),
        "dirichlet": lambda: rng.dirichlet([2.0, 3.0, 5.0], n),
        "multivariate_normal": lambda: rng.multivariate_normal([1.0, 2.0],
                                                               [[2.0, 0.5], [0.5, 1.0]], n),
    }[dist]()


SCIPY_FIT = {
    "normal": lambda x: scipy.stats.norm.fit(x),
    "gamma": lambda x: np.array(scipy.stats.gamma.fit(x, floc=0))[[0, 2]],
    "beta": lambda x: np.array(scipy.stats.beta.fit(x, floc=0, fscale=1))[:2],
    "exponential": lambda x: np.array(scipy.stats.expon.fit(x, floc=0))[[1]],
    "t": lambda x: scipy.stats.t.fit(x),
    "poisson": lambda x: [scipy.stats.fit(scipy.stats.poisson, x, bounds={"mu": (0, 20)})
                          .params.mu],
}


@pytest.mark.parametrize("dist", list(SCIPY_FIT))
def test_mle_matches_scipy_and_reference(dist):
    x = samples(dist)
    res = stats.fit(dist, x)
    theta = np.array(list(res.params.values()))
    rtol = 1e-4 if dist in ("t", "poisson") else 1e-7  # scipy's own optimiser tolerance
    np.testing.assert_allclose(theta, SCIPY_FIT[dist](x), rtol=rtol)
    np.testing.assert_allclose(theta, reference.fit(dist, x, theta * 1.1 + 0.05), rtol=1e-5)
    se = np.array(list(res.se.values()))
    np.testing.assert_allclose(se, reference.standard_errors(dist, theta, x), rtol=1e-3)
    assert res.loglik == pytest.approx(reference.log_likelihood(dist, theta, x), rel=1e-10)
    assert res.method == "mle"


def test_closed_form_standard_errors():
    x = samples("normal")
    res = stats.fit("normal", x)
    n, sigma = x.size, res["scale"]
    assert res.se["loc"] == pytest.approx(sigma / np.sqrt(n), rel=1e-5)
    assert res.se["scale"] == pytest.approx(sigma / np.sqrt(2 * n), rel=1e-5)
    p = stats.fit("poisson", samples("poisson"))
    assert p.se["mu"] == pytest.approx(np.sqrt(p["mu"] / 400), rel=1e-6)


def test_dirichlet_mle_matches_reference():
    x = samples("dirichlet", n=300)
    res = stats.fit("dirichlet", x)
    alpha = res["alpha"]
    np.testing.assert_allclose(alpha, reference.fit("dirichlet", x, alpha * 1.2), rtol=1e-5)
    np.testing.assert_allclose(res.se["alpha"], reference.standard_errors("dirichlet", alpha, x),
                               rtol=1e-3)


def test_multivariate_normal_matches_scipy():
    x = samples("multivariate_normal")
    res = stats.fit("multivariate_normal", x)
    mean, cov = scipy.stats.multivariate_normal.fit(x)
    np.testing.assert_allclose(res["mean"], mean, rtol=1e-12)
    np.testing.assert_allclose(res["cov"], cov, rtol=1e-12)
    assert res.loglik == pytest.approx(
        scipy.stats.multivariate_normal(mean, cov).logpdf(x).sum(), rel=1e-10)


def test_conjugate_map_matches_numeric_map_and_closed_form():
    x = samples("poisson", n=40, seed=3)
    prior = stats.GammaPrior(2.0, 1.0)
    conj = stats.fit("poisson", x, prior=prior)
    assert conj["mu"] == pytest.approx((2.0 + x.sum() - 1) / (1.0 + x.size), rel=1e-12)
    numeric = stats.fit("poisson", x,
                        prior=lambda th: (prior.a - 1) * np.log(th[0]) - prior.b * th[0])
    assert numeric["mu"] == pytest.approx(conj["mu"], rel=1e-7)
    assert numeric.method == conj.method == "map"
    y = samples("normal", n=30, seed=4)
    nig = stats.fit("normal", y, prior=stats.NormalInverseGamma(0.0, 1.0, 2.0, 2.0))
    assert nig["loc"] == pytest.approx(y.sum() / (1 + y.size), rel=1e-12)  # shrunk to 0
    z = samples("multivariate_normal", n=50, seed=5)
    niw = stats.fit("multivariate_normal", z,
                    prior=stats.NormalInverseWishart(np.zeros(2), 1.0, 4.0, np.eye(2)))
    np.testing.assert_allclose(niw["mean"], z.sum(axis=0) / 51, rtol=1e-12)
    weak = stats.fit("normal", y, prior=lambda th: 0.0)
    np.testing.assert_allclose([weak["loc"], weak["scale"]],
                               [stats.fit("normal", y)["loc"], stats.fit("normal", y)["scale"]],
                               rtol=1e-6)


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="dist"):
        stats.fit("cauchy", [1.0, 2.0])
    with pytest.raises(ValueError, match="data must be positive"):
        stats.fit("gamma", [1.0, -2.0])
    with pytest.raises(ValueError, match="data must lie in"):
        stats.fit("beta", [0.5, 1.0])
    with pytest.raises(ValueError, match="non-negative integers"):
        stats.fit("poisson", [1.5, 2.0])
    with pytest.raises(ValueError, match="sum to 1"):
        stats.fit("dirichlet", [[0.5, 0.6], [0.2, 0.8]])
    with pytest.raises(ValueError, match="data contains NaN"):
        stats.fit("normal", [1.0, np.nan])
    with pytest.raises(ValueError, match="constant"):
        stats.fit("normal", [1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="not conjugate"):
        stats.fit("gamma", [1.0, 2.0], prior=stats.GammaPrior(1.0, 1.0))
    with pytest.raises(TypeError, match="prior"):
        stats.fit("normal", [1.0, 2.0], prior="flat")
