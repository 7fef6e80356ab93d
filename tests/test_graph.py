"""fastml.graph kernels and utilities vs PyTorch Geometric / torch (oracle) and the loops
of fastml.reference.graph, on random graphs with isolated nodes, self loops and
multi-edges."""

import numpy as np
import pytest
from _testing import assert_close_scaled
from hypothesis import given, settings
from hypothesis import strategies as st

import fastml
from fastml import graph as G
from fastml.reference import graph as reference

torch = pytest.importorskip("torch")
pyg_utils = pytest.importorskip("torch_geometric.utils")


def assert_close(actual, expected, dtype):
    assert np.asarray(actual).dtype == dtype
    assert_close_scaled(actual, expected, dtype)


def random_graph(n, n_edges, rng, weighted=False):
    """Edges among the first n - 2 nodes (the last two are isolated), plus self loops
    and duplicated edges (multi-edges)."""
    m = max(n - 2, 1)
    src = rng.integers(0, m, n_edges)
    dst = rng.integers(0, m, n_edges)
    if n_edges >= 4:
        src[:2] = dst[:2]                 # self loops
        src[2:4], dst[2:4] = src[4 % n_edges], dst[4 % n_edges]  # a multi-edge
    ei = np.stack([src, dst]).astype(np.int64)
    w = rng.uniform(0.5, 2.0, n_edges) if weighted else None
    return ei, w


def tensor(a, grad=False):
    return torch.tensor(np.asarray(a), requires_grad=grad)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduce", ["sum", "mean", "max"])
@pytest.mark.parametrize("weighted", [False, True])
def test_spmm_and_backward_vs_pyg_scatter(dtype, reduce, weighted):
    rng = np.random.default_rng(0)
    n, F = 40, 7
    ei, w = random_graph(n, 300, rng, weighted)
    g = G.from_edge_index(ei, n, w)
    x = rng.standard_normal((n, F)).astype(dtype)
    grad = rng.standard_normal((n, F)).astype(dtype)
    out = G.spmm(g, x, reduce)
    grad_x, grad_w = G.spmm_backward(g, grad, x, reduce)
    # oracle, edges in the graph's order
    xt = tensor(x, grad=True)
    src, dst = torch.from_numpy(g.src), torch.from_numpy(g.dst)
    msg = xt[src]
    wt = None
    if weighted:
        wt = tensor(g.edge_weight.astype(dtype), grad=True)
        msg = msg * wt[:, None]
    ref = pyg_utils.scatter(msg, dst, 0, dim_size=n, reduce=reduce)
    ref.backward(torch.from_numpy(grad))
    assert_close(out, ref.detach().numpy(), dtype)
    assert_close(grad_x, xt.grad.numpy(), dtype)
    if weighted and reduce != "max":
        assert_close(grad_w.ravel(), wt.grad.numpy(), dtype)
    assert_close(reference.spmm(g, x, reduce).astype(dtype), ref.detach().numpy(), dtype)


def test_spmm_multi_head_values_and_sddmm():
    rng = np.random.default_rng(1)
    n, H, C = 30, 3, 4
    ei, _ = random_graph(n, 200, rng)
    g = G.from_edge_index(ei, n)
    x = rng.standard_normal((n, H * C))
    v = rng.standard_normal((g.num_edges, H))
    grad = rng.standard_normal((n, H * C))
    out = G.spmm(g, x, values=v)
    assert_close(out, reference.spmm(g, x, values=v), np.float64)
    xt, vt = tensor(x, True), tensor(v, True)
    msg = (xt[torch.from_numpy(g.src)].view(-1, H, C) * vt[:, :, None]).view(-1, H * C)
    ref = pyg_utils.scatter(msg, torch.from_numpy(g.dst), 0, dim_size=n, reduce="sum")
    ref.backward(torch.from_numpy(grad))
    assert_close(out, ref.detach().numpy(), np.float64)
    grad_x, grad_v = G.spmm_backward(g, grad, x, values=v)
    assert_close(grad_x, xt.grad.numpy(), np.float64)
    assert_close(grad_v, vt.grad.numpy(), np.float64)
    assert_close(G.sddmm(g, grad, x, heads=H), reference.sddmm(g, grad, x, heads=H),
                 np.float64)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_segment_softmax_and_backward_vs_pyg(dtype):
    rng = np.random.default_rng(2)
    n, H = 25, 2
    ei, _ = random_graph(n, 150, rng)
    g = G.from_edge_index(ei, n)
    s = (3 * rng.standard_normal((g.num_edges, H))).astype(dtype)
    grad = rng.standard_normal((g.num_edges, H)).astype(dtype)
    alpha = G.segment_softmax(g, s)
    st_ = tensor(s, True)
    ref = pyg_utils.softmax(st_, torch.from_numpy(g.dst), num_nodes=n)
    ref.backward(torch.from_numpy(grad))
    assert_close(alpha, ref.detach().numpy(), dtype)
    assert_close(G.segment_softmax_backward(g, alpha, grad), st_.grad.numpy(), dtype)
    assert_close(reference.segment_softmax(g, s).astype(dtype), ref.detach().numpy(), dtype)


