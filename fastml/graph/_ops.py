"""Sparse message-passing operations on a :class:`~fastml.graph.Graph`, with backward.

For a graph with edges k = (j -> i), values v_k (per edge, or per edge and head) and node
features x (n, F):

- ``spmm``:   out_i = reduce_{k = (j -> i)} v_k x_j, reduce in {sum, mean, max}
  (mean divides by the number of incoming edges; rows without edges give 0);
- ``spmm_backward``: d/dx_j = sum_{k = (j -> i)} v_k g_i (sum), the same with
  v_k / deg_i (mean), or g_i at the arg-max (max); d/dv_k = g_i . x_j (SDDMM);
- ``sddmm``:  s_k = a_i . b_j for every edge (per head);
- ``segment_softmax``: alpha_k = exp(s_k) / sum_{k' -> i} exp(s_k') over the edges
  into the same target, and its backward alpha_k (g_k - sum_{k' -> i} g_k' alpha_k');
- ``scatter``: sum of per-edge values at each edge's target (or source);
  ``gather``: x_j for every edge.

Per-edge arrays follow ``graph.edge_index`` (edges sorted by target). Values have shape
(E,) or (E, H); with H heads the features are (n, H C) and head h uses its C columns.
The private ``_`` functions are the cores (ready arrays, no checks) that the layers call.
"""

import numpy as np

from fastml import _kernels
from fastml._validation import (
    check_array,
    check_divisible,
    check_option,
    check_positive_int,
    check_shape,
)
from fastml.graph._graph import Graph, balanced_bounds, csr_transpose, from_edge_index

__all__ = ["SparseFeatures", "gather", "scatter", "sddmm", "segment_softmax",
           "segment_softmax_backward", "sparse_features", "spmm", "spmm_backward"]

_REDUCES = ("sum", "mean", "max")


def _graph_kernels():
    return _kernels.load("_graph")


def _code(reduce):
    return _graph_kernels().REDUCE_CODES[reduce]


def _identity(graph):
    ident = getattr(graph, "_identity", None)
    if ident is None:
        ident = np.arange(graph.num_edges, dtype=np.int64)
        graph._identity = ident
    return ident


def _columns(v):
    """(E,) -> (E, 1); (E, H) unchanged (also for E = 0)."""
    return np.ascontiguousarray(v[:, None] if v.ndim == 1 else v)


def _no_values(dtype, heads=1):
    return np.zeros((0, heads), dtype)


# ------------------------------------------------------------------ cores
def _propagate(graph, x, values, reduce="sum"):
    """out_i = reduce_{k=(j->i)} values_k x_j; returns (out, argmax or None).

    values: (E, H) of x's dtype or a (0, H) array (all ones); x (n, H C).
    """
    k = _graph_kernels()
    n_threads = graph.threads(x.shape[1])
    out = np.empty((graph.num_nodes, x.shape[1]), x.dtype)
    argmax = (np.empty(out.shape, np.int64) if reduce == "max"
              else np.zeros((0, 0), np.int64))
    k.spmm(graph.indptr, graph.src, values, x, out, argmax, _code(reduce),
           graph.bounds(n_threads), n_threads)
    return out, (argmax if reduce == "max" else None)


def _aggregate_edges(graph, messages, reduce="sum"):
    """out_i = reduce_{k -> i} messages_k for per-edge rows messages (E, F)."""
    k = _graph_kernels()
    n_threads = graph.threads(messages.shape[1])
    out = np.empty((graph.num_nodes, messages.shape[1]), messages.dtype)
    argmax = (np.empty(out.shape, np.int64) if reduce == "max"
              else np.zeros((0, 0), np.int64))
    k.spmm(graph.indptr, _identity(graph), _no_values(messages.dtype), messages, out,
           argmax, _code(reduce), graph.bounds(n_threads), n_threads)
    return out, (argmax if reduce == "max" else None)


def _propagate_transposed(graph, g, values):
    """out_j = sum_{k=(j->i)} values_k g_i (the gradient of a sum SpMM w.r.t. x)."""
    k = _graph_kernels()
    indptr_t, dst_t, pos_t = graph.transpose_csr()
    values_t = values if values.shape[0] == 0 else np.ascontiguousarray(values[pos_t])
    n_threads = graph.threads(g.shape[1])
    out = np.empty((graph.num_nodes, g.shape[1]), g.dtype)
    k.spmm(indptr_t, dst_t, values_t, g, out, np.zeros((0, 0), np.int64), _code("sum"),
           graph.bounds(n_threads, transpose=True), n_threads)
    return out


def _mean_scale(graph, dtype):
    """1 / in-degree of each edge's target, (E, 1)."""
    deg = np.maximum(graph.in_degree(), 1.0)
    return (1.0 / deg)[graph.dst].astype(dtype).reshape(-1, 1)


