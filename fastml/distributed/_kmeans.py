"""``fastml.distributed.KMeans``: k-means|| seeding and Lloyd iterations over Dask blocks.

Every pass over the data is one task per row block, run on the workers by fastml's
Lloyd kernel (``kernels/_kmeans.pyx``); only per-block summaries (k x d sums, k
weights, a cost) travel back to the client, which reduces them and updates the
centres.
"""

import math
import numbers

import numpy as np

from fastml import _kernels
from fastml._validation import (
    ARRAY_LIKE,
    RANDOM_STATE,
    Interval,
    Options,
    check_array,
    check_n_samples,
    check_ndim,
    check_random_state,
    check_shape,
    float_dtype_of,
)
from fastml.base import BaseEstimator, ClusterMixin, TransformerMixin, check_is_fitted
from fastml.distributed._dask import (
    as_dask_array,
    is_dask_collection,
    one_thread_per_task,
    require,
)


# ------------------------------------------------------------------ per-block tasks
def _float_block(X, dtype):
    return np.ascontiguousarray(X, dtype=dtype)


def _nearest(X, centers):
    """Labels (int32) of the nearest centre and the squared distances to it (float64)."""
    k_ = _kernels.load("_kmeans")
    X = _float_block(X, centers.dtype)
    labels = np.empty(X.shape[0], dtype=np.intc)
    empty2 = np.empty((0, 0), dtype=X.dtype)
    with _kernels.blas_single_threaded():  # the kernel runs 1 thread (its last int)
        k_.lloyd_iter(X, np.ones(X.shape[0], X.dtype), centers, empty2, np.empty(0, X.dtype),
                      labels, np.empty((0, 0, 0), X.dtype), empty2, 1, False)
    diff = X - centers[labels]
    return labels, np.einsum("ij,ij->i", diff, diff, dtype=np.float64)


def _lloyd_block(X, centers):
    """One block's Lloyd summary at ``centers``: (sums (k, d), counts (k,), inertia).

    sums[j] = sum of the rows nearest to centre j, counts[j] their number, inertia
    sum_i ||x_i - c_{label i}||^2: fastml's kernel on one thread (Dask runs the blocks
    of a worker side by side on its threads).
    """
    k_ = _kernels.load("_kmeans")
    X = _float_block(X, centers.dtype)
    n, d = X.shape
    k = centers.shape[0]
    w = np.ones(n, dtype=X.dtype)
    sums = np.empty((k, d), dtype=X.dtype)
    counts = np.empty(k, dtype=X.dtype)
    labels = np.empty(n, dtype=np.intc)
    with _kernels.blas_single_threaded():  # the kernel runs 1 thread (its last int)
        k_.lloyd_iter(X, w, centers, sums, counts, labels, np.empty((1, k, d), X.dtype),
                      np.empty((1, k), X.dtype), 1, True)
        inertia = k_.inertia(X, w, centers, labels, 1)
    return sums.astype(np.float64), counts.astype(np.float64), float(inertia)


def _cost_block(X, centers, check_finite=True):
    """sum_i min_c ||x_i - c||^2 of one block (NaN when ``check_finite`` and the block is
    not finite: the first pass over X asks, later passes know the answer)."""
    if check_finite and not np.isfinite(X).all():
        return math.nan
    return float(_nearest(X, centers)[1].sum())


def _oversample(X, centers, factor, seed):
    """Rows kept independently with probability min(1, factor * d^2(x, centers))."""
    d2 = _nearest(X, centers)[1]
    keep = np.random.default_rng(seed).random(X.shape[0]) < factor * d2
    return np.ascontiguousarray(X[keep], dtype=centers.dtype)


def _counts_block(X, centers):
    return np.bincount(_nearest(X, centers)[0], minlength=centers.shape[0])


def _farthest_block(X, centers, m):
    """The ``m`` rows farthest from their nearest centre, with those distances."""
    d2 = _nearest(X, centers)[1]
    top = np.argsort(d2, kind="stable")[::-1][:m]
    return d2[top], np.ascontiguousarray(X[top], dtype=centers.dtype)


def _labels_block(X, centers):
    return _nearest(X, centers)[0]


def _distances_block(X, centers):
    """||x_i - c_j|| for every row and centre, as sqrt(|x|^2 - 2 x.c + |c|^2) (clipped at 0)."""
    X = _float_block(X, centers.dtype)
    with one_thread_per_task():
        cross = X @ centers.T
    sq = (np.einsum("ij,ij->i", X, X)[:, None] - 2.0 * cross
          + np.einsum("ij,ij->i", centers, centers)[None, :])
    return np.sqrt(np.maximum(sq, 0))


