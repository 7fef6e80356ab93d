"""graph suite: sparse aggregation (SpMM) and GCN / GAT training vs PyTorch Geometric.

- ``spmm_sum_powerlaw``: out_i = sum_{j -> i} w_ji x_j on a graph whose in- and
  out-degrees follow a power law (p(node of rank r) ~ 1 / r), size (nodes, edges,
  features), float32; fastml's CSR kernel vs ``torch.sparse.mm`` on a CSR tensor, PyG's
  ``torch_geometric.utils.spmm`` and PyG's message-passing path (gather x_j, scatter-add
  by target; up to 1M edges), the reference loops only at test size. FLOPs: 2 E F.
- ``gcn_cora_train`` / ``gat_cora_train``: 200 epochs of full-batch training of the
  papers' two-layer models on Cora (GCN: 16 hidden, dropout 0.5; GAT: 8 heads x 8,
  dropout 0.6; Adam, weight decay 5e-4), fastml (explicit backward) vs PyG on the same
  thread count; the size is the number of epochs. Answers are test accuracies of one
  seeded run (not compared: the random streams differ). Needs the Planetoid files in
  ``$FASTML_PLANETOID`` or ``../shared/data/planetoid`` next to the source tree.
  ``pyg`` gets the features as a sparse CSR tensor (1.3% nonzero) and drops out their
  nonzeros, as fastml does: the same distribution as dropout on the dense matrix, whose
  zeros stay zero, and the first layer's product is a sparse one. PyG's example as
  written (dense features, ``F.dropout`` on all 2708 x 1433 entries) is not timed: its
  mask (PyTorch's CPU ``bernoulli_``, about 70 ms on one thread) is most of each epoch,
  22 s for 200 GCN epochs against 3.4 s with the sparse features.
"""

import os

import numpy as np

import fastml
from fastml import graph as G
from fastml.benchmarks import Case, Impl, register
from fastml.benchmarks._data import shared_data
from fastml.reference import graph as reference


def _power_law_nodes(n, count, rng):
    p = 1.0 / np.arange(1, n + 1)
    return rng.permutation(n)[rng.choice(n, count, p=p / p.sum())]


def _spmm_setup(size, rng):
    n, n_edges, features = size
    src = _power_law_nodes(n, n_edges, rng)
    dst = _power_law_nodes(n, n_edges, rng)
    w = rng.uniform(0.1, 1.0, n_edges)
    graph = G.from_edge_index(np.stack([src, dst]), n, w)
    x = rng.standard_normal((n, features), dtype=np.float32)
    return {"graph": graph, "x": x}


def _torch_csr(inputs):
    import torch

    torch.set_num_threads(fastml.get_num_threads())
    g = inputs["graph"]
    n = g.num_nodes
    A = torch.sparse_csr_tensor(torch.from_numpy(g.indptr), torch.from_numpy(g.src),
                                torch.from_numpy(g.edge_weight.astype(np.float32)),
                                size=(n, n))
    return {"A": A, "x": torch.from_numpy(inputs["x"])}


def _torch_edges(inputs):
    import torch

    torch.set_num_threads(fastml.get_num_threads())
    g = inputs["graph"]
    return {"src": torch.from_numpy(g.src), "dst": torch.from_numpy(g.dst),
            "w": torch.from_numpy(g.edge_weight.astype(np.float32))[:, None],
            "x": torch.from_numpy(inputs["x"])}


def _pyg_spmm(A, x):
    from torch_geometric.utils import spmm

    return spmm(A, x, reduce="sum")


def _pyg_scatter(src, dst, w, x):
    from torch_geometric.utils import scatter

    return scatter(x[src] * w, dst, 0, dim_size=x.shape[0], reduce="sum")


def _numpy(t):
    return t.numpy()


register(Case(
    suite="graph", name="spmm_sum_powerlaw",
    description="weighted sum aggregation over a power-law graph, 64 features, float32",
    setup=_spmm_setup,
    sizes=[(100_000, 1_000_000, 64), (100_000, 5_000_000, 64)],
    quick_sizes=[(10_000, 100_000, 64)], test_sizes=[(40, 300, 4)],
    flops=lambda s: 2.0 * s[1] * s[2], size_key=lambda s: s[1],
    size_label=lambda s: f"{s[0]}n-{s[1]}e-{s[2]}f", rtol=1e-4, atol=1e-4,
    impls=[
        Impl("fastml", lambda graph, x: G.spmm(graph, x)),
        Impl("reference", lambda graph, x: reference.spmm(graph, x), max_size=1000),
        Impl("torch.sparse.mm", lambda A, x: __import__("torch").sparse.mm(A, x),
             requires=("torch",), prepare=_torch_csr, to_numpy=_numpy),
        Impl("pyg_spmm", _pyg_spmm, requires=("torch_geometric",), prepare=_torch_csr,
             to_numpy=_numpy),
        # (its gathered (E, 64) temporary is 1.3 GB at 5M edges)
        Impl("pyg_scatter", _pyg_scatter, requires=("torch_geometric",),
             prepare=_torch_edges, to_numpy=_numpy, max_size=1_000_000),
    ],
))


# ------------------------------------------------------------------ Cora training
def _planetoid_root():
    root = os.environ.get("FASTML_PLANETOID") or shared_data("planetoid")
    if root is None:
        raise FileNotFoundError("the Planetoid files were not found: set FASTML_DATA to the "
                                "shared data folder (see ../shared/data/README.md)")
    return root


