"""LogisticRegression / Perceptron as scikit-learn drop-ins (issue 25): penalties, solver
names, weights, sparse input. Oracles: optimality (KKT) conditions, repeated rows and
scikit-learn's own estimators."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp

from fastml.linear_model import LogisticRegression, Perceptron
from fastml.linear_model._logistic import _Objective


def _data(n=200, p=6, k=2, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    z = X @ rng.standard_normal((p, k)) + rng.standard_normal((n, k))  # not separable
    return X, z.argmax(axis=1) if k > 2 else (z[:, 0] > 0).astype(int)


def _theta(m):
    return np.hstack([m.coef_, m.intercept_[:, None]]).ravel()


@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.4])
@pytest.mark.parametrize("sparse", [False, True])
def test_l1_elasticnet_kkt(k, l1_ratio, sparse):
    """At the optimum: grad_j + l1 sign(w_j) = 0 where w_j != 0, |grad_j| <= l1 where
    w_j = 0 (grad of the smooth part incl. the L2 share); intercept gradients vanish."""
    X, y = _data(k=k, seed=k)
    Xf = sp.csr_matrix(X) if sparse else X
    m = LogisticRegression(C=0.05, l1_ratio=l1_ratio, solver="saga", tol=1e-10,
                           max_iter=200).fit(Xf, y)
    assert np.any(m.coef_ == 0) and np.any(m.coef_ != 0)
    rows = 1 if k == 2 else k
    obj = _Objective(X, y.astype(np.int32), rows, True, 0.05, None, l1_ratio)
    theta = _theta(m)  # multinomial intercepts are reported with mean 0: the same model
    _, g = obj.value_grad(theta)
    g = g.reshape(rows, -1)
    l1 = obj.l1
    W = m.coef_
    gw = g[:, :-1]
    scale = np.abs(g).max() + l1
    np.testing.assert_allclose(g[:, -1], 0, atol=1e-8 * scale)
    nz = W != 0
    np.testing.assert_allclose(gw[nz] + l1 * np.sign(W[nz]), 0, atol=1e-8 * scale)
    assert np.all(np.abs(gw[~nz]) <= l1 * (1 + 1e-8))


@pytest.mark.parametrize("solver", ["lbfgs", "newton-cg", "newton-cholesky", "sag",
                                    "saga", "liblinear"])
def test_solvers_sparse_weights_match_sklearn(solver):
    """Sparse equals dense; integer weights equal repeated rows; scikit-learn agrees."""
    sk = pytest.importorskip("sklearn.linear_model")
    X, y = _data(n=120, p=5, k=2, seed=4)
    w = np.random.default_rng(1).integers(0, 3, size=len(y))
    kw = dict(solver=solver, C=0.7, tol=1e-10, max_iter=500)
    dense = LogisticRegression(**kw).fit(X, y, sample_weight=w)
    sparse = LogisticRegression(**kw).fit(sp.csr_matrix(X), y, sample_weight=w)
    rep = LogisticRegression(**kw).fit(np.repeat(X, w, axis=0), np.repeat(y, w))
    np.testing.assert_allclose(sparse.coef_, dense.coef_, rtol=1e-7, atol=1e-9)
    # repeated rows: same minimiser; liblinear's penalised intercept makes C absolute
    np.testing.assert_allclose(rep.coef_, dense.coef_, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(rep.intercept_, dense.intercept_, rtol=1e-6, atol=1e-8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = sk.LogisticRegression(**{**kw, "max_iter": 100000}).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(dense.coef_, ref.coef_, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(dense.intercept_, ref.intercept_, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(dense.predict_proba(sp.csr_matrix(X)), dense.predict_proba(X),
                               rtol=1e-10, atol=1e-12)


def test_liblinear_is_penalised_intercept_feature():
    X, y = _data(seed=5)
    s = 3.0
    lib = LogisticRegression(solver="liblinear", intercept_scaling=s, tol=1e-10).fit(X, y)
    aug = LogisticRegression(solver="newton", fit_intercept=False, tol=1e-10).fit(
        np.hstack([X, np.full((len(X), 1), s)]), y)
    np.testing.assert_allclose(lib.coef_, aug.coef_[:, :-1], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(lib.intercept_, s * aug.coef_[:, -1], rtol=1e-8)
    assert lib.coef_.dtype == np.float64


def test_class_weight_unpenalised_multinomial_and_rules():
    X, y = _data(k=3, seed=6)
    bal = LogisticRegression(class_weight="balanced", tol=1e-10, solver="newton").fit(X, y)
    cw = len(y) / (3 * np.bincount(y))
    ref = LogisticRegression(tol=1e-10, solver="newton").fit(X, y, sample_weight=cw[y])
    np.testing.assert_allclose(bal.coef_, ref.coef_, rtol=1e-8, atol=1e-10)
    free = LogisticRegression(C=np.inf, solver="newton-cholesky", tol=1e-10).fit(X, y)
    np.testing.assert_allclose(free.coef_.sum(axis=0), 0, atol=1e-12)
    with pytest.raises(ValueError, match="Only 'saga' solver supports elasticnet"):
        LogisticRegression(l1_ratio=0.5, solver="liblinear").fit(X[y < 2], y[y < 2])
    with pytest.raises(ValueError, match="Solver lbfgs supports only 'l2' or None"):
        LogisticRegression(l1_ratio=0.5).fit(X, y)
    with pytest.raises(ValueError, match="'liblinear' solver does not support multiclass"):
        LogisticRegression(solver="liblinear").fit(X, y)
    with pytest.warns(FutureWarning, match="'penalty' was deprecated"):
        LogisticRegression(penalty="l2").fit(X, y)


def test_perceptron_penalties_and_sparse():
    X, y = _data(n=150, p=8, k=3, seed=7)
    l1 = Perceptron(penalty="l1", alpha=0.01).fit(X, y)
    np.testing.assert_allclose(Perceptron(penalty="elasticnet", l1_ratio=1, alpha=0.01)
                               .fit(X, y).coef_, l1.coef_)
    np.testing.assert_allclose(Perceptron(penalty="elasticnet", l1_ratio=0).fit(X, y).coef_,
                               Perceptron(penalty="l2").fit(X, y).coef_)
    assert np.count_nonzero(l1.coef_ == 0) > 0
    dense = Perceptron(penalty="l2", alpha=1e-3).fit(X, y)
    sparse = Perceptron(penalty="l2", alpha=1e-3).fit(sp.csr_matrix(X), y)
    np.testing.assert_allclose(sparse.coef_, dense.coef_, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(sparse.predict(sp.csr_matrix(X)), dense.predict(X))
    # without a penalty the SGD path (taken for sparse X) is the perceptron rule
    assert Perceptron().fit(sp.csr_matrix(X), y).score(X, y) > 0.6
