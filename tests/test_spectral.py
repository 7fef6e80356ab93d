"""fastml.linalg eigen/SVD solvers against SciPy, scikit-learn and the textbook references."""

import numpy as np
import pytest
import scipy.linalg
import scipy.sparse
import scipy.sparse.linalg

from fastml import linalg
from fastml.reference import spectral as reference


def symmetric(n, seed=0, dtype=np.float64):
    x = np.random.default_rng(seed).standard_normal((n, n))
    return ((x + x.T) / 2).astype(dtype)


def low_rank_plus_noise(m, n, rank=15, seed=0):
    """A matrix with a decaying spectrum (randomized SVD's intended use)."""
    rng = np.random.default_rng(seed)
    u, _ = np.linalg.qr(rng.standard_normal((m, rank)))
    v, _ = np.linalg.qr(rng.standard_normal((n, rank)))
    s = 10.0 * 0.7 ** np.arange(rank)
    return (u * s) @ v.T + 1e-3 * rng.standard_normal((m, n))


@pytest.mark.parametrize("driver", [None, "ev", "evd", "evr", "evx"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_eigh_matches_scipy_and_jacobi(driver, dtype):
    A = symmetric(30, 1, dtype)
    w, Q = linalg.eigh(A, driver=driver)
    assert w.dtype == dtype and Q.dtype == dtype
    tol = 1e-10 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(w, scipy.linalg.eigvalsh(A.astype(float)), atol=tol)
    np.testing.assert_allclose(w, reference.eigh(A)[0], atol=tol)
    np.testing.assert_allclose(A @ Q, Q * w, atol=10 * tol)
    np.testing.assert_allclose(Q.T @ Q, np.eye(30), atol=10 * tol)


def test_eigh_subset_and_eigvals_only():
    A = symmetric(25, 2)
    full = scipy.linalg.eigvalsh(A)
    w = linalg.eigh(A, subset_by_index=(20, 24), eigvals_only=True)
    np.testing.assert_allclose(w, full[20:], atol=1e-12)
    np.testing.assert_allclose(reference.qr_eigvalsh(A), full, atol=1e-10)
    assert linalg.eigh(np.zeros((0, 0)), eigvals_only=True).shape == (0,)


@pytest.mark.parametrize("which", ["LA", "SA", "LM"])
def test_eigsh_dense_matches_scipy(which):
    A = symmetric(200, 3)
    w, V = linalg.eigsh(A, 6, which=which, random_state=0)
    expected = scipy.sparse.linalg.eigsh(A, 6, which=which, v0=np.ones(200))[0]
    np.testing.assert_allclose(np.sort(w), np.sort(expected), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(A @ V, V * w, atol=1e-9)
    np.testing.assert_allclose(V.T @ V, np.eye(6), atol=1e-10)


def test_eigsh_sparse_laplacian_and_restarts():
    """Smallest eigenvalues of a graph Laplacian with a tiny basis: needs many restarts."""
    rng = np.random.default_rng(4)
    adj = scipy.sparse.random(600, 600, density=0.01, random_state=rng)
    adj = adj + adj.T
    lap = scipy.sparse.diags(np.asarray(adj.sum(axis=1)).ravel()) - adj
    w, V = linalg.eigsh(lap.tocsr(), 4, which="SA", ncv=12, random_state=0)
    expected = np.linalg.eigvalsh(lap.toarray())[:4]
    np.testing.assert_allclose(w, expected, atol=1e-8)
    op = scipy.sparse.linalg.aslinearoperator(lap)
    np.testing.assert_allclose(linalg.eigsh(op, 2, which="LA", random_state=1)[0],
                               np.linalg.eigvalsh(lap.toarray())[-2:], rtol=1e-10)


def test_eigsh_float32_and_invariant_subspace():
    A = np.diag(np.arange(1.0, 41.0)).astype(np.float32)
    w, V = linalg.eigsh(A, 3, random_state=0)
    assert w.dtype == np.float32 and V.dtype == np.float32
    np.testing.assert_allclose(w, [38, 39, 40], rtol=1e-5)
    # a start vector inside a 2-D invariant subspace still finds the top pair
    v0 = np.zeros(40)
    v0[:2] = 1.0
    np.testing.assert_allclose(linalg.eigsh(A.astype(float), 2, v0=v0)[0], [39, 40],
                               rtol=1e-10)


def test_power_and_inverse_iteration():
    A = symmetric(50, 5)
    all_w = np.linalg.eigvalsh(A)
    lam, v = linalg.power_iteration(A @ A, random_state=0)
    np.testing.assert_allclose(lam, (all_w ** 2).max(), rtol=1e-9)
    np.testing.assert_allclose(lam, reference.power_iteration(A @ A)[0], rtol=1e-9)
    lam, v = linalg.inverse_iteration(A, 0.1, random_state=0)
    np.testing.assert_allclose(lam, all_w[np.argmin(abs(all_w - 0.1))], atol=1e-10)
    np.testing.assert_allclose(A @ v, lam * v, atol=1e-8)


@pytest.mark.parametrize("solver", ["gram", "lanczos"])
@pytest.mark.parametrize("shape", [(120, 40), (40, 120)])
def test_svds_matches_scipy(shape, solver):
    A = np.random.default_rng(6).standard_normal(shape)
    U, s, Vt = linalg.svds(A, 5, solver=solver, random_state=0)
    expected = scipy.sparse.linalg.svds(A, 5, random_state=0)[1]
    np.testing.assert_allclose(s, expected, rtol=1e-10)
    np.testing.assert_allclose(A @ Vt.T, U * s, atol=1e-10)
    np.testing.assert_allclose(U.T @ U, np.eye(5), atol=1e-10)
    s_small = linalg.svds(A, 3, which="SM", random_state=0)[1]
    np.testing.assert_allclose(s_small, np.linalg.svd(A, compute_uv=False)[-3:][::-1],
                               rtol=1e-7)


def test_svd_drivers_and_golub_kahan():
    A = np.random.default_rng(7).standard_normal((30, 20))
    for driver in ("gesdd", "gesvd"):
        U, s, Vt = linalg.svd(A, driver=driver)
        np.testing.assert_allclose(U * s @ Vt, A, atol=1e-12)
    np.testing.assert_allclose(reference.svd(A)[1], np.linalg.svd(A, compute_uv=False),
                               rtol=1e-10)


@pytest.mark.parametrize("shape", [(500, 80), (80, 500)])
def test_randomized_svd_matches_sklearn(shape):
    from sklearn.utils.extmath import randomized_svd

    A = low_rank_plus_noise(*shape)
    U, s, Vt = linalg.randomized_svd(A, 8, random_state=0)
    U2, s2, Vt2 = randomized_svd(A, 8, random_state=0)
    exact = np.linalg.svd(A, compute_uv=False)[:8]
    np.testing.assert_allclose(s, exact, rtol=1e-6)
    np.testing.assert_allclose(s2, exact, rtol=1e-6)
    # same sign convention as scikit-learn, so the factors agree too
    np.testing.assert_allclose(U, U2, atol=1e-4)
    np.testing.assert_allclose(Vt, Vt2, atol=1e-4)


def test_bad_input_names_the_argument():
    A = symmetric(10)
    with pytest.raises(ValueError, match="A must be symmetric"):
        linalg.eigsh(A + np.triu(np.ones((10, 10)), 1), 2)
    with pytest.raises(ValueError, match="k must be < n"):
        linalg.eigsh(A, 10)
    with pytest.raises(ValueError, match="which"):
        linalg.eigsh(A, 2, which="XX")
    with pytest.raises(ValueError, match="ncv"):
        linalg.eigsh(A, 2, ncv=2)
    with pytest.raises(ValueError, match="driver"):
        linalg.eigh(A, driver="lapack")
    with pytest.raises(ValueError, match="subset_by_index"):
        linalg.eigh(A, subset_by_index=(3, 12))
    with pytest.raises(ValueError, match="A must be a square"):
        linalg.eigh(np.ones((3, 4)))
    with pytest.raises(ValueError, match="n_components"):
        linalg.randomized_svd(np.ones((5, 4)), 6)
    with pytest.raises(ValueError, match="v0"):
        linalg.eigsh(A, 2, v0=np.zeros(10))
    with pytest.raises(ValueError, match="A contains NaN"):
        linalg.svds(np.full((5, 4), np.nan), 2)
    with pytest.raises(ValueError, match="solver='gram'"):
        linalg.svds(np.ones((6, 5)), 2, which="SM", solver="gram")
    with pytest.raises(TypeError, match="LinearOperator"):
        linalg.eigsh(lambda v: v, 2)
