"""SVC (SMO) and LinearSVC (dual coordinate descent) against LIBSVM / LIBLINEAR through
scikit-learn, and against the plain-Python SMO reference."""

import warnings

import numpy as np
import pytest

import fastml
from fastml import svm
from fastml.reference import svm as ref

sk_svm = pytest.importorskip("sklearn.svm")

# LIBSVM caches kernel values in float32, so its solution is that of a kernel rounded to
# ~1e-7 relative; with tol = 1e-9 both solvers are otherwise exact, and dual
# coefficients agree to ~1e-5 of C.
TOL = 1e-9


def _blobs(n=120, p=4, n_classes=2, sep=1.0, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % n_classes
    centers = rng.standard_normal((n_classes, p)) * 2 * sep
    X = centers[y] + rng.standard_normal((n, p))
    return X, y


def _assert_same_model(ours, theirs, X, C):
    np.testing.assert_array_equal(ours.support_, theirs.support_)
    np.testing.assert_array_equal(ours.n_support_, theirs.n_support_)
    np.testing.assert_allclose(ours.dual_coef_, theirs.dual_coef_, atol=2e-5 * C)
    np.testing.assert_allclose(ours.intercept_, theirs.intercept_, atol=2e-5 * max(1, C))
    np.testing.assert_allclose(ours.decision_function(X), theirs.decision_function(X),
                               atol=1e-4)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))


@pytest.mark.parametrize("kernel", ["rbf", "linear", "poly", "sigmoid"])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_svc_matches_libsvm(kernel, n_classes):
    X, y = _blobs(n_classes=n_classes, sep=0.6)
    params = dict(kernel=kernel, C=1.5, tol=TOL, gamma=0.2 if kernel == "sigmoid" else "scale")
    ours = svm.SVC(**params).fit(X, y)
    theirs = sk_svm.SVC(**params).fit(X, y)
    _assert_same_model(ours, theirs, X, 1.5)
    np.testing.assert_array_equal(ours.support_vectors_, theirs.support_vectors_)


def test_svc_separable_hard_margin_and_ovo_shape():
    X, y = _blobs(n=60, n_classes=4, sep=3.0, seed=1)
    ours = svm.SVC(kernel="linear", C=1e3, tol=TOL, decision_function_shape="ovo").fit(X, y)
    theirs = sk_svm.SVC(kernel="linear", C=1e3, tol=TOL,
                        decision_function_shape="ovo").fit(X, y)
    _assert_same_model(ours, theirs, X, 1e3)
    assert ours.decision_function(X).shape == (60, 6)
    assert ours.score(X, y) == 1.0


def test_svc_precomputed_kernel_and_string_labels():
    X, y = _blobs(n=80, sep=0.5, seed=2)
    labels = np.array(["neg", "pos"])[y]
    K = ref.rbf_kernel(X, X, 0.3)
    ours = svm.SVC(kernel="precomputed", tol=TOL).fit(K, labels)
    theirs = sk_svm.SVC(kernel="precomputed", tol=TOL).fit(K, labels)
    _assert_same_model(ours, theirs, K, 1.0)
    assert set(ours.predict(K)) <= {"neg", "pos"}
    direct = svm.SVC(kernel="rbf", gamma=0.3, tol=TOL).fit(X, labels)
    np.testing.assert_allclose(direct.decision_function(X), ours.decision_function(K),
                               atol=1e-8)
    with pytest.raises(ValueError, match="square"):
        svm.SVC(kernel="precomputed").fit(K[:, :10], labels)


def test_svc_matches_reference_smo_and_float32():
    X, y = _blobs(n=70, sep=0.4, seed=3)
    t = np.where(y == 1, 1.0, -1.0)
    expected = ref.svc_decision_function(X, t, X, C=2.0, gamma=0.25, tol=1e-10)
    ours = svm.SVC(C=2.0, gamma=0.25, tol=1e-10).fit(X, y)
    np.testing.assert_allclose(ours.decision_function(X), expected, atol=1e-7)
    X32 = X.astype(np.float32)
    m32 = svm.SVC(C=2.0, gamma=0.25, tol=1e-6).fit(X32, y)
    assert m32.decision_function(X32).dtype == np.float32
    np.testing.assert_allclose(m32.decision_function(X32), expected, atol=1e-3)


def test_svc_small_cache_shrinking_and_max_iter():
    X, y = _blobs(n=1500, sep=0.3, seed=4)  # > 1000 samples: the shrinking step runs
    big = svm.SVC(tol=TOL, shrinking=False).fit(X, y)
    small = svm.SVC(tol=TOL, cache_size=1e-3).fit(X, y)  # two cached columns: LRU churn
    np.testing.assert_array_equal(big.support_, small.support_)
    np.testing.assert_allclose(big.dual_coef_, small.dual_coef_, atol=1e-7)
    theirs = sk_svm.SVC(tol=TOL).fit(X, y)
    np.testing.assert_array_equal(small.support_, theirs.support_)
    # a larger problem amplifies LIBSVM's float32 kernel rounding a little
    np.testing.assert_allclose(small.dual_coef_, theirs.dual_coef_, atol=1e-4)
    with pytest.warns(fastml.ConvergenceWarning):
        svm.SVC(max_iter=3).fit(X, y)


@pytest.mark.parametrize(("loss", "dual"), [("squared_hinge", True),
                                           ("squared_hinge", False), ("hinge", True)])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_linear_svc_matches_liblinear(loss, dual, n_classes):
    X, y = _blobs(n=100, n_classes=n_classes, sep=0.5, seed=5)
    kw = dict(loss=loss, C=0.7, tol=1e-10, max_iter=100_000)
    ours = svm.LinearSVC(random_state=0, dual=dual, **kw).fit(X, y)
    theirs = sk_svm.LinearSVC(random_state=0, dual=dual, **kw).fit(X, y)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(ours.intercept_, theirs.intercept_, rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))


def test_svm_bad_input():
    X, y = _blobs(n=20)
    for est in (svm.SVC(), svm.LinearSVC()):
        with pytest.raises(ValueError, match="class"):
            est.fit(X, np.zeros(20))
        with pytest.raises(ValueError, match="inconsistent"):
            est.fit(X, y[:-1])
        Xn = X.copy()
        Xn[0, 0] = np.inf
        with pytest.raises(ValueError, match="NaN or infinity"):
            est.fit(Xn, y)
        with pytest.raises(ValueError, match="C"):
            type(est)(C=-1.0).fit(X, y)
    with pytest.raises(ValueError, match="kernel"):
        svm.SVC(kernel="cubic").fit(X, y)
    with pytest.raises(ValueError, match="gamma"):
        svm.SVC(gamma="big").fit(X, y)
    with pytest.raises(ValueError, match="dual"):
        svm.LinearSVC(loss="hinge", dual=False).fit(X, y)


@pytest.mark.parametrize("est", [svm.SVC(), svm.LinearSVC()], ids=repr)
def test_sklearn_check_estimator(est):
    from sklearn.utils.estimator_checks import check_estimator

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastml.ConvergenceWarning)
        check_estimator(est)
