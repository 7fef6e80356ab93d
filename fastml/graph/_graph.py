"""The :class:`Graph` (edges sorted by target, CSR) and the graph utilities.

An edge (j -> i), column k of ``edge_index = [[sources], [targets]]``, carries a message
from node j to node i, PyG's ``flow="source_to_target"``. A :class:`Graph` keeps its
edges sorted by target (stable, so multi-edges keep their order): the edges into node i
are the CSR positions ``indptr[i] .. indptr[i + 1] - 1``. Per-edge arrays of the public
functions follow ``graph.edge_index`` (this sorted order); ``graph.edge_id`` maps each
position back to the column of the ``edge_index`` it was built from.

Utilities, as PyTorch Geometric's: :func:`add_self_loops`, :func:`remove_self_loops`,
:func:`add_remaining_self_loops`, :func:`normalize` (symmetric D^-1/2 A D^-1/2 or random
walk D^-1 A, degrees counted at the target), :func:`laplacian`, :func:`largest_eigenvalue`
and conversions to/from SciPy sparse matrices and NetworkX graphs.
"""

import numbers

import numpy as np

from fastml import _kernels
from fastml._validation import (
    check_array,
    check_bounds,
    check_option,
    check_scalar,
    check_shape,
    check_square,
)

__all__ = ["Graph", "add_remaining_self_loops", "add_self_loops", "degree",
           "from_edge_index", "from_networkx", "from_scipy", "laplacian",
           "largest_eigenvalue", "normalize", "remove_self_loops", "to_networkx",
           "to_scipy"]

# Rows + edges per balanced chunk of work and per OpenMP thread (below: serial).
_CHUNKS_PER_THREAD = 8
_GRAIN = 1 << 15


class Graph:
    """A directed graph with ``num_nodes`` nodes and optional edge weights, in CSR form.

    Build it with :func:`from_edge_index` (validated); the constructor takes ready
    arrays: ``indptr`` (num_nodes + 1), ``src`` and ``dst`` (int64, sorted by ``dst``),
    ``weight`` (float64 or None) and ``edge_id`` (original column of each edge).

    The transposed CSR (edges grouped by source, for gradients and scatters) and the
    balanced work chunks are computed on first use and cached.
    """

    def __init__(self, num_nodes, indptr, src, dst, weight, edge_id):
        self.num_nodes = int(num_nodes)
        self.indptr, self.src, self.dst = indptr, src, dst
        self.weight, self.edge_id = weight, edge_id
        self._transpose = None
        self._bounds = {}
        self._weights = {}

    @property
    def num_edges(self):
        return int(self.src.shape[0])

    @property
    def edge_index(self):
        """(2, num_edges) int64: sources, targets, in the graph's (target-sorted) order."""
        return np.stack([self.src, self.dst])

    @property
    def edge_weight(self):
        return self.weight

    def __repr__(self):
        return (f"Graph(num_nodes={self.num_nodes}, num_edges={self.num_edges}, "
                f"weighted={self.weight is not None})")

    def in_degree(self):
        """Number of edges into each node (float64)."""
        return np.diff(self.indptr).astype(np.float64)

    # -------------------------------------------------------------- kernel helpers
    def transpose_csr(self):
        """(indptr_t, dst_t, pos_t): edges grouped by source; pos_t = CSR position."""
        if self._transpose is None:
            self._transpose = csr_transpose(self.indptr, self.src, self.num_nodes)
        return self._transpose

    def work(self):
        return self.num_edges + self.num_nodes

    def threads(self, width):
        """OpenMP threads for a pass over every edge with ``width`` values per edge."""
        return _kernels.threads_for(self.work() * max(1, width), _GRAIN)

    def bounds(self, n_threads, transpose=False):
        """Row chunk boundaries with about equal rows + edges (power-law degrees)."""
        key = (n_threads, transpose)
        bounds = self._bounds.get(key)
        if bounds is None:
            indptr = self.transpose_csr()[0] if transpose else self.indptr
            bounds = balanced_bounds(indptr, n_threads)
            self._bounds[key] = bounds
        return bounds

    def weights_as(self, dtype):
        """Edge weights as an (nnz, 1) array of ``dtype`` (an empty (0, 1) array if none)."""
        dtype = np.dtype(dtype)
        w = self._weights.get(dtype)
        if w is None:
            w = (np.zeros((0, 1), dtype) if self.weight is None
                 else np.ascontiguousarray(self.weight, dtype).reshape(-1, 1))
            self._weights[dtype] = w
        return w


