"""linalg suite, eigen/SVD part: truncated SVD, Lanczos eigsh, PCA by eigh vs by SVD."""

import numpy as np

from fastml import linalg
from fastml.benchmarks import Case, Impl, register
from fastml.reference import spectral as reference


def low_rank(m, n, rng, rank=50):
    """A (m, n) matrix with singular values 10 * 0.8^i (i < rank) plus small noise."""
    rank = min(rank, m, n)
    u, _ = np.linalg.qr(rng.standard_normal((m, rank)))
    v, _ = np.linalg.qr(rng.standard_normal((n, rank)))
    return (u * (10.0 * 0.8 ** np.arange(rank))) @ v.T + 0.01 * rng.standard_normal((m, n))


def _svd_setup(size, rng):
    m, n, k = size
    return {"A": low_rank(m, n, rng), "k": k}


def _sklearn_randomized(A, k):
    from sklearn.utils.extmath import randomized_svd

    return randomized_svd(A, k, random_state=0)[1]


def _scipy_svds(A, k):
    import scipy.sparse.linalg

    return np.sort(scipy.sparse.linalg.svds(A, k, random_state=0)[1])[::-1]


def _top_singular_values(expected, actual, size):
    np.testing.assert_allclose(np.sort(actual)[::-1][:3], np.sort(expected)[::-1][:3],
                               rtol=1e-6)


register(Case(
    suite="linalg", name="truncated_svd",
    description="k largest singular values of a tall matrix with a decaying spectrum: "
                "fastml svds (Gram + evr) and randomized_svd vs scikit-learn's "
                "randomized_svd and SciPy's svds (ARPACK).",
    setup=_svd_setup,
    sizes=[(100_000, 500, 20)], quick_sizes=[(20_000, 200, 10)], test_sizes=[(300, 40, 5)],
    size_key=lambda s: s[0] * s[1], check=_top_singular_values,
    impls=[
        Impl("fastml", lambda A, k: np.sort(linalg.svds(A, k, random_state=0)[1])[::-1]),
        Impl("fastml-randomized", lambda A, k: linalg.randomized_svd(A, k, random_state=0)[1],
             kind="fastml"),
        Impl("fastml-lanczos", lambda A, k: np.sort(
            linalg.svds(A, k, solver="lanczos", random_state=0)[1])[::-1], kind="fastml"),
        Impl("reference", lambda A, k: reference.svd(A)[1][:k], max_size=300 * 40),
        Impl("sklearn", _sklearn_randomized, requires=("sklearn",)),
        Impl("scipy", _scipy_svds, requires=("scipy",)),
    ],
))


def _laplacian_setup(n, rng):
    import scipy.sparse

    adj = scipy.sparse.random(n, n, density=min(1.0, 10.0 / n), random_state=rng)
    adj = adj + adj.T
    lap = scipy.sparse.diags(np.asarray(adj.sum(axis=1)).ravel()) - adj
    return {"L": lap.tocsr()}


def _scipy_eigsh(L):
    import scipy.sparse.linalg

    return scipy.sparse.linalg.eigsh(L, 6, which="LA", v0=np.ones(L.shape[0]))[0]


register(Case(
    suite="linalg", name="eigsh_laplacian",
    description="6 largest eigenvalues of a sparse graph Laplacian: thick-restart Lanczos "
                "vs ARPACK (scipy.sparse.linalg.eigsh).",
    setup=_laplacian_setup,
    sizes=[10_000, 100_000], quick_sizes=[5_000], test_sizes=[200],
    rtol=1e-8,
    impls=[
        Impl("fastml", lambda L: linalg.eigsh(L, 6, which="LA", random_state=0)[0]),
        Impl("scipy", _scipy_eigsh, requires=("scipy",)),
    ],
))


def _pca_setup(size, rng):
    n, d = size
    scales = np.linspace(3.0, 0.1, d)
    return {"X": rng.standard_normal((n, d)) * scales, "k": min(10, d)}


def _pca_eigh(X, k):
    """Principal variances from the covariance: one SYRK (n d^2) + a d x d eigh."""
    Xc = X - X.mean(axis=0)
    cov = Xc.T @ Xc / (X.shape[0] - 1)
    w = linalg.eigh(cov, eigvals_only=True, subset_by_index=(X.shape[1] - k, X.shape[1] - 1))
    return w[::-1]


def _pca_svd(X, k):
    """Principal variances from the thin SVD of the centred data (2 n d^2 + more)."""
    Xc = X - X.mean(axis=0)
    s = linalg.svd(Xc, compute_uv=False)
    return (s[:k] ** 2) / (X.shape[0] - 1)


def _sklearn_pca(X, k):
    from sklearn.decomposition import PCA

    return PCA(k, svd_solver="full").fit(X).explained_variance_


register(Case(
    suite="linalg", name="pca_eigh_vs_svd",
    description="PCA variances of tall data via the covariance eigh vs via the SVD of the "
                "data (scikit-learn #27483) and scikit-learn's PCA(svd_solver='full').",
    setup=_pca_setup,
    sizes=[(1_000_000, 100)], quick_sizes=[(100_000, 50)], test_sizes=[(500, 8)],
    size_key=lambda s: s[0] * s[1], rtol=1e-8,
    impls=[
        Impl("fastml", _pca_eigh),
        Impl("fastml-svd", _pca_svd, kind="fastml"),
        Impl("sklearn", _sklearn_pca, requires=("sklearn",)),
    ],
))
