"""fastml.optimize.minimize against SciPy, scikit-learn and the textbook reference."""

import numpy as np
import pytest
import scipy.optimize

from fastml.optimize import OptimizeResult, minimize
from fastml.reference import optimize as reference

ROSEN = (scipy.optimize.rosen, scipy.optimize.rosen_der, scipy.optimize.rosen_hess)


def scipy_tight(fun, x0, jac, method="BFGS", **kw):
    opts = {"gtol": 1e-12, "maxiter": 10_000}
    if method == "L-BFGS-B":
        opts.update(ftol=1e-16, maxcor=10)
    return scipy.optimize.minimize(fun, x0, jac=jac, method=method, options=opts, **kw).x


def quadratic(n=8, seed=0):
    rng = np.random.default_rng(seed)
    M = rng.standard_normal((n, n))
    P = M @ M.T / n + np.eye(n)
    q = rng.standard_normal(n)
    return P, q, (lambda x: 0.5 * x @ P @ x + q @ x), (lambda x: P @ x + q)


def logistic(n=300, d=6, seed=1, l2=1e-2):
    """Mean logistic loss with an L2 penalty, labels in {-1, +1}."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = np.sign(X @ rng.standard_normal(d) + 0.5 * rng.standard_normal(n))

    def fun(w):
        z = y * (X @ w)
        return np.mean(np.logaddexp(0.0, -z)) + 0.5 * l2 * w @ w

    def jac(w):
        z = y * (X @ w)
        return -(X.T @ (y * scipy.special.expit(-z))) / n + l2 * w

    def hess(w):
        p = scipy.special.expit(y * (X @ w))
        return (X.T * (p * (1 - p))) @ X / n + l2 * np.eye(d)
    return fun, jac, hess


@pytest.mark.parametrize("method", ["bfgs", "lbfgs", "cg", "newton"])
def test_rosenbrock_same_optimum_as_scipy(method):
    fun, jac, hess = ROSEN
    x0 = np.array([-1.2, 1.0])
    res = minimize(fun, x0, jac=jac, hess=hess, method=method, tol=1e-10,
                   options={"ftol": 0.0} if method == "lbfgs" else None)
    assert isinstance(res, OptimizeResult) and res.success, res.message
    np.testing.assert_allclose(res.x, scipy_tight(fun, x0, jac), atol=1e-8)
    assert res.nit > 5 and res.nfev >= res.nit
    assert res.fun == pytest.approx(fun(res.x))


def test_rosenbrock_5d_lbfgs_and_reference():
    fun, jac, _ = ROSEN
    x0 = np.array([1.3, 0.7, 0.8, 1.9, 1.2])
    res = minimize(fun, x0, jac=jac, method="lbfgs", tol=1e-10, options={"ftol": 0.0})
    np.testing.assert_allclose(res.x, scipy_tight(fun, x0, jac, "L-BFGS-B"), atol=1e-8)
    np.testing.assert_allclose(res.x, reference.minimize(fun, x0, jac=jac, tol=1e-10),
                               atol=1e-7)


@pytest.mark.parametrize("method, options", [
    ("gd", {"step": "exact"}), ("gd", {"step": "armijo"}), ("gd", {"step": "fixed", "lr": 0.3}),
    ("momentum", {"lr": 0.1}), ("nesterov", {"lr": 0.1}), ("adagrad", {"lr": 0.5}),
    ("adam", {"lr": 0.05}), ("newton", None), ("bfgs", None), ("cg", None),
    ("lbfgs", {"ftol": 0.0}),
])
def test_convex_quadratic_all_methods(method, options):
    P, q, fun, jac = quadratic()
    res = minimize(fun, np.zeros(8), jac=jac, hess=lambda x: P, method=method, tol=1e-10,
                   options=options, max_iter=50_000)
    # Armijo stops when f decreases at round-off level: |g| ~ sqrt(eps) there
    atol = 1e-6 if options == {"step": "armijo"} else 1e-8
    np.testing.assert_allclose(res.x, np.linalg.solve(P, -q), atol=atol)


def test_rmsprop_reaches_the_neighbourhood():
    """Constant-step RMSProp oscillates at O(lr) around the optimum."""
    P, q, fun, jac = quadratic()
    res = minimize(fun, np.zeros(8), jac=jac, method="rmsprop", options={"lr": 5e-3},
                   max_iter=1000)
    np.testing.assert_allclose(res.x, np.linalg.solve(P, -q), atol=2e-2)


@pytest.mark.parametrize("method", ["lbfgs", "bfgs", "newton", "cg"])
def test_logistic_regression_matches_scipy(method):
    fun, jac, hess = logistic()
    res = minimize(fun, np.zeros(6), jac=jac, hess=hess, method=method, tol=1e-11,
                   options={"ftol": 0.0} if method == "lbfgs" else None)
    expected = scipy_tight(fun, np.zeros(6), jac, "L-BFGS-B")
    np.testing.assert_allclose(res.x, expected, atol=1e-8)


def test_finite_difference_gradient_and_hessian():
    fun, jac, _ = logistic()
    res = minimize(fun, np.zeros(6), method="newton", tol=1e-8)
    np.testing.assert_allclose(res.x, scipy_tight(fun, np.zeros(6), jac), atol=1e-6)


def test_bounded_lbfgs_matches_lbfgsb():
    P, q, fun, jac = quadratic(10, 3)
    bounds = [(-0.2, 0.3)] * 5 + [(None, 0.0), (0.1, None), (None, None), (-1, 1), (0, 0)]
    res = minimize(fun, np.ones(10), jac=jac, method="lbfgs", bounds=bounds, tol=1e-10,
                   options={"ftol": 0.0})
    expected = scipy_tight(fun, np.ones(10), jac, "L-BFGS-B", bounds=bounds)
    np.testing.assert_allclose(res.x, expected, atol=1e-8)
    lo = np.array([b[0] if b[0] is not None else -np.inf for b in bounds])
    assert np.all(res.x >= lo)
    box = minimize(fun, np.ones(10), jac=jac, method="fista", bounds=bounds, tol=1e-10,
                   options={"prox": "box"}, max_iter=20_000)
    np.testing.assert_allclose(box.x, expected, atol=1e-8)
    bounds_obj = scipy.optimize.Bounds(np.full(10, -0.1), np.full(10, 0.1))
    res = minimize(fun, np.zeros(10), jac=jac, bounds=bounds_obj, tol=1e-10,
                   options={"ftol": 0.0})
    np.testing.assert_allclose(
        res.x, scipy_tight(fun, np.zeros(10), jac, "L-BFGS-B", bounds=bounds_obj), atol=1e-8)


@pytest.mark.parametrize("method", ["proximal", "fista"])
def test_lasso_matches_sklearn(method):
    from sklearn.linear_model import Lasso

    rng = np.random.default_rng(5)
    X = rng.standard_normal((80, 12))
    y = X[:, :3] @ np.array([2.0, -1.0, 0.5]) + 0.1 * rng.standard_normal(80)
    alpha = 0.1

    def fun(w):
        r = X @ w - y
        return 0.5 * r @ r / 80

    def jac(w):
        return X.T @ (X @ w - y) / 80
    res = minimize(fun, np.zeros(12), jac=jac, method=method, tol=1e-10, max_iter=50_000,
                   options={"prox": "l1", "lam": alpha})
    lasso = Lasso(alpha=alpha, fit_intercept=False, tol=1e-14, max_iter=100_000).fit(X, y)
    np.testing.assert_allclose(res.x, lasso.coef_, atol=1e-8)
    assert res.fun == pytest.approx(fun(res.x) + alpha * np.abs(res.x).sum())


def test_simplex_projection_matches_reference():
    v = np.random.default_rng(6).standard_normal(15)

    def fun(x):
        return 0.5 * (x - v) @ (x - v)
    res = minimize(fun, np.zeros(15), jac=lambda x: x - v, method="proximal",
                   options={"prox": "simplex", "lam": 2.0}, tol=1e-12)
    np.testing.assert_allclose(res.x, reference.project_simplex(v, 2.0), atol=1e-10)
    assert res.x.sum() == pytest.approx(2.0) and res.x.min() >= 0


def test_njit_objective_runs_compiled():
    from numba import njit

    @njit
    def fg(x):
        f = 0.0
        g = np.zeros_like(x)
        for i in range(x.size):
            f += (i + 1.0) * (x[i] - 1.0) ** 2
            g[i] = 2.0 * (i + 1.0) * (x[i] - 1.0)
        return f, g
    res = minimize(fg, np.zeros(6), jac=True, method="gd", tol=1e-10)
    np.testing.assert_allclose(res.x, np.ones(6), atol=1e-9)
    python = minimize(fg.py_func, np.zeros(6), jac=True, method="gd", tol=1e-10)
    np.testing.assert_allclose(res.x, python.x, atol=1e-12)
    assert res.nit == python.nit


def test_callback_stops_and_sees_iterates():
    fun, jac, _ = ROSEN
    seen = []

    def callback(x):
        seen.append(x.copy())
        return len(seen) == 3
    res = minimize(fun, np.array([-1.2, 1.0]), jac=jac, method="bfgs", callback=callback)
    assert len(seen) == 3 and res.nit == 3 and not res.success
    np.testing.assert_array_equal(res.x, seen[-1])


def test_bad_input_names_the_argument():
    fun, jac, _ = ROSEN
    with pytest.raises(ValueError, match="fun\\(x0\\) is not finite"):
        minimize(lambda x: np.log(x[0]) if x[0] > 0 else np.nan, np.array([-1.0]))
    with pytest.raises(ValueError, match="lb > ub"):
        minimize(fun, np.zeros(2), bounds=[(0, 1), (2, 1)])
    with pytest.raises(ValueError, match="bounds are supported"):
        minimize(fun, np.zeros(2), method="bfgs", bounds=[(0, 1), (0, 1)])
    with pytest.raises(ValueError, match="bounds must have one"):
        minimize(fun, np.zeros(2), bounds=[(0, 1)])
    with pytest.raises(ValueError, match="method"):
        minimize(fun, np.zeros(2), method="sgd")
    with pytest.raises(ValueError, match="unknown option"):
        minimize(fun, np.zeros(2), method="adam", options={"momentum": 0.9})
    with pytest.raises(ValueError, match="x0 must be 1-D"):
        minimize(fun, np.zeros((2, 2)))
    with pytest.raises(ValueError, match="x0 contains NaN"):
        minimize(fun, np.array([np.nan, 1.0]))
    with pytest.raises(ValueError, match="needs hess"):
        minimize(fun, np.zeros(2), jac=jac, method="gd", options={"step": "exact"})
    with pytest.raises(TypeError, match="jac must be callable"):
        minimize(fun, np.zeros(2), jac="2-point")


def test_equality_qp_by_lagrange_multipliers():
    from fastml.optimize import solve_equality_qp, solve_qp

    rng = np.random.default_rng(8)
    M = rng.standard_normal((6, 6))
    P, q = M @ M.T + np.eye(6), rng.standard_normal(6)
    A, b = rng.standard_normal((2, 6)), rng.standard_normal(2)
    res = solve_equality_qp(P, q, A, b)
    K = np.block([[P, A.T], [A, np.zeros((2, 2))]])
    expected = np.linalg.solve(K, np.concatenate([-q, b]))
    np.testing.assert_allclose(res.x, expected[:6], atol=1e-12)
    np.testing.assert_allclose(res.y, expected[6:], atol=1e-12)
    assert res.primal_residual <= 1e-12 and res.dual_residual <= 1e-12
    np.testing.assert_allclose(solve_qp(P, q, A=A, b=b).y, res.y, atol=1e-9)
    singular = np.diag([1.0, 1.0, 0.0, 0.0, 1.0, 1.0])  # PD only on the null space of A
    A2 = np.zeros((2, 6))
    A2[0, 2] = A2[1, 3] = 1.0
    res = solve_equality_qp(singular, q, A2, b)
    np.testing.assert_allclose(res.x[2:4], b, atol=1e-12)
    with pytest.raises(ValueError, match="A must have 6 columns"):
        solve_equality_qp(P, q, np.ones((2, 5)), b)


def hs071():
    """Hock-Schittkowski 71 (the Ipopt example): known optimum f = 17.0140173."""
    def f(x):
        return x[0] * x[3] * (x[0] + x[1] + x[2]) + x[2]

    def g(x):
        return np.array([x[3] * (2 * x[0] + x[1] + x[2]), x[0] * x[3], x[0] * x[3] + 1,
                         x[0] * (x[0] + x[1] + x[2])])

    def eq(x):
        return np.array([x @ x - 40.0])

    def eq_jac(x):
        return 2 * x[None, :]

    def ineq(x):
        return np.concatenate([[25.0 - np.prod(x)], 1.0 - x, x - 5.0])

    def ineq_jac(x):
        return np.vstack([-np.prod(x) / x, -np.eye(4), np.eye(4)])
    return f, g, eq, eq_jac, ineq, ineq_jac


def test_augmented_lagrangian_matches_slsqp():
    from fastml.optimize import minimize_constrained

    f, g, eq, eq_jac, ineq, ineq_jac = hs071()
    x0 = np.array([1.0, 5.0, 5.0, 1.0])
    res = minimize_constrained(f, x0, jac=g, eq=eq, eq_jac=eq_jac, ineq=ineq,
                               ineq_jac=ineq_jac)
    slsqp = scipy.optimize.minimize(
        f, x0, jac=g, method="SLSQP", options={"ftol": 1e-14, "maxiter": 500},
        constraints=[{"type": "eq", "fun": eq, "jac": eq_jac},
                     {"type": "ineq", "fun": lambda x: -ineq(x), "jac": lambda x: -ineq_jac(x)}])
    assert res.success and res.constr_violation <= 1e-8
    np.testing.assert_allclose(res.x, slsqp.x, atol=1e-6)
    assert res.fun == pytest.approx(17.0140173, rel=1e-7)
    assert np.all(res.z >= 0) and res.z[0] > 0  # the product constraint is active
    with pytest.raises(ValueError, match="eq_jac\\(x0\\) must have shape"):
        minimize_constrained(f, x0, jac=g, eq=eq, eq_jac=lambda x: np.ones((2, 4)))
    with pytest.raises(TypeError, match="ineq and ineq_jac"):
        minimize_constrained(f, x0, jac=g, ineq=ineq)
