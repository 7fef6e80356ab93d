"""PCA and KernelPCA: scikit-learn oracle (components up to sign), reference versions."""

import warnings

import numpy as np
import pytest

import fastml
from fastml.decomposition import PCA, KernelPCA
from fastml.reference import decomposition as reference

sk_decomposition = pytest.importorskip("sklearn.decomposition")


@pytest.fixture(autouse=True)
def _one_thread():
    with fastml.threads(1):
        yield


def low_rank(n, d, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    mixing = rng.standard_normal((d, d)) * np.linspace(2, 0.1, d)[:, None]
    return (rng.standard_normal((n, d)) @ mixing + rng.standard_normal(d)).astype(dtype)


def assert_same_up_to_sign(A, B, atol):
    """Rows of A equal rows of B up to a sign per row."""
    signs = np.sign(np.sum(A * B, axis=1))
    np.testing.assert_allclose(A * signs[:, None], B, atol=atol)


@pytest.mark.parametrize("solver, shape", [("full", (200, 30)), ("covariance_eigh", (500, 20)),
                                           ("auto", (2000, 40)), ("auto", (40, 300))])
@pytest.mark.parametrize("n_components", [3, 0.8, None])
def test_pca_matches_sklearn(solver, shape, n_components):
    X = low_rank(*shape)
    ours = PCA(n_components, svd_solver=solver).fit(X)
    ref = sk_decomposition.PCA(n_components, svd_solver=solver).fit(X)
    assert ours.n_components_ == ref.n_components_
    assert_same_up_to_sign(ours.components_, ref.components_, atol=1e-8)
    np.testing.assert_allclose(ours.explained_variance_, ref.explained_variance_, rtol=1e-8)
    np.testing.assert_allclose(ours.explained_variance_ratio_, ref.explained_variance_ratio_,
                               rtol=1e-8, atol=1e-15)
    np.testing.assert_allclose(ours.singular_values_, ref.singular_values_, rtol=1e-8)
    np.testing.assert_allclose(ours.noise_variance_, ref.noise_variance_, rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(ours.mean_, ref.mean_, rtol=1e-12)


@pytest.mark.parametrize("whiten", [False, True])
def test_pca_transform_inverse_and_fit_transform(whiten):
    X = low_rank(300, 12, seed=1)
    ours = PCA(5, whiten=whiten, svd_solver="full")
    ref = sk_decomposition.PCA(5, whiten=whiten, svd_solver="full")
    Z, Zr = ours.fit_transform(X), ref.fit_transform(X)
    signs = np.sign(np.sum(ours.components_ * ref.components_, axis=1))
    np.testing.assert_allclose(Z * signs, Zr, atol=1e-9)
    np.testing.assert_allclose(ours.transform(X[:7]) * signs, ref.transform(X[:7]), atol=1e-9)
    np.testing.assert_allclose(ours.inverse_transform(Z[:7]), ref.inverse_transform(Zr[:7]),
                               atol=1e-9)
    np.testing.assert_allclose(PCA(5, whiten=whiten, svd_solver="covariance_eigh")
                               .fit_transform(X) * signs, Zr, atol=1e-8)
    np.testing.assert_allclose(ours.get_covariance(), ref.get_covariance(), atol=1e-9)
    full = PCA(svd_solver="full").fit(X)
    np.testing.assert_allclose(full.inverse_transform(full.transform(X)), X, atol=1e-9)


def test_pca_matches_reference_covariance_eigendecomposition():
    X = low_rank(150, 10, seed=2)
    comps, var, ratio, mean = reference.pca(X, 4)
    ours = PCA(4, svd_solver="full").fit(X)
    np.testing.assert_allclose(ours.components_, comps, atol=1e-9)
    np.testing.assert_allclose(ours.explained_variance_, var, rtol=1e-9)
    np.testing.assert_allclose(ours.explained_variance_ratio_, ratio, rtol=1e-9)


@pytest.mark.parametrize("kwargs", [
    {"svd_solver": "randomized"},
    {"svd_solver": "randomized", "power_iteration_normalizer": "LU"},
    {"svd_solver": "randomized", "power_iteration_normalizer": "none"},
    {"svd_solver": "arpack"},
])
def test_randomized_pca_recovers_leading_subspace_and_is_seeded(kwargs):
    rng = np.random.default_rng(3)
    signal = rng.standard_normal((1000, 5)) * [20, 15, 12, 10, 8]
    X = signal @ rng.standard_normal((5, 80)) + rng.standard_normal((1000, 80))
    exact = PCA(5, svd_solver="full").fit(X)
    rand = PCA(5, random_state=0, **kwargs).fit(X)
    np.testing.assert_allclose(rand.explained_variance_, exact.explained_variance_, rtol=1e-6)
    assert_same_up_to_sign(rand.components_, exact.components_, atol=1e-5)
    np.testing.assert_allclose(rand.noise_variance_, exact.noise_variance_, rtol=1e-6)
    again = PCA(5, random_state=0, **kwargs).fit(X)
    np.testing.assert_array_equal(rand.components_, again.components_)


def test_pca_float32():
    X = low_rank(400, 10, seed=4, dtype=np.float32)
    ours = PCA(3).fit(X)
    assert ours.components_.dtype == np.float32 and ours.transform(X).dtype == np.float32
    ref = PCA(3).fit(X.astype(np.float64))
    np.testing.assert_allclose(ours.explained_variance_, ref.explained_variance_, rtol=1e-4)


@pytest.mark.parametrize("kwargs, X, match", [
    ({"n_components": 11}, np.ones((20, 10)), "n_components=11 must be between 0 and"),
    ({"n_components": 1.5}, np.ones((20, 10)), "n_components=1.5"),
    ({"svd_solver": "lapack"}, np.ones((20, 10)), "svd_solver must be one of"),
    ({"n_components": 0.5, "svd_solver": "randomized"}, np.ones((20, 10)), "fractional"),
    ({}, [[1.0, np.nan], [1.0, 2.0]], "NaN"),
    ({}, [[1.0, 2.0]], "minimum of 2"),
])
def test_pca_bad_input(kwargs, X, match):
    with pytest.raises(ValueError, match=match):
        PCA(**kwargs).fit(X)


# the sigmoid kernel is not PSD: scikit-learn's randomized solver rejects it
@pytest.mark.parametrize("kernel, solver", [
    (kernel, solver) for kernel in ["rbf", "poly", "cosine", "linear", "sigmoid"]
    for solver in ["dense", "arpack", "randomized"]
    if (kernel, solver) != ("sigmoid", "randomized")])
def test_kernel_pca_matches_sklearn(kernel, solver):
    X = low_rank(250, 6, seed=5)
    X /= X.std()
    kw = dict(kernel=kernel, eigen_solver=solver, random_state=0, gamma=0.3, degree=2,
              fit_inverse_transform=kernel != "sigmoid")
    ours, ref = KernelPCA(4, **kw), sk_decomposition.KernelPCA(4, **kw)
    Z, Zr = ours.fit_transform(X), ref.fit_transform(X)
    np.testing.assert_allclose(ours.eigenvalues_, ref.eigenvalues_, rtol=1e-8)
    assert_same_up_to_sign(ours.eigenvectors_.T, ref.eigenvectors_.T, atol=1e-8)
    scale = np.abs(Zr).max()
    signs = np.sign(np.sum(Z * Zr, axis=0))
    np.testing.assert_allclose(Z * signs, Zr, atol=1e-8 * scale)
    Xt = X[:9] + 0.1
    np.testing.assert_allclose(ours.transform(Xt) * signs, ref.transform(Xt), atol=1e-8 * scale)
    if kw["fit_inverse_transform"] and np.all(signs > 0):
        np.testing.assert_allclose(ours.inverse_transform(Z[:5]), ref.inverse_transform(Zr[:5]),
                                   rtol=1e-6, atol=1e-8)


def test_kernel_pca_precomputed_and_reference():
    X = low_rank(120, 5, seed=6)
    gamma = 0.05
    values, vectors = reference.kernel_pca(X, 3, gamma=gamma)
    ours = KernelPCA(3, kernel="rbf", gamma=gamma, eigen_solver="dense").fit(X)
    np.testing.assert_allclose(ours.eigenvalues_, values, rtol=1e-9)
    np.testing.assert_allclose(ours.eigenvectors_, vectors, atol=1e-9)
    K = reference.rbf_kernel(X, X, gamma)
    pre = KernelPCA(3, kernel="precomputed", eigen_solver="dense").fit(K)
    np.testing.assert_allclose(pre.eigenvalues_, values, rtol=1e-9)
    np.testing.assert_allclose(pre.transform(K[:4]), ours.transform(X[:4]), atol=1e-9)


def test_kernel_pca_none_drops_zero_eigenvalues_and_float32():
    X = low_rank(30, 3, seed=7)
    linear = KernelPCA().fit(X)
    assert linear.eigenvalues_.shape == (3,)  # rank of the centred linear kernel
    np.testing.assert_allclose(linear.eigenvalues_,
                               sk_decomposition.KernelPCA().fit(X).eigenvalues_, rtol=1e-9)
    Z = KernelPCA(2, kernel="rbf").fit_transform(X.astype(np.float32))
    assert Z.dtype == np.float32


@pytest.mark.parametrize("kwargs, match", [
    ({"kernel": "laplacian"}, "kernel must be one of"),
    ({"eigen_solver": "lobpcg"}, "eigen_solver must be one of"),
    ({"kernel": "precomputed", "fit_inverse_transform": True}, "precomputed"),
    ({"n_components": 0}, "n_components"),
])
def test_kernel_pca_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        KernelPCA(**kwargs).fit(np.eye(4))
    with pytest.raises(ValueError, match="inverse transform is not available"):
        KernelPCA(1).fit(np.eye(4) + 1).inverse_transform(np.ones((1, 1)))


@pytest.mark.parametrize("est", [PCA(), PCA(2, svd_solver="randomized", random_state=0),
                                 KernelPCA(), KernelPCA(1, kernel="rbf")], ids=repr)
def test_sklearn_check_estimator(est):
    from sklearn.utils.estimator_checks import check_estimator

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_estimator(est)


@pytest.mark.parametrize("whiten", [False, True])
def test_pca_precision_and_score_match_sklearn(whiten):
    X = low_rank(200, 12, seed=6)
    ours = PCA(3, whiten=whiten, svd_solver="full").fit(X)
    ref = sk_decomposition.PCA(3, whiten=whiten, svd_solver="full").fit(X)
    np.testing.assert_allclose(ours.get_precision() @ ref.get_covariance(), np.eye(12),
                               atol=1e-9)
    np.testing.assert_allclose(ours.score_samples(X), ref.score_samples(X), rtol=1e-9)
    assert ours.score(X) == pytest.approx(ref.score(X), rel=1e-9)
