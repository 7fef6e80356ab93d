"""t-distributed stochastic neighbour embedding (:class:`TSNE`, scikit-learn's API).

t-SNE (van der Maaten & Hinton 2008) places points y_i in 2-D so that the Student-t
similarities q_ij = (1 + ||y_i - y_j||^2)^-1 / Z match the input affinities
p_ij = (p_{j|i} + p_{i|j}) / (2n), p_{j|i} = exp(-beta_i d_ij^2) / sum_k exp(-beta_i d_ik^2),
with each beta_i calibrated so that the perplexity 2^H(P_i) equals ``perplexity``. It
minimises KL(P || Q) = sum p_ij log(p_ij / q_ij) by gradient descent with momentum and
per-coordinate gains, multiplying P by ``early_exaggeration`` for the first 250
iterations.

* method="exact": dense P over all pairs, exact O(n^2) gradient.
* method="barnes_hut": P on the 3 * perplexity nearest neighbours (exact k-NN by GEMM
  blocks), repulsive forces from a quad tree in O(n log n) (van der Maaten 2014).

Every step runs in the compiled kernels ``fastml.kernels._tsne``; the loop over
iterations is here.
"""

import numbers

import numpy as np

from fastml import _kernels
from fastml._validation import (
    Interval,
    Options,
    check_array,
    check_bounds,
    check_n_jobs,
    check_option,
    check_random_state,
    check_shape,
    check_square,
)
from fastml.base import BaseEstimator, TransformerMixin, validate_data

__all__ = ["TSNE"]

_EXPLORATION_MAX_ITER = 250
_N_ITER_CHECK = 50
_MACHINE_EPSILON = np.finfo(np.double).eps


def _sq_euclidean(X):
    norms = np.einsum("ij,ij->i", X, X)
    D = norms[:, None] - 2 * (X @ X.T) + norms[None, :]
    np.maximum(D, 0, out=D)
    np.fill_diagonal(D, 0)
    return D


def joint_probabilities(distances, perplexity, n_threads=None):
    """Dense symmetric P from (squared) distances: p_ij = (p_{j|i} + p_{i|j}) / sum,
    clipped below at machine epsilon (exact method)."""
    n_threads = _kernels.threads_for(len(distances), 256) if n_threads is None else n_threads
    D = np.ascontiguousarray(distances, dtype=np.float64)
    cond = np.empty_like(D)
    _kernels.load("_tsne").binary_search_perplexity(D, float(perplexity), True, cond, n_threads)
    P = cond + cond.T
    P /= max(P.sum(), _MACHINE_EPSILON)
    np.maximum(P, _MACHINE_EPSILON, out=P)
    np.fill_diagonal(P, 0)
    return P


def joint_probabilities_nn(sq_dist, indices, perplexity, n_threads=None):
    """Sparse symmetric P (CSR) from the squared distances to each point's neighbours."""
    import scipy.sparse

    n_threads = _kernels.threads_for(len(sq_dist), 256) if n_threads is None else n_threads
    n, k = sq_dist.shape
    cond = np.empty((n, k), dtype=np.float64)
    _kernels.load("_tsne").binary_search_perplexity(np.ascontiguousarray(sq_dist, dtype=np.float64),
                                                    float(perplexity), False, cond, n_threads)
    P = scipy.sparse.csr_matrix((cond.ravel(), indices.ravel(),
                                 np.arange(0, n * k + 1, k)), shape=(n, n))
    P = (P + P.T).tocsr()
    P /= max(P.sum(), _MACHINE_EPSILON)
    P.sort_indices()
    return P


