"""BayesianGaussianMixture: scikit-learn oracle from the same initial responsibilities
(both sides subclassed to start from one fixed ``resp``), the CAVI reference, bad
parameters (bad data: tests/test_mixture.py)."""


import numpy as np
import pytest

import fastml
from fastml.mixture import BayesianGaussianMixture
from fastml.reference.mixture import bayesian_gaussian_mixture_cavi, variational_mixture_elbo

sk_mixture = pytest.importorskip("sklearn.mixture")

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]
PRIOR_TYPES = ["dirichlet_process", "dirichlet_distribution"]


pytestmark = pytest.mark.usefixtures("one_thread_quiet")


def blobs(n, d, k, seed):
    """k anisotropic Gaussian clusters in d dimensions."""
    rng = np.random.default_rng(seed)
    centres = 3 * rng.standard_normal((k, d))
    mixing = rng.standard_normal((k, d, d)) * 0.4 + np.eye(d)
    z = rng.integers(0, k, n)
    return centres[z] + np.einsum("nd,nde->ne", rng.standard_normal((n, d)), mixing[z])


def soft_resp(n, K, seed):
    r = np.random.default_rng(seed).uniform(size=(n, K))
    return r / r.sum(axis=1, keepdims=True)


def fixed_init(resp):
    """(fastml, scikit-learn) subclasses whose initialisation is one M-step from ``resp``."""
    class Ours(BayesianGaussianMixture):
        def _initial_resp(self, X, rng):
            return resp.astype(X.dtype)

    class Theirs(sk_mixture.BayesianGaussianMixture):
        def _initialize_parameters(self, X, random_state, xp=None):
            self._initialize(X, resp)
    return Ours, Theirs


def explicit_priors(covariance_type, d):
    cov = {"full": np.eye(d) * 0.5 + 0.1, "tied": np.eye(d) * 2.0,
           "diag": np.linspace(0.5, 2.0, d), "spherical": 0.7}[covariance_type]
    return dict(weight_concentration_prior=2.5, mean_precision_prior=0.3,
                mean_prior=np.linspace(-1, 1, d), degrees_of_freedom_prior=d + 1.5,
                covariance_prior=cov)


DATASETS = {"3 clusters d=3": (300, 3, 3, 0), "4 clusters d=5": (400, 5, 4, 1)}
FITTED = ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_",
          "mean_precision_", "degrees_of_freedom_", "mean_prior_", "covariance_prior_")


@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("priors", ["default", "explicit"])
def test_matches_sklearn_from_same_initialisation(priors, dataset, covariance_type,
                                                  prior_type):
    n, d, k, seed = DATASETS[dataset]
    X = blobs(n, d, k, seed)
    K = k + 2
    Ours, Theirs = fixed_init(soft_resp(n, K, seed + 10))
    kw = dict(n_components=K, covariance_type=covariance_type, max_iter=40, tol=1e-6,
              weight_concentration_prior_type=prior_type, reg_covar=1e-5,
              **(explicit_priors(covariance_type, d) if priors == "explicit" else {}))
    ours, ref = Ours(**kw), Theirs(**kw)
    labels = ours.fit_predict(X)
    np.testing.assert_array_equal(labels, ref.fit_predict(X))
    np.testing.assert_allclose(ours.lower_bound_, ref.lower_bound_, rtol=1e-6)
    assert ours.n_iter_ == ref.n_iter_ and ours.converged_ == ref.converged_
    np.testing.assert_allclose(ours.lower_bounds_, np.ravel(ref.lower_bounds_), rtol=1e-6)
    for name in FITTED:
        np.testing.assert_allclose(getattr(ours, name), getattr(ref, name), rtol=1e-6,
                                   atol=1e-9, err_msg=name)
    np.testing.assert_allclose(ours.weight_concentration_, ref.weight_concentration_,
                               rtol=1e-6)
    for name in ("weight_concentration_prior_", "mean_precision_prior_",
                 "degrees_of_freedom_prior_"):
        assert getattr(ours, name) == getattr(ref, name), name
    Xt = X[:30] + 0.2
    np.testing.assert_allclose(ours.score_samples(Xt), ref.score_samples(Xt), rtol=1e-6)
    np.testing.assert_allclose(ours.predict_proba(Xt), ref.predict_proba(Xt), atol=1e-8)
    np.testing.assert_array_equal(ours.predict(Xt), ref.predict(Xt))
    np.testing.assert_allclose(ours.score(Xt), ref.score(Xt), rtol=1e-6)


