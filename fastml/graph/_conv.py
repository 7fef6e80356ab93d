"""Graph layers with explicit backward: MessagePassing, GCNConv, SAGEConv, GATConv, ChebConv.

Every layer is a :class:`fastml.nn.Module`: ``forward(x, edge_index, ...)`` takes node
features x (n, in_channels) and a :class:`~fastml.graph.Graph` or a (2, E) integer
``edge_index`` (edge j -> i sends x_j to node i); ``backward(grad_out)`` returns
d loss / d x and adds the parameter gradients. Parameter names, shapes and initialisation
are PyTorch Geometric's, so ``load_state_dict(pyg_layer.state_dict())`` works.

Passing a :class:`Graph` (built once with :func:`~fastml.graph.from_edge_index`) lets a
layer cache what it derives from it (self loops, normalisation) on the graph itself;
``GCNConv(cached=True)`` keeps the first normalised graph, as PyG. Setting a layer's
``input_grad = False`` (e.g. the first layer of a model) skips d loss / d x in backward,
which then returns None: autograd does not compute it for inputs either.
"""

import math
import numbers

import numpy as np

from fastml._validation import (
    check_array,
    check_float_dtype,
    check_ndim,
    check_option,
    check_positive_int,
    check_scalar,
    check_shape,
)
from fastml.graph import _ops
from fastml.graph._graph import (
    Graph,
    _build,
    add_remaining_self_loops,
    from_edge_index,
    laplacian,
    normalize,
)
from fastml.nn import init
from fastml.nn._layers import Linear
from fastml.nn._module import Module, Parameter, Sequential
from fastml.nn.functional import _core

__all__ = ["ChebConv", "GATConv", "GCNConv", "MessagePassing", "SAGEConv"]


def _glorot(shape, rng, dtype):
    """U(-a, a), a = sqrt(6 / (shape[-2] + shape[-1])): PyG's ``glorot``."""
    a = math.sqrt(6.0 / (shape[-2] + shape[-1])) if shape[-2] + shape[-1] else 0.0
    return Parameter(rng.uniform(-a, a, shape), dtype)


def _glorot_linear(in_channels, out_channels, rng, dtype):
    """PyG's ``Linear(..., bias=False, weight_initializer="glorot")``."""
    lin = Linear(in_channels, out_channels, bias=False, dtype=dtype, random_state=rng)
    lin.weight = _glorot((out_channels, in_channels), rng, dtype)
    return lin


def _derived(graph, key, build):
    """``build(graph)`` cached on the graph under ``key`` (graphs are immutable)."""
    cache = graph.__dict__.setdefault("_derived", {})
    if key not in cache:
        cache[key] = build(graph)
    return cache[key]


def _unweighted(graph):
    return Graph(graph.num_nodes, graph.indptr, graph.src, graph.dst, None, graph.edge_id)


def _linear_forward(lin, x):
    """lin(x); sparse features: one SpMM over the nonzeros."""
    if isinstance(x, _ops.SparseFeatures):
        lin._cache = x
        out = _ops._sparse_matmul(x, lin.weight.data)
        if lin.bias is not None:
            out += lin.bias.data
        return out
    return lin.forward(x)


def _linear_backward(lin, g, input_grad):
    """Linear's backward; with ``input_grad=False`` (or sparse input features) only the
    parameter gradients, and None."""
    x = lin._saved()
    if isinstance(x, _ops.SparseFeatures):
        lin.weight.grad += _ops._sparse_weight_grad(x, g)
    elif input_grad:
        return lin.backward(g)
    else:
        lin.weight.grad += g.T @ x
    if lin.bias is not None:
        lin.bias.grad += g.sum(axis=0)
    return None


def _is_sparse(x):
    return type(x).__module__.startswith("scipy.sparse")