def test_scatter_gather():
    rng = np.random.default_rng(3)
    n = 20
    ei, _ = random_graph(n, 80, rng)
    g = G.from_edge_index(ei, n)
    v = rng.standard_normal((g.num_edges, 3))
    for at in ("target", "source"):
        assert_close(G.scatter(g, v, at), reference.scatter(g, v, at), np.float64)
    assert_close(G.scatter(g, v[:, 0]), reference.scatter(g, v[:, 0]), np.float64)
    x = rng.standard_normal((n, 2))
    np.testing.assert_array_equal(G.gather(g, x), x[g.src])
    np.testing.assert_array_equal(G.gather(g, x, "target"), x[g.dst])


def test_power_law_graph_threads_agree():
    """Balanced chunks over a skewed degree distribution: threaded == serial."""
    rng = np.random.default_rng(4)
    n = 3000
    dst = (rng.pareto(1.2, 60000) * 10).astype(np.int64) % n  # a few huge rows
    src = rng.integers(0, n, 60000)
    g = G.from_edge_index(np.stack([src, dst]), n)
    x = rng.standard_normal((n, 16)).astype(np.float32)
    with fastml.threads(1):
        serial = G.spmm(g, x)
    with fastml.threads(2):
        threaded = G.spmm(g, x)
    np.testing.assert_allclose(threaded, serial, rtol=1e-6, atol=1e-5)
    bounds = g.bounds(2)
    assert bounds[0] == 0 and bounds[-1] == n and np.all(np.diff(bounds) > 0)


@settings(max_examples=15, deadline=None)
@given(n=st.integers(1, 12), n_edges=st.integers(0, 40), features=st.integers(1, 5),
       reduce=st.sampled_from(["sum", "mean", "max"]), seed=st.integers(0, 10**6))
def test_spmm_hypothesis_sizes_including_no_edges(n, n_edges, features, reduce, seed):
    rng = np.random.default_rng(seed)
    ei = rng.integers(0, n, (2, n_edges))
    w = rng.uniform(0.1, 1.0, n_edges)
    g = G.from_edge_index(ei, n, w)
    x = rng.standard_normal((n, features))
    assert_close(G.spmm(g, x, reduce), reference.spmm(g, x, reduce), np.float64)
    s = rng.standard_normal(n_edges)
    assert_close(G.segment_softmax(g, s), reference.segment_softmax(g, s), np.float64)


# ------------------------------------------------------------------ utilities
def test_self_loops_and_normalisation_vs_pyg():
    rng = np.random.default_rng(5)
    n = 15
    ei, w = random_graph(n, 60, rng, weighted=True)
    g = G.from_edge_index(ei, n, w)
    t_ei, t_w = torch.from_numpy(g.edge_index), torch.from_numpy(g.edge_weight)
    for ours, theirs in [
        (G.remove_self_loops(g), pyg_utils.remove_self_loops(t_ei, t_w)),
        (G.add_self_loops(g, 2.0), pyg_utils.add_self_loops(t_ei, t_w, 2.0, n)),
        (G.add_remaining_self_loops(g), pyg_utils.add_remaining_self_loops(t_ei, t_w, 1.0, n)),
    ]:
        expected = G.from_edge_index(theirs[0].numpy(), n, theirs[1].numpy())
        np.testing.assert_array_equal(ours.edge_index, expected.edge_index)
        np.testing.assert_allclose(ours.edge_weight, expected.edge_weight)
    from torch_geometric.nn.conv.gcn_conv import gcn_norm

    ei2, w2 = gcn_norm(t_ei, t_w, n, add_self_loops=True)
    expected = G.from_edge_index(ei2.numpy(), n, w2.numpy())
    ours = G.normalize(G.add_remaining_self_loops(g), "sym")
    np.testing.assert_allclose(G.to_scipy(ours).toarray(), G.to_scipy(expected).toarray(),
                               rtol=1e-12)
    rw = G.normalize(g, "rw")
    np.testing.assert_allclose(G.degree(rw)[G.degree(g) > 0], 1.0)


