"""k-means clustering: :class:`KMeans` (Lloyd and Elkan) and :class:`MiniBatchKMeans`.

k-means minimises the inertia

    J(C) = sum_i w_i min_j ||x_i - c_j||^2

by alternating an assignment step (label each sample with its nearest centre) and an
update step (move each centre to the weighted mean of its samples). Each step cannot
increase J, so the loop stops at a local minimum; ``n_init`` restarts keep the best.

* Lloyd: the distances come from one GEMM per chunk of 256 samples,
  ||x - c||^2 = ||x||^2 - 2 x.c + ||c||^2 (the ||x||^2 term does not change the argmin).
* Elkan: upper and lower bounds on ||x_i - c_j|| and the triangle inequality skip most
  distance computations once the centres move little (Elkan, ICML 2003).
* k-means++ seeding (Arthur & Vassilvitskii 2007), greedy as in scikit-learn: each new
  centre is the best of 2 + floor(log k) candidates drawn with probability proportional
  to w_i D(x_i)^2, D = distance to the nearest chosen centre.

The samples are centred before the iterations (better conditioned GEMM distances) and
the mean is added back to ``cluster_centers_``. float32 input stays float32.
"""

import numbers
import warnings

import numpy as np

from fastml import _kernels
from fastml._errors import ConvergenceWarning
from fastml._validation import (
    ARRAY_LIKE,
    CALLABLE,
    RANDOM_STATE,
    Interval,
    Options,
    _is_sparse,
    check_array,
    check_n_features,
    check_n_samples,
    check_positive_int,
    check_random_state,
    check_sample_weight,
)
from fastml.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    ClusterMixin,
    TransformerMixin,
    _also_sklearns,
    check_is_fitted,
    validate_data,
)

__all__ = ["KMeans", "MiniBatchKMeans", "kmeans_plusplus"]


_SAMPLES_PER_THREAD = 2048  # below this many samples per thread, k-means runs serially


def _threads(n_samples):
    return _kernels.threads_for(n_samples, _SAMPLES_PER_THREAD)


def _issparse(X):
    """X is a (validated) SciPy CSR matrix."""
    return hasattr(X, "indptr")


def _validate(estimator, X, reset=True, dtype="float"):
    """``validate_data`` that also takes SciPy sparse X (returned as canonical CSR with
    int32 indices): n_features_in_ is recorded or checked the same way."""
    if not _is_sparse(X):
        return validate_data(estimator, X, reset=reset, dtype=dtype)
    X = check_array(X, "X", ndim=2, dtype=dtype, allow_empty=False, accept_sparse="csr")
    if reset:
        estimator.n_features_in_ = X.shape[1]
    else:
        check_n_features(X.shape[1], estimator, estimator.n_features_in_)
    return X


def _row_sq_norms(X):
    """||x_i||^2 per row, dense or CSR."""
    if _issparse(X):
        return np.asarray(X.multiply(X).sum(axis=1), dtype=X.dtype).ravel()
    return np.einsum("ij,ij->i", X, X)


def _dense_rows(X, idx):
    """A dense copy of the rows ``idx`` (an index array) of dense or CSR X."""
    rows = X[idx]
    return rows.toarray() if _issparse(X) else rows.copy()


def _sq_distances(A, B, b_sq_norms):
    """||a_i - b_j||^2 for the rows of A (dense or CSR) and B, clipped at 0 (GEMM form)."""
    d = _row_sq_norms(A)[:, None] - 2 * np.asarray(A @ B.T) + b_sq_norms[None, :]
    return np.maximum(d, 0, out=d)


def _lloyd_iter(X, *args):
    """The compiled Lloyd step for dense or CSR X (arguments as ``lloyd_iter``'s after X)."""
    k_ = _kernels.load("_kmeans")
    if _issparse(X):
        return k_.lloyd_iter_sparse(X.data, X.indices, X.indptr, *args)
    return k_.lloyd_iter(X, *args)