# --------------------------------------------------------------------- the estimator
class KMeans(ClusterMixin, TransformerMixin, BaseEstimator):
    """k-means on a ``dask.array`` (or a NumPy array) with k-means|| seeding.

    Minimises the inertia sum_i min_j ||x_i - c_j||^2 by Lloyd's iterations: assign
    every row to its nearest centre, move every centre to the mean of its rows. Each
    iteration is one pass of fastml's Lloyd kernel over every row block, on the
    workers; the client adds the blocks' sums and counts and divides. It stops when
    sum_j ||c_j^new - c_j||^2 <= tol * mean feature variance (as
    :class:`fastml.cluster.KMeans`) or after ``max_iter`` passes. An empty cluster takes
    the row farthest from its centre (as scikit-learn).

    k-means|| (Bahmani et al. 2012), the parallel version of k-means++: start from one
    uniformly drawn row; for ``R`` rounds keep every row independently with probability
    min(1, l d^2(x, C) / phi(C)) (l = ``oversampling_factor * n_clusters``, phi the
    current cost sum_x d^2(x, C)) and add the kept rows to C; weight every candidate by
    the rows nearest to it and reduce the weighted candidates to ``n_clusters`` centres
    with in-memory k-means++ (:class:`fastml.cluster.KMeans` with ``sample_weight``).
    ``R = min(init_max_iter, round(log phi_0))`` rounds: Bahmani et al.'s O(log phi)
    rounds, capped at 5 by default (with l = 2k, 5 rounds gave them seeds as good as
    k-means++; each round is two passes over the data). Each block draws its own stream
    spawned from ``random_state`` by (round, block), so the result depends on the seed
    and the blocks, not on the number of workers.

    Parameters
    ----------
    n_clusters : int
    init : {"k-means||", "random"} or ndarray (n_clusters, n_features)
        "random": ``n_clusters`` distinct rows drawn uniformly.
    oversampling_factor : float
        l / n_clusters, the expected candidates per round per cluster (2, as Bahmani
        et al. and dask-ml).
    init_max_iter : int or None
        Cap on the k-means|| rounds (None: round(log phi_0), as dask-ml).
    max_iter : int
    tol : float
    random_state : None, int or numpy Generator

    Attributes
    ----------
    cluster_centers_ : ndarray (n_clusters, n_features)
    labels_ : dask array (n_samples,) int32, lazy (``.compute()`` to gather it)
    inertia_ : float, at the final centres
    n_iter_ : int, Lloyd passes run
    n_features_in_ : int
    """

    _parameter_constraints = {
        "n_clusters": [Interval(numbers.Integral, 1)],
        "init": [Options("k-means||", "random"), ARRAY_LIKE],
        "oversampling_factor": [Interval(numbers.Real, 0, closed="neither")],
        "init_max_iter": [None, Interval(numbers.Integral, 1)],
        "max_iter": [Interval(numbers.Integral, 1)],
        "tol": [Interval(numbers.Real, 0)],
        "random_state": [RANDOM_STATE],
    }

    def __init__(self, n_clusters=8, *, init="k-means||", oversampling_factor=2.0,
                 init_max_iter=5, max_iter=300, tol=1e-4, random_state=None):
        self.n_clusters = n_clusters
        self.init = init
        self.oversampling_factor = oversampling_factor
        self.init_max_iter = init_max_iter
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state

    # -- passes over the blocks
    @staticmethod
    def _map(fn, blocks, *args):
        dask = require("dask")
        return dask.compute(*[dask.delayed(fn, pure=True)(b, *args) for b in blocks])

    def _check_X(self, X):
        """X as a float32/float64 dask array (NumPy input is checked in full first)."""
        if not is_dask_collection(X):
            X = check_array(X, "X", ndim=2, allow_empty=False)
        X = check_ndim(as_dask_array(X, "X"), "X", 2)
        dtype = float_dtype_of(X, "X")
        return X if X.dtype == dtype else X.astype(dtype)

    def fit(self, X, y=None):
        """Cluster ``X`` (dask array or dataframe, or NumPy); returns self."""
        X = self._check_X(X)
        n, d = X.shape
        check_n_samples(n, self.n_clusters, "n_clusters")
        X = X.persist()
        blocks = list(X.to_delayed().ravel())
        sizes = np.array(X.chunks[0])
        rng = check_random_state(self.random_state)
        if isinstance(self.init, str) and self.init == "k-means||":
            centers = self._kmeans_parallel(X, blocks, sizes, rng)
        elif isinstance(self.init, str):
            idx = np.sort(rng.choice(n, self.n_clusters, replace=False))
            centers = np.ascontiguousarray(X[idx].compute())
        else:
            centers = check_array(self.init, "init", ndim=2, dtype=X.dtype, copy=True)
            check_shape(centers, "init", (self.n_clusters, d), " = (n_clusters, n_features)")
        require("dask.array")
        tol = float(self.tol * X.var(axis=0).mean().compute())
        if not math.isfinite(tol):
            raise ValueError("X contains NaN or infinity")
        centers = centers.astype(X.dtype)
        n_iter = 0
        for n_iter in range(1, self.max_iter + 1):  # noqa: B007 (read after the loop)
            parts = self._map(_lloyd_block, blocks, centers)
            sums = sum(p[0] for p in parts)
            counts = sum(p[1] for p in parts)
            self._relocate_empty(blocks, centers, sums, counts)
            new = (sums / np.maximum(counts, 1)[:, None]).astype(X.dtype)
            shift = float(((new - centers).astype(np.float64) ** 2).sum())
            centers = new
            if shift <= tol:
                break
        self.inertia_ = float(sum(p[2] for p in self._map(_lloyd_block, blocks, centers)))
        self.cluster_centers_ = centers
        self.n_iter_ = n_iter
        self.n_features_in_ = d
        self.labels_ = X.map_blocks(_labels_block, centers, dtype=np.int32, drop_axis=1)
        return self

    def _relocate_empty(self, blocks, centers, sums, counts):
        """Empty clusters take the rows farthest from their centres (sums, counts in place)."""
        empty = np.flatnonzero(counts == 0)
        if empty.size == 0:
            return
        parts = self._map(_farthest_block, blocks, centers, empty.size)
        d2 = np.concatenate([p[0] for p in parts])
        rows = np.concatenate([p[1] for p in parts])
        for j, i in zip(empty, np.argsort(d2, kind="stable")[::-1][:empty.size]):
            sums[j] = rows[i]
            counts[j] = 1.0

    def _kmeans_parallel(self, X, blocks, sizes, rng):
        """k-means|| candidates, weighted and reduced to n_clusters centres."""
        from fastml.cluster import KMeans as InMemoryKMeans

        first = int(rng.integers(X.shape[0]))
        centers = np.ascontiguousarray(X[first:first + 1].compute())
        cost = sum(self._map(_cost_block, blocks, centers))
        if not math.isfinite(cost):
            raise ValueError("X contains NaN or infinity")
        rounds = max(1, int(round(math.log(cost)))) if cost > 1 else 1
        if self.init_max_iter is not None:
            rounds = min(rounds, self.init_max_iter)
        ell = self.oversampling_factor * self.n_clusters
        entropy = int(rng.integers(2**63))
        dask = require("dask")
        for r in range(rounds):
            if cost <= 0:
                break
            seeds = [np.random.SeedSequence(entropy, spawn_key=(r, b)) for b in
                     range(len(blocks))]
            new = dask.compute(*[dask.delayed(_oversample, pure=True)(b, centers, ell / cost, s)
                                 for b, s in zip(blocks, seeds)])
            centers = np.concatenate([centers, *new])
            cost = sum(self._map(_cost_block, blocks, centers, False))
        weights = sum(self._map(_counts_block, blocks, centers)).astype(np.float64)
        if centers.shape[0] <= self.n_clusters:  # too few candidates: top up at random
            extra = np.sort(rng.choice(X.shape[0], self.n_clusters - centers.shape[0],
                                       replace=False))
            return np.concatenate([centers, X[extra].compute()])
        reduced = InMemoryKMeans(self.n_clusters, n_init=1, random_state=rng).fit(
            centers, sample_weight=weights)
        return np.ascontiguousarray(reduced.cluster_centers_, dtype=X.dtype)

    # -- fitted model
    def predict(self, X):
        """Index of the nearest centre (a dask array for Dask input)."""
        check_is_fitted(self)
        if not is_dask_collection(X):
            X = check_array(X, "X", ndim=2, dtype=self.cluster_centers_.dtype)
            return _labels_block(X, self.cluster_centers_)
        return self._check_X(X).map_blocks(_labels_block, self.cluster_centers_,
                                           dtype=np.int32, drop_axis=1)

    def transform(self, X):
        """Distances to every centre (n_samples, n_clusters); a dask array for Dask input."""
        check_is_fitted(self)
        if not is_dask_collection(X):
            X = check_array(X, "X", ndim=2, dtype=self.cluster_centers_.dtype)
            return _distances_block(X, self.cluster_centers_)
        X = self._check_X(X)
        return X.map_blocks(_distances_block, self.cluster_centers_,
                            dtype=self.cluster_centers_.dtype,
                            chunks=(X.chunks[0], (self.n_clusters,)))

    def score(self, X, y=None):
        """Negative inertia of X at the fitted centres."""
        check_is_fitted(self)
        if not is_dask_collection(X):
            X = check_array(X, "X", ndim=2, dtype=self.cluster_centers_.dtype)
            return -_cost_block(X, self.cluster_centers_)
        X = self._check_X(X)
        return -float(sum(self._map(_cost_block, list(X.to_delayed().ravel()),
                                    self.cluster_centers_)))
