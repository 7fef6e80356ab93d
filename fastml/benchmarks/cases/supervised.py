"""supervised suite: least squares, ridge, lasso, logistic regression, kernel SVC.

fastml and scikit-learn run at the same tolerance; the references (normal equations,
gradient descent, naive coordinate descent, Newton written out, plain-Python SMO) run at
reduced sizes only. Sizes are (n_samples, n_features).
"""

import warnings

import numpy as np

from fastml import linear_model, svm
from fastml.benchmarks import Case, Impl, register
from fastml.reference import linear_model as ref
from fastml.reference import svm as ref_svm

SK = ("sklearn",)


def _regression(size, rng, n_informative=None):
    n, p = size
    X = rng.standard_normal((n, p))
    w = rng.standard_normal(p)
    if n_informative is not None:
        w[n_informative:] = 0
    y = X @ w + 0.5 * rng.standard_normal(n) + 1.0
    return X, y


def _coef(model):
    return np.concatenate([np.ravel(model.coef_), np.ravel(model.intercept_)])


def _sk(name, **params):
    """Fit scikit-learn's ``name`` and return coef + intercept."""
    def fit(X, y):
        import sklearn.linear_model

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _coef(getattr(sklearn.linear_model, name)(**params).fit(X, y))
    return fit


# ------------------------------------------------------------------ least squares
register(Case(
    suite="linear_model", name="ols",
    description="LinearRegression: Householder QR (fastml) vs scikit-learn's LAPACK gelsd "
                "and the normal equations.",
    setup=lambda s, rng: dict(zip(("X", "y"), _regression(s, rng))),
    sizes=[(10_000, 100), (100_000, 100)], quick_sizes=[(1_000, 20)],
    test_sizes=[(20, 3), (200, 20)],
    flops=lambda s: 2 * s[0] * s[1] ** 2,
    rtol=1e-8, atol=1e-10,
    impls=[
        Impl("fastml", lambda X, y: _coef(linear_model.LinearRegression().fit(X, y))),
        Impl("reference", lambda X, y: np.concatenate(
            [a.ravel() for a in map(np.atleast_1d, ref.linear_regression(X, y))])),
        Impl("sklearn", _sk("LinearRegression"), requires=SK),
    ],
))

register(Case(
    suite="linear_model", name="ridge",
    description="Ridge (alpha = 1): Cholesky of X'X + alpha I vs scikit-learn's Ridge and "
                "gradient descent.",
    setup=lambda s, rng: dict(zip(("X", "y"), _regression(s, rng))),
    sizes=[(2_000, 100), (100_000, 500)], quick_sizes=[(1_000, 20)],
    test_sizes=[(20, 3), (100, 30)],
    flops=lambda s: s[0] * s[1] ** 2,
    rtol=1e-7, atol=1e-9,
    impls=[
        Impl("fastml", lambda X, y: _coef(linear_model.Ridge(1.0).fit(X, y))),
        Impl("reference", lambda X, y: np.concatenate(
            [a.ravel() for a in map(np.atleast_1d, ref.ridge_gradient_descent(X, y, 1.0))]),
             max_size=200_000),
        Impl("sklearn", _sk("Ridge", alpha=1.0), requires=SK),
    ],
))