def _max_backward(argmax, indices, values, g, num_rows):
    """grad_x[indices[k]] += values_k g_i at the arg-max edge k of each (i, column)."""
    grad_x = np.zeros((num_rows, g.shape[1]), g.dtype)
    _graph_kernels().spmm_max_backward(argmax, indices, values, g, grad_x,
                                       _kernels.threads_for(g.size, 1 << 16))
    return grad_x


def _spmm_backward(graph, g, x, values, reduce, argmax=None, values_grad=False):
    """(grad_x, grad_values or None) of :func:`_propagate` (``argmax`` for max)."""
    heads = max(1, values.shape[1])
    if reduce == "max":
        return _max_backward(argmax, graph.src, values, g, x.shape[0]), None
    if reduce == "mean":
        scale = _mean_scale(graph, g.dtype)
        effective = scale if values.shape[0] == 0 else values * scale
    else:
        effective = values
    grad_x = _propagate_transposed(graph, g, effective)
    grad_values = None
    if values_grad:
        grad_values = _sddmm(graph, g, x, heads)
        if reduce == "mean":
            grad_values *= scale
    return grad_x, grad_values


def _sddmm(graph, a, b, heads=1):
    """out_k = a_i . b_j per head for k = (j -> i); (E, heads)."""
    n_threads = graph.threads(a.shape[1])
    out = np.empty((graph.num_edges, heads), a.dtype)
    _graph_kernels().sddmm(graph.indptr, graph.src, a, b, out, graph.bounds(n_threads),
                           n_threads)
    return out


def _edge_softmax(graph, a_src, a_dst, a_edge, negative_slope):
    """alpha = segment softmax of LeakyReLU(a_src_j + a_dst_i + a_edge_k), (E, H); a term
    given as a (0, H) array is left out."""
    n_threads = graph.threads(a_edge.shape[1] or a_dst.shape[1] or a_src.shape[1])
    heads = max(a_src.shape[1], a_dst.shape[1], a_edge.shape[1])
    dtype = np.result_type(a_src, a_dst, a_edge)
    alpha = np.empty((graph.num_edges, heads), dtype)
    _graph_kernels().edge_softmax(graph.indptr, graph.src, a_src, a_dst, a_edge,
                                  negative_slope, alpha, graph.bounds(n_threads), n_threads)
    return alpha


def _edge_softmax_backward(graph, a_src, a_dst, a_edge, negative_slope, alpha, grad,
                           row_sums=True):
    """(d loss / d logits (E, H), their sums per target (n, H) or None) of
    :func:`_edge_softmax`."""
    n_threads = graph.threads(alpha.shape[1])
    grad_s = np.empty_like(alpha)
    heads = alpha.shape[1]
    grad_rows = np.empty((graph.num_nodes if row_sums else 0, heads), alpha.dtype)
    _graph_kernels().edge_softmax_backward(graph.indptr, graph.src, a_src, a_dst, a_edge,
                                           negative_slope, alpha, grad, grad_s, grad_rows,
                                           graph.bounds(n_threads), n_threads)
    return grad_s, (grad_rows if row_sums else None)


def _segment_softmax(graph, scores):
    none = _no_values(scores.dtype, scores.shape[1])
    return _edge_softmax(graph, none, none, scores, 1.0)


def _segment_softmax_backward(graph, alpha, grad):
    none = _no_values(alpha.dtype, alpha.shape[1])
    return _edge_softmax_backward(graph, none, none, none, 1.0, alpha, grad, False)[0]


def _scatter_rows(graph, rows, at="target"):
    """out_i = sum of the per-edge rows (E, F) over the edges into / out of node i
    (an unweighted SpMM whose "source rows" are the edges)."""
    k = _graph_kernels()
    n_threads = graph.threads(rows.shape[1])
    out = np.empty((graph.num_nodes, rows.shape[1]), rows.dtype)
    if at == "target":
        indptr, perm, transpose = graph.indptr, _identity(graph), False
    else:
        indptr, _, perm = graph.transpose_csr()
        transpose = True
    k.spmm(indptr, perm, _no_values(rows.dtype), rows, out, np.zeros((0, 0), np.int64),
           _code("sum"), graph.bounds(n_threads, transpose), n_threads)
    return out


