"""TSNE: kernels against the reference and scikit-learn's internals, end-to-end quality
against scikit-learn and openTSNE on (a subset of) the digits."""

import warnings

import numpy as np
import pytest

import fastml
from fastml import manifold
from fastml.manifold import TSNE
from fastml.reference import manifold as reference

sk_manifold = pytest.importorskip("sklearn.manifold")


@pytest.fixture(autouse=True)
def _one_thread():
    from threadpoolctl import threadpool_limits

    with fastml.threads(1), threadpool_limits(1):  # scikit-learn's OpenMP loops too
        yield


def _kernels():
    from fastml.kernels import _tsne

    return _tsne


def points(n, d, seed=0):
    return np.random.default_rng(seed).standard_normal((n, d))


def test_perplexity_search_matches_reference_and_hits_target_entropy():
    X = points(80, 5)
    D = manifold._sq_euclidean(X)
    P = np.empty_like(D)
    _kernels().binary_search_perplexity(D, 12.0, True, P, 1)
    ref = reference.conditional_probabilities(D, 12.0)
    np.testing.assert_allclose(P, ref, rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-12)
    entropy = -np.sum(np.where(P > 0, P * np.log(np.where(P > 0, P, 1)), 0), axis=1)
    np.testing.assert_allclose(entropy, np.log(12.0), atol=2e-5)
    assert np.all(np.diagonal(P) == 0)


def test_knn_matches_sklearn_neighbors():
    from sklearn.neighbors import NearestNeighbors

    X = points(300, 7, seed=1)
    k = 15
    idx = np.empty((300, k), dtype=np.intc)
    sq = np.empty((300, k))
    with fastml.threads(2):
        _kernels().knn(X, np.einsum("ij,ij->i", X, X), k, idx, sq, 2)
    dist, ref = NearestNeighbors(n_neighbors=k).fit(X).kneighbors()
    for i in range(300):
        assert set(idx[i]) == set(ref[i])
    np.testing.assert_allclose(np.sort(sq, axis=1), dist ** 2, rtol=1e-9, atol=1e-12)


def test_exact_gradient_matches_reference_and_sklearn():
    from sklearn.manifold._t_sne import _kl_divergence

    X, Y = points(60, 4, seed=2), points(60, 2, seed=3)
    P = manifold.joint_probabilities(manifold._sq_euclidean(X), 10.0)
    grad = np.empty_like(Y)
    kl = _kernels().exact_gradient(P, Y, grad, True, 1)
    kl_ref, grad_ref = reference.kl_gradient(P, Y)
    np.testing.assert_allclose(kl, kl_ref, rtol=1e-12)
    np.testing.assert_allclose(grad, grad_ref, rtol=1e-10, atol=1e-16)
    iu = np.triu_indices(60, 1)
    kl_sk, grad_sk = _kl_divergence(Y.ravel(), P[iu], 1, 60, 2)
    np.testing.assert_allclose(kl, kl_sk, rtol=1e-10)
    np.testing.assert_allclose(grad.ravel(), grad_sk, rtol=1e-9, atol=1e-16)


@pytest.mark.parametrize("scale", [1e-4, 1.0, 30.0])
def test_barnes_hut_gradient_exact_at_theta_zero_and_close_at_half(scale):
    X = points(400, 5, seed=4)
    k = 31
    idx = np.empty((400, k), dtype=np.intc)
    sq = np.empty((400, k))
    _kernels().knn(X, np.einsum("ij,ij->i", X, X), k, idx, sq, 1)
    P = manifold.joint_probabilities_nn(sq, idx, 10.0)
    Y = scale * points(400, 2, seed=5)
    args = (P.indptr.astype(np.intc), P.indices.astype(np.intc), P.data)
    exact = np.empty_like(Y)
    kl_exact = _kernels().exact_gradient(np.ascontiguousarray(P.toarray()), Y, exact, True, 1)
    grads = {}
    for theta in (0.0, 0.5):
        g, neg = np.empty_like(Y), np.empty_like(Y)
        with fastml.threads(2):
            kl = _kernels().bh_gradient(*args, Y, theta, g, neg, True, 2)
        grads[theta] = (kl, g)
    np.testing.assert_allclose(grads[0.0][1], exact, rtol=1e-9, atol=1e-12 * np.abs(exact).max())
    np.testing.assert_allclose(grads[0.0][0], kl_exact, rtol=1e-9)
    err = np.abs(grads[0.5][1] - exact).max() / np.abs(exact).max()
    assert err < 0.05
    np.testing.assert_allclose(grads[0.5][0], kl_exact, rtol=0.01)


