"""fastml.gp.SparseGaussianProcessRegressor: Titsias' bound against the exact GP,
its analytic gradients against finite differences, accuracy and bad input."""

import math
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose

import fastml
from fastml.gp import GaussianProcessRegressor, SparseGaussianProcessRegressor
from fastml.gp import kernels as fk
from fastml.gp._sparse import kmeans_plus_plus


def target(X):
    return np.sin(X[:, 0]) + np.cos(X[:, 1]) * X[:, 2] / 3


def data(n=30, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, (n, 3))
    return X, target(X) + 0.1 * rng.standard_normal(n)


KERNELS = {
    "const_x_rbf_ard": lambda: fk.ConstantKernel(1.5) * fk.RBF([1.0, 0.7, 1.3]),
    "matern05_ard": lambda: fk.Matern([1.0, 2.0, 0.5], nu=0.5),
    "matern15": lambda: fk.Matern(1.2, nu=1.5),
    "matern25_x_const": lambda: fk.Matern(1.0, nu=2.5) * fk.ConstantKernel(0.7),
    "rq": lambda: fk.RationalQuadratic(1.1, 0.8),
    "fixed_amplitude": lambda: fk.ConstantKernel(2.0, "fixed") * fk.RBF(0.9),
}


@pytest.mark.parametrize("name", list(KERNELS))
def test_bound_with_all_points_inducing_equals_exact_lml(name):
    X, y = data(30)
    kernel = KERNELS[name]()
    sparse = SparseGaussianProcessRegressor(kernel, inducing=X, noise_level=0.05,
                                            optimizer=None, jitter=0.0).fit(X, y)
    exact = GaussianProcessRegressor(kernel + fk.WhiteKernel(0.05), optimizer=None).fit(X, y)
    assert_allclose(sparse.lower_bound_, exact.log_marginal_likelihood_value_, rtol=1e-8)
    X_test = X[:5] + 0.1
    mean, std = sparse.predict(X_test, return_std=True)
    exact_mean, exact_std = exact.predict(X_test, return_std=True)
    assert_allclose(mean, exact_mean, rtol=1e-6, atol=1e-8)
    assert_allclose(std**2 + 0.05, exact_std**2, rtol=1e-6, atol=1e-8)  # exact adds noise


@pytest.mark.parametrize("name", list(KERNELS))
def test_gradients_match_finite_differences(name):
    X, y = data(25)
    Z = X[:6] + 0.1
    model = SparseGaussianProcessRegressor(KERNELS[name](), inducing=Z, noise_level=0.05,
                                           optimizer=None).fit(X, y)
    kernel, noise = model.kernel_, 0.05

    def bound(theta=None, log_noise_step=0.0, Zp=Z):
        k = kernel if theta is None else kernel.clone_with_theta(theta)
        return model._bound(k, noise * math.exp(log_noise_step), Zp, X, y, False)[0]

    _, (g_theta, g_noise, g_z) = model._bound(kernel, noise, Z, X, y, True)
    h = 1e-6
    fd = [(bound(kernel.theta + h * e) - bound(kernel.theta - h * e)) / (2 * h)
          for e in np.eye(kernel.n_dims)]
    assert_allclose(g_theta, fd, rtol=1e-5, atol=1e-6)
    fd_noise = (bound(log_noise_step=h) - bound(log_noise_step=-h)) / (2 * h)
    assert g_noise == pytest.approx(fd_noise, rel=1e-5)
    fd_z = np.zeros_like(Z)
    for idx in np.ndindex(Z.shape):
        step = np.zeros_like(Z)
        step[idx] = h
        fd_z[idx] = (bound(Zp=Z + step) - bound(Zp=Z - step)) / (2 * h)
    assert_allclose(g_z, fd_z, rtol=1e-5, atol=1e-6)


def test_predictive_rmse_within_5_percent_of_exact_gp_on_5000_points():
    rng = np.random.default_rng(0)
    X = rng.uniform(-3, 3, (5000, 3))
    y = target(X) + 0.1 * rng.standard_normal(5000)
    X_test = rng.uniform(-3, 3, (500, 3))
    # One thread: a 5000 x 5000 Cholesky is much cheaper serial on busy shared cores.
    with warnings.catch_warnings(), fastml.threads(1):
        warnings.simplefilter("ignore", fastml.ConvergenceWarning)
        sparse = SparseGaussianProcessRegressor(
            fk.ConstantKernel(1.0) * fk.RBF([1.0, 1.0, 1.0]), n_inducing=64, noise_level=0.1,
            max_iter=25, random_state=0).fit(X, y)
        exact = GaussianProcessRegressor(sparse.kernel_ + fk.WhiteKernel(sparse.noise_level_),
                                         optimizer=None).fit(X, y)
        exact_pred = exact.predict(X_test)
    rmse_sparse = np.sqrt(np.mean((sparse.predict(X_test) - target(X_test)) ** 2))
    rmse_exact = np.sqrt(np.mean((exact_pred - target(X_test)) ** 2))
    assert rmse_sparse <= 1.05 * rmse_exact, (rmse_sparse, rmse_exact)
    assert sparse.lower_bound_ <= exact.log_marginal_likelihood_value_
    assert sparse.inducing_points_.shape == (64, 3)