def _inertia(X, w, centers, labels, n_threads):
    """sum_i w_i ||x_i - c_{label i}||^2 for dense or CSR X (compiled)."""
    k_ = _kernels.load("_kmeans")
    if _issparse(X):
        return k_.inertia_sparse(X.data, X.indices, X.indptr, w, centers, labels, n_threads)
    return k_.inertia(X, w, centers, labels, n_threads)


def _kmeans_plusplus(X, n_clusters, x_sq_norms, sample_weight, rng, n_local_trials=None):
    """Greedy k-means++ seeding; returns (centers, indices)."""
    n = X.shape[0]
    centers = np.empty((n_clusters, X.shape[1]), dtype=X.dtype)
    indices = np.full(n_clusters, -1, dtype=np.intp)
    if n_local_trials is None:
        n_local_trials = 2 + int(np.log(n_clusters))
    p = sample_weight / sample_weight.sum()
    first = rng.choice(n, p=p)
    centers[0] = _dense_rows(X, [first])[0]
    indices[0] = first
    closest = _sq_distances(centers[:1], X, x_sq_norms)[0]
    for c in range(1, n_clusters):
        cumulative = np.cumsum(sample_weight * closest, dtype=np.float64)
        draws = rng.uniform(size=n_local_trials) * cumulative[-1]
        candidates = np.minimum(np.searchsorted(cumulative, draws), n - 1)
        candidate_rows = _dense_rows(X, candidates)
        to_candidates = _sq_distances(candidate_rows, X, x_sq_norms)
        np.minimum(closest, to_candidates, out=to_candidates)
        potentials = to_candidates @ sample_weight
        best = int(np.argmin(potentials))
        closest = to_candidates[best]
        centers[c] = candidate_rows[best]
        indices[c] = candidates[best]
    return centers, indices


def kmeans_plusplus(X, n_clusters, *, sample_weight=None, x_squared_norms=None,
                    random_state=None, n_local_trials=None):
    """k-means++ seeds: (centers (n_clusters, n_features), indices into X)."""
    X = check_array(X, "X", ndim=2, allow_empty=False, accept_sparse="csr")
    n_clusters = check_positive_int(n_clusters, "n_clusters")
    check_n_samples(X.shape[0], n_clusters, "n_clusters")
    w = check_sample_weight(sample_weight, X.shape[0], X.dtype)
    if x_squared_norms is None:
        norms = _row_sq_norms(X)
    else:
        norms = check_array(x_squared_norms, "x_squared_norms", ndim=(1, 2), dtype=X.dtype)
        if norms.shape[0] != X.shape[0]:
            raise ValueError(f"The length of x_squared_norms {norms.shape[0]} should be "
                             f"equal to the length of n_samples {X.shape[0]}.")
        norms = check_array(norms, "x_squared_norms", ndim=1)
    if n_local_trials is not None:
        n_local_trials = check_positive_int(n_local_trials, "n_local_trials")
    return _kmeans_plusplus(X, n_clusters, norms, w, check_random_state(random_state),
                            n_local_trials)


def _tolerance(X, tol):
    """Absolute tolerance on sum_j ||c_j^new - c_j||^2: tol times the mean feature variance."""
    if not tol:
        return 0.0
    if _issparse(X):
        mean = np.asarray(X.mean(axis=0)).ravel()
        variances = np.asarray(X.multiply(X).mean(axis=0)).ravel() - mean * mean
    else:
        variances = np.var(X, axis=0)
    return float(np.mean(variances) * tol)


class _Workspace:
    """Buffers reused across iterations: per-thread sums, new centres, labels."""

    def __init__(self, n, k, d, dtype, n_threads):
        self.n_threads = n_threads
        self.thread_sums = np.empty((n_threads, k, d), dtype=dtype)
        self.thread_weights = np.empty((n_threads, k), dtype=dtype)
        self.sums = np.empty((k, d), dtype=dtype)
        self.weights = np.empty(k, dtype=dtype)
        self.labels = np.zeros(n, dtype=np.intc)


