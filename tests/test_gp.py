"""fastml.gp: kernels and GaussianProcessRegressor against scikit-learn, the reference
and finite differences; online updates; bad input."""

import copy
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose

import fastml
from fastml.gp import GaussianProcessRegressor
from fastml.gp import kernels as fk
from fastml.gp._gpr import lml_and_factor
from fastml.reference import gp as reference

sk_gp = pytest.importorskip("sklearn.gaussian_process")
sk = pytest.importorskip("sklearn.gaussian_process.kernels")


def to_sklearn(kernel):
    """The scikit-learn kernel with the same class and parameters."""
    if isinstance(kernel, fk.KernelOperator):
        cls = {fk.Sum: sk.Sum, fk.Product: sk.Product}[type(kernel)]
        return cls(to_sklearn(kernel.k1), to_sklearn(kernel.k2))
    return getattr(sk, type(kernel).__name__)(**kernel.get_params())


def data(n=30, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, (n, d))
    y = np.sin(X).sum(axis=1) + 0.1 * rng.standard_normal(n)
    return X, y


# Kernels on 3-D inputs (ExpSineSquared is only positive definite in 1-D: own list).
KERNELS_3D = {
    "rbf": lambda: fk.RBF(1.3),
    "rbf_ard": lambda: fk.RBF([0.7, 1.5, 2.0]),
    "matern05_ard": lambda: fk.Matern([0.7, 1.5, 2.0], nu=0.5),
    "matern15": lambda: fk.Matern(1.1, nu=1.5),
    "matern25_ard": lambda: fk.Matern([0.9, 1.2, 0.6], nu=2.5),
    "matern_inf": lambda: fk.Matern(0.8, nu=np.inf),
    "rq": lambda: fk.RationalQuadratic(1.2, alpha=0.7),
    "dot": lambda: fk.DotProduct(0.5),
    "const": lambda: fk.ConstantKernel(2.0),
    "white": lambda: fk.WhiteKernel(0.3),
    "const_x_rbf": lambda: fk.ConstantKernel(2.0) * fk.RBF([1.0, 0.5, 2.0]),
    "rbf_plus_white": lambda: fk.RBF([1.0, 0.5, 2.0]) + fk.WhiteKernel(0.1),
    "matern_x_rq_plus_dot": lambda: fk.Matern(1.0, nu=2.5) * fk.RationalQuadratic(0.9, 2.0)
    + fk.DotProduct(0.3),
    "scalar_algebra": lambda: 2.0 * fk.RBF(1.0) + 0.5,
    "fixed_parts": lambda: fk.ConstantKernel(1.5, "fixed") * fk.RBF([1.0, 2.0, 0.5])
    + fk.WhiteKernel(0.2, noise_level_bounds="fixed"),
}
KERNELS_1D = {
    "expsine": lambda: fk.ExpSineSquared(1.1, 2.3),
    "expsine_x_rbf_plus_white": lambda: fk.ExpSineSquared(0.9, 1.7) * fk.RBF(3.0)
    + fk.WhiteKernel(0.05),
}
ALL = [(name, make, 3) for name, make in KERNELS_3D.items()] + \
      [(name, make, 1) for name, make in KERNELS_1D.items()]


def random_theta(kernel, rng):
    return kernel.theta + rng.uniform(-0.5, 0.5, kernel.n_dims)


@pytest.mark.parametrize(("name", "make", "d"), ALL, ids=[a[0] for a in ALL])
def test_kernel_matches_sklearn(name, make, d):
    rng = np.random.default_rng(1)
    X, _ = data(25, d)
    Y = rng.uniform(-2, 2, (7, d))
    ours = make()
    ours = ours.clone_with_theta(random_theta(ours, rng))
    theirs = to_sklearn(ours)
    assert_allclose(ours.theta, theirs.theta, rtol=1e-12)
    assert_allclose(ours.bounds, theirs.bounds, rtol=1e-12)
    assert [h.name for h in ours.hyperparameters] == \
        [h.name for h in theirs.hyperparameters]
    K, G = ours(X, eval_gradient=True)
    K_ref, G_ref = theirs(X, eval_gradient=True)
    assert_allclose(K, K_ref, rtol=1e-7, atol=1e-12)
    assert G.shape == G_ref.shape
    assert_allclose(G, G_ref, rtol=1e-7, atol=1e-12)
    assert_allclose(ours(X, Y), theirs(X, Y), rtol=1e-7, atol=1e-12)
    assert_allclose(ours.diag(X), theirs.diag(X), rtol=1e-12)
    assert ours.is_stationary() == theirs.is_stationary()


