"""KMeans / MiniBatchKMeans: scikit-learn oracle, reference Lloyd loop, edge cases."""

import warnings

import numpy as np
import pytest

import fastml
from fastml.cluster import KMeans, MiniBatchKMeans, kmeans_plusplus
from fastml.reference.cluster import kmeans_lloyd

sk_cluster = pytest.importorskip("sklearn.cluster")


@pytest.fixture(autouse=True)
def _one_thread():
    with fastml.threads(1):
        yield


def blobs(n, d, k, seed=0, spread=1.0):
    rng = np.random.default_rng(seed)
    centres = 5 * rng.standard_normal((k, d))
    return centres[rng.integers(0, k, n)] + spread * rng.standard_normal((n, d))


@pytest.mark.parametrize("algorithm", ["lloyd", "elkan"])
@pytest.mark.parametrize("weighted", [False, True])
def test_kmeans_matches_sklearn_from_same_init(algorithm, weighted):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((3000, 6))
    init = X[:7].copy()
    w = rng.uniform(0.5, 2.0, len(X)) if weighted else None
    ours = KMeans(7, init=init, n_init=1, algorithm=algorithm, max_iter=100).fit(X, sample_weight=w)
    ref = sk_cluster.KMeans(7, init=init, n_init=1, algorithm=algorithm, max_iter=100).fit(
        X, sample_weight=w)
    np.testing.assert_allclose(ours.inertia_, ref.inertia_, rtol=1e-8)
    np.testing.assert_array_equal(ours.labels_, ref.labels_)
    np.testing.assert_allclose(ours.cluster_centers_, ref.cluster_centers_, rtol=1e-9, atol=1e-12)
    assert ours.n_iter_ == ref.n_iter_
    np.testing.assert_array_equal(ours.predict(X[:50]), ref.predict(X[:50]))
    np.testing.assert_allclose(ours.transform(X[:50]), ref.transform(X[:50]), rtol=1e-9)
    np.testing.assert_allclose(ours.score(X), ref.score(X), rtol=1e-9)


def test_kmeans_matches_reference_lloyd():
    X = blobs(200, 3, 4, seed=2, spread=2.0)
    init = X[:4].copy()
    centers, labels, inertia, n_iter = kmeans_lloyd(X, init, max_iter=50, tol=0)
    ours = KMeans(4, init=init, n_init=1, max_iter=50, tol=0).fit(X)
    np.testing.assert_allclose(ours.inertia_, inertia, rtol=1e-10)
    np.testing.assert_array_equal(ours.labels_, labels)
    np.testing.assert_allclose(ours.cluster_centers_, centers, rtol=1e-10, atol=1e-12)


def test_elkan_and_lloyd_agree_and_threads_do_not_change_the_answer():
    X = blobs(9000, 5, 6, seed=3, spread=3.0)
    init = X[:6].copy()
    runs = []
    for n_threads in (1, 2):
        with fastml.threads(n_threads):
            for algorithm in ("lloyd", "elkan"):
                runs.append(KMeans(6, init=init, n_init=1, algorithm=algorithm).fit(X))
    for run in runs[1:]:
        np.testing.assert_array_equal(run.labels_, runs[0].labels_)
        np.testing.assert_allclose(run.inertia_, runs[0].inertia_, rtol=1e-10)


def test_float32_preserved_and_close_to_float64():
    X = blobs(2000, 4, 3, seed=4)
    a = KMeans(3, random_state=0).fit(X.astype(np.float32))
    b = KMeans(3, random_state=0).fit(X)
    assert a.cluster_centers_.dtype == np.float32
    assert a.transform(X[:3].astype(np.float32)).dtype == np.float32
    np.testing.assert_allclose(a.inertia_, b.inertia_, rtol=1e-4)


def test_kmeans_plusplus_seeds_are_distinct_samples_and_reproducible():
    X = blobs(500, 2, 5, seed=5)
    centers, idx = kmeans_plusplus(X, 5, random_state=3)
    np.testing.assert_array_equal(centers, X[idx])
    assert len(set(idx)) == 5
    again, idx2 = kmeans_plusplus(X, 5, random_state=3)
    np.testing.assert_array_equal(idx, idx2)
    # greedy k-means++ finds every well separated blob: inertia close to the optimum
    best = KMeans(5, n_init=10, random_state=0).fit(X).inertia_
    seeded = KMeans(5, init=centers, n_init=1).fit(X).inertia_
    assert seeded <= 1.5 * best