def test_exact_tsne_matches_reference_loop():
    X = points(40, 3, seed=6)
    Y0 = 1e-4 * points(40, 2, seed=7)
    # a small step keeps the two floating-point trajectories together (larger steps make
    # the optimisation chaotic: rounding differences grow until the embeddings differ)
    ours = TSNE(perplexity=5.0, method="exact", init=Y0, max_iter=300, learning_rate=5.0,
                n_iter_without_progress=1000, min_grad_norm=0).fit(X)
    Y, kl = reference.tsne_exact(X, Y0, perplexity=5.0, max_iter=300, learning_rate=5.0)
    np.testing.assert_allclose(ours.kl_divergence_, kl, rtol=1e-6)
    np.testing.assert_allclose(ours.embedding_, Y, rtol=1e-5, atol=1e-6 * np.abs(Y).max())


def _knn_recall(X, Y, k=10):
    from sklearn.neighbors import NearestNeighbors

    a = NearestNeighbors(n_neighbors=k).fit(X).kneighbors(return_distance=False)
    b = NearestNeighbors(n_neighbors=k).fit(Y).kneighbors(return_distance=False)
    return np.mean([len(set(u) & set(v)) / k for u, v in zip(a, b)])


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    return load_digits().data[:400].astype(np.float64)


@pytest.fixture(scope="module")
def ours_bh(digits):
    from threadpoolctl import threadpool_limits

    with fastml.threads(1), threadpool_limits(1):
        return TSNE(random_state=0).fit(digits)


def test_digits_barnes_hut_kl_and_recall_vs_sklearn(digits, ours_bh):
    # Converged runs on 400 digits: over 6 random starts the KL divergence spreads by
    # sd 0.0014 (0.4 %) for both implementations, so 5 % is > 10 sd, not a seed's luck.
    ref = sk_manifold.TSNE(random_state=0).fit(digits)
    assert abs(ours_bh.kl_divergence_ / ref.kl_divergence_ - 1) < 0.05
    assert _knn_recall(digits, ours_bh.embedding_) >= _knn_recall(digits, ref.embedding_) - 0.02
    assert ours_bh.n_iter_ == ref.n_iter_


def test_digits_exact_kl_and_recall_vs_sklearn(digits):
    X = digits[:200]
    ours = TSNE(method="exact", random_state=0).fit(X)
    ref = sk_manifold.TSNE(method="exact", random_state=0).fit(X)
    # Converged exact runs on 200 digits spread over random starts by sd 0.0063 (fastml)
    # and 0.0087 (scikit-learn), about 3-4 %; another build (e.g. sanitizers, no -march)
    # follows another path. One run each: fastml no worse than 3 sd of the difference.
    assert ours.kl_divergence_ <= ref.kl_divergence_ + 3 * np.hypot(0.0063, 0.0087)
    assert _knn_recall(X, ours.embedding_) >= _knn_recall(X, ref.embedding_) - 0.02


def test_digits_recall_vs_opentsne(digits, ours_bh):
    openTSNE = pytest.importorskip("openTSNE")
    peer = openTSNE.TSNE(n_iter=750, n_jobs=1, random_state=0).fit(digits)
    assert abs(ours_bh.kl_divergence_ / peer.kl_divergence - 1) < 0.1
    assert _knn_recall(digits, ours_bh.embedding_) >= _knn_recall(digits, np.asarray(peer)) - 0.02


