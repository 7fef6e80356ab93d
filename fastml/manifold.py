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
    CALLABLE,
    Interval,
    Options,
    _is_sparse,
    check_array,
    check_bounds,
    check_n_jobs,
    check_n_samples,
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
_FFT_ABOVE = 10_000      # method="barnes_hut" interpolates by FFT from this many points
_FFT_NODES = 3           # Lagrange nodes per box and dimension (openTSNE's default)
_FFT_MIN_BOXES = 50      # boxes per dimension at least; else one per unit of extent


def _sq_euclidean(X):
    norms = np.einsum("ij,ij->i", X, X)
    D = norms[:, None] - 2 * (X @ X.T) + norms[None, :]
    np.maximum(D, 0, out=D)
    np.fill_diagonal(D, 0)
    return D


def joint_probabilities(distances, perplexity, n_threads=None, log=None):
    """Dense symmetric P from (squared) distances: p_ij = (p_{j|i} + p_{i|j}) / sum,
    clipped below at machine epsilon (exact method). ``log(level, text)`` receives the
    mean sigma_i."""
    n_threads = _kernels.threads_for(len(distances), 256) if n_threads is None else n_threads
    D = np.ascontiguousarray(distances, dtype=np.float64)
    cond = np.empty_like(D)
    sigma = _kernels.load("_tsne").binary_search_perplexity(D, float(perplexity), True, cond,
                                                            n_threads)
    if log is not None:
        log(1, f"Mean sigma: {sigma:f}")
    P = cond + cond.T
    P /= max(P.sum(), _MACHINE_EPSILON)
    np.maximum(P, _MACHINE_EPSILON, out=P)
    np.fill_diagonal(P, 0)
    return P


def joint_probabilities_nn(sq_dist, indices, perplexity, n_threads=None, log=None):
    """Sparse symmetric P (CSR) from the squared distances to each point's neighbours
    (``log`` as :func:`joint_probabilities`)."""
    import scipy.sparse

    n_threads = _kernels.threads_for(len(sq_dist), 256) if n_threads is None else n_threads
    n, k = sq_dist.shape
    cond = np.empty((n, k), dtype=np.float64)
    sigma = _kernels.load("_tsne").binary_search_perplexity(
        np.ascontiguousarray(sq_dist, dtype=np.float64), float(perplexity), False, cond,
        n_threads)
    if log is not None:
        log(1, f"Mean sigma: {sigma:f}")
    P = scipy.sparse.csr_matrix((cond.ravel(), indices.ravel(),
                                 np.arange(0, n * k + 1, k)), shape=(n, n))
    P = (P + P.T).tocsr()
    P /= max(P.sum(), _MACHINE_EPSILON)
    P.sort_indices()
    return P