def test_n_init_keeps_best_and_seed_reproduces():
    X = blobs(600, 2, 8, seed=6, spread=2.0)
    one = [KMeans(8, init="random", n_init=1, random_state=s).fit(X).inertia_ for s in range(5)]
    many = KMeans(8, init="random", n_init=10, random_state=0).fit(X)
    assert many.inertia_ <= np.median(one)
    again = KMeans(8, init="random", n_init=10, random_state=0).fit(X)
    np.testing.assert_array_equal(many.labels_, again.labels_)


def test_empty_cluster_is_relocated_like_sklearn():
    X = blobs(300, 2, 2, seed=7)
    init = np.vstack([X[:2], [[1e3, 1e3]]])
    ours = KMeans(3, init=init, n_init=1).fit(X)
    ref = sk_cluster.KMeans(3, init=init, n_init=1).fit(X)
    assert len(np.unique(ours.labels_)) == 3
    np.testing.assert_allclose(ours.inertia_, ref.inertia_, rtol=1e-8)


def test_sample_weight_integer_equals_repetition_from_same_init():
    X = blobs(100, 2, 3, seed=8)
    w = np.random.default_rng(0).integers(1, 4, len(X))
    init = X[:3].copy()
    a = KMeans(3, init=init, n_init=1).fit(X, sample_weight=w)
    b = KMeans(3, init=init, n_init=1).fit(np.repeat(X, w, axis=0))
    np.testing.assert_allclose(a.cluster_centers_, b.cluster_centers_, rtol=1e-10)
    np.testing.assert_allclose(a.inertia_, b.inertia_, rtol=1e-10)


def test_copy_x_false_restores_input():
    X = blobs(200, 3, 2, seed=9)
    X0 = X.copy()
    KMeans(2, n_init=1, random_state=0, copy_x=False).fit(X)
    np.testing.assert_allclose(X, X0, rtol=0, atol=1e-12)


def test_single_sample_and_single_cluster():
    km = KMeans(1, n_init=1).fit([[1.0, 2.0]])
    np.testing.assert_allclose(km.cluster_centers_, [[1.0, 2.0]])
    assert km.inertia_ == 0.0
    X = blobs(50, 2, 1)
    with pytest.warns(RuntimeWarning, match="single cluster"):
        km = KMeans(1, algorithm="elkan").fit(X)
    np.testing.assert_allclose(km.cluster_centers_[0], X.mean(axis=0))


def _sparse_blobs(n, d, seed, dtype):
    sp = pytest.importorskip("scipy.sparse")
    rng = np.random.default_rng(seed)
    X = blobs(n, d, 4, seed=seed) * (rng.uniform(size=(n, d)) < 0.4)
    return X.astype(dtype), sp.csr_matrix(X.astype(dtype))