@pytest.mark.parametrize(("name", "make", "d"), ALL, ids=[a[0] for a in ALL])
def test_lml_and_gradient_match_sklearn(name, make, d):
    rng = np.random.default_rng(2)
    X, y = data(30, d)
    kernel = make()
    theta = random_theta(kernel, rng)
    ours = GaussianProcessRegressor(kernel, alpha=1e-2, optimizer=None).fit(X, y)
    theirs = sk_gp.GaussianProcessRegressor(to_sklearn(kernel), alpha=1e-2,
                                            optimizer=None).fit(X, y)
    lml, grad = ours.log_marginal_likelihood(theta, eval_gradient=True)
    lml_ref, grad_ref = theirs.log_marginal_likelihood(theta, eval_gradient=True)
    assert_allclose(lml, lml_ref, rtol=1e-7)
    assert_allclose(grad, grad_ref, rtol=1e-7, atol=1e-9 * np.abs(grad_ref).max())
    assert_allclose(ours.log_marginal_likelihood(theta), lml, rtol=1e-12)
    assert ours.log_marginal_likelihood() == ours.log_marginal_likelihood_value_


@pytest.mark.parametrize("name", ["rbf_ard", "matern05_ard", "matern15", "rq", "dot",
                                  "matern_x_rq_plus_dot", "fixed_parts"])
def test_gradient_matches_finite_differences(name):
    X, y = data(20)
    model = GaussianProcessRegressor(KERNELS_3D[name](), alpha=1e-2, optimizer=None).fit(X, y)
    theta = model.kernel_.theta + 0.1
    _, grad = model.log_marginal_likelihood(theta, eval_gradient=True)
    h = 1e-6
    fd = [(model.log_marginal_likelihood(theta + h * e) -
           model.log_marginal_likelihood(theta - h * e)) / (2 * h)
          for e in np.eye(theta.size)]
    assert_allclose(grad, fd, rtol=1e-5, atol=1e-6)


def test_gradient_of_multi_output_lml_matches_sklearn():
    X, y = data(25)
    Y = np.column_stack([y, np.cos(X[:, 0]), X[:, 1]])
    kernel = fk.RBF([1.0, 1.5, 0.8]) + fk.WhiteKernel(0.1)
    ours = GaussianProcessRegressor(kernel, optimizer=None).fit(X, Y)
    theirs = sk_gp.GaussianProcessRegressor(to_sklearn(kernel), optimizer=None).fit(X, Y)
    theta = kernel.theta - 0.2
    for a, b in zip(ours.log_marginal_likelihood(theta, True),
                    theirs.log_marginal_likelihood(theta, True)):
        assert_allclose(a, b, rtol=1e-7)


FIT_CASES = {
    "rbf_ard_white": (lambda: fk.RBF([1.0, 1.0, 1.0]) + fk.WhiteKernel(0.1), {}),
    "const_matern": (lambda: fk.ConstantKernel(1.0) * fk.Matern(1.0, nu=2.5),
                     {"alpha": 1e-4, "normalize_y": True}),
    "rq_per_sample_alpha": (lambda: fk.RationalQuadratic(1.0, 1.0),
                            {"alpha": np.linspace(0.01, 0.05, 40)}),
}


@pytest.mark.parametrize("name", list(FIT_CASES))
def test_fit_and_predict_match_sklearn(name):
    make, kw = FIT_CASES[name]
    X, y = data(40)
    X_test = np.random.default_rng(3).uniform(-2, 2, (9, 3))
    ours = GaussianProcessRegressor(make(), **kw).fit(X, y)
    theirs = sk_gp.GaussianProcessRegressor(to_sklearn(make()), **kw).fit(X, y)
    assert_allclose(ours.log_marginal_likelihood_value_,
                    theirs.log_marginal_likelihood_value_, rtol=1e-5)
    mean, std = ours.predict(X_test, return_std=True)
    mean_ref, std_ref = theirs.predict(X_test, return_std=True)
    assert_allclose(mean, mean_ref, rtol=1e-5, atol=1e-5)
    assert_allclose(std, std_ref, rtol=1e-5, atol=1e-5)
    _, cov = ours.predict(X_test, return_cov=True)
    assert_allclose(cov, theirs.predict(X_test, return_cov=True)[1], rtol=1e-5, atol=1e-5)
    assert_allclose(np.sqrt(np.diagonal(cov)), std, rtol=1e-6, atol=1e-7)
    assert ours.score(X, y) == pytest.approx(theirs.score(X, y), rel=1e-5)