def balanced_bounds(indptr, n_threads):
    """Boundaries of row chunks of a CSR ``indptr`` with about equal rows + nonzeros:
    ``n_threads * 8`` chunks for a threaded pass, one for a serial one."""
    n = indptr.shape[0] - 1
    n_chunks = max(1, min(n, n_threads * _CHUNKS_PER_THREAD if n_threads > 1 else 1))
    cost = indptr + np.arange(n + 1)
    targets = np.linspace(0, cost[-1], n_chunks + 1)
    inner = np.unique(np.searchsorted(cost, targets[1:-1]))
    return np.concatenate([[0], inner[(inner > 0) & (inner < n)], [n]]).astype(np.int64)


def csr_transpose(indptr, indices, n_columns):
    """(indptr_t, rows_t, pos_t) of the transposed CSR structure; pos_t[k] is the
    position in the original of the k-th transposed entry (stable)."""
    pos = np.argsort(indices, kind="stable")
    counts = np.bincount(indices, minlength=n_columns)
    indptr_t = np.zeros(n_columns + 1, np.int64)
    np.cumsum(counts, out=indptr_t[1:])
    rows = np.repeat(np.arange(indptr.shape[0] - 1, dtype=np.int64), np.diff(indptr))
    return indptr_t, np.ascontiguousarray(rows[pos]), pos.astype(np.int64)


# ------------------------------------------------------------------ construction
def _build(num_nodes, src, dst, weight):
    """A Graph from ready int64 arrays (no checks): sort the edges by target."""
    order = np.argsort(dst, kind="stable")
    counts = np.bincount(dst, minlength=num_nodes)
    indptr = np.zeros(num_nodes + 1, np.int64)
    np.cumsum(counts, out=indptr[1:])
    return Graph(num_nodes, indptr, np.ascontiguousarray(src[order]),
                 np.ascontiguousarray(dst[order]),
                 None if weight is None else np.ascontiguousarray(weight[order]),
                 order.astype(np.int64))


def _check_edge_index(edge_index, num_nodes, name="edge_index"):
    arr = np.asarray(edge_index)
    if arr.dtype.kind not in "iu":
        if arr.size == 0 and arr.dtype.kind == "f":
            arr = arr.astype(np.int64)
        else:
            raise ValueError(f"{name} must hold integer node indices, got dtype {arr.dtype}")
    arr = check_shape(arr, name, (2, "num_edges")).astype(np.int64)
    if num_nodes is None:
        num_nodes = int(arr.max()) + 1 if arr.size else 0
    num_nodes = int(check_scalar(num_nodes, "num_nodes", numbers.Integral, min_val=0))
    check_bounds(arr, name, low=0, high=num_nodes, closed="left",
                 detail=f" (node indices, num_nodes={num_nodes})")
    return arr, num_nodes


def _check_edge_weight(edge_weight, num_edges, name="edge_weight"):
    if edge_weight is None:
        return None
    return check_shape(check_array(edge_weight, name, ndim=1, dtype=np.float64), name,
                       (num_edges,), " (one value per edge)")


def from_edge_index(edge_index, num_nodes=None, edge_weight=None):
    """A :class:`Graph` from a (2, E) integer ``edge_index`` (row 0 sources, row 1
    targets) and optional (E,) ``edge_weight``; ``num_nodes`` defaults to max index + 1.

    A :class:`Graph` passed as ``edge_index`` is returned as it is (its ``num_nodes``
    must match ``num_nodes`` when given).
    """
    if isinstance(edge_index, Graph):
        if num_nodes is not None and edge_index.num_nodes != num_nodes:
            raise ValueError(f"the graph has {edge_index.num_nodes} nodes but num_nodes="
                             f"{num_nodes} (x must have one row per node)")
        if edge_weight is not None:
            raise ValueError("edge_weight must be None when edge_index is a Graph "
                             "(its weights are graph.edge_weight)")
        return edge_index
    ei, num_nodes = _check_edge_index(edge_index, num_nodes)
    w = _check_edge_weight(edge_weight, ei.shape[1])
    return _build(num_nodes, ei[0], ei[1], w)


def _edges(graph):
    """(src, dst, weight or None) of a Graph, in its order."""
    return graph.src, graph.dst, graph.weight