# ------------------------------------------------------------------ lasso
def _lasso_setup(size, rng):
    n, p = size
    X, y = _regression(size, rng, n_informative=max(2, p // 50))
    alpha = 0.05 * np.abs((X - X.mean(0)).T @ (y - y.mean())).max() / n
    return {"X": X, "y": y, "alpha": float(alpha)}


_LASSO_TOL = 1e-6

register(Case(
    suite="linear_model", name="lasso",
    description="Lasso with a sparse solution (p/50 informative features, alpha = "
                "alpha_max / 20), tol = 1e-6 on the duality gap for both libraries; the "
                "reference is naive cyclic coordinate descent.",
    setup=_lasso_setup,
    sizes=[(200, 50), (5_000, 500), (50_000, 1_000)], quick_sizes=[(1_000, 100)],
    test_sizes=[(30, 4), (200, 50)],
    rtol=1e-4, atol=1e-6,
    impls=[
        Impl("fastml", lambda X, y, alpha: _coef(
            linear_model.Lasso(alpha, tol=_LASSO_TOL).fit(X, y))),
        Impl("reference", lambda X, y, alpha: np.concatenate(
            [a.ravel() for a in map(np.atleast_1d,
                                    ref.enet_coordinate_descent(X, y, alpha, 1.0))]),
             max_size=10_000),
        Impl("sklearn", lambda X, y, alpha: _sk("Lasso", alpha=alpha, tol=_LASSO_TOL)(X, y),
             requires=SK),
    ],
))


# ------------------------------------------------------------------ logistic regression
def _logistic_setup(n_classes):
    def setup(size, rng):
        n, p = size
        X = rng.standard_normal((n, p))
        W = rng.standard_normal((n_classes, p)) / np.sqrt(p)
        Z = X @ W.T
        if n_classes == 2:
            y = (rng.random(n) < 1 / (1 + np.exp(-(Z[:, 1] - Z[:, 0])))).astype(int)
        else:
            P = np.exp(Z - Z.max(1, keepdims=True))
            P /= P.sum(1, keepdims=True)
            y = (P.cumsum(1) > rng.random((n, 1))).argmax(1)
        return {"X": X, "y": y}
    return setup


_LOG_TOL = 1e-8


def _sk_logistic(solver):
    def fit(X, y):
        import sklearn.linear_model

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = sklearn.linear_model.LogisticRegression(solver=solver, tol=_LOG_TOL,
                                                        max_iter=1000)
            return _coef(m.fit(X, y))
    return fit


def _ref_logistic(X, y):
    coef, intercept = ref.logistic_newton(X, y, tol=_LOG_TOL)
    return np.concatenate([coef.ravel(), intercept.ravel()])


def _fl_logistic(solver):
    def fit(X, y):
        m = linear_model.LogisticRegression(solver=solver, tol=_LOG_TOL, max_iter=1000)
        return _coef(m.fit(X, y))
    return fit


for _k, _label in ((2, "binary"), (10, "10class")):
    for _solver, _peer in (("lbfgs", "lbfgs"), ("newton", "newton-cholesky")):
        register(Case(
            suite="linear_model", name=f"logistic_{_label}_{_solver}",
            description=f"LogisticRegression ({_label}, C = 1, tol = {_LOG_TOL:g}): fastml "
                        f"solver={_solver!r} (fused compiled loss/gradient"
                        + (", compiled Hessian, Cholesky solve" if _solver == "newton"
                           else ", SciPy L-BFGS-B") + f") vs scikit-learn solver={_peer!r}; "
                        "reference: Newton written out.",
            setup=_logistic_setup(_k),
            sizes=[(1_000, 20), (100_000, 50)], quick_sizes=[(1_000, 10)],
            test_sizes=[(60, 3), (300, 10)],
            rtol=1e-5, atol=1e-6,
            impls=[
                Impl("fastml", _fl_logistic(_solver)),
                Impl("reference", _ref_logistic, max_size=20_000),
                Impl(f"sklearn-{_peer}", _sk_logistic(_peer), requires=SK),
            ],
        ))


# ------------------------------------------------------------------ kernel SVC
def _svc_setup(size, rng):
    n, p = size
    X = rng.standard_normal((n, p))
    r = np.sqrt((X[:, :5] ** 2).sum(1))
    y = (r + 0.3 * rng.standard_normal(n) > np.sqrt(5)).astype(int)
    X_test = rng.standard_normal((200, p))
    return {"X": X, "y": y, "X_test": X_test}


def _svc_check(expected, actual, size):
    """Decision values at tol = 1e-3: same signs almost everywhere, close values."""
    agree = np.mean(np.sign(expected) == np.sign(actual))
    assert agree >= 0.98, f"predictions agree on only {agree:.1%}"
    np.testing.assert_allclose(actual, expected, atol=0.05 * max(1.0, np.abs(expected).max()))


def _sk_svc(X, y, X_test):
    import sklearn.svm

    return sklearn.svm.SVC(kernel="rbf", C=1.0, gamma="scale").fit(X, y).decision_function(X_test)


def _ref_svc(X, y, X_test):
    gamma = 1.0 / (X.shape[1] * X.var())
    return ref_svm.svc_decision_function(X, np.where(y == 1, 1.0, -1.0), X_test, C=1.0,
                                         gamma=gamma)


register(Case(
    suite="svm", name="svc_rbf",
    description="SVC (rbf, C = 1, gamma = 'scale', tol = 1e-3, 200 MB kernel cache): SMO "
                "with second-order working-set selection vs scikit-learn (LIBSVM) and "
                "plain-Python SMO. Answer: decision values on 200 test points.",
    setup=_svc_setup,
    sizes=[(300, 20), (5_000, 20), (20_000, 20)], quick_sizes=[(300, 10)],
    test_sizes=[(40, 3), (200, 5)],
    check=_svc_check,
    impls=[
        Impl("fastml", lambda X, y, X_test: svm.SVC(kernel="rbf", C=1.0).fit(X, y)
             .decision_function(X_test)),
        Impl("reference", _ref_svc, max_size=6_000),
        Impl("sklearn", _sk_svc, requires=SK),
    ],
))


# ------------------------------------------------------------------ linear classifiers
def _separable_setup(size, rng):
    n, p = size
    X = rng.standard_normal((n, p))
    w = rng.standard_normal(p)
    margin = X @ w
    keep = np.abs(margin) > 0.1 * np.abs(margin).mean()  # a margin: Rosenblatt converges
    return {"X": X[keep], "y": (margin[keep] > 0).astype(int)}


def _accuracy_check(expected, actual, size):
    assert abs(expected - actual) <= 0.05, f"training accuracy {actual} vs {expected}"


def _sk_perceptron(X, y):
    import sklearn.linear_model

    return sklearn.linear_model.Perceptron(random_state=0).fit(X, y).score(X, y)


def _ref_perceptron(X, y):
    w, b = ref.perceptron(X, y)
    return float(np.mean(((X @ w[0] + b[0]) > 0) == y))


register(Case(
    suite="linear_model", name="perceptron",
    description="Perceptron (Rosenblatt, compiled) vs scikit-learn's Perceptron (SGD with "
                "the perceptron loss) and the Python loop, on linearly separable data; "
                "answer: training accuracy.",
    setup=_separable_setup,
    sizes=[(1_000, 10), (50_000, 50)], quick_sizes=[(1_000, 10)],
    test_sizes=[(100, 2), (400, 5)],
    check=_accuracy_check,
    impls=[
        Impl("fastml", lambda X, y: linear_model.Perceptron().fit(X, y).score(X, y)),
        Impl("reference", _ref_perceptron, max_size=20_000),
        Impl("sklearn", _sk_perceptron, requires=SK),
    ],
))


def _sk_linear_svc(X, y):
    import sklearn.svm

    return _coef(sklearn.svm.LinearSVC(C=0.1, tol=1e-6, max_iter=10_000).fit(X, y))


register(Case(
    suite="svm", name="linear_svc",
    description="LinearSVC (squared hinge, C = 0.1, tol = 1e-6): dual coordinate descent "
                "with shrinking vs scikit-learn (LIBLINEAR).",
    setup=_logistic_setup(2),
    sizes=[(50_000, 50)], quick_sizes=[(2_000, 10)], test_sizes=[(60, 3), (300, 10)],
    rtol=1e-3, atol=1e-4,
    impls=[
        Impl("fastml", lambda X, y: _coef(svm.LinearSVC(C=0.1, tol=1e-6, max_iter=10_000)
                                          .fit(X, y))),
        Impl("sklearn", _sk_linear_svc, requires=SK),
    ],
))