def _relocate_empty(X, w, centers_old, ws):
    """Give every empty cluster the sample farthest from its centre (as scikit-learn);
    nothing moves when every sample sits on its centre (more clusters than distinct
    samples)."""
    empty = np.flatnonzero(ws.weights == 0)
    if empty.size == 0:
        return
    if _issparse(X):
        own = centers_old[ws.labels]
        distances = (_row_sq_norms(X) + np.einsum("ij,ij->i", own, own)
                     - 2 * np.asarray(X.multiply(own).sum(axis=1)).ravel())
    else:
        distances = ((X - centers_old[ws.labels]) ** 2).sum(axis=1)
    if distances.max() <= 0:
        return
    far = np.argsort(distances, kind="stable")[::-1][:empty.size]
    rows = _dense_rows(X, far)
    for new_id, idx, row in zip(empty, far, rows):
        old_id = ws.labels[idx]
        ws.sums[old_id] -= row * w[idx]
        ws.sums[new_id] = row * w[idx]
        ws.weights[new_id] = w[idx]
        ws.weights[old_id] -= w[idx]


def _update_centers(X, w, centers, ws):
    """New centres from the kernel's sums; returns (new centres, shift per centre).

    A cluster that is still empty after relocation is placed on the heaviest cluster's
    centre (as scikit-learn), not at the origin."""
    _relocate_empty(X, w, centers, ws)
    new = ws.sums.copy()
    nonzero = ws.weights > 0
    new[nonzero] /= ws.weights[nonzero, None]
    new[~nonzero] = new[np.argmax(ws.weights)]
    shift = np.sqrt(((new - centers) ** 2).sum(axis=1)).astype(X.dtype)
    return new, shift


def _half_center_distances(centers):
    """||c_a - c_b|| / 2 and, per row, its smallest off-diagonal value."""
    norms = np.einsum("ij,ij->i", centers, centers)
    half = np.sqrt(_sq_distances(centers, centers, norms)) / 2
    np.fill_diagonal(half, 0)
    if centers.shape[0] == 1:
        nxt = np.full(1, np.inf, dtype=centers.dtype)
    else:
        nxt = np.partition(half + np.diag(np.full(len(half), np.inf)), 0, axis=1)[:, 0]
    return np.ascontiguousarray(half, dtype=centers.dtype), nxt.astype(centers.dtype)


def _kmeans_single(X, w, centers, max_iter, tol, algorithm, ws, verbose=0):
    """Iterate from ``centers``; returns (labels, inertia, centers, n_iter).

    ``verbose`` prints scikit-learn's lines: the inertia of each iteration (before its
    centre update) and why the loop stopped. Sparse X runs the sparse Lloyd kernel for
    either algorithm (same fixed points; Elkan's bounds need dense rows).
    """
    k_ = _kernels.load("_kmeans")
    n_threads = ws.n_threads
    elkan = algorithm == "elkan" and centers.shape[0] > 1 and not _issparse(X)
    labels_old = np.full(X.shape[0], -1, dtype=np.intc)
    converged = False
    if elkan:
        upper = np.empty(X.shape[0], dtype=X.dtype)
        lower = np.empty((X.shape[0], centers.shape[0]), dtype=X.dtype)
        half, nxt = _half_center_distances(centers)
        k_.elkan_init_bounds(X, centers, half, ws.labels, upper, lower, n_threads)
        shift = np.zeros(centers.shape[0], dtype=X.dtype)

    def assign(update_sums):
        """Label every sample with its nearest centre (and accumulate the new sums)."""
        if elkan:
            k_.elkan_iter(X, w, centers, shift, half, nxt, upper, lower, ws.labels, ws.sums,
                          ws.weights, ws.thread_sums, ws.thread_weights, n_threads,
                          update_sums)
        else:
            _lloyd_iter(X, w, centers, ws.sums, ws.weights, ws.labels, ws.thread_sums,
                        ws.thread_weights, n_threads, update_sums)

    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        assign(True)
        if verbose:
            print(f"Iteration {n_iter - 1}, inertia "
                  f"{_inertia(X, w, centers, ws.labels, n_threads)}.")
        centers, shift = _update_centers(X, w, centers, ws)
        if elkan:
            half, nxt = _half_center_distances(centers)
        if np.array_equal(ws.labels, labels_old):
            converged = True
            if verbose:
                print(f"Converged at iteration {n_iter - 1}: strict convergence.")
            break
        shift_total = float(shift @ shift)
        if shift_total <= tol:
            if verbose:
                print(f"Converged at iteration {n_iter - 1}: center shift {shift_total} "
                      f"within tolerance {tol}.")
            break
        labels_old[:] = ws.labels
    if not converged:  # labels that match the final centres
        assign(False)
    inertia = _inertia(X, w, centers, ws.labels, n_threads)
    return ws.labels.copy(), inertia, centers, n_iter


