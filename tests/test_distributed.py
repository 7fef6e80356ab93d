"""fastml.distributed on a LocalCluster of two single-threaded worker processes (loopback).

Oracles: fastml.mcmc.sample on one machine (the same draws), the in-memory estimators
(the same predictions), fastml.reference.distributed (the same Lloyd iterations) and
in-memory fastml k-means (the same inertia on well-separated blobs).
"""

import numpy as np
import pytest

pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")
numba = pytest.importorskip("numba")

import fastml  # noqa: E402
from fastml import distributed as fd  # noqa: E402
from fastml.distributed._dask import worker_threads  # noqa: E402
from fastml.reference import distributed as ref  # noqa: E402


@pytest.fixture(scope="module")
def client():
    """The benchmark suite's LocalCluster (2 processes x 1 thread), started once per run
    and shared with tests/test_registry.py's distributed cases (warm workers)."""
    from fastml.benchmarks.cases.distributed import local_client

    return local_client()


@numba.njit
def _gauss_logp(x):
    return -0.5 * (x[0] ** 2 + 4.0 * x[1] ** 2 + (x[2] - 1.0) ** 2)


@numba.njit
def _gauss_grad(x):
    return np.array([-x[0], -4.0 * x[1], -(x[2] - 1.0)])


def _assert_same_trace(a, b):
    np.testing.assert_array_equal(a.samples, b.samples)
    assert a.stats.keys() == b.stats.keys()
    for k in a.stats:
        np.testing.assert_array_equal(a.stats[k], b.stats[k])
    for attr in ("step_size", "inv_metric"):
        x, y = getattr(a, attr), getattr(b, attr)
        assert (x is None) == (y is None)
        if x is not None:
            np.testing.assert_array_equal(x, y)


# ----------------------------------------------------------------------------- sample
# Short chains may not mix (SamplingWarning): the draws themselves are the subject here.
QUIET = pytest.mark.filterwarnings("ignore::fastml.mcmc.SamplingWarning")


@QUIET
@pytest.mark.parametrize("chains", [1, 3])
def test_sample_gives_the_draws_of_one_machine(client, chains):
    kw = dict(grad=_gauss_grad, chains=chains, draws=150, tune=150, seed=7)
    got = fd.sample(client, _gauss_logp, np.zeros(3), **kw)
    want = fastml.mcmc.sample(_gauss_logp, np.zeros(3), **kw)
    _assert_same_trace(got, want)


@QUIET
@pytest.mark.parametrize("method", ["slice", "ensemble"])
def test_python_densities_and_every_method(client, method):
    def logp(x):  # plain Python: pickled to the workers, ctypes callbacks there
        return float(-0.5 * np.sum(x ** 2))

    kw = dict(method=method, chains=8 if method == "ensemble" else 2, draws=60, tune=60,
              seed=3)
    got = fd.sample(client, logp, np.zeros(2), **kw)
    want = fastml.mcmc.sample(logp, np.zeros(2), **kw)
    _assert_same_trace(got, want)


def test_errors_reach_the_caller(client):
    def logp(x):
        if x[0] > 0.5:
            raise ZeroDivisionError("from the worker")
        return -0.5 * float(x @ x)

    with pytest.raises(ZeroDivisionError, match="from the worker"):
        fd.sample(client, logp, np.zeros(1), method="rwmh", chains=2, draws=200, tune=50,
                  seed=0)
    with pytest.raises(TypeError, match="client"):
        fd.sample(object(), _gauss_logp, np.zeros(3), grad=_gauss_grad)
    with pytest.raises(ValueError, match="needs grad"):
        fd.sample(client, _gauss_logp, np.zeros(3))
    with pytest.raises(ValueError, match="workers"):
        fd.sample(client, _gauss_logp, np.zeros(3), grad=_gauss_grad, workers=["tcp://nowhere"])


@QUIET
def test_sample_on_chosen_workers(client):
    one = sorted(client.scheduler_info()["workers"])[:1]
    kw = dict(grad=_gauss_grad, chains=2, draws=50, tune=50, seed=11)
    _assert_same_trace(fd.sample(client, _gauss_logp, np.zeros(3), workers=one, **kw),
                       fastml.mcmc.sample(_gauss_logp, np.zeros(3), **kw))


def test_workers_run_fastml_on_their_own_threads(client):
    assert client.submit(worker_threads, pure=False).result() == 1
    assert worker_threads() is None  # the client process is no worker


# -------------------------------------------------------------------- ParallelPostFit
def _classification(rng, n=600):
    X = rng.standard_normal((n, 4))
    y = (X @ np.array([1.0, -2.0, 0.5, 0.0]) + 0.3 * rng.standard_normal(n) > 0).astype(int)
    return X, y


def test_parallel_post_fit_equals_the_in_memory_estimator(client):
    rng = np.random.default_rng(0)
    X, y = _classification(rng)
    Xd = da.from_array(X, chunks=128)
    est = fd.ParallelPostFit(fastml.linear_model.LogisticRegression()).fit(X, y)
    inner = est.estimator_
    for method in ("predict", "predict_proba", "decision_function"):
        got = getattr(est, method)(Xd)
        assert isinstance(got, da.Array)
        np.testing.assert_array_equal(got.compute(), getattr(inner, method)(X))
    assert est.score(Xd, da.from_array(y, chunks=128)) == pytest.approx(inner.score(X, y),
                                                                         rel=1e-12)
    np.testing.assert_array_equal(est.predict(X), inner.predict(X))  # NumPy: unchanged