class TSNE(TransformerMixin, BaseEstimator):
    """t-SNE embedding.

    Parameters
    ----------
    n_components : int, default 2 (Barnes–Hut: 1 or 2)
    perplexity : float, default 30; must be < n_samples
    early_exaggeration : float, default 12
    learning_rate : "auto" or float
        "auto": max(n / early_exaggeration / 4, 50) (Belkina et al. 2019).
    max_iter : int, default 1000 (>= 250)
    n_iter_without_progress : int, default 300
    min_grad_norm : float, default 1e-7
    metric : "euclidean" or "precomputed" (a square distance matrix, not squared)
    init : "pca", "random" or array (n_samples, n_components)
        pca: first principal components scaled to standard deviation 1e-4 in the first
        coordinate; random: N(0, 1e-4^2).
    random_state : None, int or numpy Generator
    method : "barnes_hut" or "exact"
    angle : float, Barnes–Hut theta
    n_jobs : None or int
        At most this many threads (-1: all cores, as scikit-learn); None: as many as
        :func:`fastml.set_num_threads` allows. Small problems use fewer.
    verbose, metric_params :
        Accepted for scikit-learn compatibility and unused.

    Attributes
    ----------
    embedding_, kl_divergence_, n_iter_, learning_rate_, n_features_in_
    """

    def __init__(self, n_components=2, *, perplexity=30.0, early_exaggeration=12.0,
                 learning_rate="auto", max_iter=1000, n_iter_without_progress=300,
                 min_grad_norm=1e-7, metric="euclidean", metric_params=None, init="pca",
                 verbose=0, random_state=None, method="barnes_hut", angle=0.5, n_jobs=None):
        self.n_components = n_components
        self.perplexity = perplexity
        self.early_exaggeration = early_exaggeration
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.n_iter_without_progress = n_iter_without_progress
        self.min_grad_norm = min_grad_norm
        self.metric = metric
        self.metric_params = metric_params
        self.init = init
        self.verbose = verbose
        self.random_state = random_state
        self.method = method
        self.angle = angle
        self.n_jobs = n_jobs

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.pairwise = self.metric == "precomputed"
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    _parameter_constraints = {
        "method": [Options("barnes_hut", "exact")],
        "metric": [Options("euclidean", "precomputed")],
        "n_components": [Interval(numbers.Integral, 1)],
        "perplexity": [Interval(numbers.Real, 0, None, "neither")],
        "early_exaggeration": [Interval(numbers.Real, 1)],
        "max_iter": [Interval(numbers.Integral, _EXPLORATION_MAX_ITER)],
        "n_iter_without_progress": [Interval(numbers.Integral, -1)],
        "min_grad_norm": [Interval(numbers.Real, 0)],
        "angle": [Interval(numbers.Real, 0, 1)],
        "learning_rate": [Options("auto"), Interval(numbers.Real, 0, None, "neither")],
    }

    def _check_params(self, X):
        """The rules that depend on the data (the table has checked each parameter)."""
        n = X.shape[0]
        k = int(self.n_components)
        if self.method == "barnes_hut" and k > 2:
            raise ValueError(f"n_components must be 1 or 2 for method='barnes_hut', got {k}; "
                             "use method='exact'")
        if self.perplexity >= n:
            raise ValueError(f"perplexity ({self.perplexity}) must be less than n_samples "
                             f"({n})")
        self.learning_rate_ = max(n / self.early_exaggeration / 4, 50.0) \
            if isinstance(self.learning_rate, str) else float(self.learning_rate)
        if self.metric == "precomputed":
            check_square(X, "X (metric='precomputed': a square distance matrix)")
            check_bounds(X, "X (metric='precomputed': distances)", low=0)
            if isinstance(self.init, str) and self.init == "pca":
                raise ValueError('The parameter init="pca" cannot be used with '
                                 'metric="precomputed".')
        return k

    def _initial_embedding(self, X, k, rng):
        n = X.shape[0]
        if isinstance(self.init, str):
            check_option(self.init, "init", ("pca", "random"))
            if self.init == "random":
                return 1e-4 * rng.standard_normal((n, k))
            from fastml.decomposition import PCA

            Y = PCA(k, svd_solver="full" if min(X.shape) < 2 * k else "auto",
                    random_state=rng).fit_transform(X).astype(np.float64)
            std = np.std(Y[:, 0])
            return Y / std * 1e-4 if std > 0 else Y
        Y = check_array(self.init, "init", ndim=2, dtype=np.float64, copy=True)
        check_shape(Y, "init", (n, k), verb="should")
        return Y

    def _affinities(self, X, n_threads):
        n = X.shape[0]
        Xd = np.ascontiguousarray(X, dtype=np.float64)
        if self.method == "exact":
            D = Xd if self.metric == "precomputed" else _sq_euclidean(Xd)
            return joint_probabilities(D, self.perplexity, n_threads)
        k = min(n - 1, int(3.0 * self.perplexity + 1))
        if self.metric == "precomputed":
            D = Xd.copy()
            np.fill_diagonal(D, np.inf)
            idx = np.argpartition(D, k - 1, axis=1)[:, :k].astype(np.intc)
            sq = np.take_along_axis(D, idx, axis=1)
        else:
            idx = np.empty((n, k), dtype=np.intc)
            sq = np.empty((n, k), dtype=np.float64)
            with _kernels.blas_single_threaded():
                _kernels.load("_tsne").knn(Xd, np.einsum("ij,ij->i", Xd, Xd), k, idx, sq, n_threads)
        order = np.argsort(idx, axis=1)  # neighbours by index: P independent of search order
        idx = np.ascontiguousarray(np.take_along_axis(idx, order, axis=1))
        sq = np.take_along_axis(sq, order, axis=1)
        return joint_probabilities_nn(sq, idx, self.perplexity, n_threads)

    def _descend(self, Y, objective, start, max_iter, momentum, n_iter_without_progress,
                 n_threads):
        """Gradient descent with gains and momentum (scikit-learn's schedule)."""
        step = _kernels.load("_tsne").gradient_step
        grad = np.empty_like(Y)
        update = np.zeros_like(Y)
        gains = np.ones_like(Y)
        error = best_error = np.finfo(float).max
        best_iter = i = start
        for i in range(start, max_iter):
            check = (i + 1) % _N_ITER_CHECK == 0
            compute_error = check or i == max_iter - 1
            value = objective(Y, grad, compute_error)
            if compute_error:
                error = value
            norm2 = step(Y, grad, update, gains, momentum, self.learning_rate_, 0.01)
            if check:
                if error < best_error:
                    best_error, best_iter = error, i
                elif i - best_iter > n_iter_without_progress:
                    break
                if np.sqrt(norm2) <= self.min_grad_norm:
                    break
        return error, i

    def _fit(self, X):
        X = validate_data(self, X, ensure_min_samples=2)
        k = self._check_params(X)
        n_threads = _kernels.threads_for(X.shape[0], 256, limit=check_n_jobs(self.n_jobs))
        rng = check_random_state(self.random_state)
        P = self._affinities(X, n_threads)
        Y = self._initial_embedding(X, k, rng)
        if self.method == "barnes_hut" and k == 1:
            # The quad tree is 2-D: a zero second coordinate has zero gradient forever.
            Y = np.column_stack([Y, np.zeros(len(Y))])
        Y = np.ascontiguousarray(Y)
        kern = _kernels.load("_tsne")
        if self.method == "exact":
            def objective(Y, grad, compute_error):
                return kern.exact_gradient(P, Y, grad, compute_error, n_threads)
            values = None
        else:
            indptr = P.indptr.astype(np.intc)
            indices = P.indices.astype(np.intc)
            values = P.data
            neg = np.empty_like(Y)
            angle = float(self.angle)

            def objective(Y, grad, compute_error):
                return kern.bh_gradient(indptr, indices, values, Y, angle, grad, neg,
                                        compute_error, n_threads)
        exaggerated = P.data if values is not None else P
        exaggerated *= self.early_exaggeration
        error, it = self._descend(Y, objective, 0, _EXPLORATION_MAX_ITER, 0.5,
                                  _EXPLORATION_MAX_ITER, n_threads)
        exaggerated /= self.early_exaggeration
        if it < _EXPLORATION_MAX_ITER or self.max_iter > _EXPLORATION_MAX_ITER:
            error, it = self._descend(Y, objective, it + 1, self.max_iter, 0.8,
                                      self.n_iter_without_progress, n_threads)
        self.n_iter_ = it
        self.kl_divergence_ = float(error)
        self.embedding_ = np.ascontiguousarray(Y[:, :k], dtype=X.dtype)
        return self.embedding_

    def fit_transform(self, X, y=None):
        """Embed X; returns ``embedding_`` (n_samples, n_components)."""
        return self._fit(X)

    def fit(self, X, y=None):
        """Embed X (stored in ``embedding_``)."""
        self._fit(X)
        return self