def _labels_inertia(X, w, centers, n_threads):
    """Nearest-centre labels (int32) and the weighted inertia."""
    labels = np.empty(X.shape[0], dtype=np.intc)
    empty3 = np.empty((0, 0, 0), dtype=X.dtype)
    empty2 = np.empty((0, 0), dtype=X.dtype)
    with _kernels.blas_single_threaded():
        _lloyd_iter(X, w, centers, empty2, np.empty(0, X.dtype), labels, empty3, empty2,
                    n_threads, False)
    return labels, _inertia(X, w, centers, labels, n_threads)


def _check_init_shape(centers, n_clusters, n_features):
    """Initial centres must be (n_clusters, n_features), in scikit-learn's words."""
    if centers.shape != (n_clusters, n_features):
        what = (f"clusters {n_clusters}" if centers.shape[0] != n_clusters
                else f"features of the data {n_features}")
        raise ValueError(f"The shape of the initial centers {centers.shape} does not "
                         f"match the number of {what}: init should be of shape "
                         f"({n_clusters}, {n_features})")
    return centers


class _BaseKMeans(ClassNamePrefixFeaturesOutMixin, ClusterMixin, TransformerMixin,
                  BaseEstimator):
    """Parameter checks, initialisation and the predict/transform API shared by both."""

    _default_n_init = 10
    _parameter_constraints = {
        "n_clusters": [Interval(numbers.Integral, 1)],
        "init": [Options("k-means++", "random"), CALLABLE, ARRAY_LIKE],
        "n_init": [Options("auto"), Interval(numbers.Integral, 1)],
        "max_iter": [Interval(numbers.Integral, 1)],
        "tol": [Interval(numbers.Real, 0)],
        "random_state": [RANDOM_STATE],
    }

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def _check_params(self, X):
        """Parameters that depend on the data (the table has checked the rest)."""
        self._n_clusters = int(self.n_clusters)
        check_n_samples(X.shape[0], self._n_clusters, "n_clusters")
        init = self.init
        if not isinstance(init, str) and not callable(init):
            init = _check_init_shape(check_array(init, "init", ndim=2, dtype=X.dtype),
                                     self._n_clusters, X.shape[1])
        if self.n_init == "auto":
            n_init = 1 if isinstance(init, np.ndarray) or init == "k-means++" else \
                self._default_n_init
        else:
            n_init = int(self.n_init)
            if isinstance(init, np.ndarray) and n_init != 1:
                warnings.warn("Explicit initial center position passed: performing only "
                              f"one init in {type(self).__name__} instead of n_init={n_init}.",
                              RuntimeWarning, stacklevel=3)
                n_init = 1
        self._n_init = n_init
        return init, n_init

    def _init_centroids(self, X, x_squared_norms, init, random_state, sample_weight,
                        init_size=None, n_centroids=None):
        """``n_centroids`` (default n_clusters) initial centres from X (dense or CSR),
        drawn on a random subset of ``init_size`` samples when given (scikit-learn's
        signature)."""
        rng = check_random_state(random_state)
        k = self.n_clusters if n_centroids is None else n_centroids
        n = X.shape[0]
        w = sample_weight
        if init_size is not None and init_size < n:
            idx = rng.integers(0, n, init_size)
            X, x_squared_norms, w = X[idx], x_squared_norms[idx], w[idx]
        if isinstance(init, np.ndarray):
            return init.copy()
        if callable(init):
            centers = check_array(init(X, k, random_state=rng), "init(X)", ndim=2,
                                  dtype=X.dtype)
            return _check_init_shape(centers, k, X.shape[1])
        if init == "k-means++":
            return _kmeans_plusplus(X, k, x_squared_norms, w, rng)[0]
        return _dense_rows(X, rng.choice(X.shape[0], size=k, replace=False, p=w / w.sum()))

    @property
    def _n_features_out(self):
        return self.cluster_centers_.shape[0]

    def _check_test_data(self, X):
        check_is_fitted(self, "cluster_centers_")
        return _validate(self, X, reset=False, dtype=self.cluster_centers_.dtype)

    def predict(self, X):
        """Index of the nearest centre for each sample."""
        X = self._check_test_data(X)
        w = np.empty(X.shape[0], dtype=X.dtype)
        return _labels_inertia(X, w, self.cluster_centers_, _threads(X.shape[0]))[0]

    def transform(self, X):
        """Euclidean distances to every centre, shape (n_samples, n_clusters)."""
        X = self._check_test_data(X)
        c = self.cluster_centers_
        x_sq, c_sq = _row_sq_norms(X), np.einsum("ij,ij->i", c, c)
        d = _sq_distances(X, c, c_sq)
        # the GEMM form loses the small distances to cancellation: redo those exactly
        i, j = np.nonzero(d <= 16 * np.finfo(d.dtype).eps * (x_sq[:, None] + c_sq[None, :]))
        if i.size:
            d[i, j] = ((_dense_rows(X, i) - c[j]) ** 2).sum(axis=1)
        return np.sqrt(d)

    def fit_transform(self, X, y=None, sample_weight=None):
        return self.fit(X, sample_weight=sample_weight).transform(X)

    def fit_predict(self, X, y=None, sample_weight=None):
        return self.fit(X, sample_weight=sample_weight).labels_

    def score(self, X, y=None, sample_weight=None):
        """Opposite of the inertia of X on the fitted centres."""
        X = self._check_test_data(X)
        w = check_sample_weight(sample_weight, X.shape[0], X.dtype)
        return -_labels_inertia(X, w, self.cluster_centers_, _threads(X.shape[0]))[1]

    def _warn_distinct(self):
        distinct = len(np.unique(self.labels_))
        if distinct < self._n_clusters:
            warnings.warn(f"Number of distinct clusters ({distinct}) found smaller than "
                          f"n_clusters ({self._n_clusters}). Possibly due to duplicate "
                          "points in X.", _also_sklearns(ConvergenceWarning), stacklevel=3)


