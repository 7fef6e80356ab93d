"""distributed suite: fastml on a Dask ``LocalCluster`` of two single-threaded workers.

- ``nuts_kidiq_workers``: 4 NUTS chains (tune = draws) of posteriordb's
  ``kidiq-kidscore_momhsiq`` (linear regression, sigma on the log scale) on both
  workers vs on one (``1 worker``): the same draws, so the ratio is the speed-up. Each
  call pays a fixed cost (scatter the density, submit 4 tasks, gather the draws: a few
  Dask round trips) on top of the chains' time, so the speed-up approaches 2 only as
  the chains grow (draws 1000 and 4000).
  Skipped when ``../shared/data/posteriordb`` is not beside the checkout.
- ``kmeans_blobs``: k-means (k = 8) of n x 20 Gaussian blobs in row blocks, vs dask-ml's
  ``KMeans`` (also k-means||, on the same persisted array) and in-memory fastml
  ``KMeans`` (``n_init=1``). Answer: the inertia at the returned centres, recomputed
  exactly for every implementation (dask-ml's ``inertia_`` is not the final inertia).
- ``postfit_predict``: ``LogisticRegression.predict`` of n x 10 rows in blocks of n/10
  through ``fastml.distributed.ParallelPostFit`` vs dask-ml's ``ParallelPostFit``
  wrapping the same fitted estimator, and vs gathering the rows and predicting in
  memory (``in memory``, the reference); rows/s.

The cluster starts once per process (about 2 s) and is shared by the cases and
``tests/test_distributed.py``. Every block task runs fastml on one thread, so the
cluster's two workers use the machine's two cores.
"""

import atexit
import functools
import json
import warnings
import zipfile

import numpy as np

from fastml.benchmarks import Case, Impl, register
from fastml.benchmarks._data import shared_data
from fastml.mcmc import SamplingWarning

_POSTERIOR = shared_data("posteriordb", "kidiq-kidscore_momhsiq", "data.json.zip")


@functools.cache
def local_client():
    """A ``distributed.Client`` on a LocalCluster: 2 worker processes x 1 thread, loopback."""
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           dashboard_address=None, host="127.0.0.1")
    client = Client(cluster)

    def close():
        client.close()
        cluster.close()

    atexit.register(close)
    return client


# --------------------------------------------------------------------------- NUTS
@functools.cache
def _kidiq():
    """(logp, value_and_grad) of kidiq: beta (3), log sigma; half-Cauchy(0, 2.5) on sigma."""
    from numba import njit

    with zipfile.ZipFile(_POSTERIOR) as z:
        data = json.loads(z.read(z.namelist()[0]))
    y = np.asarray(data["kid_score"], dtype=np.float64)
    hs = np.asarray(data["mom_hs"], dtype=np.float64)
    iq = np.asarray(data["mom_iq"], dtype=np.float64)
    n = float(y.shape[0])

    @njit
    def value_and_grad(theta):
        s2 = np.exp(2.0 * theta[3])
        r = y - (theta[0] + theta[1] * hs + theta[2] * iq)
        ss = np.sum(r * r)
        lp = -n * theta[3] - 0.5 * ss / s2 - np.log1p(s2 / 6.25) + theta[3]
        g = np.empty(4)
        g[0] = np.sum(r) / s2
        g[1] = np.sum(r * hs) / s2
        g[2] = np.sum(r * iq) / s2
        g[3] = -n + ss / s2 - 2.0 * (s2 / 6.25) / (1.0 + s2 / 6.25) + 1.0
        return lp, g

    @njit
    def logp(theta):
        return value_and_grad(theta)[0]

    return logp, value_and_grad


def _nuts_setup(draws, rng):
    return {"draws": draws}


def _nuts(workers):
    def prepare(inputs):
        from fastml import distributed

        client = local_client()
        addresses = sorted(client.scheduler_info()["workers"])[:workers]
        logp, grad = _kidiq()
        run = functools.partial(distributed.sample, client, logp, np.array([26.0, 6.0, 0.6, 2.9]),
                                grad=grad, chains=4, seed=0, progress=False, workers=addresses)
        run(draws=5, tune=5)  # compile the density on the workers, outside the timing
        return {"run": run, "draws": inputs["draws"]}

    return prepare


def _run_nuts(run, draws):
    with warnings.catch_warnings():  # short test-size chains need not mix
        warnings.simplefilter("ignore", SamplingWarning)
        return run(draws=draws, tune=draws).samples


if _POSTERIOR is not None:
    register(Case(
        suite="distributed", name="nuts_kidiq_workers", setup=_nuts_setup,
        sizes=[1000, 4000], quick_sizes=[200], test_sizes=[10], rtol=0,
        rates=lambda draws, samples: {"draws": 4 * draws},
        description="4 NUTS chains of posteriordb kidiq on 2 workers vs 1 (same draws)",
        impls=[Impl("fastml", _run_nuts, prepare=_nuts(2), requires=("distributed",)),
               Impl("1 worker", _run_nuts, kind="reference", prepare=_nuts(1),
                    requires=("distributed",))]))