class _GraphLayer(Module):
    """Input checks shared by the layers (x 2-D with in_channels columns, the graph).
    GCNConv and GATConv also take sparse features (SciPy sparse or SparseFeatures)."""

    input_grad = True
    _sparse_input = False

    def _inputs(self, x, edge_index, edge_weight=None):
        if isinstance(x, _ops.SparseFeatures) or _is_sparse(x):
            if not self._sparse_input:
                raise TypeError(f"{type(self).__name__} takes dense x; convert it with "
                                f"x.toarray()")
            x = _ops.sparse_features(x, self.dtype)
        else:
            x = self._check_input(x)
        if x.ndim != 2 or x.shape[1] != self.in_channels:
            raise ValueError(f"{type(self).__name__}: x must have shape (num_nodes, "
                             f"{self.in_channels}), got {x.shape}")
        if isinstance(edge_index, Graph) and edge_index.num_nodes != x.shape[0]:
            raise ValueError(f"{type(self).__name__}: x has {x.shape[0]} rows but the "
                             f"graph has {edge_index.num_nodes} nodes (one row per node)")
        return x, from_edge_index(edge_index, x.shape[0], edge_weight)

    def extra_repr(self):
        return f"{self.in_channels}, {self.out_channels}"


class MessagePassing(_GraphLayer):
    """Base class of message-passing layers: for every node i

        out_i = update(aggregate_{k = (j -> i)} message(x_j, x_i, w_k), x_i)

    with ``aggr`` in {"sum", "mean", "max"}. Subclasses implement ``forward`` with
    :meth:`propagate` and ``backward`` with :meth:`propagate_backward`; they override
    :meth:`message` together with :meth:`message_backward` (and optionally
    :meth:`update` with :meth:`update_backward`). The default message is w_k x_j, which
    runs as one fused SpMM; a custom message is computed per edge and reduced by the
    same kernel. Example, messages x_j - x_i::

        class Diff(MessagePassing):
            def forward(self, x, edge_index):
                return self.propagate(edge_index, x)
            def backward(self, grad_out):
                return self.propagate_backward(grad_out)
            def message(self, x_j, x_i, edge_weight):
                return x_j - x_i
            def message_backward(self, grad, x_j, x_i, edge_weight):
                return grad, -grad
    """

    in_channels = None

    def __init__(self, aggr="sum"):
        super().__init__()
        self.aggr = check_option(aggr, "aggr", ("sum", "mean", "max"))
        self._cache = None

    def extra_repr(self):
        return f"aggr={self.aggr!r}"

    def message(self, x_j, x_i, edge_weight):
        """Per-edge messages (E, F') from source rows x_j, target rows x_i, weights (E,)."""
        return x_j if edge_weight is None else x_j * edge_weight[:, None]

    def message_backward(self, grad, x_j, x_i, edge_weight):
        """(d loss / d x_j, d loss / d x_i or None) given d loss / d message (E, F')."""
        return (grad if edge_weight is None else grad * edge_weight[:, None]), None

    def update(self, aggr_out, x):
        """New node features from the aggregated messages (default: unchanged)."""
        return aggr_out

    def update_backward(self, grad, aggr_out, x):
        """(d loss / d aggr_out, d loss / d x or None)."""
        return grad, None

    def _fused(self):
        return (type(self).message is MessagePassing.message
                and type(self).message_backward is MessagePassing.message_backward)

    def propagate(self, edge_index, x, edge_weight=None):
        """Gather, message, aggregate, update (see the class docstring)."""
        x = check_ndim(self._check_input(x), "x", 2)  # (num_nodes, features)
        if isinstance(edge_index, Graph) and edge_index.num_nodes != x.shape[0]:
            raise ValueError(f"{type(self).__name__}: x has {x.shape[0]} rows but the "
                             f"graph has {edge_index.num_nodes} nodes")
        graph = from_edge_index(edge_index, x.shape[0], edge_weight)
        w = graph.weight
        if self._fused():
            aggr_out, argmax = _ops._propagate(graph, x, graph.weights_as(x.dtype), self.aggr)
            messages = None
        else:
            w_edge = None if w is None else w.astype(x.dtype)
            messages = np.ascontiguousarray(
                self.message(x[graph.src], x[graph.dst], w_edge), dtype=x.dtype)
            aggr_out, argmax = _ops._aggregate_edges(graph, messages, self.aggr)
        self._cache = (graph, x, argmax, aggr_out, messages is None)
        return self.update(aggr_out, x)

    def propagate_backward(self, grad_out):
        """d loss / d x of :meth:`propagate`."""
        graph, x, argmax, aggr_out, fused = self._saved()
        g_aggr, g_x = self.update_backward(np.ascontiguousarray(grad_out, dtype=x.dtype),
                                           aggr_out, x)
        g_aggr = np.ascontiguousarray(g_aggr, dtype=x.dtype)
        if fused:
            grad_x = _ops._spmm_backward(graph, g_aggr, x, graph.weights_as(x.dtype),
                                         self.aggr, argmax)[0]
        else:
            grad_messages = self._messages_backward(graph, g_aggr, argmax)
            w = None if graph.weight is None else graph.weight.astype(x.dtype)
            g_j, g_i = self.message_backward(grad_messages, x[graph.src], x[graph.dst], w)
            grad_x = self._scatter_nodes(graph, g_j, "source", x.dtype)
            if g_i is not None:
                grad_x += self._scatter_nodes(graph, g_i, "target", x.dtype)
        return grad_x if g_x is None else grad_x + g_x

    def _messages_backward(self, graph, g, argmax):
        """d loss / d message_k from d loss / d aggr_out (per reduction)."""
        if self.aggr == "max":
            return _ops._max_backward(argmax, _ops._identity(graph), _ops._no_values(g.dtype),
                                      g, graph.num_edges)
        grad = g[graph.dst]
        if self.aggr == "mean":
            grad *= _ops._mean_scale(graph, g.dtype)
        return grad

    @staticmethod
    def _scatter_nodes(graph, edge_rows, at, dtype):
        return _ops._scatter_rows(graph, np.ascontiguousarray(edge_rows, dtype=dtype), at)