def _ones_if_none(weight, n):
    return np.ones(n) if weight is None else weight


def remove_self_loops(graph):
    """The graph without its edges (i -> i)."""
    src, dst, w = _edges(graph)
    keep = src != dst
    return _build(graph.num_nodes, src[keep], dst[keep], None if w is None else w[keep])


def add_self_loops(graph, fill_value=1.0):
    """The graph with one more edge (i -> i) of weight ``fill_value`` for every node
    (existing self loops are kept, as PyG's ``add_self_loops``)."""
    fill_value = float(check_scalar(fill_value, "fill_value", numbers.Real))
    src, dst, w = _edges(graph)
    loops = np.arange(graph.num_nodes, dtype=np.int64)
    weight = None
    if w is not None or fill_value != 1.0:
        weight = np.concatenate([_ones_if_none(w, src.shape[0]),
                                 np.full(graph.num_nodes, fill_value)])
    return _build(graph.num_nodes, np.concatenate([src, loops]),
                  np.concatenate([dst, loops]), weight)


def add_remaining_self_loops(graph, fill_value=1.0):
    """Replace the self loops by exactly one loop (i -> i) per node: its weight is that
    of an existing loop of i (the last one) or ``fill_value`` (PyG's semantics)."""
    fill_value = float(check_scalar(fill_value, "fill_value", numbers.Real))
    src, dst, w = _edges(graph)
    is_loop = src == dst
    keep = ~is_loop
    loop_weight = np.full(graph.num_nodes, fill_value)
    if w is not None:
        loop_weight[src[is_loop]] = w[is_loop]
    weight = None
    if w is not None or fill_value != 1.0:
        weight = np.concatenate([_ones_if_none(w, src.shape[0])[keep], loop_weight])
    loops = np.arange(graph.num_nodes, dtype=np.int64)
    return _build(graph.num_nodes, np.concatenate([src[keep], loops]),
                  np.concatenate([dst[keep], loops]), weight)


def degree(graph, at="target"):
    """Weighted degree of each node: sum of the weights of the edges into it
    (``at="target"``) or out of it (``at="source"``), float64."""
    check_option(at, "at", ("target", "source"))
    src, dst, w = _edges(graph)
    return np.bincount(dst if at == "target" else src, weights=w,
                       minlength=graph.num_nodes).astype(np.float64)


def _check_nonnegative(graph, what):
    if graph.weight is not None and graph.weight.size and graph.weight.min() < 0:
        raise ValueError(f"edge_weight must be >= 0 for {what} (degrees must be "
                         f"positive), got minimum {graph.weight.min()}")


def _inv_power(deg, power):
    with np.errstate(divide="ignore"):
        out = np.where(deg > 0, deg, np.inf) ** power
    return out


def normalize(graph, kind="sym", at="target"):
    """Normalised edge weights: ``"sym"`` w_ji / sqrt(d_j d_i) (D^-1/2 A D^-1/2, GCN) or
    ``"rw"`` w_ji / d_i (D^-1 A, the mean over incoming edges), with d the weighted degree
    ``at`` the target (PyG's ``gcn_norm``) or source; nodes of degree 0 contribute 0.
    Negative weights raise ``ValueError``."""
    check_option(kind, "kind", ("sym", "rw"))
    _check_nonnegative(graph, f"{kind!r} normalisation")
    src, dst, w = _edges(graph)
    deg = degree(graph, at)
    ends = dst if at == "target" else src
    w = _ones_if_none(w, src.shape[0])
    if kind == "sym":
        dinv = _inv_power(deg, -0.5)
        new = dinv[src] * w * dinv[dst]
    else:
        new = w * _inv_power(deg, -1.0)[ends]
    return Graph(graph.num_nodes, graph.indptr, src, dst, new, graph.edge_id)


