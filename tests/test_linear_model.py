"""Linear models against scikit-learn (oracle) and fastml.reference."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastml
from fastml import linear_model as lm
from fastml.reference import linear_model as ref

sk_lm = pytest.importorskip("sklearn.linear_model")


def _data(n=120, p=8, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    y = X @ rng.standard_normal(p) + 0.3 * rng.standard_normal(n) + 2.0
    return X.astype(dtype), y.astype(dtype)


def _labels(X, n_classes, seed=0):
    rng = np.random.default_rng(seed)
    score = X[:, 0] + 0.5 * X[:, 1] + 0.7 * rng.standard_normal(len(X))
    return np.digitize(score, np.quantile(score, np.linspace(0, 1, n_classes + 1)[1:-1]))


# ------------------------------------------------------------------ least squares
@pytest.mark.parametrize("solver", ["auto", "qr", "svd"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_linear_regression_matches_sklearn(solver, fit_intercept):
    X, y = _data()
    ours = lm.LinearRegression(fit_intercept=fit_intercept, solver=solver).fit(X, y)
    theirs = sk_lm.LinearRegression(fit_intercept=fit_intercept).fit(X, y)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=1e-10)
    np.testing.assert_allclose(ours.intercept_, theirs.intercept_, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-10)
    np.testing.assert_allclose(ours.coef_, ref.linear_regression(X, y, fit_intercept)[0],
                               rtol=1e-8)


@pytest.mark.parametrize("solver", ["qr", "svd"])
def test_linear_regression_rank_deficient_is_minimum_norm(solver):
    X, y = _data(n=30, p=4)
    X = np.hstack([X, X[:, :2] + X[:, 2:3]])  # two dependent columns
    ours = lm.LinearRegression(solver=solver).fit(X, y)
    Xc = X - X.mean(0)
    expected = np.linalg.lstsq(Xc, y - y.mean(), rcond=None)[0]
    np.testing.assert_allclose(ours.coef_, expected, rtol=1e-8, atol=1e-10)
    assert ours.rank_ == 4
    # also wide data (n < p)
    Xw, yw = _data(n=5, p=12)
    wide = lm.LinearRegression(solver=solver).fit(Xw, yw)
    np.testing.assert_allclose(wide.coef_, sk_lm.LinearRegression().fit(Xw, yw).coef_,
                               rtol=1e-8, atol=1e-10)


def test_linear_regression_multi_target_and_float32():
    X, y = _data()
    Y = np.column_stack([y, -2 * y + 1])
    ours = lm.LinearRegression().fit(X, Y)
    theirs = sk_lm.LinearRegression().fit(X, Y)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=1e-10)
    np.testing.assert_allclose(ours.intercept_, theirs.intercept_, rtol=1e-10)
    X32, y32 = _data(dtype=np.float32)
    m = lm.LinearRegression().fit(X32, y32)
    assert m.coef_.dtype == np.float32 and m.predict(X32).dtype == np.float32
    np.testing.assert_allclose(m.coef_, theirs.coef_[0], rtol=1e-3, atol=1e-4)


def test_normal_equations_survive_large_offsets():
    """The compiled Gram shifts by the first row: no cancellation from a large mean."""
    X, y = _data(n=3000, p=6)  # > 1 chunk of rows
    X = X + 1e6
    for ours, theirs in ((lm.LinearRegression(), sk_lm.LinearRegression()),
                         (lm.Ridge(alpha=3.0), sk_lm.Ridge(alpha=3.0))):
        ours.fit(X, y)
        theirs.fit(X, y)
        np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=1e-6)
        np.testing.assert_allclose(ours.intercept_, theirs.intercept_, rtol=1e-6)


@pytest.mark.parametrize("solver", ["auto", "cholesky", "svd"])
@pytest.mark.parametrize("shape", [(100, 8), (6, 15)])
def test_ridge_matches_sklearn(solver, shape):
    X, y = _data(*shape)
    ours = lm.Ridge(alpha=2.5, solver=solver).fit(X, y)
    theirs = sk_lm.Ridge(alpha=2.5).fit(X, y)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=1e-9)
    np.testing.assert_allclose(ours.intercept_, theirs.intercept_, rtol=1e-9)
    w, b = ref.ridge_gradient_descent(X, y, 2.5)
    np.testing.assert_allclose(ours.coef_, w, rtol=1e-7, atol=1e-9)


def test_ridge_per_target_alpha_and_dtype():
    X, y = _data()
    Y = np.column_stack([y, y[::-1], np.sin(y)])
    alphas = np.array([0.1, 3.0, 40.0])
    ours = lm.Ridge(alpha=alphas).fit(X, Y)
    theirs = sk_lm.Ridge(alpha=alphas).fit(X, Y)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=1e-9)
    np.testing.assert_allclose(ours.intercept_, theirs.intercept_, rtol=1e-9)
    X32, y32 = _data(dtype=np.float32)
    assert lm.Ridge().fit(X32, y32).coef_.dtype == np.float32
    with pytest.raises(ValueError, match="alpha"):
        lm.Ridge(alpha=np.array([1.0, 2.0])).fit(X, Y)


# ------------------------------------------------------------------ lasso / elastic net
def _enet_objective(X, y, w, b, alpha, l1_ratio):
    r = y - X @ w - b
    return (r @ r / (2 * len(y)) + alpha * l1_ratio * np.abs(w).sum()
            + 0.5 * alpha * (1 - l1_ratio) * w @ w)


@pytest.mark.parametrize("l1_ratio", [1.0, 0.5, 0.0])
@pytest.mark.parametrize("selection", ["cyclic", "random"])
def test_enet_matches_sklearn(l1_ratio, selection):
    X, y = _data(n=80, p=30)
    kw = dict(alpha=0.1, l1_ratio=l1_ratio, tol=1e-12, max_iter=100_000, selection=selection,
              random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn warns about l1_ratio = 0
        theirs = sk_lm.ElasticNet(**kw).fit(X, y)
    ours = lm.ElasticNet(**kw).fit(X, y)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(ours.intercept_, theirs.intercept_, rtol=1e-6)
    assert ours.dual_gap_ < 1e-10
    w, _ = ref.enet_coordinate_descent(X, y, 0.1, l1_ratio)
    np.testing.assert_allclose(ours.coef_, w, rtol=1e-6, atol=1e-9)


def test_lasso_sparse_positive_and_warm_start():
    X, y = _data(n=60, p=100, seed=3)  # p > n: the solution is sparse
    ours = lm.Lasso(alpha=0.2, tol=1e-10).fit(X, y)
    theirs = sk_lm.Lasso(alpha=0.2, tol=1e-10).fit(X, y)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=1e-6, atol=1e-8)
    assert 0 < np.count_nonzero(ours.coef_) < 60
    obj = _enet_objective(X, y, ours.coef_, ours.intercept_, 0.2, 1.0)
    assert obj <= _enet_objective(X, y, theirs.coef_, theirs.intercept_, 0.2, 1.0) + 1e-9
    pos = lm.Lasso(alpha=0.2, positive=True, tol=1e-10).fit(X, y)
    np.testing.assert_allclose(pos.coef_, sk_lm.Lasso(alpha=0.2, positive=True, tol=1e-10)
                               .fit(X, y).coef_, rtol=1e-6, atol=1e-8)
    assert pos.coef_.min() >= 0
    warm = lm.Lasso(alpha=0.2, tol=1e-10, warm_start=True).fit(X, y)
    first = warm.n_iter_
    warm.fit(X, y)
    assert warm.n_iter_ <= 1 < first
    with pytest.warns(fastml.ConvergenceWarning):
        lm.Lasso(alpha=0.01, tol=1e-14, max_iter=2).fit(X, y)


def test_enet_multi_target_float32():
    X, y = _data(n=50, p=6)
    Y = np.column_stack([y, 2 * y])
    ours = lm.ElasticNet(alpha=0.05, tol=1e-10).fit(X, Y)
    theirs = sk_lm.ElasticNet(alpha=0.05, tol=1e-10).fit(X, Y)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=1e-6)
    m32 = lm.Lasso(alpha=0.05, tol=1e-6).fit(X.astype(np.float32), y.astype(np.float32))
    assert m32.coef_.dtype == np.float32
    np.testing.assert_allclose(m32.coef_, theirs.coef_[0] * 0 + sk_lm.Lasso(
        alpha=0.05, tol=1e-10).fit(X, y).coef_, rtol=1e-3, atol=1e-4)


def test_lasso_path_matches_sklearn():
    X, y = _data(n=50, p=10)
    Xc, yc = X - X.mean(0), y - y.mean()
    alphas, coefs, gaps = lm.lasso_path(Xc, yc, n_alphas=20, tol=1e-10)
    sk_alphas, sk_coefs, _ = sk_lm.lasso_path(Xc, yc, alphas=20, tol=1e-10)
    np.testing.assert_allclose(alphas, sk_alphas, rtol=1e-10)
    np.testing.assert_allclose(coefs, sk_coefs, rtol=1e-6, atol=1e-9)
    assert np.all(coefs[:, 0] == 0) and np.all(gaps >= -1e-12)


# ------------------------------------------------------------------ logistic regression
@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_logistic_newton_matches_sklearn(n_classes, fit_intercept):
    X, _ = _data(n=150, p=5)
    y = _labels(X, n_classes)
    ours = lm.LogisticRegression(C=0.5, solver="newton", tol=1e-10,
                                 fit_intercept=fit_intercept).fit(X, y)
    theirs = sk_lm.LogisticRegression(C=0.5, solver="newton-cholesky", tol=1e-10,
                                      fit_intercept=fit_intercept).fit(X, y)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(ours.intercept_, theirs.intercept_, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-6)
    np.testing.assert_allclose(ours.decision_function(X), theirs.decision_function(X),
                               rtol=1e-6, atol=1e-9)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    coef, intercept = ref.logistic_newton(X, y, C=0.5, fit_intercept=fit_intercept)
    np.testing.assert_allclose(ours.coef_, coef, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("n_classes", [2, 4])
def test_logistic_lbfgs_matches_sklearn_objective(n_classes):
    X, _ = _data(n=200, p=6, seed=1)
    y = _labels(X, n_classes, seed=1)
    ours = lm.LogisticRegression(C=2.0, tol=1e-8, max_iter=500).fit(X, y)
    theirs = sk_lm.LogisticRegression(C=2.0, tol=1e-8, max_iter=500).fit(X, y)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=1e-4, atol=1e-6)
    proba = ours.predict_proba(X)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(proba, theirs.predict_proba(X), atol=1e-6)
    np.testing.assert_allclose(ours.predict_log_proba(X), np.log(proba))


def test_logistic_string_labels_float32_and_kernel_gradient():
    X, _ = _data(n=300, p=4, seed=2)
    y = np.array(["b", "a", "c"])[_labels(X, 3, seed=2)]
    m = lm.LogisticRegression(solver="newton").fit(X.astype(np.float32), y)
    assert list(m.classes_) == ["a", "b", "c"] and m.coef_.dtype == np.float32
    assert m.predict_proba(X.astype(np.float32)).dtype == np.float32
    assert m.score(X.astype(np.float32), y) > 0.6
    # compiled gradient vs central finite differences (multi-chunk, multi-thread path)
    from fastml.linear_model._logistic import _Objective

    Xb = np.random.default_rng(0).standard_normal((700, 3))
    yb = _labels(Xb, 3).astype(np.int32)
    obj = _Objective(Xb, yb, 3, True, 1.0)
    theta = np.random.default_rng(1).standard_normal(12) * 0.3
    _, g = obj.value_grad(theta)
    eps = 1e-6
    fd = [(obj.value_grad(theta + eps * e)[0] - obj.value_grad(theta - eps * e)[0]) / (2 * eps)
          for e in np.eye(12)]
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)
    # Hessian (lower triangle) vs finite differences of the gradient, without intercepts
    obj = _Objective(Xb, yb, 3, False, 1.0)
    theta = theta[:9]
    H = obj.hessian(theta)
    fd = np.array([(obj.value_grad(theta + eps * e)[1] - obj.value_grad(theta - eps * e)[1])
                   / (2 * eps) for e in np.eye(9)])
    np.testing.assert_allclose(np.tril(H), np.tril(fd), rtol=1e-5, atol=1e-7)


# ------------------------------------------------------------------ perceptron
def test_perceptron_separable_and_reference():
    rng = np.random.default_rng(0)
    X = np.vstack([rng.standard_normal((40, 2)) + 3, rng.standard_normal((40, 2)) - 3])
    y = np.repeat([0, 1], 40)
    m = lm.Perceptron(shuffle=False).fit(X, y)
    w, b = ref.perceptron(X, y)
    np.testing.assert_allclose(m.coef_, w)
    np.testing.assert_allclose(m.intercept_, b)
    assert m.score(X, y) == 1.0
    shuffled = lm.Perceptron(random_state=1).fit(X, y)
    assert shuffled.score(X, y) == 1.0
    assert lm.Perceptron(random_state=1).fit(X, y).coef_.tolist() == shuffled.coef_.tolist()
    # three separable blobs, one-vs-rest
    X3 = np.vstack([X, rng.standard_normal((40, 2)) + [6, -6]])
    y3 = np.repeat([0, 1, 2], 40)
    m3 = lm.Perceptron().fit(X3, y3)
    assert m3.coef_.shape == (3, 2) and m3.score(X3, y3) > 0.95
    assert sk_lm.Perceptron().fit(X3, y3).score(X3, y3) > 0.95


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize("est", [lm.LinearRegression(), lm.Ridge(), lm.Lasso(),
                                 lm.LogisticRegression(), lm.Perceptron()],
                         ids=lambda e: type(e).__name__)
def test_bad_input(est):
    X, y = _data(n=20, p=3)
    yy = y if not hasattr(est, "predict_proba") and not isinstance(est, lm.Perceptron) \
        else (y > y.mean()).astype(int)
    Xn = X.copy()
    Xn[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        est.fit(Xn, yy)
    with pytest.raises(ValueError, match="inconsistent"):
        est.fit(X, yy[:-1])
    with pytest.raises(fastml.NotFittedError):
        type(est)().predict(X)
    est.fit(X, yy)
    with pytest.raises(ValueError, match="features"):
        est.predict(X[:, :2])


def test_bad_parameters():
    X, y = _data(n=20, p=3)
    with pytest.raises(ValueError, match="alpha"):
        lm.Ridge(alpha=-1.0).fit(X, y)
    with pytest.raises(ValueError, match="alpha"):
        lm.Lasso(alpha=-0.1).fit(X, y)
    with pytest.raises(ValueError, match="l1_ratio"):
        lm.ElasticNet(l1_ratio=1.5).fit(X, y)
    with pytest.raises(ValueError, match="C"):
        lm.LogisticRegression(C=0).fit(X, y > 0)
    with pytest.raises(ValueError, match="solver"):
        lm.LogisticRegression(solver="sgd").fit(X, y > 0)
    with pytest.raises(ValueError, match="class"):
        lm.LogisticRegression().fit(X, np.zeros(20))
    with pytest.raises(ValueError, match="Unknown label type"):
        lm.LogisticRegression().fit(X, y)


@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 12), p=st.integers(1, 6), alpha=st.floats(1e-3, 10.0),
       seed=st.integers(0, 2**16))
def test_ridge_property_normal_equations(n, p, alpha, seed):
    """The ridge solution satisfies X_c'(y_c - X_c w) = alpha w for any shape."""
    X, y = _data(n=n, p=p, seed=seed)
    m = lm.Ridge(alpha=alpha).fit(X, y)
    Xc, yc = X - X.mean(0), y - y.mean()
    np.testing.assert_allclose(Xc.T @ (yc - Xc @ m.coef_), alpha * m.coef_,
                               atol=1e-8 * (1 + np.abs(Xc).sum() * np.abs(y).max()))