class GCNConv(_GraphLayer):
    """Graph convolution (Kipf & Welling): X' = D^-1/2 (A + I) D^-1/2 X W^T + b.

    Self loops are replaced by one loop per node (weight 1, or 2 with ``improved``; an
    existing loop keeps its weight) and degrees d_i = sum of the weights into i.
    ``add_self_loops`` defaults to ``normalize`` and cannot be set without it (PyG).
    Parameters ``lin.weight`` (out, in; Glorot) and ``bias`` (zeros), as PyG.
    x may be sparse features (then backward returns None).
    """

    _sparse_input = True

    def __init__(self, in_channels, out_channels, improved=False, cached=False,
                 add_self_loops=None, normalize=True, bias=True, *, dtype=np.float32,
                 random_state=None):
        super().__init__()
        self.in_channels = check_positive_int(in_channels, "in_channels")
        self.out_channels = check_positive_int(out_channels, "out_channels")
        self.improved, self.cached = bool(improved), bool(cached)
        self.normalize = bool(normalize)
        self.add_self_loops = self.normalize if add_self_loops is None else bool(add_self_loops)
        if self.add_self_loops and not self.normalize:
            raise ValueError("add_self_loops=True needs normalize=True (GCNConv adds self "
                             "loops only for its on-the-fly normalisation, as PyG)")
        dtype = check_float_dtype(dtype)
        rng = init._rng(random_state)
        self.lin = _glorot_linear(in_channels, out_channels, rng, dtype)
        self.bias = Parameter(np.zeros(out_channels), dtype) if bias else None
        self._cached_graph = None
        self._cache = None

    def _normalized(self, graph):
        def build(g):
            if self.add_self_loops:
                g = add_remaining_self_loops(g, 2.0 if self.improved else 1.0)
            return normalize(g, "sym") if self.normalize else g
        key = ("gcn", self.improved, self.add_self_loops, self.normalize)
        return _derived(graph, key, build)

    def forward(self, x, edge_index, edge_weight=None):
        x, graph = self._inputs(x, edge_index, edge_weight)
        if self.cached and self._cached_graph is not None:
            graph = self._cached_graph
        else:
            graph = self._normalized(graph)
            if self.cached:
                self._cached_graph = graph
        h = _linear_forward(self.lin, x)
        out = _ops._propagate(graph, h, graph.weights_as(h.dtype))[0]
        if self.bias is not None:
            out += self.bias.data
        self._cache = graph
        return out

    def backward(self, grad_out):
        graph = self._saved()
        g = self._check_grad(grad_out, (graph.num_nodes, self.out_channels), self.dtype)
        if self.bias is not None:
            self.bias.grad += g.sum(axis=0)
        grad_h = _ops._propagate_transposed(graph, g, graph.weights_as(g.dtype))
        return _linear_backward(self.lin, grad_h, self.input_grad)


