"""TSNE: the FFT-interpolated gradient (FIt-SNE) against the exact one, sparse and
metric inputs, verbose output."""

import numpy as np
import pytest

import fastml
from fastml import manifold
from fastml.manifold import TSNE


@pytest.fixture(autouse=True)
def _one_thread():
    with fastml.threads(1):
        yield


def _kernels():
    from fastml.kernels import _tsne

    return _tsne


def points(n, d, seed=0):
    return np.random.default_rng(seed).standard_normal((n, d))


def _sparse_p(n=500, seed=4):
    est = TSNE(perplexity=10.0)
    X = points(n, 5, seed=seed)
    est._check_params(X)
    return est._affinities(X, 1)


def _fft(P, Y, min_boxes, monkeypatch):
    monkeypatch.setattr(manifold, "_FFT_MIN_BOXES", min_boxes)
    grad, phi = np.empty_like(Y), np.empty((len(Y), 4))
    kl = manifold._FFTRepulsion(1)(_kernels(), P.indptr.astype(np.intc),
                                   P.indices.astype(np.intc), P.data, Y, grad, phi, True)
    return kl, grad


@pytest.mark.parametrize("scale, bound", [(1.0, 1e-3), (10.0, 0.1)])
def test_fft_gradient_converges_to_the_exact_one(scale, bound, monkeypatch):
    """Degree-2 Lagrange interpolation has error O(h^3 K''') per box of side h: with the
    default grid (>= 50 boxes, h = span / 50) the measured relative gradient error is
    5.5e-5 for a cloud of span ~6 and 4e-2 for span ~60 (h ~ 1.2, the kernel's own
    scale); bounds are 2x those. Four times finer boxes must cut the error by > 10
    (64 in the limit; 29 measured at span 60)."""
    P = _sparse_p()
    Y = np.ascontiguousarray(scale * points(500, 2, seed=5))
    exact = np.empty_like(Y)
    kl_exact = _kernels().exact_gradient(np.ascontiguousarray(P.toarray()), Y, exact, True, 1)
    errors = []
    for boxes in (50, 200):
        kl, grad = _fft(P, Y, boxes, monkeypatch)
        errors.append(np.linalg.norm(grad - exact) / np.linalg.norm(exact))
        np.testing.assert_allclose(kl, kl_exact, rtol=bound / 4)
    assert errors[0] < bound
    assert errors[1] < errors[0] / 10


def test_fft_fit_reports_the_kl_of_its_embedding():
    X = np.repeat(points(4, 10, seed=1) * 5, 60, axis=0) + points(240, 10, seed=2)
    est = TSNE(method="fft", perplexity=10.0, random_state=0, max_iter=400).fit(X)
    assert est.embedding_.shape == (240, 2) and np.isfinite(est.embedding_).all()
    P = est._affinities(X, 1)
    Y = np.ascontiguousarray(est.embedding_, dtype=np.float64)
    kl = _kernels().exact_gradient(np.ascontiguousarray(P.toarray()), Y, np.empty_like(Y),
                                   True, 1)
    # measured 0.75 % (the interpolated Z, and the last step taken after the KL)
    np.testing.assert_allclose(est.kl_divergence_, kl, rtol=0.02)


def _neighbour_graph(X):
    """All pairwise distances as an explicit CSR graph (the diagonal stored as 0)."""
    import scipy.sparse

    D = np.sqrt(manifold._sq_euclidean(X))
    return D, scipy.sparse.csr_matrix((D.ravel(), np.tile(np.arange(len(X)), len(X)),
                                       np.arange(0, len(X) ** 2 + 1, len(X))))


def test_sparse_precomputed_graph_gives_the_dense_affinities():
    D, G = _neighbour_graph(points(60, 3, seed=3))
    est = TSNE(metric="precomputed", perplexity=8.0, init="random")
    est._check_params(D)
    np.testing.assert_allclose(est._affinities(G, 1).toarray(), est._affinities(D, 1).toarray(),
                               rtol=1e-14, atol=1e-18)
    emb = TSNE(metric="precomputed", perplexity=8.0, init="random", max_iter=250,
               random_state=0).fit_transform(G)
    assert emb.shape == (60, 2) and np.isfinite(emb).all()


def test_sparse_precomputed_graph_errors():
    import scipy.sparse

    _, G = _neighbour_graph(points(10, 2))
    with pytest.raises(TypeError, match="sparse"):
        TSNE(metric="precomputed", method="exact", init="random", perplexity=2).fit(G)
    few = scipy.sparse.csr_matrix(np.eye(10)[np.r_[1:10, 0]] + np.eye(10)[np.r_[2:10, :2]])
    with pytest.raises(ValueError, match="5 neighbors per samples are required, but some "
                                         "samples have only 2"):
        TSNE(metric="precomputed", init="random", perplexity=1).fit(few)


def test_sparse_features_give_the_dense_affinities_and_start():
    import scipy.sparse

    X = points(50, 6, seed=4)
    X[np.abs(X) < 0.7] = 0
    for method in ("exact", "barnes_hut"):
        est = TSNE(perplexity=6.0, method=method)
        est._check_params(X)
        Pd, Ps = est._affinities(X, 1), est._affinities(scipy.sparse.csr_matrix(X), 1)
        dense = (lambda P: P) if method == "exact" else (lambda P: P.toarray())
        np.testing.assert_allclose(dense(Ps), dense(Pd), rtol=1e-9, atol=1e-15)
    rng = np.random.default_rng(0)
    Yd = est._initial_embedding(X, 2, rng)
    Ys = est._initial_embedding(scipy.sparse.csr_matrix(X), 2, rng)
    np.testing.assert_allclose(np.abs(Ys), np.abs(Yd), rtol=1e-7, atol=1e-12)


def test_metric_is_the_same_as_its_precomputed_distances():
    from scipy.spatial.distance import pdist, squareform

    X = points(30, 4, seed=5)
    kw = {"perplexity": 5.0, "init": "random", "random_state": 0, "max_iter": 250}
    a = TSNE(metric="manhattan", **kw).fit_transform(X)
    b = TSNE(metric="precomputed", **kw).fit_transform(squareform(pdist(X, "cityblock")))
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="All distances .*metric given"):
        TSNE(metric=lambda u, v: -1.0, method="exact", perplexity=1).fit(X[:3])
    with pytest.raises(ValueError, match="V or VI"):
        TSNE(metric="mahalanobis", perplexity=5.0).fit(X)


def test_verbose_reports_progress(capsys):
    TSNE(perplexity=4.0, verbose=2, max_iter=250, random_state=0).fit(points(12, 3))
    out = capsys.readouterr().out
    for line in ("nearest neighbors", "Mean sigma", "early exaggeration", "error = "):
        assert line in out