# -------------------------------------------------------------------------- KMeans
def _blobs_setup(size, rng):
    n, d, k, block = size
    centers = 6.0 * rng.standard_normal((k, d))
    X = centers[rng.integers(0, k, n)] + rng.standard_normal((n, d))
    return {"X": X, "k": k, "block": block}


def _on_cluster(inputs):
    import dask.array as da

    local_client()
    Xd = da.from_array(inputs["X"], chunks=(inputs["block"], -1)).persist()
    return {"X": Xd, "k": inputs["k"], "data": inputs["X"]}


def _final_inertia(model, X):
    """sum_i min_j ||x_i - c_j||^2 at the model's centres, computed the same for every impl."""
    c = np.asarray(model.cluster_centers_, dtype=np.float64)
    d2 = (X * X).sum(1)[:, None] - 2.0 * X @ c.T + (c * c).sum(1)[None, :]
    return float(np.maximum(d2, 0).min(axis=1).sum())


def _fastml_kmeans(X, k, data):
    from fastml import distributed

    return distributed.KMeans(k, random_state=0).fit(X), data


def _daskml_kmeans(X, k, data):
    from dask_ml.cluster import KMeans

    return KMeans(n_clusters=k, random_state=0).fit(X), data


def _memory_kmeans(X, k):
    from fastml.cluster import KMeans

    return KMeans(k, n_init=1, random_state=0).fit(X), X


def _inertia_of(answer):
    model, X = answer
    return _final_inertia(model, X)


def _same_optimum(expected, actual, size):
    """Blobs 6 sd apart: every method should find the same optimum (1% of the inertia)."""
    assert abs(actual - expected) <= 0.01 * expected, (expected, actual)


register(Case(
    suite="distributed", name="kmeans_blobs", setup=_blobs_setup,
    sizes=[(2_000_000, 20, 8, 250_000)], quick_sizes=[(200_000, 20, 8, 25_000)],
    test_sizes=[(3000, 4, 3, 1000)], check=_same_optimum,
    size_key=lambda s: s[0], size_label=lambda s: f"{s[0]}x{s[1]} k={s[2]} blocks of {s[3]}",
    rates=lambda s, answer: {"rows": s[0]}, min_repeats=2,
    description="k-means|| + Lloyd over row blocks on 2 workers",
    impls=[Impl("fastml", _fastml_kmeans, prepare=_on_cluster, to_numpy=_inertia_of,
                requires=("distributed",)),
           Impl("dask-ml", _daskml_kmeans, prepare=_on_cluster, to_numpy=_inertia_of,
                requires=("distributed", "dask_ml")),
           Impl("fastml in memory", _memory_kmeans, kind="reference",
                prepare=lambda inputs: {"X": inputs["X"], "k": inputs["k"]},
                to_numpy=_inertia_of)]))


# ------------------------------------------------------------------ ParallelPostFit
def _rows_setup(n, rng):
    Xs = rng.standard_normal((5000, 10))
    ys = (Xs @ np.linspace(-1, 1, 10) > 0).astype(np.int64)
    return {"n": n, "Xs": Xs, "ys": ys}


def _postfit_inputs(inputs):
    import dask.array as da

    from fastml.linear_model import LogisticRegression

    local_client()
    n = inputs["n"]
    X = da.random.RandomState(0).standard_normal((n, 10), chunks=(max(1, n // 10), 10))
    return {"X": X.persist(), "model": LogisticRegression().fit(inputs["Xs"], inputs["ys"])}


def _fastml_postfit(X, model):
    from fastml import distributed

    return distributed.ParallelPostFit(model).predict(X).compute()


def _memory_predict(X, model):
    return model.predict(X.compute())


def _daskml_postfit(X, model):
    from dask_ml.wrappers import ParallelPostFit

    return ParallelPostFit(model).predict(X).compute()


register(Case(
    suite="distributed", name="postfit_predict", setup=_rows_setup,
    sizes=[10_000_000], quick_sizes=[1_000_000], test_sizes=[2000], rtol=0,
    rates=lambda n, answer: {"rows": n},
    description="LogisticRegression.predict block by block (10 blocks) on 2 workers",
    impls=[Impl("fastml", _fastml_postfit, prepare=_postfit_inputs,
                requires=("distributed",)),
           Impl("in memory", _memory_predict, kind="reference", prepare=_postfit_inputs,
                requires=("distributed",)),
           Impl("dask-ml", _daskml_postfit, prepare=_postfit_inputs,
                requires=("distributed", "dask_ml"))]))