def test_fit_improves_the_bound_and_learns_the_noise():
    X, y = data(200)
    model = SparseGaussianProcessRegressor(fk.ConstantKernel(1.0) * fk.RBF(1.0), n_inducing=20,
                                           noise_level=1.0, random_state=0, max_iter=300)
    model.fit(X, y)
    start = SparseGaussianProcessRegressor(fk.ConstantKernel(1.0) * fk.RBF(1.0), n_inducing=20,
                                           noise_level=1.0, random_state=0, optimizer=None)
    assert model.lower_bound_ > start.fit(X, y).lower_bound_
    assert 0.003 < model.noise_level_ < 0.03  # true noise variance 0.01
    assert model.lower_bound(X, y) == pytest.approx(model.lower_bound_, rel=1e-10)
    fixed = SparseGaussianProcessRegressor(fk.RBF(1.0), n_inducing=20, noise_level=0.5,
                                           noise_level_bounds="fixed", optimize_inducing=False,
                                           random_state=0).fit(X, y)
    assert fixed.noise_level_ == 0.5
    assert_allclose(fixed.inducing_points_, start.inducing_points_)


def test_predict_dtype_shapes_and_normalize_y():
    X, y = data(60)
    model = SparseGaussianProcessRegressor(n_inducing=10, normalize_y=True, random_state=0)
    model.fit(X, 5 * y + 3)
    mean, std = model.predict(X[:7].astype(np.float32), return_std=True)
    assert mean.dtype == std.dtype == np.float32 and mean.shape == std.shape == (7,)
    assert np.all(std > 0)
    assert np.sqrt(np.mean((model.predict(X) - 5 * y - 3) ** 2)) < 0.5 * np.std(5 * y)
    assert model.predict(np.empty((0, 3))).shape == (0,)


def test_kmeans_plus_plus_picks_distinct_training_points():
    X, _ = data(100)
    Z = kmeans_plus_plus(X, 30, np.random.default_rng(0))
    assert Z.shape == (30, 3)
    assert len({tuple(z) for z in Z}) == 30
    assert all(any(np.array_equal(z, x) for x in X) for z in Z)
    assert_allclose(Z, kmeans_plus_plus(X, 30, np.random.default_rng(0)))
    model = SparseGaussianProcessRegressor(n_inducing=500, optimizer=None).fit(X, data(100)[1])
    assert model.inducing_points_.shape == (100, 3)  # capped at n


def test_bad_input():
    X, y = data(20)
    with pytest.raises(fastml.NotFittedError):
        SparseGaussianProcessRegressor().predict(X)
    with pytest.raises(ValueError, match="RBF, Matern or RationalQuadratic"):
        SparseGaussianProcessRegressor(fk.RBF(1.0) + fk.WhiteKernel(0.1)).fit(X, y)
    with pytest.raises(ValueError, match="RBF, Matern or RationalQuadratic"):
        SparseGaussianProcessRegressor(fk.ExpSineSquared(1.0, 1.0)).fit(X, y)
    with pytest.raises(ValueError, match="inducing must have shape"):
        SparseGaussianProcessRegressor(inducing=np.zeros((3, 2))).fit(X, y)
    with pytest.raises(ValueError, match="inducing"):
        SparseGaussianProcessRegressor(inducing="random").fit(X, y)
    with pytest.raises(ValueError, match="NaN"):
        SparseGaussianProcessRegressor().fit(np.where(X > 1.5, np.nan, X), y)
    with pytest.raises(ValueError, match="inconsistent"):
        SparseGaussianProcessRegressor().fit(X, y[:-1])
    with pytest.raises(ValueError, match="2-D"):
        SparseGaussianProcessRegressor().fit(X[:, :, None], y)
    with pytest.raises(ValueError, match="n_inducing"):
        SparseGaussianProcessRegressor(n_inducing=0).fit(X, y)
    with pytest.raises(ValueError, match="noise_level_bounds"):
        SparseGaussianProcessRegressor(noise_level_bounds=(0.0, 1.0)).fit(X, y)
    with pytest.raises(ValueError, match="requires y"):
        SparseGaussianProcessRegressor().fit(X, None)


def test_sklearn_check_estimator():
    """Passes scikit-learn's estimator checks except check_array_api_input (skipped by
    scikit-learn without SCIPY_ARRAY_API)."""
    from sklearn.utils.estimator_checks import check_estimator

    expected = {"check_array_api_input"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(SparseGaussianProcessRegressor(n_inducing=16, max_iter=20),
                                  on_fail=None)
    failed = {r["check_name"] for r in results if r["status"] != "passed"}
    assert failed == expected