def test_seeded_float32_and_one_component():
    X = points(60, 4, seed=8)
    a = TSNE(perplexity=8, random_state=1, init="random", max_iter=300).fit_transform(X)
    b = TSNE(perplexity=8, random_state=1, init="random", max_iter=300).fit_transform(X)
    np.testing.assert_array_equal(a, b)  # same seed, same machine and threads: same run
    f32 = TSNE(perplexity=8, random_state=1, max_iter=300).fit_transform(X.astype(np.float32))
    assert f32.dtype == np.float32
    one = TSNE(1, perplexity=8, random_state=0, max_iter=300).fit(X)
    assert one.embedding_.shape == (60, 1) and np.isfinite(one.kl_divergence_)


# The bisection on each row's precision stops once |H(P_i) - log(perplexity)| < 1e-5, so
# distances that differ in the last bits may stop one step apart: P agrees to ~1e-5.
_P_RTOL = 1e-4


@pytest.mark.parametrize("method", ["barnes_hut", "exact"])
def test_precomputed_distances_give_the_euclidean_affinities_and_gradient(method):
    """A precomputed matrix is used as given: the squared distances give the same P and
    the same gradient. (Whole runs are not compared: 300 iterations of t-SNE amplify the
    last-bit differences between the two distance computations into other embeddings.)"""
    X = points(60, 4, seed=8)
    euclid = TSNE(perplexity=8, method=method)
    pre = TSNE(perplexity=8, method=method, metric="precomputed", init="random")
    D = manifold._sq_euclidean(X)
    euclid._check_params(X)
    pre._check_params(D)
    P_e, P_p = euclid._affinities(X, 1), pre._affinities(D, 1)
    dense = (lambda P: P) if method == "exact" else (lambda P: P.toarray())
    np.testing.assert_allclose(dense(P_p), dense(P_e), rtol=_P_RTOL, atol=1e-12)
    Y = np.ascontiguousarray(points(60, 2, seed=9))
    grads = []
    for P in (P_e, P_p):
        grad = np.empty_like(Y)
        if method == "exact":
            kl = _kernels().exact_gradient(P, Y, grad, True, 1)
        else:
            kl = _kernels().bh_gradient(P.indptr.astype(np.intc), P.indices.astype(np.intc),
                                        P.data, Y, 0.5, grad, np.empty_like(Y), True, 1)
        grads.append((kl, grad))
    np.testing.assert_allclose(grads[1][0], grads[0][0], rtol=_P_RTOL)
    np.testing.assert_allclose(grads[1][1], grads[0][1], rtol=_P_RTOL,
                               atol=_P_RTOL * np.abs(grads[0][1]).max())
    emb = pre.fit_transform(D)
    assert emb.shape == (60, 2) and np.isfinite(pre.kl_divergence_)


@pytest.mark.parametrize("kwargs, X, match", [
    ({"perplexity": 30.0}, points(20, 3), "perplexity .* must be less than n_samples"),
    ({"n_components": 4}, points(50, 3), "'n_components' should be at most 3"),
    ({"n_components": 3, "method": "fft"}, points(50, 3), "'n_components' should be at most 2"),
    ({"method": "fast"}, points(50, 3), "method must be one of"),
    ({"max_iter": 100}, points(50, 3), "max_iter"),
    ({"metric": "precomputed", "init": "random"}, points(50, 3), "square distance matrix"),
    ({"metric": "precomputed"}, np.eye(50), 'init="pca" cannot be used'),
    ({"init": np.zeros((3, 2))}, points(50, 3), "init should have shape"),
    ({}, [[0.0, np.nan]] * 50, "NaN"),
])
def test_bad_input(kwargs, X, match):
    with pytest.raises(ValueError, match=match):
        TSNE(**{"perplexity": 5.0, **kwargs}).fit(X)


@pytest.mark.parametrize("est", [TSNE(perplexity=2, random_state=0),
                                 TSNE(perplexity=2, method="exact", max_iter=250)], ids=repr)
def test_sklearn_check_estimator(est):
    from sklearn.utils.estimator_checks import check_estimator

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_estimator(est)