@pytest.mark.parametrize("algorithm", ["lloyd", "elkan"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sparse_matches_dense_and_sklearn(algorithm, dtype):
    X, Xs = _sparse_blobs(1500, 8, 5, dtype)
    w = np.random.default_rng(6).uniform(0.5, 2.0, len(X))
    init = X[:4].copy()
    # float32 rounding (sums of ~1e3 terms) bounds the agreement; float64 is much tighter
    rtol = 1e-4 if dtype == np.float32 else 1e-9
    dense = KMeans(4, init=init, n_init=1, algorithm=algorithm).fit(X, sample_weight=w)
    ours = KMeans(4, init=init, n_init=1, algorithm=algorithm).fit(Xs, sample_weight=w)
    ref = sk_cluster.KMeans(4, init=init, n_init=1, algorithm=algorithm).fit(Xs, sample_weight=w)
    assert ours.cluster_centers_.dtype == dtype
    for other in (dense, ref):
        np.testing.assert_array_equal(ours.labels_, other.labels_)
        np.testing.assert_allclose(ours.inertia_, other.inertia_, rtol=rtol)
        np.testing.assert_allclose(ours.cluster_centers_, other.cluster_centers_, rtol=rtol,
                                   atol=rtol * np.abs(X).max())
    np.testing.assert_array_equal(ours.predict(Xs), dense.predict(X))
    np.testing.assert_allclose(ours.transform(Xs), dense.transform(X), rtol=rtol,
                               atol=rtol * np.abs(X).max())
    np.testing.assert_allclose(ours.score(Xs), dense.score(X), rtol=rtol)


def test_sparse_minibatch_and_kmeans_plusplus_match_dense():
    X, Xs = _sparse_blobs(2000, 6, 7, np.float64)
    seeds_dense = kmeans_plusplus(X, 5, random_state=0)
    seeds_sparse = kmeans_plusplus(Xs, 5, random_state=0)
    np.testing.assert_array_equal(seeds_sparse[1], seeds_dense[1])
    np.testing.assert_allclose(seeds_sparse[0], seeds_dense[0])
    kw = dict(n_clusters=5, batch_size=256, n_init=1, random_state=0, max_iter=5)
    dense = MiniBatchKMeans(**kw).fit(X)
    ours = MiniBatchKMeans(**kw).fit(Xs)
    np.testing.assert_allclose(ours.cluster_centers_, dense.cluster_centers_, rtol=1e-9,
                               atol=1e-12)
    np.testing.assert_array_equal(ours.labels_, dense.labels_)
    ours.partial_fit(Xs[:100])
    dense.partial_fit(X[:100])
    np.testing.assert_allclose(ours.cluster_centers_, dense.cluster_centers_, rtol=1e-9,
                               atol=1e-12)


@pytest.mark.parametrize("tol, reason", [(1e-2, "within tolerance"), (0, "strict convergence")])
def test_verbose_prints_progress(capsys, tol, reason):
    X = np.random.default_rng(8).standard_normal((2000, 4))  # no clear clusters: slow
    KMeans(5, n_init=1, init="random", random_state=0, tol=tol, verbose=1).fit(X)
    out = capsys.readouterr().out
    assert "Initialization complete" in out
    assert "Iteration 0, inertia" in out
    assert reason in out


def test_duplicate_points_warn():
    X = np.zeros((10, 2))
    with pytest.warns(fastml.ConvergenceWarning, match="distinct clusters"):
        KMeans(3, n_init=1, random_state=0).fit(X)


@pytest.mark.parametrize("kwargs, X, match", [
    ({"n_clusters": 5}, np.ones((3, 2)), "n_samples=3 should be >= n_clusters=5"),
    ({"n_clusters": 2}, [[0.0, np.nan], [1.0, 1.0]], "NaN or infinity"),
    ({"n_clusters": 0}, np.ones((3, 2)), "n_clusters"),
    ({"algorithm": "full", "n_clusters": 1}, np.ones((3, 2)), "algorithm"),
    ({"init": np.ones((2, 3)), "n_clusters": 2}, np.ones((4, 2)), "init should be of shape"),
    ({"init": "kmeans", "n_clusters": 2}, np.ones((4, 2)), "init must be one of"),
    ({"tol": -1.0, "n_clusters": 1}, np.ones((4, 2)), "tol"),
])
def test_kmeans_bad_input(kwargs, X, match):
    with pytest.raises(ValueError, match=match):
        KMeans(**kwargs).fit(X)


def test_bad_sample_weight_and_unfitted():
    X = np.ones((4, 2))
    with pytest.raises(ValueError, match="non-negative"):
        KMeans(1).fit(X, sample_weight=[1, -1, 1, 1])
    with pytest.raises(ValueError, match="sample_weight.shape"):
        KMeans(1).fit(X, sample_weight=[1, 1])
    with pytest.raises(fastml.NotFittedError):
        KMeans(1).predict(X)
    km = KMeans(1).fit(X)
    with pytest.raises(ValueError, match="3 features"):
        km.predict(np.ones((2, 3)))


def test_minibatch_close_to_full_kmeans_and_partial_fit():
    X = blobs(5000, 4, 5, seed=10)
    full = KMeans(5, random_state=0, n_init=3).fit(X)
    mb = MiniBatchKMeans(5, batch_size=256, random_state=0, n_init=3).fit(X)
    assert mb.inertia_ <= 1.05 * full.inertia_
    assert mb.labels_.shape == (5000,) and mb.n_steps_ >= 1
    again = MiniBatchKMeans(5, batch_size=256, random_state=0, n_init=3).fit(X)
    np.testing.assert_array_equal(mb.cluster_centers_, again.cluster_centers_)
    online = MiniBatchKMeans(5, random_state=0)
    for chunk in np.array_split(X, 20):
        online.partial_fit(chunk)
    assert -online.score(X) <= 1.3 * full.inertia_


EXPECTED_FAILED = {
    "check_sample_weight_equivalence_on_dense_data": "random seeding draws differently on "
        "weighted and repeated data (scikit-learn marks it xfail for KMeans too)",
    "check_sample_weight_equivalence_on_sparse_data": "the same, on sparse data",
}


@pytest.mark.parametrize("est", [KMeans(), MiniBatchKMeans(batch_size=10),
                                 KMeans(n_clusters=1, max_iter=5, n_init=2,
                                        algorithm="elkan")], ids=repr)
def test_sklearn_check_estimator(est):
    from sklearn.utils.estimator_checks import check_estimator

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_estimator(est, expected_failed_checks=EXPECTED_FAILED)