class KMeans(_BaseKMeans):
    """k-means clustering (scikit-learn's ``KMeans`` API).

    Parameters
    ----------
    n_clusters : int, default 8
    init : "k-means++", "random", array (n_clusters, n_features) or callable
        ``callable(X, n_clusters, random_state) -> centers``.
    n_init : "auto" or int
        Restarts; the run with the lowest inertia is kept. "auto": 1 for k-means++ or an
        array, 10 otherwise.
    max_iter : int, default 300
    tol : float, default 1e-4
        Stop when sum_j ||c_j^new - c_j||^2 <= tol * mean feature variance (or when the
        labels stop changing).
    random_state : None, int or numpy Generator
    copy_x : bool
        False lets the fit centre X in place (X must then be C-contiguous float); it is
        restored afterwards up to rounding.
    algorithm : "lloyd" or "elkan"
        Sparse (CSR/CSC) X runs the compiled sparse Lloyd kernel for both (the same
        iterates as Elkan's; its bounds are kept for dense X). "elkan" with one cluster
        warns and runs Lloyd, as scikit-learn.
    verbose : int
        > 0 prints scikit-learn's progress lines ("Initialization complete", the inertia
        of each iteration, the reason for stopping).

    Attributes
    ----------
    cluster_centers_, labels_, inertia_, n_iter_, n_features_in_
    """

    _parameter_constraints = {
        **_BaseKMeans._parameter_constraints,
        "algorithm": [Options("lloyd", "elkan")],
    }

    def __init__(self, n_clusters=8, *, init="k-means++", n_init="auto", max_iter=300,
                 tol=1e-4, verbose=0, random_state=None, copy_x=True, algorithm="lloyd"):
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.verbose = verbose
        self.random_state = random_state
        self.copy_x = copy_x
        self.algorithm = algorithm

    def fit(self, X, y=None, sample_weight=None):
        """Cluster X (dense, or sparse CSR/CSC); ``sample_weight`` (n_samples,) are
        non-negative weights."""
        X_in = X
        X = _validate(self, X)
        sparse = _issparse(X)
        in_place = not sparse and not self.copy_x and X.flags.writeable and X is X_in
        if not (sparse or in_place) and isinstance(X_in, np.ndarray) and \
                np.may_share_memory(X, X_in):
            X = X.copy()
        init, n_init = self._check_params(X)
        self._algorithm = self.algorithm
        if self.algorithm == "elkan" and self._n_clusters == 1:
            warnings.warn("algorithm='elkan' doesn't make sense for a single cluster. "
                          "Using 'lloyd' instead.", RuntimeWarning, stacklevel=2)
            self._algorithm = "lloyd"
        w = check_sample_weight(sample_weight, X.shape[0], X.dtype)
        rng = check_random_state(self.random_state)
        tol = _tolerance(X, self.tol)
        mean = np.zeros(X.shape[1], dtype=X.dtype) if sparse else X.mean(axis=0)
        if not sparse:  # sparse X is not centred (that would fill it)
            X -= mean
        if isinstance(init, np.ndarray):
            init = init - mean
        x_sq = _row_sq_norms(X)
        n_threads = _threads(X.shape[0])
        ws = _Workspace(X.shape[0], self._n_clusters, X.shape[1], X.dtype, n_threads)
        best = None
        with _kernels.blas_single_threaded():
            for _ in range(n_init):
                centers = self._init_centroids(X, x_sq, init, rng, w)
                if self.verbose:
                    print("Initialization complete")
                run = _kmeans_single(X, w, centers, self.max_iter, tol, self._algorithm, ws,
                                     self.verbose)
                if best is None or run[1] < best[1]:
                    best = run
        if in_place:
            X += mean
        labels, inertia, centers, n_iter = best
        self.cluster_centers_ = centers + mean
        self.labels_ = labels
        self.inertia_ = float(inertia)
        self.n_iter_ = n_iter
        self._warn_distinct()
        return self