class SAGEConv(_GraphLayer):
    """GraphSAGE: x'_i = W_l aggr_{j -> i} p(x_j) + b + W_r x_i, aggr in {mean, max, sum},

    p(x) = ReLU(W_p x + b_p) with ``project`` (else x), and x'_i / ||x'_i||_2 with
    ``normalize`` (PyG's F.normalize, eps 1e-12). Parameters ``lin.weight``,
    ``lin.bias`` (project), ``lin_l.weight``, ``lin_l.bias`` and ``lin_r.weight``
    (PyTorch's Linear initialisation), as PyG. Nodes without incoming edges aggregate to 0.
    """

    _EPS = 1e-12

    def __init__(self, in_channels, out_channels, aggr="mean", normalize=False,
                 root_weight=True, project=False, bias=True, *, dtype=np.float32,
                 random_state=None):
        super().__init__()
        self.in_channels = check_positive_int(in_channels, "in_channels")
        self.out_channels = check_positive_int(out_channels, "out_channels")
        self.aggr = check_option(aggr, "aggr", ("mean", "max", "sum"))
        self.normalize, self.root_weight = bool(normalize), bool(root_weight)
        self.project = bool(project)
        dtype = check_float_dtype(dtype)
        rng = init._rng(random_state)
        if self.project:
            self.lin = Linear(in_channels, in_channels, bias=True, dtype=dtype,
                              random_state=rng)
        self.lin_l = Linear(in_channels, out_channels, bias=bias, dtype=dtype,
                            random_state=rng)
        if self.root_weight:
            self.lin_r = Linear(in_channels, out_channels, bias=False, dtype=dtype,
                                random_state=rng)
        self._cache = None

    def forward(self, x, edge_index):
        x, graph = self._inputs(x, edge_index)
        graph = _unweighted(graph) if graph.weight is not None else graph
        x_src = np.maximum(self.lin.forward(x), 0) if self.project else x
        aggr, argmax = _ops._propagate(graph, x_src, _ops._no_values(x.dtype), self.aggr)
        out = self.lin_l.forward(aggr)
        if self.root_weight:
            out += self.lin_r.forward(x)
        norm = None
        if self.normalize:
            norm = np.maximum(np.sqrt(np.einsum("ij,ij->i", out, out)), self._EPS)[:, None]
            out /= norm
        self._cache = (graph, x_src, argmax, out, norm)
        return out

    def backward(self, grad_out):
        graph, x_src, argmax, out, norm = self._saved()
        g = self._check_grad(grad_out, (graph.num_nodes, self.out_channels), x_src.dtype)
        if norm is not None:  # y = o / max(|o|, eps): dy/do g = (g - y (y . g)) / |o|
            inside = norm[:, 0] > self._EPS
            g = g / norm
            g[inside] -= out[inside] * np.einsum("ij,ij->i", out[inside], g[inside])[:, None]
        grad_aggr = self.lin_l.backward(g)
        grad_root = (_linear_backward(self.lin_r, g, self.input_grad) if self.root_weight
                     else None)
        if not (self.input_grad or self.project):
            return None
        grad_src = _ops._spmm_backward(graph, grad_aggr, x_src, _ops._no_values(x_src.dtype),
                                       self.aggr, argmax)[0]
        if self.project:
            grad_src *= x_src > 0
            grad_src = _linear_backward(self.lin, grad_src, self.input_grad)
        if not self.input_grad:
            return None
        return grad_src if grad_root is None else grad_src + grad_root