# ------------------------------------------------------------------ sparse features
class SparseFeatures:
    """Node features x (n, F) stored as CSR (row i = node i): sparse bag-of-words inputs.

    A layer given sparse features computes its first linear map x W^T as one SpMM over
    the nonzeros and d loss / d W = (x^T g)^T as a transposed SpMM, and returns no
    gradient for x. :meth:`with_values` gives the same structure with new values
    (dropout of the nonzeros), sharing the cached transposed structure.
    Build it with :func:`sparse_features`.
    """

    ndim = 2

    def __init__(self, indptr, indices, values, shape, structure=None):
        self.indptr, self.indices, self.values = indptr, indices, values
        self.shape = tuple(shape)
        self._structure = {} if structure is None else structure

    @property
    def dtype(self):
        return self.values.dtype

    @property
    def nnz(self):
        return int(self.values.shape[0])

    def __repr__(self):
        return f"SparseFeatures(shape={self.shape}, nnz={self.nnz}, dtype={self.dtype})"

    def with_values(self, values):
        return SparseFeatures(self.indptr, self.indices, values, self.shape, self._structure)

    def transpose_csr(self):
        if "transpose" not in self._structure:
            self._structure["transpose"] = csr_transpose(self.indptr, self.indices,
                                                         self.shape[1])
        return self._structure["transpose"]

    def bounds(self, n_threads, transpose=False):
        key = ("bounds", n_threads, transpose)
        if key not in self._structure:
            indptr = self.transpose_csr()[0] if transpose else self.indptr
            self._structure[key] = balanced_bounds(indptr, n_threads)
        return self._structure[key]

    def toarray(self):
        out = np.zeros(self.shape, self.dtype)
        rows = np.repeat(np.arange(self.shape[0]), np.diff(self.indptr))
        np.add.at(out, (rows, self.indices), self.values)
        return out


def sparse_features(x, dtype=None):
    """:class:`SparseFeatures` from a SciPy sparse matrix or a dense (n, F) array
    (its nonzeros); ``dtype`` float32/float64 (default: x's float dtype)."""
    import scipy.sparse as sp

    if isinstance(x, SparseFeatures):
        return x if dtype is None or x.dtype == dtype else x.with_values(
            x.values.astype(dtype))
    if sp.issparse(x):
        check_array(x.data, "x", dtype="float" if dtype is None else dtype)
        csr = x.tocsr()
    else:
        csr = sp.csr_matrix(check_array(x, "x", ndim=2,
                                        dtype="float" if dtype is None else dtype))
    csr.sum_duplicates()
    values = check_array(csr.data, "x", dtype="float" if dtype is None else dtype)
    return SparseFeatures(csr.indptr.astype(np.int64), csr.indices.astype(np.int64),
                          values, csr.shape)


def _sparse_matmul(xs, weight):
    """x W^T for sparse features x (n, F) and W (out, F): (n, out)."""
    k = _graph_kernels()
    w_t = np.ascontiguousarray(weight.T)
    n_threads = _kernels.threads_for((xs.nnz + xs.shape[0]) * w_t.shape[1], 1 << 15)
    out = np.empty((xs.shape[0], w_t.shape[1]), weight.dtype)
    k.spmm(xs.indptr, xs.indices, _columns(xs.values), w_t, out,
           np.zeros((0, 0), np.int64), _code("sum"), xs.bounds(n_threads), n_threads)
    return out


def _sparse_weight_grad(xs, g):
    """(x^T g)^T = g^T x for sparse features x (n, F) and g (n, out): (out, F)."""
    k = _graph_kernels()
    indptr_t, rows_t, pos_t = xs.transpose_csr()
    n_threads = _kernels.threads_for((xs.nnz + xs.shape[1]) * g.shape[1], 1 << 15)
    out = np.empty((xs.shape[1], g.shape[1]), g.dtype)
    k.spmm(indptr_t, rows_t, _columns(xs.values[pos_t]), np.ascontiguousarray(g), out,
           np.zeros((0, 0), np.int64), _code("sum"), xs.bounds(n_threads, True), n_threads)
    return out.T


# ------------------------------------------------------------------ public faces
def _check_graph(graph, num_nodes, name="x"):
    if isinstance(graph, Graph):
        if graph.num_nodes != num_nodes:
            raise ValueError(f"{name} has {num_nodes} rows but the graph has "
                             f"{graph.num_nodes} nodes (one row per node)")
        return graph
    return from_edge_index(graph, num_nodes)


def _check_features(x, name="x", dtype="float"):
    arr = check_array(x, name, ndim=2, dtype=dtype)
    if arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float64)
    return arr


def _check_values(values, graph, dtype, name="values"):
    """(E, H) C-contiguous values of ``dtype``, or the graph's weights when None."""
    if values is None:
        return graph.weights_as(dtype)
    return _columns(_check_edge_array(values, graph, name, dtype))


def _check_heads(values, x, name="x"):
    heads = values.shape[1]
    if heads and x.shape[1] % heads:
        raise ValueError(f"{name} has {x.shape[1]} columns, not a multiple of the "
                         f"{heads} heads of values")


