"""Fuzz specs of fastml.graph on a small graph: the sparse message-passing primitives,
the layers (forward + backward), the models and their training loop, the converters and
the spectral methods."""

import numpy as np

from fastml import graph as G
from fuzz_specs import HUGE, Spec

_EDGES = np.array([[0, 1, 2, 3, 1, 0], [1, 2, 3, 0, 3, 2]])


def _graph():
    return G.from_edge_index(_EDGES, num_nodes=4)


def _x(rng, dtype, rows=4, cols=3):
    return {"x": rng.standard_normal((rows, cols)).astype(dtype)}


def _op(name, make, run, **options):
    options.setdefault("nonfinite_ok", "all")  # sums and maxima propagate NaN, as PyG's
    return Spec(f"fastml.graph.{name}", make, run, **options)


SPECS = [
    _op("from_edge_index",
        lambda rng, dtype: {"edge_index": _EDGES, "num_nodes": 4,
                            "edge_weight": rng.random(6).astype(dtype)},
        lambda **kw: G.to_scipy(G.from_edge_index(**kw)).toarray(),
        also=("fastml.graph.Graph", "fastml.graph.to_scipy"), arrays=("edge_index",
                                                                       "edge_weight"),
        bad_params={"num_nodes": [-1, 2, 2.5]}, same_length=()),
    _op("spmm", _x, lambda x, **kw: G.spmm(_graph(), x, **kw), any_ndim=("x",),
        bad_params={"reduce": ["median"]}),
    _op("spmm_backward",
        lambda rng, dtype: {"grad_out": _x(rng, dtype)["x"], **_x(rng, dtype)},
        lambda **kw: G.spmm_backward(_graph(), **kw), any_ndim=("x", "grad_out"),
        same_length=(("grad_out", "x"),), bad_params={"reduce": ["median"]}),
    _op("gather", _x, lambda x, **kw: G.gather(_graph(), x, **kw), any_ndim=("x",),
        bad_params={"at": ["middle"]}),
    _op("scatter", lambda rng, dtype: {"edge_values": _x(rng, dtype, rows=6)["x"]},
        lambda **kw: G.scatter(_graph(), **kw), any_ndim=("edge_values",),
        bad_params={"at": ["middle"]}),
    _op("sddmm", lambda rng, dtype: {"a": _x(rng, dtype)["x"], "b": _x(rng, dtype)["x"]},
        lambda **kw: G.sddmm(_graph(), **kw), same_length=(("a", "b"),),
        bad_params={"heads": [0, -1, 2]}),
    _op("segment_softmax", lambda rng, dtype: {"scores": rng.standard_normal(6).astype(dtype)},
        lambda **kw: G.segment_softmax(_graph(), **kw), any_ndim=("scores",)),
    _op("segment_softmax_backward",
        lambda rng, dtype: {"alpha": G.segment_softmax(_graph(), rng.standard_normal(6)
                                                       .astype(dtype)),
                            "grad": rng.standard_normal(6).astype(dtype)},
        lambda **kw: G.segment_softmax_backward(_graph(), **kw), any_ndim=("alpha", "grad"),
        same_length=(("alpha", "grad"),)),
    _op("degree", lambda rng, dtype: {"at": "source"}, lambda **kw: G.degree(_graph(), **kw),
        dtypes=("float64",), bad_params={"at": ["middle"]}),
    _op("normalize", lambda rng, dtype: {"kind": "sym"},
        lambda **kw: G.to_scipy(G.normalize(_graph(), **kw)).toarray(), dtypes=("float64",),
        bad_params={"kind": ["l2?"], "at": ["middle"]}),
    _op("laplacian", lambda rng, dtype: {"kind": "sym"},
        lambda **kw: G.laplacian(_graph(), **kw).toarray(), dtypes=("float64",),
        bad_params={"kind": ["l2?"]}),
    _op("add_self_loops", lambda rng, dtype: {"fill_value": 2.0},
        lambda **kw: G.to_scipy(G.add_self_loops(_graph(), **kw)).toarray(),
        also=("fastml.graph.remove_self_loops", "fastml.graph.add_remaining_self_loops"),
        dtypes=("float64",), bad_params={"fill_value": [np.nan, "one"]}),
]

_SIZE = [0, -1, 2.5, HUGE]


