"""GaussianMixture: scikit-learn oracle from the same initial parameters, reference EM."""


import numpy as np
import pytest

import fastml
from fastml.mixture import BayesianGaussianMixture, GaussianMixture
from fastml.reference.mixture import gaussian_mixture_em

sk_mixture = pytest.importorskip("sklearn.mixture")

K, D = 3, 4


pytestmark = pytest.mark.usefixtures("one_thread_quiet")


def data(n=900, seed=0):
    rng = np.random.default_rng(seed)
    centres = 3 * rng.standard_normal((K, D))
    scales = rng.uniform(0.5, 1.5, (K, 1, D))
    z = rng.integers(0, K, n)
    return centres[z] + rng.standard_normal((n, D)) * scales[z, 0]


def initial(covariance_type, X):
    means = X[:K].copy()
    precisions = {"full": np.stack([np.eye(D) * (k + 1) for k in range(K)]),
                  "tied": np.eye(D) * 2, "diag": np.ones((K, D)) * [[1], [2], [3]],
                  "spherical": np.array([1.0, 2.0, 0.5])}[covariance_type]
    return dict(weights_init=np.array([0.2, 0.3, 0.5]), means_init=means,
                precisions_init=precisions)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_matches_sklearn_from_same_initialisation(covariance_type):
    X = data()
    kw = dict(covariance_type=covariance_type, max_iter=30, tol=1e-8, reg_covar=1e-5,
              **initial(covariance_type, X))
    ours = GaussianMixture(K, **kw).fit(X)
    ref = sk_mixture.GaussianMixture(K, **kw).fit(X)
    np.testing.assert_allclose(ours.lower_bound_, ref.lower_bound_, rtol=1e-6)
    assert ours.n_iter_ == ref.n_iter_ and ours.converged_ == ref.converged_
    np.testing.assert_allclose(ours.lower_bounds_, ref.lower_bounds_, rtol=1e-6)
    for name in ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_"):
        np.testing.assert_allclose(getattr(ours, name), getattr(ref, name), rtol=1e-6,
                                   atol=1e-9, err_msg=name)
    Xt = X[:40] + 0.3
    np.testing.assert_allclose(ours.score_samples(Xt), ref.score_samples(Xt), rtol=1e-6)
    np.testing.assert_allclose(ours.predict_proba(Xt), ref.predict_proba(Xt), atol=1e-8)
    np.testing.assert_array_equal(ours.predict(Xt), ref.predict(Xt))
    np.testing.assert_allclose(ours.bic(X), ref.bic(X), rtol=1e-6)
    np.testing.assert_allclose(ours.aic(X), ref.aic(X), rtol=1e-6)
    np.testing.assert_allclose(ours.score(X), ref.score(X), rtol=1e-6)


def test_matches_reference_em():
    X = data(400, seed=1)
    init = initial("full", X)
    ours = GaussianMixture(K, max_iter=15, tol=0, **init).fit(X)
    w, mu, cov, bound, n_iter = gaussian_mixture_em(
        X, init["weights_init"], init["means_init"], np.linalg.inv(init["precisions_init"]),
        max_iter=15, tol=0)
    assert ours.n_iter_ == n_iter
    np.testing.assert_allclose(ours.lower_bound_, bound, rtol=1e-9)
    np.testing.assert_allclose(ours.weights_, w, rtol=1e-9)
    np.testing.assert_allclose(ours.means_, mu, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours.covariances_, cov, rtol=1e-9, atol=1e-12)


def test_kmeans_init_lower_bound_never_decreases_and_threads_agree():
    X = data(3000, seed=2)
    fits = []
    for n_threads in (1, 2):
        with fastml.threads(n_threads):
            fits.append(GaussianMixture(K, random_state=0, tol=1e-10, max_iter=50).fit(X))
    assert np.all(np.diff(fits[0].lower_bounds_) >= -1e-12)
    np.testing.assert_allclose(fits[0].means_, fits[1].means_, rtol=1e-10)
    np.testing.assert_allclose(fits[0].lower_bound_, fits[1].lower_bound_, rtol=1e-12)
    # a good optimum: at least as good as scikit-learn's k-means initialised fit
    ref = sk_mixture.GaussianMixture(K, random_state=0, tol=1e-10, max_iter=50).fit(X)
    assert fits[0].lower_bound_ >= ref.lower_bound_ - 1e-6