def spmm(graph, x, reduce="sum", values=None):
    """out_i = reduce_{(j -> i)} v_ji x_j: sparse (edge-weighted) aggregation.

    Parameters
    ----------
    graph : Graph or (2, E) integer edge_index
    x : (n, F) float32/float64 node features (n = number of nodes)
    reduce : "sum", "mean" (divide by the in-degree) or "max"; rows without edges give 0
    values : (E,) or (E, H) edge values in ``graph.edge_index`` order; default the
        graph's edge weights (or 1). With H heads, F = H C and head h scales its C columns.

    Returns (n, F) of x's dtype.
    """
    x = _check_features(x)
    graph = _check_graph(graph, x.shape[0])
    check_option(reduce, "reduce", _REDUCES)
    v = _check_values(values, graph, x.dtype)
    _check_heads(v, x)
    return _propagate(graph, x, v, reduce)[0]


def spmm_backward(graph, grad_out, x, reduce="sum", values=None):
    """Gradients of :func:`spmm`: (grad_x, grad_values); grad_values is None when the
    values are the graph's (unweighted) ones or ``reduce="max"``."""
    x = _check_features(x)
    graph = _check_graph(graph, x.shape[0])
    check_option(reduce, "reduce", _REDUCES)
    g = check_shape(_check_features(grad_out, "grad_out", x.dtype), "grad_out", x.shape,
                    " (that of x)")
    v = _check_values(values, graph, x.dtype)
    _check_heads(v, x)
    argmax = _propagate(graph, x, v, "max")[1] if reduce == "max" else None
    grad_x, grad_v = _spmm_backward(graph, g, x, v, reduce, argmax,
                                    values_grad=v.shape[0] > 0 and reduce != "max")
    if grad_v is not None and values is not None and np.ndim(values) == 1:
        grad_v = grad_v.ravel()
    return grad_x, grad_v


def sddmm(graph, a, b, heads=1):
    """s_k = a_i . b_j for every edge k = (j -> i) (per head: a, b are (n, H C)).

    Returns (E,) for ``heads=1``, else (E, heads), of the inputs' dtype.
    """
    a = _check_features(a, "a")
    b = check_shape(_check_features(b, "b", a.dtype), "b", a.shape, " (that of a)")
    graph = _check_graph(graph, a.shape[0], "a")
    check_divisible(a.shape[1], "the columns of a", check_positive_int(heads, "heads"),
                    "heads")
    out = _sddmm(graph, a, b, int(heads))
    return out.ravel() if heads == 1 else out


def _check_edge_array(values, graph, name, dtype="float"):
    v = check_array(values, name, ndim=(1, 2), dtype=dtype)
    if v.dtype not in (np.float32, np.float64):
        v = v.astype(np.float64)
    return check_shape(v, name, (graph.num_edges, ...), " (one row per edge)")


def _graph_only(graph):
    if not isinstance(graph, Graph):
        graph = from_edge_index(graph)
    return graph


def segment_softmax(graph, scores):
    """alpha_k = exp(s_k) / sum_{k' into the same target} exp(s_k'), per column.

    scores: (E,) or (E, H) in ``graph.edge_index`` order; returns the same shape.
    """
    graph = _graph_only(graph)
    s = _check_edge_array(scores, graph, "scores")
    return _segment_softmax(graph, _columns(s)).reshape(s.shape)


def segment_softmax_backward(graph, alpha, grad):
    """d loss / d scores = alpha_k (g_k - sum_{k' into the same target} g_k' alpha_k')."""
    graph = _graph_only(graph)
    a = _check_edge_array(alpha, graph, "alpha")
    g = check_shape(_check_edge_array(grad, graph, "grad", a.dtype), "grad", a.shape,
                    " (that of alpha)")
    return _segment_softmax_backward(graph, _columns(a), _columns(g)).reshape(a.shape)


def scatter(graph, edge_values, at="target"):
    """out_i = sum of edge_values_k over the edges into i (``at="target"``) or out of i
    (``at="source"``); (E,) or (E, F) in, (n,) or (n, F) out."""
    graph = _graph_only(graph)
    check_option(at, "at", ("target", "source"))
    v = _check_edge_array(edge_values, graph, "edge_values")
    out = _scatter_rows(graph, _columns(v), at)
    return out.ravel() if v.ndim == 1 else out


def gather(graph, x, at="source"):
    """x_j (``at="source"``) or x_i (``at="target"``) for every edge (j -> i): (E, F)."""
    x = _check_features(x)
    graph = _check_graph(graph, x.shape[0])
    check_option(at, "at", ("target", "source"))
    return x[graph.src if at == "source" else graph.dst]