class MiniBatchKMeans(_BaseKMeans):
    """k-means on random mini-batches (Sculley 2010), scikit-learn's API.

    Each step draws ``batch_size`` samples, assigns them to the nearest centre (the Lloyd
    kernel) and moves each centre to the running weighted mean of every sample it has
    been given: c_j <- (W_j c_j + sum_{batch in j} w_i x_i) / (W_j + sum_{batch in j} w_i),
    W_j += sum_{batch in j} w_i. Stops after ``max_iter`` passes over the data, when the
    smoothed batch inertia has not improved for ``max_no_improvement`` steps, or when
    ``tol`` > 0 and the centres move less than ``tol`` (scaled as in :class:`KMeans`).
    Centres whose weight falls below ``reassignment_ratio`` times the largest are moved
    to random batch samples.
    """

    _default_n_init = 3

    _parameter_constraints = {
        **_BaseKMeans._parameter_constraints,
        "batch_size": [Interval(numbers.Integral, 1)],
        "max_no_improvement": [None, Interval(numbers.Integral, 0)],
        "init_size": [None, Interval(numbers.Integral, 1)],
        "reassignment_ratio": [Interval(numbers.Real, 0)],
    }

    def __init__(self, n_clusters=8, *, init="k-means++", max_iter=100, batch_size=1024,
                 verbose=0, compute_labels=True, random_state=None, tol=0.0,
                 max_no_improvement=10, init_size=None, n_init="auto",
                 reassignment_ratio=0.01):
        self.n_clusters = n_clusters
        self.init = init
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.verbose = verbose
        self.compute_labels = compute_labels
        self.random_state = random_state
        self.tol = tol
        self.max_no_improvement = max_no_improvement
        self.init_size = init_size
        self.n_init = n_init
        self.reassignment_ratio = reassignment_ratio

    def _prepare(self, X):
        """Data-dependent parameters: (init, n_init, init_size) as scikit-learn sets
        them: init_size defaults to 3 batch_size (3 n_clusters if that is smaller than
        n_clusters) and is at most n_samples."""
        init, n_init = self._check_params(X)
        self._batch_size = min(int(self.batch_size), X.shape[0])
        k = self._n_clusters
        if self.init_size is None:
            init_size = 3 * self._batch_size
            init_size = 3 * k if init_size < k else init_size
        else:
            init_size = int(self.init_size)
            if init_size < k:
                warnings.warn(f"init_size={init_size} should be larger than n_clusters={k}. "
                              "Setting it to min(3*n_clusters, n_samples)", RuntimeWarning,
                              stacklevel=3)
                init_size = 3 * k
        self._init_size = min(init_size, X.shape[0])
        return init, n_init, self._init_size

    def _initial_centers(self, X, w, init, n_init, init_size, rng):
        """Best of ``n_init`` initialisations by inertia on a validation subset."""
        x_sq = _row_sq_norms(X)
        val = rng.integers(0, X.shape[0], init_size)
        best, best_inertia = None, np.inf
        for i in range(n_init):
            if self.verbose:
                print(f"Init {i + 1}/{n_init} with method {init}")
            centers = self._init_centroids(X, x_sq, init, rng, w, init_size=init_size)
            inertia = _labels_inertia(X[val], w[val], centers, _threads(len(val)))[1]
            if self.verbose:
                print(f"Inertia for init {i + 1}/{n_init}: {inertia}")
            if inertia < best_inertia:
                best, best_inertia = centers, inertia
        return best

    def _step(self, Xb, wb, rng):
        """One mini-batch update of ``cluster_centers_`` and ``_counts``; returns the
        batch inertia before the update."""
        c = self.cluster_centers_
        k, d = c.shape
        n_threads = _threads(Xb.shape[0])
        labels = np.empty(Xb.shape[0], dtype=np.intc)
        sums = np.empty((k, d), Xb.dtype)
        weights = np.empty(k, Xb.dtype)
        with _kernels.blas_single_threaded():
            _lloyd_iter(Xb, wb, c, sums, weights, labels,
                        np.empty((n_threads, k, d), Xb.dtype),
                        np.empty((n_threads, k), Xb.dtype), n_threads, True)
        inertia = _inertia(Xb, wb, c, labels, n_threads)
        total = self._counts + weights
        hit = weights > 0
        c[hit] = (c[hit] * self._counts[hit, None] + sums[hit]) / total[hit, None]
        self._counts = total
        self._n_since_reassign += Xb.shape[0]
        if self.reassignment_ratio > 0 and self._n_since_reassign >= 10 * k:
            low = self._counts < self.reassignment_ratio * self._counts.max()
            n_low = int(low.sum())
            if n_low:
                n_low = min(n_low, Xb.shape[0] // 2) if Xb.shape[0] > 1 else 0
                picks = rng.choice(Xb.shape[0], size=n_low, replace=False)
                which = np.flatnonzero(low)[:n_low]
                if self.verbose and n_low:
                    print(f"[MiniBatchKMeans] Reassigning {n_low} cluster centers.")
                c[which] = _dense_rows(Xb, picks)
                self._counts[which] = np.min(self._counts[~low]) if np.any(~low) else 0
            self._n_since_reassign = 0
        return inertia

    def fit(self, X, y=None, sample_weight=None):
        """Cluster X (dense, or sparse CSR/CSC) by mini-batch k-means."""
        X = _validate(self, X)
        init, n_init, init_size = self._prepare(X)
        w = check_sample_weight(sample_weight, X.shape[0], X.dtype)
        rng = self._rng = check_random_state(self.random_state)
        n = X.shape[0]
        tol = _tolerance(X, self.tol)
        self.cluster_centers_ = self._initial_centers(X, w, init, n_init, init_size, rng)
        self._counts = np.zeros(self._n_clusters, dtype=X.dtype)
        self._n_since_reassign = 0
        n_steps = (self.max_iter * n) // self._batch_size
        ewa, ewa_min, no_improvement = None, np.inf, 0
        alpha = min(1.0, 2.0 * self._batch_size / (n + 1))
        step = 0
        for step in range(1, n_steps + 1):
            idx = rng.integers(0, n, self._batch_size)
            old = self.cluster_centers_.copy()
            batch_inertia = self._step(X[idx], w[idx], rng) / self._batch_size
            ewa = batch_inertia if ewa is None else ewa * (1 - alpha) + batch_inertia * alpha
            if self.verbose:
                print(f"Minibatch step {step}/{n_steps}: mean batch inertia: "
                      f"{batch_inertia}, ewa inertia: {ewa}")
            if tol > 0 and float(((self.cluster_centers_ - old) ** 2).sum()) <= tol:
                if self.verbose:
                    print(f"Converged (small centers change) at step {step}/{n_steps}")
                break
            if ewa < ewa_min:
                ewa_min, no_improvement = ewa, 0
            else:
                no_improvement += 1
            if self.max_no_improvement is not None and \
                    no_improvement >= self.max_no_improvement:
                if self.verbose:
                    print("Converged (lack of improvement in inertia) at step "
                          f"{step}/{n_steps}")
                break
        self.n_steps_ = step
        self.n_iter_ = int(np.ceil(step * self._batch_size / n))
        if self.compute_labels:
            labels, inertia = _labels_inertia(X, w, self.cluster_centers_,
                                             _threads(X.shape[0]))
            self.labels_, self.inertia_ = labels, float(inertia)
            self._warn_distinct()
        return self

    def partial_fit(self, X, y=None, sample_weight=None):
        """One mini-batch step on X (the first call initialises the centres on X)."""
        first = not hasattr(self, "cluster_centers_")
        X = _validate(self, X, reset=first)
        w = check_sample_weight(sample_weight, X.shape[0], X.dtype)
        if first:
            init, n_init, init_size = self._prepare(X)
            self._rng = check_random_state(self.random_state)
            self.cluster_centers_ = self._initial_centers(X, w, init, n_init, init_size,
                                                          self._rng)
            self._counts = np.zeros(self._n_clusters, dtype=X.dtype)
            self._n_since_reassign = 0
            self.n_steps_ = 0
        self._step(X, w, self._rng)
        self.n_steps_ += 1
        if self.compute_labels:
            labels, inertia = _labels_inertia(X, w, self.cluster_centers_,
                                             _threads(X.shape[0]))
            self.labels_, self.inertia_ = labels, float(inertia)
        return self