def test_parallel_post_fit_transform_regression_and_return_std(client):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((300, 5))
    Xd = da.from_array(X, chunks=70)
    pca = fd.ParallelPostFit(fastml.decomposition.PCA(n_components=2)).fit(da.from_array(X))
    np.testing.assert_allclose(pca.transform(Xd).compute(), pca.estimator_.transform(X),
                               rtol=0, atol=1e-12)
    Xt = rng.standard_normal((80, 2))
    yt = np.sin(Xt[:, 0]) + 0.1 * rng.standard_normal(80)
    gp = fd.ParallelPostFit(fastml.gp.GaussianProcessRegressor()).fit(Xt, yt)
    Xq = rng.standard_normal((250, 2))
    mean, std = gp.predict(da.from_array(Xq, chunks=60), return_std=True)
    m0, s0 = gp.estimator_.predict(Xq, return_std=True)
    np.testing.assert_allclose(mean.compute(), m0, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(std.compute(), s0, rtol=1e-12, atol=1e-12)
    yq = np.sin(Xq[:, 0])
    assert gp.score(da.from_array(Xq, chunks=60), da.from_array(yq, chunks=60)) == \
        pytest.approx(gp.estimator_.score(Xq, yq), rel=1e-10)


def test_parallel_post_fit_wraps_scikit_learn_and_dataframes(client):
    sklearn_lm = pytest.importorskip("sklearn.linear_model")
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(2)
    X, y = _classification(rng, 200)
    est = fd.ParallelPostFit(sklearn_lm.LogisticRegression()).fit(X, y)
    frame = dd.from_pandas(pd.DataFrame(X, columns=list("abcd")), npartitions=3)
    np.testing.assert_array_equal(est.predict(frame).compute(), est.estimator_.predict(X))


def test_parallel_post_fit_needs_a_fitted_estimator():
    with pytest.raises(fastml.NotFittedError):
        fd.ParallelPostFit(fastml.linear_model.LogisticRegression()).predict(
            da.zeros((4, 2), chunks=2))


# ----------------------------------------------------------------------------- KMeans
def _blobs(rng, n_per=2500, d=6, k=4):
    centers = 10.0 * rng.standard_normal((k, d))
    return np.concatenate([c + rng.standard_normal((n_per, d)) for c in centers])


def test_kmeans_lloyd_equals_the_reference_from_the_same_centres(client):
    rng = np.random.default_rng(3)
    X = _blobs(rng)
    init = X[rng.choice(len(X), 4, replace=False)]
    Xd = da.from_array(X, chunks=1700)
    km = fd.KMeans(4, init=init, tol=1e-6).fit(Xd)
    centers, inertia, n_iter = ref.kmeans_blocks([b.compute() for b in Xd.blocks], init,
                                                 tol=1e-6)
    np.testing.assert_allclose(km.cluster_centers_, centers, rtol=1e-10, atol=1e-10)
    assert km.inertia_ == pytest.approx(inertia, rel=1e-10)
    assert km.n_iter_ == n_iter


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kmeans_parallel_init_finds_the_in_memory_optimum(client, dtype):
    rng = np.random.default_rng(4)
    X = _blobs(rng).astype(dtype)
    Xd = da.from_array(X, chunks=2000)
    km = fd.KMeans(4, random_state=0).fit(Xd)
    mem = fastml.cluster.KMeans(4, random_state=0, n_init=3).fit(X)
    # well-separated blobs: both reach the global optimum; float32 sums round at ~1e-6
    assert km.inertia_ == pytest.approx(mem.inertia_, rel=1e-4 if dtype == np.float32 else 1e-9)
    assert km.cluster_centers_.dtype == dtype
    labels = km.labels_.compute()
    np.testing.assert_array_equal(labels, km.predict(X))
    np.testing.assert_array_equal(km.predict(Xd).compute(), labels)
    np.testing.assert_allclose(km.transform(Xd).compute(), km.transform(X), rtol=1e-5)
    assert km.score(Xd) == pytest.approx(-km.inertia_, rel=1e-4)


def test_kmeans_does_not_depend_on_the_scheduler(client):
    rng = np.random.default_rng(5)
    Xd = da.from_array(_blobs(rng, n_per=800), chunks=900)
    on_cluster = fd.KMeans(4, random_state=1).fit(Xd)
    import dask

    with dask.config.set(scheduler="threads"):
        in_process = fd.KMeans(4, random_state=1).fit(Xd)
    np.testing.assert_array_equal(on_cluster.cluster_centers_, in_process.cluster_centers_)


def test_kmeans_bad_input():
    X = np.random.default_rng(6).standard_normal((10, 2))
    with pytest.raises(ValueError, match="n_clusters"):
        fd.KMeans(11).fit(X)
    with pytest.raises(ValueError, match="init"):
        fd.KMeans(2, init=np.zeros((3, 2))).fit(X)
    bad = X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fd.KMeans(2).fit(da.from_array(bad, chunks=5))
    with pytest.raises(ValueError, match="oversampling_factor"):
        fd.KMeans(2, oversampling_factor=0).fit(X)