def _cora_setup(epochs, rng):
    from fastml import datasets

    data = datasets.load_planetoid("Cora", _planetoid_root())
    x = data.x / np.maximum(data.x.sum(axis=1, keepdims=True), 1)
    return {"epochs": epochs, "x": x.astype(np.float32), "data": data}


def _fastml_train(kind):
    def run(epochs, x, data):
        if kind == "gcn":
            model = G.GCN(data.num_features, 16, data.num_classes, random_state=0)
            options = {"lr": 0.01, "first_layer_decay_only": True}
        else:
            model = G.GAT(data.num_features, 8, data.num_classes, random_state=0)
            options = {"lr": 0.005}
        (acc,), _ = G.train_node_classifier(model, x, data.edge_index, data.y,
                                            data.train_mask, [data.test_mask],
                                            epochs=epochs, **options)
        return acc
    return run


def _pyg_model(kind, data, csr):
    """The papers' two-layer model in PyG; ``csr`` = (crow, col, values, shape) of the
    features: the input dropout acts on the nonzeros and the first product is sparse."""
    import torch
    from torch_geometric.nn import GATConv, GCNConv

    F = torch.nn.functional

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            if kind == "gcn":
                self.conv1 = GCNConv(data.num_features, 16, cached=True)
                self.conv2 = GCNConv(16, data.num_classes, cached=True)
                self.p, self.act = 0.5, F.relu
            else:
                self.conv1 = GATConv(data.num_features, 8, heads=8, dropout=0.6)
                self.conv2 = GATConv(64, data.num_classes, heads=1, concat=False,
                                     dropout=0.6)
                self.p, self.act = 0.6, F.elu

        def forward(self, x, edge_index):
            crow, col, values, shape = csr
            x = torch.sparse_csr_tensor(crow, col, F.dropout(values, self.p, self.training),
                                        size=shape)
            x = self.act(self.conv1(x, edge_index))
            x = F.dropout(x, self.p, self.training)
            return self.conv2(x, edge_index)

    return Net()


def _pyg_prepare(inputs):
    import torch

    torch.set_num_threads(fastml.get_num_threads())
    data = inputs["data"]
    x = torch.from_numpy(inputs["x"])
    xc = x.to_sparse_csr()
    csr = (xc.crow_indices(), xc.col_indices(), xc.values(), tuple(xc.shape))
    return {**inputs, "x": x, "csr": csr, "edge_index": torch.from_numpy(data.edge_index),
            "y": torch.from_numpy(data.y)}


def _pyg_train(kind):
    def run(epochs, x, data, edge_index, y, csr):
        import warnings

        import torch

        torch.manual_seed(0)
        model = _pyg_model(kind, data, csr)
        train = torch.from_numpy(data.train_mask)
        if kind == "gcn":
            opt = torch.optim.Adam([
                {"params": model.conv1.parameters(), "weight_decay": 5e-4},
                {"params": model.conv2.parameters(), "weight_decay": 0.0}], lr=0.01)
        else:
            opt = torch.optim.Adam(model.parameters(), lr=0.005, weight_decay=5e-4)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Sparse CSR tensor support is in beta")
            model.train()
            for _ in range(epochs):
                opt.zero_grad()
                out = model(x, edge_index)
                torch.nn.functional.cross_entropy(out[train], y[train]).backward()
                opt.step()
            model.eval()
            with torch.no_grad():
                pred = model(x, edge_index).argmax(dim=1).numpy()
        return float(np.mean(pred[data.test_mask] == data.y[data.test_mask]))
    return run


for _kind, _what in (("gcn", "2-layer GCN, 16 hidden"), ("gat", "2-layer GAT, 8 heads x 8")):
    register(Case(
        suite="graph", name=f"{_kind}_cora_train",
        description=f"{_what}: full-batch training on Cora (epochs = size), float32",
        setup=_cora_setup, sizes=[200], quick_sizes=[5], test_sizes=[2],
        rates=lambda size, answer: {"epochs": size}, compare=False,
        impls=[
            Impl("fastml", _fastml_train(_kind)),
            Impl("pyg", _pyg_train(_kind), requires=("torch_geometric",),
                 prepare=_pyg_prepare),
        ],
    ))


# ------------------------------------------------------------------ spectral
def _sbm_setup(n, rng):
    """A sparse symmetric 4-block stochastic block model (average degree ~ 20)."""
    labels = rng.integers(0, 4, n)
    m = 10 * n
    i, j = rng.integers(0, n, (2, 4 * m))
    keep = (labels[i] == labels[j]) | (rng.random(4 * m) < 0.1)
    i, j = i[keep][:m], j[keep][:m]
    import scipy.sparse as sp

    A = sp.coo_matrix((np.ones(i.size), (i, j)), shape=(n, n)).tocsr()
    A = ((A + A.T) > 0).astype(np.float64)
    A.setdiag(0)
    A.eliminate_zeros()
    return {"A": A}


def _sklearn_embedding(A):
    from sklearn.manifold import spectral_embedding

    return spectral_embedding(A, n_components=8, random_state=0)


register(Case(
    suite="graph", name="spectral_embedding",
    description="Laplacian eigenmaps, 8 components, sparse 4-block SBM (average degree ~20)",
    setup=_sbm_setup, sizes=[20_000], quick_sizes=[2_000], test_sizes=[100], compare=False,
    impls=[
        Impl("fastml", lambda A: G.spectral_embedding(A, 8)),
        Impl("sklearn", _sklearn_embedding, requires=("sklearn",)),
    ],
))