def test_multi_output_predict_shapes_match_sklearn():
    X, y = data(20)
    Y = np.column_stack([y, 2 * y + 1])
    kernel = fk.RBF(1.0)
    ours = GaussianProcessRegressor(kernel, normalize_y=True, optimizer=None).fit(X, Y)
    theirs = sk_gp.GaussianProcessRegressor(to_sklearn(kernel), normalize_y=True,
                                            optimizer=None).fit(X, Y)
    for kw in ({}, {"return_std": True}, {"return_cov": True}):
        a, b = ours.predict(X[:5] + 0.1, **kw), theirs.predict(X[:5] + 0.1, **kw)
        for u, v in zip(a if kw else [a], b if kw else [b]):
            assert u.shape == v.shape
            assert_allclose(u, v, rtol=1e-6, atol=1e-8)
    assert ours.sample_y(X[:4], 3).shape == (4, 2, 3)


def test_restarts_are_reproducible_and_never_worse():
    X, y = data(30)
    kernel = fk.RBF([1.0, 1.0, 1.0]) + fk.WhiteKernel(0.1)
    one = GaussianProcessRegressor(kernel).fit(X, y)
    a = GaussianProcessRegressor(kernel, n_restarts_optimizer=2, random_state=0).fit(X, y)
    b = GaussianProcessRegressor(kernel, n_restarts_optimizer=2, random_state=0).fit(X, y)
    assert_allclose(a.kernel_.theta, b.kernel_.theta)
    assert a.log_marginal_likelihood_value_ >= one.log_marginal_likelihood_value_ - 1e-8
    assert kernel.theta == pytest.approx(np.log([1.0, 1.0, 1.0, 0.1]))  # not modified
    with pytest.raises(ValueError, match="finite bounds"):
        GaussianProcessRegressor(fk.RBF(1.0, (1e-5, np.inf)), n_restarts_optimizer=1).fit(X, y)


def test_callable_optimizer_and_reference_lml():
    X, y = data(30)
    theta0 = np.log([1.0, 1.0, 1.0, 0.1])
    calls = []

    def optimizer(obj_func, initial_theta, bounds):
        calls.append(bounds.shape)
        value, grad = obj_func(initial_theta)
        assert grad.shape == initial_theta.shape
        return initial_theta, value

    model = GaussianProcessRegressor(fk.RBF([1.0, 1.0, 1.0]) + fk.WhiteKernel(0.1),
                                     optimizer=optimizer).fit(X, y)
    assert calls == [(4, 2)]
    K, dK = reference.rbf_white_kernel(X, theta0)
    lml, grad = reference.log_marginal_likelihood(K, dK, y, 1e-10)
    ours = model.log_marginal_likelihood(theta0, True)
    assert_allclose(ours[0], lml, rtol=1e-10)
    assert_allclose(ours[1], grad, rtol=1e-8)


def test_float32_inputs():
    X, y = data(30)
    kernel = fk.Matern([1.0, 0.5, 2.0], nu=1.5) + fk.WhiteKernel(0.1)
    K32 = kernel(X.astype(np.float32))
    assert K32.dtype == np.float32
    assert_allclose(K32, kernel(X), rtol=1e-5, atol=1e-6)
    assert kernel(X.astype(np.float32), X[:3]).dtype == np.float64
    model = GaussianProcessRegressor(kernel).fit(X.astype(np.float32), y.astype(np.float32))
    mean, std = model.predict(X[:5].astype(np.float32), return_std=True)
    assert mean.dtype == std.dtype == np.float32
    assert_allclose(mean, model.predict(X[:5]), rtol=1e-5, atol=1e-6)