class _FFTRepulsion:
    """FIt-SNE's repulsive sums (Linderman et al. 2019) for 2-D embeddings.

    Each call covers the embedding's bounding square [lo, lo + span]^2 by B x B boxes,
    B = max(50, floor(span)) (box side <= 1 once the embedding spans 50 units), with
    p = 3 equispaced Lagrange nodes per box and dimension: M = B p nodes per side at
    spacing h = span / M. The compiled ``fft_scatter`` interpolates the charges (1, y)
    to the nodes; their convolutions with w^2 = (1 + ||r||^2)^-2 (all three) and with w
    (the charge 1, for Z) over the M x M node grid are 2-D Toeplitz products, computed
    as circular convolutions on an L x L grid (L >= 2M - 1, a fast FFT length), kernel
    entries K(h (a, b)) at the signed offsets a, b in (-L/2, L/2]; ``fft_gradient``
    interpolates the potentials back and forms the gradient and Z. The error is that of
    degree-2 interpolation, O(h^3) per box of side h: measured on 500 points, 5e-5
    relative on the gradient at h = 0.12 and 4e-2 at h = 1.2 (tests/test_tsne_fft.py).
    """

    def __init__(self, n_threads):
        self.n_threads = n_threads
        self.padded = None    # (3, L, L): charge planes, zero beyond the m x m nodes
        self.charges = None   # (m, m, 3): the nodes' charges, as the kernels lay them out

    def __call__(self, kern, indptr, indices, values, Y, grad, phi, compute_error):
        import scipy.fft

        x, y = Y[:, 0], Y[:, 1]   # column reductions: faster than axis=0 on (n, 2)
        lo = (x.min(), y.min())
        span = max(x.max() - lo[0], y.max() - lo[1]) * (1 + 1e-6) + 1e-12
        n_boxes = max(_FFT_MIN_BOXES, int(span))
        m = n_boxes * _FFT_NODES
        size = scipy.fft.next_fast_len(2 * m - 1, real=True)
        if self.padded is None or self.padded.shape[1] != size:
            self.padded = np.zeros((3, size, size))
        offsets = np.arange(size, dtype=np.float64)
        offsets[offsets > size // 2] -= size
        offsets *= span / m
        sq = offsets * offsets
        kernel = np.add.outer(sq, sq + 1.0)
        np.reciprocal(kernel, out=kernel)                    # w
        kernels = np.stack([np.square(kernel), kernel])      # w^2, w
        width = span / n_boxes
        if self.charges is None or self.charges.shape[0] != m:
            self.charges = np.empty((m, m, 3))
            self.padded[:] = 0
        kern.fft_scatter(Y, lo[0], lo[1], width, n_boxes, _FFT_NODES, self.charges)
        self.padded[:, :m, :m] = self.charges.transpose(2, 0, 1)
        workers = self.n_threads
        # rows >= m of the charge planes are zero and only the first m rows of the
        # potentials are read: transform those rows only along the last axis
        spectrum = scipy.fft.rfft(self.padded[:, :m], axis=-1, workers=workers)
        spectrum = scipy.fft.fft(spectrum, n=size, axis=-2, workers=workers, overwrite_x=True)
        kernels = scipy.fft.rfft2(kernels, workers=workers)
        spectrum = np.concatenate([spectrum * kernels[0], spectrum[:1] * kernels[1]])
        spectrum = scipy.fft.ifft(spectrum, axis=-2, workers=workers, overwrite_x=True)
        planes = scipy.fft.irfft(spectrum[:, :m], n=size, axis=-1, workers=workers)
        potential = np.ascontiguousarray(planes[:, :, :m].transpose(1, 2, 0))
        return kern.fft_gradient(indptr, indices, values, Y, lo[0], lo[1], width, n_boxes,
                                 _FFT_NODES, potential, grad, phi, compute_error,
                                 self.n_threads)


# scikit-learn's metric names -> SciPy's (pdist); "euclidean" and "cosine" are computed here
_SCIPY_METRICS = {"l1": "cityblock", "manhattan": "cityblock", "cityblock": "cityblock",
                  "l2": "euclidean", "sqeuclidean": "sqeuclidean", "chebyshev": "chebyshev",
                  "minkowski": "minkowski", "mahalanobis": "mahalanobis",
                  "seuclidean": "seuclidean", "correlation": "correlation",
                  "canberra": "canberra", "braycurtis": "braycurtis", "hamming": "hamming"}


def _pairwise_distances(X, metric, metric_params=None):
    """Dense (n, n) distances for a metric other than "euclidean"/"precomputed".

    "cosine": 1 - x_i.x_j / (||x_i|| ||x_j||), clipped to [0, 2], zero diagonal (as
    scikit-learn's ``cosine_distances``, operation for operation); SciPy's ``pdist`` for
    the names of ``_SCIPY_METRICS`` and for callables (called on pairs of rows).
    "mahalanobis" needs ``metric_params`` V (covariance) or VI (its inverse).
    """
    import scipy.spatial.distance as ssd

    params = dict(metric_params or {})
    if metric == "cosine":  # in X's precision, as scikit-learn
        norms = np.sqrt(np.einsum("ij,ij->i", X, X))
        norms[norms == 0] = 1.0
        Xn = X / norms[:, None]
        S = Xn @ Xn.T
        S *= -1
        S += 1
        np.clip(S, 0, 2, out=S)
        np.fill_diagonal(S, 0.0)
        return S
    if metric == "mahalanobis":
        if "VI" not in params and "V" not in params:
            raise ValueError("Must provide either V or VI for Mahalanobis distance "
                             "(metric_params)")
        if "V" in params:
            params["VI"] = np.linalg.inv(params.pop("V")).T
    return ssd.squareform(ssd.pdist(X, metric=_SCIPY_METRICS.get(metric, metric), **params))


def _sparse_sq_euclidean_blocks(X, block=1024):
    """Squared distances ||x_i||^2 - 2 x_i.x_j + ||x_j||^2 of a CSR X by blocks of rows:
    yields (rows, dense block of D)."""
    norms = np.asarray(X.multiply(X).sum(axis=1)).ravel()
    XT = X.T.tocsc()
    for i0 in range(0, X.shape[0], block):
        rows = slice(i0, min(i0 + block, X.shape[0]))
        D = (X[rows] @ XT).toarray()
        D *= -2
        D += norms[rows, None]
        D += norms[None, :]
        np.maximum(D, 0, out=D)
        yield rows, D


def _knn_dense(D, k):
    """The k smallest off-diagonal entries of each row of a dense distance matrix."""
    D = D.copy()
    np.fill_diagonal(D, np.inf)
    idx = np.argpartition(D, k - 1, axis=1)[:, :k].astype(np.intc)
    return idx, np.take_along_axis(D, idx, axis=1)


def _knn_sparse_graph(D, k):
    """The k smallest stored off-diagonal entries of each row of a CSR distance graph
    (scikit-learn's rule: each row must store at least k + 1 entries, itself counted)."""
    counts = np.diff(D.indptr)
    if counts.min() < k + 1:
        raise ValueError(f"{k + 1} neighbors per samples are required, but some samples "
                         f"have only {counts.min()}")
    rows = np.repeat(np.arange(D.shape[0]), counts)
    values = np.where(D.indices == rows, np.inf, D.data)   # the diagonal last
    order = np.lexsort((values, rows))
    take = (D.indptr[:-1, None] + np.arange(k)[None, :]).ravel()
    pos = order[take]
    idx = D.indices[pos].reshape(-1, k).astype(np.intc)
    return idx, D.data[pos].reshape(-1, k)


class TSNE(TransformerMixin, BaseEstimator):
    """t-SNE embedding.

    Parameters
    ----------
    n_components : int, default 2
        "barnes_hut" with 3 components computes the repulsion exactly (O(n^2) per
        iteration: fastml has no oct tree); "fft": 1 or 2.
    perplexity : float, default 30; must be < n_samples
    early_exaggeration : float, default 12
    learning_rate : "auto" or float
        "auto": max(n / early_exaggeration / 4, 50) (Belkina et al. 2019).
    max_iter : int, default 1000 (>= 250)
    n_iter_without_progress : int, default 300
    min_grad_norm : float, default 1e-7
    metric : str or callable, default "euclidean"
        "euclidean" (squared distances, computed by GEMM blocks), "precomputed" (a square
        distance matrix, not squared, dense or, for the approximate methods, a sparse CSR
        neighbour graph storing at least 3 * perplexity + 2 entries per row as
        scikit-learn's ``kneighbors_graph(mode="distance")``), "cosine", SciPy's metric
        names ("manhattan", "chebyshev", "mahalanobis" with ``metric_params`` V or VI,
        ...) or a callable on two rows; these distances are used unsquared, as sklearn.
    metric_params : dict or None
        Keyword arguments of the metric.
    init : "pca", "random" or array (n_samples, n_components)
        pca: first principal components scaled to standard deviation 1e-4 in the first
        coordinate; random: N(0, 1e-4^2).
    verbose : int
        >= 1 prints scikit-learn's progress lines ("[t-SNE] ..."); >= 2 also every 50
        iterations' KL divergence and gradient norm.
    random_state : None, int or numpy Generator
    method : "barnes_hut", "fft" or "exact"
        exact: dense P, O(n^2) gradient. The approximate methods use P on the
        3 * perplexity nearest neighbours. barnes_hut: quad tree (angle = theta) below
        10,000 points and FFT interpolation from there (openTSNE's ``"auto"``); fft:
        always FFT-accelerated interpolation (FIt-SNE, Linderman et al. 2019).
    angle : float, Barnes–Hut theta
    n_jobs : None or int
        At most this many threads (-1: all cores, as scikit-learn); None: as many as
        :func:`fastml.set_num_threads` allows. Small problems use fewer.

    Input X may be a SciPy sparse matrix (CSR/CSC features: the euclidean distances
    by sparse products in row blocks; other metrics densify X).

    Attributes
    ----------
    embedding_, kl_divergence_, n_iter_, learning_rate_, n_features_in_
    """

    _EXPLORATION_MAX_ITER = _EXPLORATION_MAX_ITER
    _N_ITER_CHECK = _N_ITER_CHECK

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
        tags.input_tags.sparse = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    _parameter_constraints = {
        "method": [Options("barnes_hut", "fft", "exact")],
        "metric": [Options("euclidean", "precomputed", "cosine", *_SCIPY_METRICS), CALLABLE],
        "n_components": [Interval(numbers.Integral, 1)],
        "perplexity": [Interval(numbers.Real, 0, None, "neither")],
        "early_exaggeration": [Interval(numbers.Real, 1)],
        "max_iter": [Interval(numbers.Integral, _EXPLORATION_MAX_ITER)],
        "n_iter_without_progress": [Interval(numbers.Integral, -1)],
        "min_grad_norm": [Interval(numbers.Real, 0)],
        "angle": [Interval(numbers.Real, 0, 1)],
        "learning_rate": [Options("auto"), Interval(numbers.Real, 0, None, "neither")],
    }

    def _log(self, level, message):
        if self.verbose >= level:
            print(f"[t-SNE] {message}")

    def _check_params(self, X):
        """The rules that depend on the data (the table has checked each parameter)."""
        n = X.shape[0]
        k = int(self.n_components)
        if k > (3 if self.method == "barnes_hut" else 2) and self.method != "exact":
            raise ValueError(f"'n_components' should be at most "
                             f"{3 if self.method == 'barnes_hut' else 2} for "
                             f"method='{self.method}', got {k}; use method='exact'")
        if self.metric == "precomputed":
            if isinstance(self.init, str) and self.init == "pca":
                raise ValueError('The parameter init="pca" cannot be used with '
                                 'metric="precomputed".')
            check_square(X, "X (metric='precomputed': a square distance matrix)")
            check_bounds(X.data if _is_sparse(X) else X,
                         "X (metric='precomputed': distances)", low=0,
                         detail=" (distances are positive or zero)")
        if self.perplexity >= n:
            raise ValueError(f"perplexity ({self.perplexity}) must be less than n_samples "
                             f"({n})")
        self.learning_rate_ = max(n / self.early_exaggeration / 4, 50.0) \
            if isinstance(self.learning_rate, str) else float(self.learning_rate)
        return k

    def _initial_embedding(self, X, k, rng):
        n = X.shape[0]
        if isinstance(self.init, str):
            check_option(self.init, "init", ("pca", "random"))
            if self.init == "random":
                return 1e-4 * rng.standard_normal((n, k))
            if _is_sparse(X):
                # principal axes from the d x d covariance: X is never densified
                mean = np.asarray(X.mean(axis=0)).ravel()
                C = np.asarray((X.T @ X).todense()) / n - np.outer(mean, mean)
                _, V = np.linalg.eigh(C)
                V = V[:, ::-1][:, :k]
                Y = np.asarray(X @ V) - mean @ V
            else:
                from fastml.decomposition import PCA

                Y = PCA(k, svd_solver="full" if min(X.shape) < 2 * k else "auto",
                        random_state=rng).fit_transform(X).astype(np.float64)
            std = np.std(Y[:, 0])
            return Y / std * 1e-4 if std > 0 else Y
        Y = check_array(self.init, "init", ndim=2, dtype=np.float64, copy=True)
        check_shape(Y, "init", (n, k), verb="should")
        return Y

    def _distances(self, X):
        """(D, squared): the distances P is calibrated on, dense or a CSR graph."""
        self._out_dtype = X.dtype
        if self.metric == "precomputed":
            return (X if _is_sparse(X) else np.ascontiguousarray(X, dtype=np.float64)), False
        if self.metric == "euclidean":
            return X, True
        Xd = X.toarray() if _is_sparse(X) else X
        D = _pairwise_distances(Xd, self.metric, self.metric_params)
        check_bounds(D, "All distances computed with the metric given", low=0,
                     detail=" (the metric given is not correct)")
        self._out_dtype = D.dtype   # as with these distances passed as "precomputed"
        return np.ascontiguousarray(D, dtype=np.float64), False

    def _affinities(self, X, n_threads):
        n = X.shape[0]
        D, squared = self._distances(X)
        if self.method == "exact":
            if squared:
                D = np.vstack([blk for _, blk in _sparse_sq_euclidean_blocks(D)]) \
                    if _is_sparse(D) else _sq_euclidean(np.ascontiguousarray(D, np.float64))
            P = joint_probabilities(D, self.perplexity, n_threads, self._log)
            self._log(1, f"Computed conditional probabilities for sample {n} / {n}")
            return P
        k = min(n - 1, int(3.0 * self.perplexity + 1))
        self._log(1, f"Computing {k} nearest neighbors...")
        if not squared:
            idx, sq = _knn_sparse_graph(D, k) if _is_sparse(D) else _knn_dense(D, k)
        elif _is_sparse(D):
            idx = np.empty((n, k), dtype=np.intc)
            sq = np.empty((n, k))
            for rows, block in _sparse_sq_euclidean_blocks(D):
                block[np.arange(block.shape[0]), np.arange(n)[rows]] = np.inf
                part = np.argpartition(block, k - 1, axis=1)[:, :k]
                idx[rows] = part
                sq[rows] = np.take_along_axis(block, part, axis=1)
        else:
            Xd = np.ascontiguousarray(D, dtype=np.float64)
            idx = np.empty((n, k), dtype=np.intc)
            sq = np.empty((n, k), dtype=np.float64)
            with _kernels.blas_single_threaded():
                _kernels.load("_tsne").knn(Xd, np.einsum("ij,ij->i", Xd, Xd), k, idx, sq, n_threads)
        order = np.argsort(idx, axis=1)  # neighbours by index: P independent of search order
        idx = np.ascontiguousarray(np.take_along_axis(idx, order, axis=1))
        sq = np.take_along_axis(sq, order, axis=1)
        P = joint_probabilities_nn(sq, idx, self.perplexity, n_threads, self._log)
        self._log(1, f"Computed conditional probabilities for sample {n} / {n}")
        return P

    def _descend(self, Y, objective, start, max_iter, momentum, n_iter_without_progress,
                 n_threads):
        """Gradient descent with gains and momentum (scikit-learn's schedule)."""
        step = _kernels.load("_tsne").gradient_step
        grad = np.empty_like(Y)
        update = np.zeros_like(Y)
        gains = np.ones_like(Y)
        error = best_error = np.finfo(float).max
        best_iter = i = start
        every = self._N_ITER_CHECK
        for i in range(start, max_iter):
            check = (i + 1) % every == 0
            compute_error = check or i == max_iter - 1
            value = objective(Y, grad, compute_error)
            if compute_error:
                error = value
            norm2 = step(Y, grad, update, gains, momentum, self.learning_rate_, 0.01)
            if check:
                self._log(2, f"Iteration {i + 1}: error = {error:.7f}, gradient norm = "
                             f"{np.sqrt(norm2):.7f}")
                if error < best_error:
                    best_error, best_iter = error, i
                elif i - best_iter > n_iter_without_progress:
                    self._log(2, f"Iteration {i + 1}: did not make any progress during the "
                                 f"last {n_iter_without_progress} episodes. Finished.")
                    break
                if np.sqrt(norm2) <= self.min_grad_norm:
                    self._log(2, f"Iteration {i + 1}: gradient norm {np.sqrt(norm2):f}. "
                                 "Finished.")
                    break
        return error, i

    def _objective(self, P, Y, n_threads):
        """objective(Y, grad, compute_error) -> KL (or 0) and the exaggerated array."""
        kern = _kernels.load("_tsne")
        if self.method == "exact" or Y.shape[1] > 2:
            dense = P if self.method == "exact" else P.toarray()

            def objective(Y, grad, compute_error):
                return kern.exact_gradient(dense, Y, grad, compute_error, n_threads)
            return objective, dense
        indptr = P.indptr.astype(np.intc)
        indices = P.indices.astype(np.intc)
        values = P.data
        if self.method == "fft" or len(Y) >= _FFT_ABOVE:
            phi = np.empty((len(Y), 4))
            repulsion = _FFTRepulsion(n_threads)

            def objective(Y, grad, compute_error):
                return repulsion(kern, indptr, indices, values, Y, grad, phi,
                                 compute_error)
        else:
            neg = np.empty_like(Y)
            angle = float(self.angle)

            def objective(Y, grad, compute_error):
                return kern.bh_gradient(indptr, indices, values, Y, angle, grad, neg,
                                        compute_error, n_threads)
        return objective, values

    def _validate(self, X):
        sparse_ok = self.method != "exact" or self.metric != "precomputed"
        if not (_is_sparse(X) and sparse_ok):
            return validate_data(self, X, ensure_min_samples=2)
        X = check_array(X, "X", ndim=2, accept_sparse=("csr",))
        check_n_samples(X.shape[0], 2, "ensure_min_samples")
        self.n_features_in_ = X.shape[1]
        return X

    def _fit(self, X):
        X = self._validate(X)
        k = self._check_params(X)
        n_threads = _kernels.threads_for(X.shape[0], 256, limit=check_n_jobs(self.n_jobs))
        rng = check_random_state(self.random_state)
        P = self._affinities(X, n_threads)
        Y = self._initial_embedding(X, k, rng)
        if self.method != "exact" and k == 1:
            # The quad tree and the FFT grid are 2-D: a zero second coordinate has zero
            # gradient forever.
            Y = np.column_stack([Y, np.zeros(len(Y))])
        Y = np.ascontiguousarray(Y)
        objective, exaggerated = self._objective(P, Y, n_threads)
        exploration = self._EXPLORATION_MAX_ITER
        exaggerated *= self.early_exaggeration
        error, it = self._descend(Y, objective, 0, exploration, 0.5, exploration, n_threads)
        self._log(1, f"KL divergence after {it + 1} iterations with early exaggeration: "
                     f"{error:f}")
        exaggerated /= self.early_exaggeration
        if it < exploration or self.max_iter > exploration:
            error, it = self._descend(Y, objective, it + 1, self.max_iter, 0.8,
                                      self.n_iter_without_progress, n_threads)
        self._log(1, f"KL divergence after {it + 1} iterations: {error:f}")
        self.n_iter_ = it
        self.kl_divergence_ = float(error)
        self.embedding_ = np.ascontiguousarray(Y[:, :k], dtype=self._out_dtype)
        return self.embedding_

    def fit_transform(self, X, y=None):
        """Embed X; returns ``embedding_`` (n_samples, n_components)."""
        return self._fit(X)

    def fit(self, X, y=None):
        """Embed X (stored in ``embedding_``)."""
        self._fit(X)
        return self