def laplacian(graph, kind="sym"):
    """The graph Laplacian as a SciPy CSR matrix L[j, i] (PyG's ``get_laplacian``
    convention: row = source, column = target, degrees counted at the source):

    - ``"combinatorial"``: L = D - A
    - ``"sym"``: L = I - D^-1/2 A D^-1/2
    - ``"rw"``: L = I - D^-1 A

    Self loops are ignored; weights must be >= 0.
    """
    import scipy.sparse as sp

    check_option(kind, "kind", ("combinatorial", "sym", "rw"))
    _check_nonnegative(graph, "the Laplacian")
    g = remove_self_loops(graph)
    n = g.num_nodes
    A = sp.csr_matrix((_ones_if_none(g.weight, g.num_edges), (g.src, g.dst)), shape=(n, n))
    deg = np.asarray(A.sum(axis=1)).ravel()
    if kind == "combinatorial":
        return (sp.diags(deg) - A).tocsr()
    if kind == "sym":
        dinv = sp.diags(_inv_power(deg, -0.5))
        return (sp.identity(n, format="csr") - dinv @ A @ dinv).tocsr()
    return (sp.identity(n, format="csr") - sp.diags(_inv_power(deg, -1.0)) @ A).tocsr()


def largest_eigenvalue(matrix, tol=0.0, random_state=0):
    """The largest eigenvalue of a symmetric matrix (dense or SciPy sparse; e.g. the
    "sym" Laplacian, for ChebConv's ``lambda_max``) by thick-restart Lanczos
    (:func:`fastml.linalg.eigsh`); matrices of size <= 2 by :func:`fastml.linalg.eigh`.
    """
    from fastml import linalg

    matrix = _square_matrix(matrix)
    tol = float(check_scalar(tol, "tol", numbers.Real, min_val=0))
    n = matrix.shape[0]
    if n == 0:
        return 0.0
    if n <= 2:
        dense = matrix.toarray() if hasattr(matrix, "toarray") else np.asarray(matrix)
        return float(linalg.eigh(np.asarray(dense, np.float64), eigvals_only=True).max())
    return float(linalg.eigsh(matrix, k=1, which="LA", tol=tol, random_state=random_state,
                              return_eigenvectors=False).max())


# ------------------------------------------------------------------ conversions
def to_scipy(graph):
    """The weighted adjacency as a SciPy CSR matrix A[source, target] (multi-edges add)."""
    import scipy.sparse as sp

    n = graph.num_nodes
    return sp.csr_matrix((_ones_if_none(graph.weight, graph.num_edges),
                          (graph.src, graph.dst)), shape=(n, n))


def _square_matrix(matrix, name="matrix"):
    """A square SciPy CSR matrix (float64) from a SciPy sparse matrix or a dense array."""
    import scipy.sparse as sp

    if sp.issparse(matrix):
        check_array(matrix.data, f"{name}.data", dtype=np.float64)
        A = sp.csr_matrix(matrix, dtype=np.float64)
    else:
        A = sp.csr_matrix(check_array(matrix, name, ndim=2, dtype=np.float64))
    return check_square(A, name)


def from_scipy(matrix):
    """A weighted :class:`Graph` from a square SciPy sparse matrix (or dense array)
    A[source, target]; its nonzeros are the edges."""
    coo = _square_matrix(matrix).tocoo()
    return _build(coo.shape[0], coo.row.astype(np.int64), coo.col.astype(np.int64),
                  np.ascontiguousarray(coo.data))


def to_networkx(graph):
    """A ``networkx.MultiDiGraph`` with nodes 0 .. n-1 and a ``weight`` on each edge."""
    import networkx as nx

    G = nx.MultiDiGraph()
    G.add_nodes_from(range(graph.num_nodes))
    w = _ones_if_none(graph.weight, graph.num_edges)
    G.add_weighted_edges_from(zip(graph.src.tolist(), graph.dst.tolist(), w.tolist()))
    return G


def from_networkx(G, weight="weight"):
    """A :class:`Graph` from a NetworkX graph: nodes numbered in ``G.nodes`` order, an
    undirected edge gives both directions (PyG's ``from_networkx``); edge attribute
    ``weight`` (when every edge has it) becomes the edge weight; a self loop stays one
    edge."""
    index = {node: i for i, node in enumerate(G.nodes)}
    edges = list(G.edges(data=True))
    src = np.array([index[u] for u, _, _ in edges], dtype=np.int64)
    dst = np.array([index[v] for _, v, _ in edges], dtype=np.int64)
    w = None
    if edges and weight is not None and all(weight in d for _, _, d in edges):
        w = np.array([float(d[weight]) for _, _, d in edges])
    if not G.is_directed():
        back = src != dst  # a self loop is one directed edge
        src, dst = np.concatenate([src, dst[back]]), np.concatenate([dst, src[back]])
        w = None if w is None else np.concatenate([w, w[back]])
    return _build(len(index), src, dst, w)