def test_add_observations_equals_refit():
    X, y = data(45)
    kernel = fk.ConstantKernel(1.5) * fk.RBF([1.0, 0.7, 1.3]) + fk.WhiteKernel(0.05)
    X_test = X[:6] + 0.05
    for normalize_y in (False, True):
        model = GaussianProcessRegressor(kernel, normalize_y=normalize_y).fit(X[:30], y[:30])
        theta = model.kernel_.theta
        model.add_observations(X[30:31], y[30:31]).add_observations(X[31:], y[31:])
        refit = GaussianProcessRegressor(model.kernel_, optimizer=None,
                                         normalize_y=normalize_y).fit(X, y)
        assert_allclose(model.kernel_.theta, theta)
        assert_allclose(model.L_, refit.L_, rtol=1e-8, atol=1e-10)
        for a, b in zip(model.predict(X_test, return_std=True),
                        refit.predict(X_test, return_std=True)):
            assert_allclose(a, b, rtol=1e-8, atol=1e-10)
        assert_allclose(model.log_marginal_likelihood_value_,
                        refit.log_marginal_likelihood_value_, rtol=1e-10)


def test_add_observations_with_per_sample_noise():
    X, y = data(25)
    alpha = np.full(25, 0.02)
    model = GaussianProcessRegressor(fk.RBF(1.0), alpha=alpha[:20], optimizer=None)
    model.fit(X[:20], y[:20])
    with pytest.raises(ValueError, match="alpha"):
        model.add_observations(X[20:], y[20:])
    model.add_observations(X[20:], y[20:], alpha=alpha[20:])
    refit = GaussianProcessRegressor(fk.RBF(1.0), alpha=alpha, optimizer=None).fit(X, y)
    assert_allclose(model.predict(X[:3] + 0.1), refit.predict(X[:3] + 0.1), rtol=1e-9)
    with pytest.raises(ValueError, match="y_new"):
        model.add_observations(X[:2], y[:3], alpha=0.1)


def test_sample_y_moments():
    X, y = data(15)
    model = GaussianProcessRegressor(fk.RBF(1.0) + fk.WhiteKernel(0.1)).fit(X, y)
    X_test = X[:3] + 0.3
    draws = model.sample_y(X_test, n_samples=4000, random_state=0)
    assert draws.shape == (3, 4000)
    mean, std = model.predict(X_test, return_std=True)
    se = std / np.sqrt(4000)
    assert np.all(np.abs(draws.mean(axis=1) - mean) < 5 * se)
    assert_allclose(draws.std(axis=1), std, rtol=5 / np.sqrt(2 * 4000) * 2)
    assert_allclose(model.sample_y(X_test, 2, random_state=1),
                    model.sample_y(X_test, 2, random_state=1))


def test_non_positive_definite_is_jittered_or_minus_infinity():
    X, y = data(20)
    X = np.vstack([X, X[:5]])      # duplicated points: K singular without noise
    y = np.concatenate([y, y[:5]])
    model = GaussianProcessRegressor(fk.RBF(1.0), alpha=0.0, optimizer=None)
    with pytest.warns(fastml.JitterWarning):
        model.fit(X, y)
    assert np.isfinite(model.log_marginal_likelihood_value_)
    # ExpSineSquared on 3-D inputs is not positive definite: jitter cannot help.
    X3, y3 = data(30)
    kernel = fk.ExpSineSquared(1.1, 2.3) + fk.WhiteKernel(1e-3)
    with pytest.warns(fastml.JitterWarning, match="-inf"):
        lml, grad, L, _ = lml_and_factor(kernel, X3, y3[:, None], 1e-3, True)
    assert lml == -np.inf and np.all(grad == 0) and L is None
    with pytest.warns(fastml.JitterWarning), \
            pytest.raises(fastml.NotPositiveDefiniteError, match="increase alpha"):
        GaussianProcessRegressor(kernel, optimizer=None).fit(X3, y3)


def test_empty_single_sample_and_prediction_edge_cases():
    X, y = data(1)
    model = GaussianProcessRegressor(fk.RBF(1.0), optimizer=None).fit(X, y)
    assert_allclose(model.predict(X), y, rtol=1e-6)
    assert model.predict(np.empty((0, 3))).shape == (0,)
    mean, std = model.predict(np.empty((0, 3)), return_std=True)
    assert mean.shape == std.shape == (0,)
    assert model.predict(np.empty((0, 3)), return_cov=True)[1].shape == (0, 0)
    with pytest.raises(ValueError, match="sample"):
        GaussianProcessRegressor().fit(np.empty((0, 3)), np.empty(0))