@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
def test_matches_reference_cavi(prior_type):
    n, d, K = 120, 3, 4
    X = blobs(n, d, 3, seed=2)
    resp = soft_resp(n, K, seed=3)
    Ours, _ = fixed_init(resp)
    priors = explicit_priors("full", d)
    ours = Ours(n_components=K, weight_concentration_prior_type=prior_type, max_iter=12,
                tol=0, **priors).fit(X)
    w, mu, cov, bound, n_iter = bayesian_gaussian_mixture_cavi(
        X, resp, weight_concentration_prior_type=prior_type, max_iter=12, tol=0,
        **priors)
    assert ours.n_iter_ == n_iter
    np.testing.assert_allclose(ours.lower_bound_, bound, rtol=1e-9)
    np.testing.assert_allclose(ours.weights_, w, rtol=1e-9)
    np.testing.assert_allclose(ours.means_, mu, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours.covariances_, cov, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
def test_lower_bound_is_the_whole_elbo_up_to_a_constant(prior_type):
    """scikit-learn's bound drops terms and constants: the whole ELBO (every term of
    Bishop 10.70-10.77) at the same q differs from ``lower_bound_`` by the same constant
    at every iteration (reg_covar = 0, so the M-step maximises that ELBO exactly)."""
    n, d, K = 150, 3, 4
    X = blobs(n, d, 3, seed=9)
    Ours, _ = fixed_init(soft_resp(n, K, seed=10))
    priors = explicit_priors("full", d)
    kw = dict(n_components=K, weight_concentration_prior_type=prior_type, reg_covar=0,
              tol=0, **priors)
    gaps = []
    for t in range(1, 5):
        resp = Ours(max_iter=t - 1, **kw).fit(X).predict_proba(X)  # E-step of iteration t
        q = Ours(max_iter=t, **kw).fit(X)
        W = q.precisions_ / q.degrees_of_freedom_[:, None, None]
        elbo = variational_mixture_elbo(
            X, resp, q.weight_concentration_, q.mean_precision_, q.means_,
            q.degrees_of_freedom_, W, weight_concentration_prior_type=prior_type, **priors)
        gaps.append(elbo - q.lower_bound_)
    assert np.ptp(gaps) < 1e-9 * abs(elbo)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_bound_never_decreases_and_threads_agree(covariance_type):
    X = blobs(2000, 4, 3, seed=4)
    fits = []
    for n_threads in (1, 2):
        with fastml.threads(n_threads):
            fits.append(BayesianGaussianMixture(
                n_components=6, covariance_type=covariance_type, random_state=0, tol=1e-9,
                max_iter=60).fit(X))
    bounds = np.array(fits[0].lower_bounds_)
    assert np.all(np.diff(bounds) >= -1e-9 * np.abs(bounds[1:]))
    np.testing.assert_allclose(fits[0].lower_bound_, fits[1].lower_bound_, rtol=1e-10)
    np.testing.assert_allclose(fits[0].means_, fits[1].means_, rtol=1e-8, atol=1e-10)


def test_dirichlet_process_switches_off_unneeded_components():
    X = blobs(600, 2, 3, seed=5)
    bgm = BayesianGaussianMixture(n_components=8, weight_concentration_prior=1e-3,
                                  random_state=0, max_iter=500).fit(X)
    assert bgm.converged_
    assert np.sum(bgm.weights_ > 0.02) == 3
    np.testing.assert_allclose(bgm.weights_.sum(), 1.0)


@pytest.mark.parametrize("init_params", ["kmeans", "k-means++", "random", "random_from_data"])
def test_init_params_reproducible(init_params):
    X = blobs(200, 2, 3, seed=6)
    a = BayesianGaussianMixture(n_components=3, init_params=init_params, random_state=5,
                                n_init=2).fit(X)
    b = BayesianGaussianMixture(n_components=3, init_params=init_params, random_state=5,
                                n_init=2).fit(X)
    np.testing.assert_array_equal(a.means_, b.means_)
    assert np.isfinite(a.lower_bound_) and a.predict_proba(X[:3]).shape == (3, 3)


def test_float32_warm_start_sample_and_warning():
    X = blobs(400, 3, 3, seed=7)
    a = BayesianGaussianMixture(n_components=3, random_state=0).fit(X.astype(np.float32))
    b = BayesianGaussianMixture(n_components=3, random_state=0).fit(X)
    assert a.means_.dtype == np.float32 and a.score_samples(X[:2]).dtype == np.float32
    np.testing.assert_allclose(a.lower_bound_, b.lower_bound_, rtol=1e-4)
    warm = BayesianGaussianMixture(n_components=3, random_state=0, max_iter=2,
                                   warm_start=True)
    with pytest.warns(fastml.ConvergenceWarning, match="did not converge"):
        first = warm.fit(X).lower_bound_
    assert warm.fit(X).lower_bound_ >= first
    S, labels = b.sample(50)
    assert S.shape == (50, 3) and labels.shape == (50,)
    np.testing.assert_array_equal(b.sample(10)[0], b.sample(10)[0])  # seeded


@pytest.mark.parametrize("kwargs, match", [
    ({"n_components": 20}, "Expected n_samples >= n_components"),
    ({"weight_concentration_prior_type": "beta"}, "weight_concentration_prior_type"),
    ({"weight_concentration_prior": 0.0}, "weight_concentration_prior"),
    ({"mean_precision_prior": -1.0}, "mean_precision_prior"),
    ({"mean_prior": np.zeros(3)}, "mean_prior should have shape"),
    ({"degrees_of_freedom_prior": 0.5}, "degrees_of_freedom_prior should be greater than 1"),
    ({"covariance_prior": np.eye(3)}, "covariance_prior should have shape"),
    ({"covariance_prior": [[1.0, 2.0], [2.0, 1.0]]}, "symmetric, positive-definite"),
    ({"covariance_prior": [1.0, -1.0], "covariance_type": "diag"}, "positive"),
    ({"covariance_prior": [1.0, 1.0], "covariance_type": "spherical"}, "positive float"),
    ({"covariance_prior": -2.0, "covariance_type": "spherical"}, "covariance_prior"),
])
def test_bad_parameters(kwargs, match):
    X = blobs(10, 2, 2, seed=8)
    kwargs = {"n_components": 2, **kwargs}
    with pytest.raises(ValueError, match=match):
        BayesianGaussianMixture(**kwargs).fit(X)


def test_sklearn_check_estimator():
    from sklearn.utils.estimator_checks import check_estimator

    check_estimator(BayesianGaussianMixture(n_components=2, max_iter=20))