@pytest.mark.parametrize("kind,pyg", [("combinatorial", None), ("sym", "sym"), ("rw", "rw")])
def test_laplacian_vs_pyg(kind, pyg):
    rng = np.random.default_rng(6)
    n = 12
    ei, w = random_graph(n, 50, rng, weighted=True)
    # PyG adds the identity only up to the largest node index: keep the isolated
    # nodes (10, 11) away from the end
    ei = (ei + 3) % n
    g = G.from_edge_index(ei, n, w)
    L = G.laplacian(g, kind).toarray()
    t_ei, t_w = pyg_utils.get_laplacian(torch.from_numpy(ei), torch.from_numpy(w), pyg, n)
    expected = G.to_scipy(G.from_edge_index(t_ei.numpy(), n, t_w.numpy())).toarray()
    np.testing.assert_allclose(L, expected, atol=1e-12)


def test_largest_eigenvalue_and_conversions():
    import networkx as nx
    import scipy.sparse as sp

    rng = np.random.default_rng(7)
    A = sp.random(30, 30, density=0.2, random_state=7, format="csr")
    A = A + A.T
    g = G.from_scipy(A)
    L = G.laplacian(g, "sym")
    lam = G.largest_eigenvalue(L)
    assert abs(lam - np.linalg.eigvalsh(L.toarray()).max()) < 1e-8
    np.testing.assert_allclose(G.to_scipy(g).toarray(), A.toarray())
    nxg = G.to_networkx(g)
    assert nxg.number_of_edges() == g.num_edges
    back = G.from_networkx(nxg)
    np.testing.assert_allclose(G.to_scipy(back).toarray(), A.toarray())
    karate = G.from_networkx(nx.karate_club_graph())
    assert karate.num_nodes == 34 and karate.num_edges == 2 * 78
    del rng


# ------------------------------------------------------------------ bad input
def test_bad_input():
    x = np.ones((3, 2))
    with pytest.raises(ValueError, match="edge_index.*integer"):
        G.from_edge_index(np.array([[0.0, 1.0], [1.0, 2.0]]))
    with pytest.raises(ValueError, match=r"edge_index.*\[0, 3\)"):
        G.from_edge_index(np.array([[0, 1], [1, 3]]), 3)
    with pytest.raises(ValueError, match="edge_index.*-1"):
        G.from_edge_index(np.array([[0, -1], [1, 2]]), 3)
    with pytest.raises(ValueError, match=r"edge_index must have shape \(2, num_edges\)"):
        G.from_edge_index(np.zeros((3, 2), int))
    with pytest.raises(ValueError, match="edge_weight"):
        G.from_edge_index(np.array([[0, 1], [1, 2]]), 3, np.ones(3))
    g = G.from_edge_index(np.array([[0, 1], [1, 2]]), 3, np.array([1.0, -1.0]))
    with pytest.raises(ValueError, match="edge_weight must be >= 0"):
        G.normalize(g)
    with pytest.raises(ValueError, match="edge_weight must be >= 0"):
        G.laplacian(g)
    with pytest.raises(ValueError, match="x has 4 rows but the graph has 3 nodes"):
        G.spmm(g, np.ones((4, 2)))
    with pytest.raises(ValueError, match="reduce"):
        G.spmm(g, x, "prod")
    with pytest.raises(ValueError, match="values"):
        G.spmm(g, x, values=np.ones(5))
    with pytest.raises(ValueError, match="x contains NaN"):
        G.spmm(g, np.full((3, 2), np.nan))