@pytest.mark.parametrize("init_params", ["kmeans", "k-means++", "random", "random_from_data"])
def test_init_params_reproducible(init_params):
    X = data(300, seed=3)
    a = GaussianMixture(K, init_params=init_params, random_state=5, n_init=2).fit(X)
    b = GaussianMixture(K, init_params=init_params, random_state=5, n_init=2).fit(X)
    np.testing.assert_array_equal(a.means_, b.means_)
    assert np.isfinite(a.lower_bound_)


def test_float32_and_warm_start():
    X = data(500, seed=4)
    a = GaussianMixture(K, random_state=0).fit(X.astype(np.float32))
    b = GaussianMixture(K, random_state=0).fit(X)
    assert a.means_.dtype == np.float32 and a.score_samples(X[:2]).dtype == np.float32
    np.testing.assert_allclose(a.lower_bound_, b.lower_bound_, rtol=1e-4)
    warm = GaussianMixture(K, random_state=0, max_iter=2, warm_start=True)
    first = warm.fit(X).lower_bound_
    assert warm.fit(X).lower_bound_ >= first - 1e-12


def test_sample_moments_within_standard_error():
    X = data(600, seed=5)
    gm = GaussianMixture(K, random_state=0).fit(X)
    S, labels = gm.sample(20000)
    assert S.shape == (20000, D) and labels.shape == (20000,)
    mean = gm.weights_ @ gm.means_
    total_var = np.array([gm.weights_ @ (gm.covariances_[:, i, i] + gm.means_[:, i] ** 2)
                          for i in range(D)]) - mean ** 2
    se = np.sqrt(total_var / len(S))
    assert np.all(np.abs(S.mean(axis=0) - mean) < 5 * se)
    np.testing.assert_array_equal(gm.sample(10)[0], gm.sample(10)[0])  # seeded


def test_degenerate_data_gives_clear_error():
    X = np.repeat([[1.0, 2.0]], 10, axis=0)
    with pytest.raises(ValueError, match="ill-defined empirical covariance"):
        GaussianMixture(2, reg_covar=0, random_state=0).fit(X)


@pytest.mark.parametrize("kwargs, match", [
    ({"n_components": 20}, "Expected n_samples >= n_components"),
    ({"covariance_type": "block"}, "covariance_type must be one of"),
    ({"weights_init": [0.5, 0.6]}, "sum to 1"),
    ({"means_init": np.zeros((3, 4))}, "means_init should have shape"),
    ({"precisions_init": -np.ones((2, 4)), "covariance_type": "diag"}, "positive"),
    ({"reg_covar": -1.0}, "reg_covar"),
])
def test_bad_parameters(kwargs, match):
    X = data(10)
    kwargs = {"n_components": 2, **kwargs}
    with pytest.raises(ValueError, match=match):
        GaussianMixture(**kwargs).fit(X)


@pytest.mark.parametrize("Mixture", [GaussianMixture, BayesianGaussianMixture])
def test_bad_data_and_unfitted(Mixture):
    with pytest.raises(ValueError, match="NaN"):
        Mixture().fit([[0.0], [np.inf]])
    with pytest.raises(ValueError, match="minimum of 2"):
        Mixture().fit([[0.0, 1.0]])
    with pytest.raises(fastml.NotFittedError):
        Mixture().score_samples([[0.0]])


@pytest.mark.parametrize("est", [GaussianMixture(), GaussianMixture(
    n_init=2, max_iter=5, covariance_type="tied")], ids=repr)
def test_sklearn_check_estimator(est):
    from sklearn.utils.estimator_checks import check_estimator

    check_estimator(est)