_LOOP_REDUCES = ("add", "sum", "mean", "max", "min", "mul")


def _loop_graphs(graph):
    """(graph without self loops, positions kept, that graph plus one loop per node)."""
    keep = np.flatnonzero(graph.src != graph.dst)
    src, dst = graph.src[keep], graph.dst[keep]
    plain = _build(graph.num_nodes, src, dst, None)  # still sorted: the same order
    loops = np.arange(graph.num_nodes, dtype=np.int64)
    return plain, keep, _build(graph.num_nodes, np.concatenate([src, loops]),
                               np.concatenate([dst, loops]), None)


def _loop_attr(plain, attr, fill_value):
    """Edge features of the added self loops (PyG's ``add_self_loops(fill_value=...)``):
    a constant (scalar or one row), or the features of the edges into each node reduced
    by ``fill_value`` in {"add", "sum", "mean", "max", "min", "mul"} (nodes without
    edges: 1 for "mul", else 0)."""
    n, dim = plain.num_nodes, attr.shape[1]
    if not isinstance(fill_value, str):
        return np.broadcast_to(fill_value, (n, dim)).astype(attr.dtype)
    counts = np.diff(plain.indptr)
    if fill_value in ("add", "sum", "mean"):
        out = _ops._scatter_rows(plain, attr)
        if fill_value == "mean":
            out /= np.maximum(counts, 1)[:, None]
        return out
    ufunc = {"max": np.maximum, "min": np.minimum, "mul": np.multiply}[fill_value]
    out = np.full((n, dim), 1.0 if fill_value == "mul" else 0.0, attr.dtype)
    rows = counts > 0
    if attr.shape[0]:
        out[rows] = ufunc.reduceat(attr, plain.indptr[:-1][rows], axis=0)
    return out