def _layer(cls, params, bad_params, call=lambda layer, x: layer(x, _graph()), **options):
    """Spec of a graph layer: built with ``params`` and x's dtype, forward on x (4, 3)
    over the small graph, backward of ones; bad constructor arguments must raise."""
    def make(rng, dtype):
        return {**_x(rng, dtype), **params}

    def run(x, in_channels=3, out_channels=2, **kw):
        dtype = x.dtype if x.dtype in (np.float32, np.float64) else np.float64
        layer = cls(in_channels, out_channels, dtype=dtype, random_state=0, **kw)
        out = call(layer, x)
        return out, layer.backward(np.ones_like(out)), [p.grad for p in layer.parameters()]

    bad = {"in_channels": _SIZE[1:], "out_channels": _SIZE[1:], **bad_params}
    options.setdefault("aliases", {"x": ("input", "dtype")})
    return Spec(f"fastml.graph.{cls.__name__}", make, run, bad_params=bad,
                nonfinite_ok="all", **options)


def _message_passing(x, **kw):
    layer = G.MessagePassing(**kw)
    out = layer.propagate(_graph(), x)
    return out, layer.propagate_backward(np.ones_like(out))


def _edge_attr_call(layer, x):
    return layer(x, _graph(), np.linspace(0.5, 1.5, _EDGES.shape[1]))


def _classifier(rng, dtype):
    return {"x": rng.random((6, 4)).astype(dtype), "epochs": 2, "lr": 0.01}


def _train(x, model="gcn", **kw):
    dtype = x.dtype if x.dtype in (np.float32, np.float64) else np.float64
    cls = G.GCN if model == "gcn" else G.GAT
    net = (cls(4, 3, 2, dtype=dtype, random_state=0) if model == "gcn"
           else cls(4, 3, 2, heads=2, dtype=dtype, random_state=0))
    edges = np.array([[0, 1, 2, 3, 4, 5, 1], [1, 2, 3, 4, 5, 0, 3]])
    y = np.array([0, 1, 0, 1, 0, 1])
    accs, _ = G.train_node_classifier(net, x, edges, y, y >= 0, [y >= 0], **kw)
    return accs


def _adjacency(rng, dtype):
    upper = np.triu(rng.random((8, 8)) < 0.5, 1)
    return {"A": ((upper | upper.T) + np.eye(8, k=1) + np.eye(8, k=-1) > 0).astype(dtype)}


def _networkx_round_trip(edge_weight):
    g = G.from_edge_index(_EDGES, 4, edge_weight)
    return G.to_scipy(G.from_networkx(G.to_networkx(g))).toarray()


SPECS += [
    _layer(G.GCNConv, {"improved": True}, {}),
    _layer(G.SAGEConv, {"aggr": "max", "normalize": True, "project": True},
           {"aggr": ["median", 3]}),
    _layer(G.GATConv, {"heads": 2, "edge_dim": 1, "fill_value": "mean", "residual": True},
           {"heads": _SIZE, "edge_dim": [0, -1, 2.5], "fill_value": ["median", np.nan],
            "negative_slope": [-0.1, np.nan], "dropout": [-0.1, 1.5]},
           call=_edge_attr_call),
    _layer(G.ChebConv, {"K": 3}, {"K": _SIZE, "normalization": ["l2?"]}),
    _op("MessagePassing", _x, _message_passing, bad_params={"aggr": ["median", 3]},
        aliases={"x": ("input", "dtype")}),
    Spec("fastml.graph.train_node_classifier", _classifier, _train,
         also=("fastml.graph.GCN", "fastml.graph.GAT"), arrays=("x",),
         bad_params={"epochs": [-1, 2.5, "two"], "lr": [-1.0, np.nan, "big"]},
         nonfinite_ok="all"),
    Spec("fastml.graph.sparse_features", _x,
         lambda x: G.sparse_features(x).toarray(), also=("fastml.graph.SparseFeatures",),
         nonfinite_ok="all"),
    Spec("fastml.graph.from_scipy", _adjacency,
         lambda A: G.to_scipy(G.from_scipy(A)).toarray(),
         also=("fastml.graph.to_scipy",), aliases={"A": ("matrix",)}),
    Spec("fastml.graph.from_networkx",
         lambda rng, dtype: {"edge_weight": rng.random(6).astype(dtype)},
         _networkx_round_trip, also=("fastml.graph.to_networkx",), dtypes=("float64",)),
    Spec("fastml.graph.largest_eigenvalue", _adjacency,
         lambda A, **kw: G.largest_eigenvalue(A, **kw),
         aliases={"A": ("matrix",)}, bad_params={"tol": [-1.0, np.nan]}),
    Spec("fastml.graph.spectral_embedding", _adjacency,
         lambda A, **kw: np.abs(G.spectral_embedding(A, **kw)),
         aliases={"A": ("adjacency",)}, bad_params={"n_components": _SIZE}),
    Spec("fastml.graph.SpectralClustering", _adjacency,
         lambda A, **kw: G.SpectralClustering(random_state=0, **kw).fit(A).labels_,
         aliases={"A": ("adjacency", "X")},
         bad_params={"n_clusters": [0, -1, 2.5], "n_init": [0, -1, 2.5]}),
]
