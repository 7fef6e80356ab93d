"""gp suite: Gaussian-process fit, LML + gradient, prediction and online updates.

All cases use 3-D inputs and the ARD RBF + white-noise kernel, the same theta for every
implementation. ``fit`` runs L-BFGS-B with a fixed budget of LML evaluations (scikit-learn
takes the same optimizer callable), so the time compares equal work.
"""

import copy

import numpy as np

from fastml.benchmarks import Case, Impl, register
from fastml.reference import gp as reference

THETA0 = np.log([1.0, 1.0, 1.0, 0.1])  # length scales, noise level
FIT_EVALUATIONS = 5
NOISE = 1e-10  # the estimator's alpha


def regression_data(n, rng, d=3):
    """Smooth function of 3-D uniform inputs plus N(0, 0.1^2) noise."""
    X = rng.uniform(-3, 3, (n, d))
    y = np.sin(X[:, 0]) + np.cos(X[:, 1]) * X[:, 2] / 3 + 0.1 * rng.standard_normal(n)
    return X, y


def budget_lbfgs(obj_func, initial_theta, bounds):
    """L-BFGS-B stopped after FIT_EVALUATIONS evaluations of the LML and its gradient."""
    from scipy.optimize import minimize

    res = minimize(obj_func, initial_theta, method="L-BFGS-B", jac=True, bounds=bounds,
                   options={"maxfun": FIT_EVALUATIONS})
    return res.x, res.fun


def fastml_kernel(theta):
    from fastml.gp.kernels import RBF, WhiteKernel

    return RBF(np.exp(theta[:-1])) + WhiteKernel(float(np.exp(theta[-1])))


def sklearn_kernel(theta):
    from sklearn.gaussian_process.kernels import RBF, WhiteKernel

    return RBF(np.exp(theta[:-1])) + WhiteKernel(float(np.exp(theta[-1])))


def _fastml_gpr(theta, **kw):
    from fastml.gp import GaussianProcessRegressor

    return GaussianProcessRegressor(fastml_kernel(theta), alpha=NOISE, **kw)


def _sklearn_gpr(theta, **kw):
    from sklearn.gaussian_process import GaussianProcessRegressor

    return GaussianProcessRegressor(sklearn_kernel(theta), alpha=NOISE, **kw)


def _fit_setup(n, rng):
    X, y = regression_data(n, rng)
    return {"X": X, "y": y}


register(Case(
    suite="gp", name="fit",
    description=f"GaussianProcessRegressor.fit, RBF(ARD) + White on 3-D inputs, "
                f"L-BFGS-B with {FIT_EVALUATIONS} LML+gradient evaluations; answer: the "
                "fitted log marginal likelihood.",
    setup=_fit_setup,
    sizes=[500, 1000, 2000, 3000], quick_sizes=[60], test_sizes=[25],
    rtol=1e-5,
    impls=[
        Impl("fastml", lambda X, y: _fastml_gpr(THETA0, optimizer=budget_lbfgs)
             .fit(X, y).log_marginal_likelihood_value_),
        Impl("reference", lambda X, y: reference.fit_rbf_white(
            X, y, THETA0, alpha=NOISE, maxfun=FIT_EVALUATIONS)[1], max_size=1000),
        Impl("sklearn", lambda X, y: _sklearn_gpr(THETA0, optimizer=budget_lbfgs)
             .fit(X, y).log_marginal_likelihood_value_, requires=("sklearn",)),
    ],
))


def _fitted(make):
    def prepare(inputs):
        model = make(THETA0, optimizer=None).fit(inputs["X"], inputs["y"])
        return {**inputs, "model": model}
    return prepare


def _reference_lml(X, y):
    K, dK = reference.rbf_white_kernel(X, THETA0)
    return reference.log_marginal_likelihood(K, dK, y, NOISE)


register(Case(
    suite="gp", name="lml_grad",
    description="Log marginal likelihood and its gradient at a given theta (one "
                "optimizer step): potrf + potri + contraction vs the n x n x p tensor.",
    setup=_fit_setup,
    sizes=[1000, 3000], quick_sizes=[100], test_sizes=[1, 20],
    flops=lambda n: n**3,
    rtol=1e-7, atol=1e-9,
    impls=[
        Impl("fastml", lambda X, y, model: model.log_marginal_likelihood(THETA0, True),
             prepare=_fitted(_fastml_gpr)),
        Impl("reference", _reference_lml, max_size=1000),
        Impl("sklearn", lambda X, y, model: model.log_marginal_likelihood(THETA0, True),
             prepare=_fitted(_sklearn_gpr), requires=("sklearn",)),
    ],
))


def _predict_setup(size, rng):
    n, m = size
    X, y = regression_data(n, rng)
    return {"X": X, "y": y, "X_test": rng.uniform(-3, 3, (m, 3))}


def _reference_predict(X, y, X_test):
    mean, var = reference.predict(X, y, X_test, THETA0, NOISE)
    return mean, np.sqrt(var)