class GATConv(_GraphLayer):
    """Graph attention (Velickovic et al.), H heads of C channels::

        h = x W^T (n, H C),  e_ji = LeakyReLU(a_src . h_j + a_dst . h_i + a_edge . W_e f_ji)
        per head (the last term with ``edge_dim``: edge features f_ji),
        alpha_ji = softmax over the edges into i of e_ji (then attention dropout),
        x'_i = sum_j alpha_ji h_j  (heads concatenated, or averaged with concat=False)
               [+ W_res x_i with ``residual``] + b.

    Self loops are replaced by one loop per node (``add_self_loops``); their edge
    features are ``fill_value`` (a number, a row of edge_dim values, or the reduction
    "mean", "add", "max", "min", "mul" of the features of the edges into the node), as
    PyG. Parameters ``lin.weight`` (H C, in), ``att_src``, ``att_dst`` (1, H, C),
    ``lin_edge.weight`` (H C, edge_dim), ``att_edge`` (1, H, C), ``res.weight``
    (glorot) and ``bias`` (zeros), as PyG. The logits and softmax run as one fused kernel
    per target row; the edge term is edge_attr (E, edge_dim) times the (edge_dim, H)
    product of W_e and a_edge, without PyG's (E, H, C) temporary.
    x may be sparse features (then backward returns None).
    """

    _sparse_input = True

    def __init__(self, in_channels, out_channels, heads=1, concat=True, negative_slope=0.2,
                 dropout=0.0, add_self_loops=True, edge_dim=None, fill_value="mean",
                 bias=True, residual=False, *, dtype=np.float32, random_state=None):
        super().__init__()
        self.in_channels = check_positive_int(in_channels, "in_channels")
        self.out_channels = check_positive_int(out_channels, "out_channels")
        self.heads = check_positive_int(heads, "heads")
        self.concat = bool(concat)
        self.negative_slope = float(check_scalar(negative_slope, "negative_slope",
                                                 numbers.Real, min_val=0))
        self.dropout = float(check_scalar(dropout, "dropout", numbers.Real, min_val=0,
                                          max_val=1))
        self.add_self_loops = bool(add_self_loops)
        self.edge_dim = None if edge_dim is None else check_positive_int(edge_dim, "edge_dim")
        self.fill_value = self._check_fill_value(fill_value)
        self.residual = bool(residual)
        dtype = check_float_dtype(dtype)
        rng = init._rng(random_state)
        self._rng = rng
        H, C = self.heads, self.out_channels
        total = H * C if concat else C
        self.lin = _glorot_linear(in_channels, H * C, rng, dtype)
        self.att_src = _glorot((1, H, C), rng, dtype)
        self.att_dst = _glorot((1, H, C), rng, dtype)
        if self.edge_dim is not None:
            self.lin_edge = _glorot_linear(self.edge_dim, H * C, rng, dtype)
            self.att_edge = _glorot((1, H, C), rng, dtype)
        self.res = _glorot_linear(in_channels, total, rng, dtype) if residual else None
        self.bias = Parameter(np.zeros(total), dtype) if bias else None
        self._cache = None

    def _check_fill_value(self, fill_value):
        if isinstance(fill_value, str):
            return check_option(fill_value, "fill_value", _LOOP_REDUCES)
        # a finite number or a row of edge_dim numbers
        value = check_array(fill_value, "fill_value", ndim=(0, 1), dtype=np.float64, order=None)
        if value.ndim == 1 and value.shape[0] != (self.edge_dim or 0):
            raise ValueError(f"fill_value must have edge_dim={self.edge_dim} values, got "
                             f"{value.shape[0]}")
        return value

    def extra_repr(self):
        return f"{self.in_channels}, {self.out_channels}, heads={self.heads}"

    def _edge_features(self, edge_attr, edge_index, graph):
        """edge_attr as (E, edge_dim) of the layer's dtype in the graph's order, or None."""
        if edge_attr is None:
            return None
        if self.edge_dim is None:
            raise ValueError("edge_attr needs a GATConv built with edge_dim (the number of "
                             "edge features)")
        attr = check_array(edge_attr, "edge_attr", ndim=(1, 2), dtype=self.dtype)
        attr = attr.reshape(-1, 1) if attr.ndim == 1 else attr
        check_shape(attr, "edge_attr", (graph.num_edges, self.edge_dim), " (num_edges, edge_dim)")
        order = None if isinstance(edge_index, Graph) else graph.edge_id
        return np.ascontiguousarray(attr if order is None else attr[order])

    def _with_loops(self, graph, attr):
        if not self.add_self_loops:
            return (_unweighted(graph) if graph.weight is not None else graph), attr
        plain, keep, looped = _derived(graph, "gat-loops", _loop_graphs)
        if attr is not None:
            kept = np.ascontiguousarray(attr[keep])
            attr = np.concatenate([kept, _loop_attr(plain, kept, self.fill_value)])
            attr = np.ascontiguousarray(attr[looped.edge_id])
        return looped, attr

    def _edge_projection(self):
        """(edge_dim, H): a_edge = edge_attr @ this (W_e reshaped (H, C, D) dotted with
        att_edge over C)."""
        H, C = self.heads, self.out_channels
        w = self.lin_edge.weight.data.reshape(H, C, self.edge_dim)
        return np.ascontiguousarray(np.einsum("hcd,hc->dh", w, self.att_edge.data[0]))

    def forward(self, x, edge_index, edge_attr=None, return_attention_weights=False):
        """Output (n, H C or C); with ``return_attention_weights`` also
        (edge_index (2, E'), alpha (E', H)) of the graph with its self loops (alpha after
        attention dropout)."""
        x, graph = self._inputs(x, edge_index)
        attr = self._edge_features(edge_attr, edge_index, graph)
        graph, attr = self._with_loops(graph, attr)
        n, H, C = x.shape[0], self.heads, self.out_channels
        h = _linear_forward(self.lin, x)
        h3 = h.reshape(n, H, C)
        a_src = np.ascontiguousarray(np.einsum("nhc,hc->nh", h3, self.att_src.data[0]))
        a_dst = np.ascontiguousarray(np.einsum("nhc,hc->nh", h3, self.att_dst.data[0]))
        a_edge = (_ops._no_values(h.dtype, H) if attr is None
                  else np.ascontiguousarray(attr @ self._edge_projection()))
        alpha = _ops._edge_softmax(graph, a_src, a_dst, a_edge, self.negative_slope)
        mask = None
        weights = alpha
        if self.training and self.dropout > 0:
            mask = _core._dropout_mask(alpha.shape, self.dropout, alpha.dtype, self._rng)
            weights = alpha * mask
        out = _ops._propagate(graph, h, weights)[0]
        if not self.concat:
            out = out.reshape(n, H, C).mean(axis=1)
        if self.res is not None:
            out += _linear_forward(self.res, x)
        if self.bias is not None:
            out += self.bias.data
        self._cache = (graph, h, a_src, a_dst, a_edge, attr, alpha, mask, weights)
        if return_attention_weights:
            return out, (graph.edge_index, weights)
        return out

    def backward(self, grad_out):
        graph, h, a_src, a_dst, a_edge, attr, alpha, mask, weights = self._saved()
        n, H, C = graph.num_nodes, self.heads, self.out_channels
        g = self._check_grad(grad_out, (n, H * C if self.concat else C), h.dtype)
        if self.bias is not None:
            self.bias.grad += g.sum(axis=0)
        grad_res = None if self.res is None else _linear_backward(self.res, g,
                                                                  self.input_grad)
        if not self.concat:
            g = np.ascontiguousarray(np.repeat(g[:, None, :] / H, H, axis=1).reshape(n, H * C))
        grad_h = _ops._propagate_transposed(graph, g, weights)
        grad_alpha = _ops._sddmm(graph, g, h, H)
        if mask is not None:
            grad_alpha *= mask
        grad_e, grad_a_dst = _ops._edge_softmax_backward(graph, a_src, a_dst, a_edge,
                                                         self.negative_slope, alpha,
                                                         grad_alpha)
        grad_a_src = _ops._scatter_rows(graph, grad_e, "source")
        h3 = h.reshape(n, H, C)
        self.att_src.grad[0] += np.einsum("nh,nhc->hc", grad_a_src, h3)
        self.att_dst.grad[0] += np.einsum("nh,nhc->hc", grad_a_dst, h3)
        if attr is not None:
            grad_proj = attr.T @ grad_e  # (edge_dim, H)
            w = self.lin_edge.weight.data.reshape(H, C, self.edge_dim)
            self.lin_edge.weight.grad += np.einsum(
                "hc,dh->hcd", self.att_edge.data[0], grad_proj).reshape(H * C, -1)
            self.att_edge.grad[0] += np.einsum("hcd,dh->hc", w, grad_proj)
        grad_h3 = grad_h.reshape(n, H, C)
        grad_h3 += grad_a_src[:, :, None] * self.att_src.data
        grad_h3 += grad_a_dst[:, :, None] * self.att_dst.data
        grad_x = _linear_backward(self.lin, grad_h, self.input_grad)
        return grad_x if grad_res is None else grad_x + grad_res