# ------------------------------------------------------------------ scikit-learn checks
@pytest.mark.parametrize("est", [
    lm.LinearRegression(), lm.Ridge(), lm.Lasso(), lm.ElasticNet(),
    lm.LogisticRegression(solver="newton"), lm.LogisticRegression(max_iter=30),
    lm.Perceptron()], ids=lambda e: repr(e))
def test_sklearn_check_estimator(est):
    from sklearn.utils.estimator_checks import check_estimator

    # Ridge's closed-form solvers set n_iter_ = None as scikit-learn's Ridge does, which
    # fails this check for scikit-learn's own Ridge too.
    xfail = {"check_non_transformer_estimators_n_iter": "n_iter_ is None, as sklearn's"} \
        if isinstance(est, lm.Ridge) else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastml.ConvergenceWarning)
        check_estimator(est, expected_failed_checks=xfail)


# --------------------------------------------- scikit-learn's surface (issue 25): weights
@pytest.mark.parametrize("cls", [lm.LinearRegression, lm.Ridge])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_integer_sample_weight_equals_repeated_rows(cls, fit_intercept):
    """Weight k on a row is the same problem as the row repeated k times."""
    X, y = _data(n=30, p=4, seed=3)
    k = np.random.default_rng(3).integers(0, 4, size=30)
    k[0] = 1
    a = cls(fit_intercept=fit_intercept).fit(X, y, sample_weight=k)
    b = cls(fit_intercept=fit_intercept).fit(np.repeat(X, k, axis=0), np.repeat(y, k))
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(a.intercept_, b.intercept_, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("cls,kw", [(lm.LinearRegression, {}), (lm.Ridge, {"alpha": 3.0})])
def test_positive_satisfies_kkt(cls, kw):
    """w >= 0; the gradient g = Xc'(Xc w - yc) + alpha w is 0 where w > 0, >= 0 where
    w = 0 (the optimality conditions of the bound-constrained problem)."""
    X, Y = _data(n=40, p=6, seed=5)
    Y = np.column_stack([Y, -Y + X[:, 0]])
    m = cls(positive=True, **kw).fit(X, Y)
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    g = Xc.T @ (Xc @ m.coef_.T - Yc) + kw.get("alpha", 0.0) * m.coef_.T
    scale = np.abs(Xc).sum() * np.abs(Y).max()
    assert (m.coef_ >= 0).all()
    assert (m.coef_ == 0).any()
    np.testing.assert_allclose(g[m.coef_.T > 0], 0, atol=1e-10 * scale)
    assert (g[m.coef_.T == 0] >= -1e-10 * scale).all()


def test_ridge_solver_names_agree_and_positive_rules():
    X, Y = _data(n=40, p=6, seed=7)
    Y = np.column_stack([Y, X[:, 1]])
    ref = lm.Ridge(alpha=2.0, solver="svd").fit(X, Y)
    for solver in ("auto", "cholesky", "lsqr", "sparse_cg", "sag", "saga"):
        m = lm.Ridge(alpha=2.0, solver=solver).fit(X, Y)
        np.testing.assert_allclose(m.coef_, ref.coef_, rtol=1e-9, atol=1e-12)
        assert m.solver_ == ("cholesky" if solver == "auto" else solver)
    with pytest.raises(ValueError, match="does not support positive fitting"):
        lm.Ridge(solver="svd", positive=True).fit(X, Y)
    with pytest.raises(ValueError, match="'lbfgs' solver can be used only when positive"):
        lm.Ridge(solver="lbfgs").fit(X, Y)
    with pytest.raises(ValueError, match="tol"):
        lm.Ridge(tol=-1.0).fit(X, Y)
    with pytest.raises(ValueError, match="sample_weight"):
        lm.Ridge().fit(X, Y, sample_weight=-np.ones(40))


def test_ridge_alpha_zero_is_minimum_norm_on_rank_deficient_x():
    """alpha = 0 with duplicated columns: the minimum-norm solution, as numpy's lstsq."""
    X, y = _data(n=30, p=3, seed=9)
    X = np.hstack([X, X])
    m = lm.Ridge(alpha=0.0, fit_intercept=False).fit(X, y)
    np.testing.assert_allclose(m.coef_, np.linalg.lstsq(X, y, rcond=None)[0], rtol=1e-8)


@pytest.mark.parametrize("container", [np.asarray, "csr", "csc"])
@pytest.mark.parametrize("precompute", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_enet_sparse_precompute_weights_match_sklearn(container, precompute, weighted):
    """Dense, CSR and CSC X, the Gram and the direct solvers, with and without
    sample_weight, all reach scikit-learn's minimiser (both run to a gap of 1e-12)."""
    sklearn_lm = pytest.importorskip("sklearn.linear_model")
    import scipy.sparse as sp

    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 8))
    X[X < 0.3] = 0
    y = X @ rng.normal(size=8) + 0.1 * rng.normal(size=60)
    sw = rng.uniform(0.5, 2, 60) if weighted else None
    Xi = container(X) if callable(container) else sp.csr_matrix(X).asformat(container)
    kw = dict(alpha=0.05, tol=1e-12, max_iter=100000, precompute=precompute)
    ours = lm.ElasticNet(**kw).fit(Xi, y, sample_weight=sw)
    ref = sklearn_lm.ElasticNet(**kw).fit(X, y, sample_weight=sw)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-7)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, atol=1e-7)
    np.testing.assert_allclose(ours.predict(Xi), ref.predict(X), atol=1e-6)