register(Case(
    suite="gp", name="predict_std",
    description="Posterior mean and standard deviation at m test points (n training "
                "points): kernel block, GEMV, triangular solve.",
    setup=_predict_setup,
    sizes=[(2000, 10000)], quick_sizes=[(100, 200)], test_sizes=[(1, 3), (20, 15)],
    size_key=lambda size: size[1],
    size_label=lambda size: f"n={size[0]},m={size[1]}",
    rtol=1e-6, atol=1e-8,
    impls=[
        Impl("fastml", lambda X, y, X_test, model: model.predict(X_test, return_std=True),
             prepare=_fitted(_fastml_gpr)),
        Impl("reference", _reference_predict, max_size=1000),
        Impl("sklearn", lambda X, y, X_test, model: model.predict(X_test, return_std=True),
             prepare=_fitted(_sklearn_gpr), requires=("sklearn",)),
    ],
))


def _update_setup(size, rng):
    n, m = size
    X, y = regression_data(n + m + 20, rng)
    return {"X": X[:n], "y": y[:n], "X_new": X[n:n + m], "y_new": y[n:n + m],
            "X_test": X[n + m:]}


def _add_observations(X, y, X_new, y_new, X_test, model):
    grown = copy.copy(model)  # add_observations replaces arrays, never mutates them
    return grown.add_observations(X_new, y_new).predict(X_test)


def _refit(make):
    def fn(X, y, X_new, y_new, X_test):
        model = make(THETA0, optimizer=None)
        return model.fit(np.vstack([X, X_new]), np.concatenate([y, y_new])).predict(X_test)
    return fn


register(Case(
    suite="gp", name="add_observations",
    description="Condition a fitted GP on m new points: O(n^2 m) Cholesky growth vs a "
                "refit with the same kernel (answer: predictions at 20 test points).",
    setup=_update_setup,
    sizes=[(1000, 50), (3000, 100)], quick_sizes=[(100, 10)], test_sizes=[(5, 1), (20, 7)],
    size_key=lambda size: size[0],
    size_label=lambda size: f"n={size[0]},m={size[1]}",
    rtol=1e-6, atol=1e-8,
    impls=[
        Impl("fastml", _add_observations, prepare=_fitted(_fastml_gpr)),
        Impl("fastml-refit", _refit(_fastml_gpr)),
        Impl("sklearn-refit", _refit(_sklearn_gpr), requires=("sklearn",)),
    ],
))


SPARSE_ITERATIONS = 10
SPARSE_LENGTH_SCALE = [1.0, 1.0, 1.0]


def _sparse_setup(size, rng):
    n, m = size
    X, y = regression_data(n, rng)
    from fastml.gp._sparse import kmeans_plus_plus

    return {"X": X, "y": y, "Z": kmeans_plus_plus(X, m, rng)}


def _sparse_model(Z, **kw):
    from fastml.gp import SparseGaussianProcessRegressor
    from fastml.gp.kernels import RBF, ConstantKernel

    return SparseGaussianProcessRegressor(ConstantKernel(1.0) * RBF(SPARSE_LENGTH_SCALE),
                                          inducing=Z, noise_level=0.1, **kw)


def _sparse_bound(X, y, Z, model):
    F, _ = model._bound(model.kernel_, model.noise_level_, Z, X, y, True)
    return F


register(Case(
    suite="gp", name="sparse_bound",
    description="Titsias collapsed bound and its gradient (hyperparameters, noise, "
                "inducing inputs) for n points and m inducing inputs, O(n m^2); the "
                "reference forms the n x n matrices of the paper (answer: the bound).",
    setup=_sparse_setup,
    sizes=[(10000, 256), (100000, 256)], quick_sizes=[(300, 16)],
    test_sizes=[(30, 5), (40, 40)],
    size_key=lambda size: size[0],
    size_label=lambda size: f"n={size[0]},m={size[1]}",
    flops=lambda size: 4 * size[0] * size[1] ** 2,
    rtol=1e-7,
    impls=[
        Impl("fastml", _sparse_bound,
             prepare=lambda inputs: {**inputs, "model": _sparse_model(
                 inputs["Z"], optimizer=None).fit(inputs["X"], inputs["y"])}),
        Impl("reference", lambda X, y, Z: reference.sgpr_bound(
            X, y, Z, 1.0, SPARSE_LENGTH_SCALE, 0.1, jitter=1e-6), max_size=2000),
    ],
))


def _sparse_fit(X, y, Z):
    import warnings

    from fastml import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return _sparse_model(Z, max_iter=SPARSE_ITERATIONS).fit(X, y).lower_bound_


register(Case(
    suite="gp", name="sparse_fit",
    description=f"SparseGaussianProcessRegressor.fit on 3-D data: {SPARSE_ITERATIONS} "
                "L-BFGS-B iterations over the kernel hyperparameters, the noise and the "
                "m x 3 inducing inputs. No installed peer fits a sparse GP (correctness of "
                "the bound: gp/sparse_bound and the tests).",
    setup=_sparse_setup,
    sizes=[(100000, 256)], quick_sizes=[(300, 16)], test_sizes=[(40, 6)],
    size_key=lambda size: size[0],
    size_label=lambda size: f"n={size[0]},m={size[1]}",
    rates=lambda size, answer: {"points": size[0]},
    compare=False,
    impls=[Impl("fastml", _sparse_fit)],
))
