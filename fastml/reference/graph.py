"""Message passing written as explicit loops over edges; GCN propagation as dense matrices.

Same signatures as :mod:`fastml.graph`. An edge k = (j -> i) sends x_j to node i.
"""

import numpy as np

from fastml.graph import from_edge_index

__all__ = ["cheb_conv", "gat_conv", "gcn_conv", "scatter", "sddmm", "segment_softmax",
           "spmm"]


def _graph(graph, num_nodes=None):
    return from_edge_index(graph, num_nodes)


def _edge_values(graph, values):
    if values is not None:
        values = np.asarray(values, np.float64)
        return values[:, None] if values.ndim == 1 else values
    w = np.ones(graph.num_edges) if graph.weight is None else graph.weight
    return w.reshape(-1, 1)


def spmm(graph, x, reduce="sum", values=None):
    """out_i = reduce_{k = (j -> i)} v_k x_j, one edge at a time."""
    x = np.asarray(x, np.float64)
    graph = _graph(graph, x.shape[0])
    v = _edge_values(graph, values)
    heads = v.shape[1]
    channels = x.shape[1] // heads
    n = graph.num_nodes
    out = np.full((n, x.shape[1]), -np.inf if reduce == "max" else 0.0)
    count = np.zeros(n)
    for k in range(graph.num_edges):
        j, i = graph.src[k], graph.dst[k]
        message = x[j] * np.repeat(v[k], channels)
        if reduce == "max":
            out[i] = np.maximum(out[i], message)
        else:
            out[i] += message
        count[i] += 1
    if reduce == "max":
        out[count == 0] = 0.0
    if reduce == "mean":
        out /= np.maximum(count, 1)[:, None]
    return out


def sddmm(graph, a, b, heads=1):
    """s_k = a_i . b_j per head for every edge k = (j -> i)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    graph = _graph(graph, a.shape[0])
    channels = a.shape[1] // heads
    out = np.zeros((graph.num_edges, heads))
    for k in range(graph.num_edges):
        j, i = graph.src[k], graph.dst[k]
        for h in range(heads):
            cols = slice(h * channels, (h + 1) * channels)
            out[k, h] = a[i, cols] @ b[j, cols]
    return out.ravel() if heads == 1 else out


def segment_softmax(graph, scores):
    """alpha_k = exp(s_k) / sum over the edges k' with the same target of exp(s_k')."""
    graph = _graph(graph)
    s = np.asarray(scores, np.float64)
    s2 = s[:, None] if s.ndim == 1 else s
    out = np.zeros_like(s2)
    for i in range(graph.num_nodes):
        edges = [k for k in range(graph.num_edges) if graph.dst[k] == i]
        if edges:
            e = np.exp(s2[edges] - s2[edges].max(axis=0))
            out[edges] = e / e.sum(axis=0)
    return out.reshape(s.shape)


def scatter(graph, edge_values, at="target"):
    """out_i = sum of the values of the edges into (or out of) node i."""
    graph = _graph(graph)
    v = np.asarray(edge_values, np.float64)
    out = np.zeros((graph.num_nodes,) + v.shape[1:])
    ends = graph.dst if at == "target" else graph.src
    for k in range(graph.num_edges):
        out[ends[k]] += v[k]
    return out


def _dense_adjacency(edge_index, num_nodes, edge_weight):
    """A[i, j] = sum of the weights of the edges j -> i (rows = targets)."""
    A = np.zeros((num_nodes, num_nodes))
    w = np.ones(edge_index.shape[1]) if edge_weight is None else edge_weight
    for k in range(edge_index.shape[1]):
        A[edge_index[1, k], edge_index[0, k]] += w[k]
    return A


def gcn_conv(x, edge_index, weight, bias=None, edge_weight=None):
    """D^-1/2 (A + I) D^-1/2 X W^T + b with dense matrices (self loops replaced by one
    loop of weight 1, or the existing loop's weight; d_i = row sums)."""
    x = np.asarray(x, np.float64)
    edge_index = np.asarray(edge_index)
    n = x.shape[0]
    w = None if edge_weight is None else np.asarray(edge_weight, np.float64)
    loops = edge_index[0] == edge_index[1]
    diag = np.ones(n)
    if w is not None:
        diag[edge_index[0, loops]] = w[loops]
    A = _dense_adjacency(edge_index[:, ~loops], n, None if w is None else w[~loops])
    A_hat = A + np.diag(diag)
    d = A_hat.sum(axis=1)
    dinv = np.where(d > 0, 1 / np.sqrt(np.where(d > 0, d, 1)), 0.0)
    out = (dinv[:, None] * A_hat * dinv[None, :]) @ x @ np.asarray(weight, np.float64).T
    return out if bias is None else out + bias


def gat_conv(x, edge_index, weight, att_src, att_dst, bias=None, heads=1, concat=True,
             negative_slope=0.2):
    """Graph attention, one edge at a time (self loops replaced by one per node)."""
    x = np.asarray(x, np.float64)
    edge_index = np.asarray(edge_index)
    n = x.shape[0]
    keep = edge_index[0] != edge_index[1]
    src = np.concatenate([edge_index[0, keep], np.arange(n)])
    dst = np.concatenate([edge_index[1, keep], np.arange(n)])
    h = (x @ np.asarray(weight, np.float64).T).reshape(n, heads, -1)
    a_s = (h * np.asarray(att_src, np.float64).reshape(1, heads, -1)).sum(-1)
    a_d = (h * np.asarray(att_dst, np.float64).reshape(1, heads, -1)).sum(-1)
    out = np.zeros_like(h)
    for i in range(n):
        edges = np.nonzero(dst == i)[0]
        e = a_s[src[edges]] + a_d[i]
        e = np.where(e > 0, e, negative_slope * e)
        alpha = np.exp(e - e.max(axis=0))
        alpha /= alpha.sum(axis=0)
        for k, edge in enumerate(edges):
            out[i] += alpha[k][:, None] * h[src[edge]]
    out = out.reshape(n, -1) if concat else out.mean(axis=1)
    return out if bias is None else out + bias


def cheb_conv(x, edge_index, weights, bias=None, lambda_max=2.0):
    """sum_k T_k(L~) X W_k^T + b with dense L~ = 2 (I - D^-1/2 A D^-1/2) / lambda_max - I
    (A[j, i] = edges j -> i without self loops, degrees = row sums)."""
    x = np.asarray(x, np.float64)
    edge_index = np.asarray(edge_index)
    n = x.shape[0]
    keep = edge_index[0] != edge_index[1]
    A = _dense_adjacency(edge_index[:, keep], n, None).T  # A[j, i]
    d = A.sum(axis=1)
    dinv = np.where(d > 0, 1 / np.sqrt(np.where(d > 0, d, 1)), 0.0)
    L = np.eye(n) - dinv[:, None] * A * dinv[None, :]
    L_t = (2 * L / lambda_max - np.eye(n)).T  # out_i = sum_j L~[j, i] x_j
    terms = [x, L_t @ x]
    while len(terms) < len(weights):
        terms.append(2 * L_t @ terms[-1] - terms[-2])
    out = sum(t @ np.asarray(w, np.float64).T for t, w in zip(terms, weights))
    return out if bias is None else out + bias