BAD_INPUTS = [
    ("nan_X", lambda X, y: (np.where(X == X[0, 0], np.nan, X), y), ValueError, "NaN"),
    ("inf_y", lambda X, y: (X, np.where(y == y[0], np.inf, y)), ValueError, "NaN or inf"),
    ("mismatched", lambda X, y: (X, y[:-1]), ValueError, "inconsistent"),
    ("3d_X", lambda X, y: (X[:, :, None], y), ValueError, "2-D"),
    ("y_none", lambda X, y: (X, None), ValueError, "requires y"),
]


@pytest.mark.parametrize(("name", "corrupt", "exc", "match"), BAD_INPUTS,
                         ids=[b[0] for b in BAD_INPUTS])
def test_bad_fit_input(name, corrupt, exc, match):
    X, y = data(10)
    with pytest.raises(exc, match=match):
        GaussianProcessRegressor().fit(*corrupt(X, y))


def test_bad_parameters_and_usage():
    X, y = data(10)
    with pytest.raises(fastml.NotFittedError):
        GaussianProcessRegressor().predict(X)
    with pytest.raises(fastml.NotFittedError):
        GaussianProcessRegressor().sample_y(X)
    model = GaussianProcessRegressor(fk.RBF([1.0, 2.0, 3.0])).fit(X, y)
    with pytest.raises(ValueError, match="return_std and return_cov"):
        model.predict(X, return_std=True, return_cov=True)
    with pytest.raises(ValueError, match="features"):
        model.predict(X[:, :2])
    with pytest.raises(ValueError, match="theta must have 3"):
        model.log_marginal_likelihood(np.zeros(2))
    with pytest.raises(ValueError, match="given theta"):
        model.log_marginal_likelihood(eval_gradient=True)
    with pytest.raises(ValueError, match="alpha must be a scalar"):
        GaussianProcessRegressor(alpha=np.ones(3)).fit(X, y)
    with pytest.raises(ValueError, match="optimizer"):
        GaussianProcessRegressor(optimizer="adam").fit(X, y)
    with pytest.raises(TypeError, match="kernel"):
        GaussianProcessRegressor(kernel=sk.RBF()).fit(X, y)
    with pytest.raises(ValueError, match="same number of dimensions"):
        fk.RBF([1.0, 2.0])(X)
    with pytest.raises(ValueError, match="isotropic"):
        fk.RationalQuadratic([1.0, 2.0, 3.0])(X)
    with pytest.raises(ValueError, match="nu"):
        fk.Matern(1.0, nu=0.7)(X)
    with pytest.raises(ValueError, match="eval_gradient"):
        fk.RBF(1.0)(X, X, eval_gradient=True)
    with pytest.raises(ValueError, match="bounds"):
        _ = fk.RBF(1.0, (-1.0, 2.0)).bounds
    with pytest.raises(ValueError, match="theta has 2"):
        fk.RBF(1.0).theta = [0.0, 1.0]


def test_params_clone_and_equality():
    kernel = fk.ConstantKernel(2.0) * fk.RBF([1.0, 2.0]) + fk.WhiteKernel(0.5)
    params = kernel.get_params()
    assert params["k1__k2__length_scale"] == [1.0, 2.0]
    twin = kernel.clone_with_theta(kernel.theta)
    assert twin == kernel and twin is not kernel
    twin.set_params(k2__noise_level=0.25)
    assert twin != kernel and kernel.k2.noise_level == 0.5
    assert "RBF" in repr(kernel)
    model = GaussianProcessRegressor(kernel, alpha=0.1)
    assert model.get_params()["kernel__k2__noise_level"] == 0.5
    assert copy.deepcopy(model).get_params()["alpha"] == 0.1


def test_sklearn_check_estimator():
    """Passes scikit-learn's estimator checks except check_array_api_input, which
    scikit-learn skips without SCIPY_ARRAY_API."""
    from sklearn.utils.estimator_checks import check_estimator

    expected = {"check_array_api_input"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(GaussianProcessRegressor(), on_fail=None)
    failed = {r["check_name"] for r in results if r["status"] != "passed"}
    assert failed == expected
