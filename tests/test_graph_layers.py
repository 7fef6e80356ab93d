"""fastml.graph layers (forward and gradients) vs PyTorch Geometric with copied weights,
the dense references and finite differences."""

import numpy as np
import pytest
from _testing import assert_close_scaled
from hypothesis import given, settings
from hypothesis import strategies as st

from fastml import graph as G
from fastml import nn
from fastml.reference import graph as reference

torch = pytest.importorskip("torch")
pyg_nn = pytest.importorskip("torch_geometric.nn")



def random_graph(n, n_edges, rng, weighted=False):
    """Edges among nodes 0 .. n - 3 (the last two are isolated) with self loops and a
    duplicated edge."""
    src = rng.integers(0, n - 2, n_edges)
    dst = rng.integers(0, n - 2, n_edges)
    src[:2] = dst[:2]
    src[2], dst[2] = src[3], dst[3]
    ei = np.stack([src, dst]).astype(np.int64)
    return ei, (rng.uniform(0.5, 2.0, n_edges) if weighted else None)


def compare_with_pyg(ours, theirs, x, args, t_args, dtype, kwargs=None, t_kwargs=None):
    """Copy theirs' weights into ours; compare output, d/dx and every parameter grad."""
    theirs = theirs.to(torch.float64 if dtype == np.float64 else torch.float32)
    ours.to(dtype).load_state_dict(theirs.state_dict())
    x = x.astype(dtype)
    out = ours(x, *args, **(kwargs or {}))
    xt = torch.tensor(x, requires_grad=True)
    ref = theirs(xt, *t_args, **(t_kwargs or {}))
    assert_close_scaled(out, ref.detach().numpy(), dtype)
    grad = np.random.default_rng(99).standard_normal(out.shape).astype(dtype)
    ours.zero_grad()
    grad_x = ours.backward(grad)
    ref.backward(torch.from_numpy(grad))
    assert_close_scaled(grad_x, xt.grad.numpy(), dtype)
    theirs_grads = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        assert_close_scaled(p.grad, theirs_grads[name].grad.numpy(), dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("weighted", [False, True])
def test_gcn_conv_vs_pyg_and_dense(dtype, weighted):
    rng = np.random.default_rng(0)
    n = 30
    ei, w = random_graph(n, 120, rng, weighted)
    g = G.from_edge_index(ei, n, w)
    x = rng.standard_normal((n, 5))
    ours, theirs = G.GCNConv(5, 4, random_state=0), pyg_nn.GCNConv(5, 4)
    t_w = None if w is None else torch.tensor(g.edge_weight, dtype=getattr(torch, dtype.__name__))
    compare_with_pyg(ours, theirs, x, (g,), (torch.from_numpy(g.edge_index), t_w), dtype)
    dense = reference.gcn_conv(x, ei, ours.lin.weight.data, ours.bias.data, w)
    assert_close_scaled(ours(x.astype(dtype), ei, w), dense, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("aggr", ["mean", "max", "sum"])
def test_sage_conv_vs_pyg(dtype, aggr):
    rng = np.random.default_rng(1)
    n = 30
    ei, _ = random_graph(n, 120, rng)
    x = rng.standard_normal((n, 6))
    compare_with_pyg(G.SAGEConv(6, 3, aggr=aggr), pyg_nn.SAGEConv(6, 3, aggr=aggr), x,
                     (ei,), (torch.from_numpy(ei),), dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("concat", [True, False])
def test_gat_conv_vs_pyg_and_reference(dtype, concat):
    rng = np.random.default_rng(2)
    n = 30
    ei, _ = random_graph(n, 120, rng)
    x = rng.standard_normal((n, 5))
    ours = G.GATConv(5, 4, heads=3, concat=concat, random_state=0)
    theirs = pyg_nn.GATConv(5, 4, heads=3, concat=concat)
    compare_with_pyg(ours, theirs, x, (ei,), (torch.from_numpy(ei),), dtype)
    dense = reference.gat_conv(x, ei, ours.lin.weight.data, ours.att_src.data,
                               ours.att_dst.data, ours.bias.data, heads=3, concat=concat)
    assert_close_scaled(ours(x.astype(dtype), ei), dense, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("aggr,normalize,project,root_weight", [
    ("mean", True, False, True), ("max", False, True, True), ("sum", True, True, False)])
def test_sage_conv_normalize_project_vs_pyg(dtype, aggr, normalize, project, root_weight):
    rng = np.random.default_rng(11)
    n = 30
    ei, _ = random_graph(n, 120, rng)
    x = rng.standard_normal((n, 6))
    options = {"aggr": aggr, "normalize": normalize, "project": project,
               "root_weight": root_weight}
    compare_with_pyg(G.SAGEConv(6, 3, **options), pyg_nn.SAGEConv(6, 3, **options), x,
                     (ei,), (torch.from_numpy(ei),), dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fill_value,concat,residual", [
    ("mean", True, False), ("max", False, True), ("mul", True, True), (0.5, False, False),
    ("add", True, False)])
def test_gat_conv_edge_features_vs_pyg(dtype, fill_value, concat, residual):
    rng = np.random.default_rng(12)
    n = 30
    ei, _ = random_graph(n, 120, rng)
    x = rng.standard_normal((n, 5))
    attr = rng.standard_normal((ei.shape[1], 3)).astype(dtype)
    options = {"heads": 2, "concat": concat, "edge_dim": 3, "fill_value": fill_value,
               "residual": residual}
    ours = G.GATConv(5, 4, random_state=0, **options)
    theirs = pyg_nn.GATConv(5, 4, **options)
    compare_with_pyg(ours, theirs, x, (ei,), (torch.from_numpy(ei),), dtype,
                     {"edge_attr": attr}, {"edge_attr": torch.from_numpy(attr)})


def test_gat_conv_attention_weights_graph_input_and_bad_edge_attr():
    rng = np.random.default_rng(13)
    n = 15
    ei, _ = random_graph(n, 50, rng)
    g = G.from_edge_index(ei, n)
    x = rng.standard_normal((n, 3))
    attr = rng.standard_normal(ei.shape[1])
    layer = G.GATConv(3, 2, heads=2, edge_dim=1, fill_value=[0.3], dtype=np.float64,
                      random_state=0)
    theirs = pyg_nn.GATConv(3, 2, heads=2, edge_dim=1, fill_value=0.3).double()
    layer.load_state_dict(theirs.state_dict())
    out, (edges, alpha) = layer(x, ei, attr, return_attention_weights=True)
    t_out, (t_edges, t_alpha) = theirs(torch.from_numpy(x), torch.from_numpy(ei),
                                       torch.from_numpy(attr), return_attention_weights=True)
    assert_close_scaled(out, t_out.detach().numpy(), np.float64)
    ours_by_edge = {(s, d): a for s, d, a in zip(*edges, alpha.tolist())}
    theirs_by_edge = {(s, d): a for s, d, a in zip(*t_edges.numpy(), t_alpha.tolist())}
    assert ours_by_edge.keys() == theirs_by_edge.keys()
    for key, value in theirs_by_edge.items():  # multi-edges: both copies share alpha
        np.testing.assert_allclose(ours_by_edge[key], value, rtol=1e-10)
    # a Graph takes edge features in its own (target-sorted) order
    assert_close_scaled(layer(x, g, attr[g.edge_id]), out, np.float64)
    with pytest.raises(ValueError, match="edge_attr must have shape"):
        layer(x, ei, attr[:-1])
    with pytest.raises(ValueError, match="edge_dim"):
        G.GATConv(3, 2)(x.astype(np.float32), ei, attr)
    with pytest.raises(ValueError, match="fill_value"):
        G.GATConv(3, 2, edge_dim=2, fill_value="median")
    with pytest.raises(ValueError, match="fill_value"):
        G.GATConv(3, 2, edge_dim=2, fill_value=[1.0, 2.0, 3.0])


def test_gcn_conv_self_loop_options_as_pyg():
    assert not G.GCNConv(3, 2, normalize=False).add_self_loops
    assert G.GCNConv(3, 2).add_self_loops
    with pytest.raises(ValueError, match="add_self_loops"):
        G.GCNConv(3, 2, add_self_loops=True, normalize=False)
    rng = np.random.default_rng(14)
    ei, w = random_graph(20, 60, rng, weighted=True)
    x = rng.standard_normal((20, 3))
    compare_with_pyg(G.GCNConv(3, 2, normalize=False), pyg_nn.GCNConv(3, 2, normalize=False),
                     x, (ei, w), (torch.from_numpy(ei), torch.from_numpy(w)), np.float64)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("K", [1, 2, 4])
def test_cheb_conv_vs_pyg_and_dense(dtype, K):
    rng = np.random.default_rng(3)
    n = 25
    ei, w = random_graph(n, 100, rng, weighted=True)
    ei = np.concatenate([ei, ei[::-1]], axis=1)  # symmetric, as spectral methods assume
    w = np.concatenate([w, w])
    x = rng.standard_normal((n, 4))
    t_w = torch.tensor(w, dtype=getattr(torch, dtype.__name__))
    compare_with_pyg(G.ChebConv(4, 3, K=K), pyg_nn.ChebConv(4, 3, K=K), x, (ei, w),
                     (torch.from_numpy(ei), t_w), dtype)
    ours = G.ChebConv(4, 3, K=K, dtype=np.float64)
    dense = reference.cheb_conv(x, ei, [lin.weight.data for lin in ours.lins], ours.bias.data)
    assert_close_scaled(ours(x, ei), dense, np.float64)


def test_cheb_conv_rw_with_lambda_max():
    rng = np.random.default_rng(4)
    n = 20
    ei, w = random_graph(n, 80, rng, weighted=True)
    ei = (ei + 5) % n  # PyG's Laplacian covers nodes up to the largest index only
    g = G.from_edge_index(ei, n, w)
    lam = float(np.linalg.eigvals(G.laplacian(g, "rw").toarray()).real.max())
    x = rng.standard_normal((n, 3))
    t_w = torch.tensor(w)
    compare_with_pyg(G.ChebConv(3, 2, K=3, normalization="rw"),
                     pyg_nn.ChebConv(3, 2, K=3, normalization="rw"), x, (ei, w),
                     (torch.from_numpy(ei), t_w), np.float64, {"lambda_max": lam},
                     {"lambda_max": torch.tensor(lam, dtype=torch.float64)})
    with pytest.raises(ValueError, match="lambda_max"):
        G.ChebConv(3, 2, K=3, normalization="rw", dtype=np.float64)(x, ei)


class Bound(nn.Module):
    """layer(x, graph) as a one-argument module (for gradcheck)."""

    def __init__(self, layer, graph):
        super().__init__()
        self.layer = layer
        self.graph = graph

    def forward(self, x):
        return self.layer(x, self.graph)

    def backward(self, grad_out):
        return self.layer.backward(grad_out)


def test_gat_attention_dropout_gradients_by_finite_differences():
    """Attention dropout: the same mask (re-seeded generator) in every forward."""
    rng = np.random.default_rng(5)
    n = 12
    ei, _ = random_graph(n, 40, rng)
    layer = G.GATConv(3, 2, heads=2, dropout=0.4, dtype=np.float64, random_state=0)
    g = G.from_edge_index(ei, n)
    x = rng.standard_normal((n, 3))

    class Reseeded(Bound):
        def forward(self, x):
            self.layer._rng = np.random.default_rng(7)
            return self.layer(x, self.graph)

    nn.gradcheck(Reseeded(layer, g), x)
    dropped = Reseeded(layer, g).forward(x)
    layer.eval()
    assert not np.allclose(dropped, layer(x, g))


@pytest.mark.parametrize("make", [
    lambda: G.GCNConv(3, 2, dtype=np.float64, random_state=0),
    lambda: G.SAGEConv(3, 2, aggr="max", dtype=np.float64, random_state=0),
    lambda: G.SAGEConv(3, 2, normalize=True, project=True, dtype=np.float64, random_state=0),
    lambda: G.GATConv(3, 2, heads=2, edge_dim=2, residual=True, dtype=np.float64,
                      random_state=0),
    lambda: G.ChebConv(3, 2, K=3, dtype=np.float64, random_state=0),
])
def test_layers_gradcheck(make):
    rng = np.random.default_rng(6)
    ei, _ = random_graph(10, 30, rng)
    nn.gradcheck(Bound(make(), G.from_edge_index(ei, 10)), rng.standard_normal((10, 3)))


class Difference(G.MessagePassing):
    """out_i = mean_j (x_j - x_i) W^T: a user-defined message with its backward."""

    def __init__(self, channels):
        super().__init__(aggr="mean")
        self.lin = nn.Linear(channels, channels, bias=False, dtype=np.float64)

    def forward(self, x, edge_index):
        return self.propagate(edge_index, self.lin(x))

    def backward(self, grad_out):
        return self.lin.backward(self.propagate_backward(grad_out))

    def message(self, x_j, x_i, edge_weight):
        return x_j - x_i

    def message_backward(self, grad, x_j, x_i, edge_weight):
        return grad, -grad


class PygDifference(pyg_nn.MessagePassing):
    def __init__(self, channels):
        super().__init__(aggr="mean")
        self.lin = torch.nn.Linear(channels, channels, bias=False)

    def forward(self, x, edge_index):
        return self.propagate(edge_index, x=self.lin(x))

    def message(self, x_j, x_i):
        return x_j - x_i


@pytest.mark.parametrize("aggr", ["sum", "max"])
def test_message_passing_subclass_vs_pyg(aggr):
    rng = np.random.default_rng(7)
    n = 20
    ei, _ = random_graph(n, 70, rng)
    x = rng.standard_normal((n, 4))
    ours, theirs = Difference(4), PygDifference(4).double()
    ours.aggr = theirs.aggr = aggr
    theirs.aggr_module = pyg_nn.aggr.MaxAggregation() if aggr == "max" else \
        pyg_nn.aggr.SumAggregation()
    compare_with_pyg(ours, theirs, x, (ei,), (torch.from_numpy(ei),), np.float64)
    nn.gradcheck(Bound(ours, G.from_edge_index(ei, n)), x)


def test_default_message_is_fused_spmm():
    rng = np.random.default_rng(8)
    ei, w = random_graph(15, 50, rng, weighted=True)

    class Plain(G.MessagePassing):
        def forward(self, x, edge_index, edge_weight=None):
            return self.propagate(edge_index, x, edge_weight)

        def backward(self, grad_out):
            return self.propagate_backward(grad_out)

    layer = Plain(aggr="mean")
    x = rng.standard_normal((15, 3))
    out = layer(x, ei, w)
    np.testing.assert_allclose(out, reference.spmm(G.from_edge_index(ei, 15, w), x, "mean"))


def test_gcn_cached_input_grad_off_and_bad_input():
    rng = np.random.default_rng(9)
    ei, _ = random_graph(10, 30, rng)
    x = rng.standard_normal((10, 3)).astype(np.float32)
    layer = G.GCNConv(3, 2, cached=True, random_state=0)
    first = layer(x, ei)
    np.testing.assert_array_equal(layer(x, ei[:, :5]), first)  # the cached normalisation
    layer.input_grad = False
    assert layer.backward(np.ones_like(first)) is None
    assert np.any(layer.lin.weight.grad != 0)
    with pytest.raises(ValueError, match="x must have shape"):
        G.GCNConv(4, 2)(x, ei)
    with pytest.raises(ValueError, match="x has 11 rows but the graph has 10 nodes"):
        G.GCNConv(3, 2)(np.ones((11, 3), np.float32), G.from_edge_index(ei, 10))
    with pytest.raises(ValueError, match="edge_index"):
        G.GCNConv(3, 2)(x, ei + 20)
    with pytest.raises(ValueError, match="edge_weight must be >= 0"):
        G.GCNConv(3, 2)(x, ei, -np.ones(ei.shape[1]))
    with pytest.raises(TypeError, match="dtype"):
        G.GCNConv(3, 2)(x.astype(np.float64), ei)


@pytest.mark.parametrize("make", [
    lambda: G.GCNConv(8, 3, dtype=np.float64, random_state=0),
    lambda: G.GATConv(8, 3, heads=2, dtype=np.float64, random_state=0),
])
def test_sparse_features_match_dense(make):
    import scipy.sparse as sp

    rng = np.random.default_rng(10)
    n = 20
    ei, _ = random_graph(n, 60, rng)
    x = sp.random(n, 8, density=0.2, random_state=10, format="csr")
    dense, sparse = make(), make()
    grad = rng.standard_normal(dense(x.toarray(), ei).shape)
    out = sparse(x, ei)
    np.testing.assert_allclose(out, dense(x.toarray(), ei), rtol=1e-12, atol=1e-12)
    dense.backward(grad)
    assert sparse.backward(grad) is None
    for (name, p), (_, q) in zip(sparse.named_parameters(), dense.named_parameters()):
        np.testing.assert_allclose(p.grad, q.grad, rtol=1e-12, atol=1e-12, err_msg=name)
    np.testing.assert_array_equal(G.sparse_features(x).toarray(), x.toarray())
    with pytest.raises(TypeError, match="dense x"):
        G.SAGEConv(8, 3, dtype=np.float64)(x, ei)


@settings(max_examples=15, deadline=None)
@given(n=st.integers(1, 10), n_edges=st.integers(0, 30), seed=st.integers(0, 10**6))
def test_gcn_gat_hypothesis_sizes_including_no_edges(n, n_edges, seed):
    rng = np.random.default_rng(seed)
    ei = rng.integers(0, n, (2, n_edges))
    x = rng.standard_normal((n, 3))
    gcn = G.GCNConv(3, 2, dtype=np.float64, random_state=seed)
    dense = reference.gcn_conv(x, ei, gcn.lin.weight.data, gcn.bias.data)
    assert_close_scaled(gcn(x, ei), dense, np.float64)
    gat = G.GATConv(3, 2, heads=2, dtype=np.float64, random_state=seed)
    dense = reference.gat_conv(x, ei, gat.lin.weight.data, gat.att_src.data,
                               gat.att_dst.data, gat.bias.data, heads=2)
    assert_close_scaled(gat(x, ei), dense, np.float64)
    assert gat.backward(np.ones((n, 4))).shape == (n, 3)