class ChebConv(_GraphLayer):
    """Chebyshev spectral convolution (Defferrard et al.), K terms:

        X' = sum_{k<K} T_k(L~) X W_k^T + b,  L~ = 2 L / lambda_max - I,
        T_0 = X, T_1 = L~ X, T_k = 2 L~ T_{k-1} - T_{k-2},

    L the Laplacian of ``normalization`` ("sym": I - D^-1/2 A D^-1/2, "rw", or None:
    D - A; self loops removed, degrees at the source, as PyG). ``lambda_max`` defaults to
    2 for "sym" and must be given otherwise (e.g. :func:`largest_eigenvalue`).
    Parameters ``lins.k.weight`` (Glorot) and ``bias`` (zeros), as PyG.
    """

    def __init__(self, in_channels, out_channels, K, normalization="sym", bias=True, *,
                 dtype=np.float32, random_state=None):
        super().__init__()
        self.in_channels = check_positive_int(in_channels, "in_channels")
        self.out_channels = check_positive_int(out_channels, "out_channels")
        self.K = check_positive_int(K, "K")
        self.normalization = check_option(normalization, "normalization",
                                          ("sym", "rw", None))
        dtype = check_float_dtype(dtype)
        rng = init._rng(random_state)
        self.lins = Sequential(*[_glorot_linear(in_channels, out_channels, rng, dtype)
                                 for _ in range(self.K)])
        self.bias = Parameter(np.zeros(out_channels), dtype) if bias else None
        self._cache = None

    def extra_repr(self):
        return f"{self.in_channels}, {self.out_channels}, K={self.K}"

    def _scaled_laplacian(self, graph, lambda_max):
        def build(g):
            kind = {"sym": "sym", "rw": "rw", None: "combinatorial"}[self.normalization]
            L = laplacian(g, kind).tocoo()
            w = 2.0 * L.data / lambda_max
            w[L.row == L.col] -= 1.0
            # L[j, i] weighs the message from source j to target i
            return _build(g.num_nodes, L.row.astype(np.int64), L.col.astype(np.int64), w)
        return _derived(graph, ("cheb", self.normalization, lambda_max), build)

    def forward(self, x, edge_index, edge_weight=None, lambda_max=None):
        x, graph = self._inputs(x, edge_index, edge_weight)
        if lambda_max is None:
            if self.normalization != "sym":
                raise ValueError("lambda_max must be given when normalization is not "
                                 "'sym' (e.g. fastml.graph.largest_eigenvalue(laplacian(g)))")
            lambda_max = 2.0
        lambda_max = float(check_scalar(lambda_max, "lambda_max", numbers.Real, min_val=0,
                                        include_boundaries="neither"))
        L = self._scaled_laplacian(graph, lambda_max)
        w = L.weights_as(x.dtype)
        terms = [x]
        if self.K > 1:
            terms.append(_ops._propagate(L, x, w)[0])
        for _ in range(2, self.K):
            nxt = _ops._propagate(L, terms[-1], w)[0]
            nxt *= 2
            nxt -= terms[-2]
            terms.append(nxt)
        out = self.lins[0].forward(terms[0])
        for k in range(1, self.K):
            out += self.lins[k].forward(terms[k])
        if self.bias is not None:
            out += self.bias.data
        self._cache = (L, x.shape)
        return out

    def backward(self, grad_out):
        L, shape = self._saved()
        g = self._check_grad(grad_out, (shape[0], self.out_channels), self.dtype)
        if self.bias is not None:
            self.bias.grad += g.sum(axis=0)
        grads = [_linear_backward(self.lins[k], g, self.input_grad) for k in range(self.K)]
        if not self.input_grad:
            return None
        w = L.weights_as(g.dtype)
        # reverse the recurrence T_k = 2 L~ T_{k-1} - T_{k-2}
        for k in range(self.K - 1, 1, -1):
            grads[k - 1] += 2 * _ops._propagate_transposed(L, grads[k], w)
            grads[k - 2] -= grads[k]
        if self.K > 1:
            grads[0] += _ops._propagate_transposed(L, grads[1], w)
        return grads[0]
