"""Spectral methods on a graph: Laplacian eigenmaps and spectral clustering.

For a symmetric non-negative adjacency A with degrees d_i = sum_j A_ij, the normalised
Laplacian L = I - D^-1/2 A D^-1/2 has eigenvalues 0 = l_1 <= l_2 <= ... <= 2. Laplacian
eigenmaps (Belkin & Niyogi) embed node i as y_i = (u_2(i), ..., u_{k+1}(i)) / sqrt(d_i),
with u the eigenvectors of the smallest eigenvalues: y minimises
sum_ij A_ij ||y_i - y_j||^2 subject to Y^T D Y = I (the generalised problem
L_rw u = l u, L_rw = I - D^-1 A). The smallest eigenpairs of L are the largest of
M = I + D^-1/2 A D^-1/2 = 2 I - L, found by thick-restart Lanczos
(:func:`fastml.linalg.eigsh`, which="LA"). Each vector's sign is fixed so that its
largest-magnitude entry is positive (as scikit-learn).

Spectral clustering (Ng, Jordan & Weiss / Shi & Malik) runs k-means
(:class:`fastml.cluster.KMeans`) on the first k eigenmap coordinates (the trivial one
included), so that the clusters are the nearly disconnected parts of the graph.
"""

import numbers

import numpy as np

from fastml._validation import check_array, check_bounds, check_positive_int, check_scalar
from fastml.base import BaseEstimator, ClusterMixin
from fastml.graph._graph import Graph, _inv_power, _square_matrix, to_scipy

__all__ = ["SpectralClustering", "spectral_embedding"]


def _adjacency(adjacency):
    """A symmetric non-negative SciPy CSR adjacency from a Graph, sparse or dense matrix."""
    A = to_scipy(adjacency) if isinstance(adjacency, Graph) else _square_matrix(
        adjacency, "adjacency")
    if A.nnz:
        check_bounds(check_array(A.data, "adjacency"), "adjacency", low=0, detail=" (weights)")
    asym = abs(A - A.T)
    if asym.nnz and asym.max() > 1e-10 * max(abs(A).max(), 1.0):
        raise ValueError("adjacency must be symmetric (an undirected graph); symmetrise "
                         "it, e.g. (A + A.T) / 2")
    return A


def _eigenmap(A, n_vectors, random_state):
    """The n_vectors smallest eigenpairs of L = I - D^-1/2 A D^-1/2 as D^-1/2 u, signs fixed."""
    import scipy.sparse as sp

    from fastml import linalg

    n = A.shape[0]
    deg = np.asarray(A.sum(axis=1)).ravel()
    dinv = _inv_power(deg, -0.5)
    M = sp.identity(n, format="csr") + sp.diags(dinv) @ A @ sp.diags(dinv)
    if n_vectors >= n - 1 or n < 20:
        values, vectors = linalg.eigh(M.toarray())
        values, vectors = values[::-1][:n_vectors], vectors[:, ::-1][:, :n_vectors]
    else:
        values, vectors = linalg.eigsh(M, k=n_vectors, which="LA", random_state=random_state)
        order = np.argsort(values)[::-1]
        values, vectors = values[order], vectors[:, order]
    embedding = vectors * dinv[:, None]
    signs = np.sign(embedding[np.argmax(np.abs(embedding), axis=0), np.arange(n_vectors)])
    return 2.0 - values, embedding * np.where(signs == 0, 1.0, signs)


def spectral_embedding(adjacency, n_components=2, *, drop_first=True, random_state=0):
    """Laplacian eigenmaps of an undirected graph (see the module docstring).

    Parameters
    ----------
    adjacency : Graph, SciPy sparse or dense (n, n) symmetric non-negative matrix
    n_components : int, dimension of the embedding
    drop_first : bool, drop the trivial eigenvector (constant times sqrt(d) / sqrt(d))
    random_state : seed of the Lanczos start vector

    Returns
    -------
    (n, n_components) float64 array.
    """
    A = _adjacency(adjacency)
    n_components = check_positive_int(n_components, "n_components",  # n_vectors <= nodes
                                      max_val=A.shape[0] - bool(drop_first))
    n_vectors = n_components + bool(drop_first)
    _, embedding = _eigenmap(A, n_vectors, random_state)
    return embedding[:, 1:] if drop_first else embedding


class SpectralClustering(ClusterMixin, BaseEstimator):
    """k-means on the spectral embedding of a graph (``affinity="precomputed"`` in
    scikit-learn's terms): ``fit(adjacency)`` sets ``labels_`` (n,), ``embedding_``
    (n, n_components) and ``eigenvalues_`` (of L = I - D^-1/2 A D^-1/2).

    Parameters: n_clusters; n_components (default n_clusters); n_init k-means restarts;
    random_state (Lanczos start and k-means).
    """

    def __init__(self, n_clusters=8, *, n_components=None, n_init=10, random_state=None):
        self.n_clusters = n_clusters
        self.n_components = n_components
        self.n_init = n_init
        self.random_state = random_state

    def fit(self, X, y=None):
        """X: the adjacency (Graph, sparse or dense symmetric matrix)."""
        from fastml.cluster import KMeans

        A = _adjacency(X)
        k = check_positive_int(self.n_clusters, "n_clusters", max_val=A.shape[0])
        n_components = k if self.n_components is None else \
            check_positive_int(self.n_components, "n_components", max_val=A.shape[0])
        check_scalar(self.n_init, "n_init", numbers.Integral, min_val=1)
        seed = 0 if self.random_state is None else self.random_state
        self.eigenvalues_, self.embedding_ = _eigenmap(A, n_components, seed)
        km = KMeans(k, n_init=self.n_init, random_state=self.random_state)
        self.labels_ = km.fit(self.embedding_).labels_
        return self
