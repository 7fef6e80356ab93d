"""Graph neural networks on compiled sparse kernels (PyTorch Geometric's API).

Message passing: for an edge (j -> i) node j sends a message to node i, and each node
aggregates its incoming messages. On a CSR graph (edges sorted by target) aggregation is
a sparse-dense product (SpMM), attention scores are edge-wise dot products (SDDMM) and
attention weights a per-target (segment) softmax; ``fastml.kernels._graph`` runs each of
them, and their backward passes, as one OpenMP pass over target rows split into chunks
of equal work (power-law degree distributions keep every thread busy).

- :class:`Graph`, :func:`from_edge_index` and the utilities (self loops, normalisation,
  Laplacian, largest eigenvalue, SciPy / NetworkX conversions);
- operations with backward: :func:`spmm`, :func:`spmm_backward`, :func:`sddmm`,
  :func:`segment_softmax`, :func:`segment_softmax_backward`, :func:`scatter`,
  :func:`gather`;
- layers (:class:`fastml.nn.Module` with explicit backward, PyG's parameter names):
  :class:`MessagePassing`, :class:`GCNConv`, :class:`SAGEConv`, :class:`GATConv`,
  :class:`ChebConv`;
- models: :class:`GCN`, :class:`GAT` (the papers' two-layer node classifiers) and
  :func:`train_node_classifier` (full-batch Adam);
- spectral methods: :func:`spectral_embedding` (Laplacian eigenmaps) and
  :class:`SpectralClustering`.
"""

from fastml.graph._conv import ChebConv, GATConv, GCNConv, MessagePassing, SAGEConv
from fastml.graph._graph import (
    Graph,
    add_remaining_self_loops,
    add_self_loops,
    degree,
    from_edge_index,
    from_networkx,
    from_scipy,
    laplacian,
    largest_eigenvalue,
    normalize,
    remove_self_loops,
    to_networkx,
    to_scipy,
)
from fastml.graph._models import GAT, GCN, train_node_classifier
from fastml.graph._ops import (
    SparseFeatures,
    gather,
    scatter,
    sddmm,
    segment_softmax,
    segment_softmax_backward,
    sparse_features,
    spmm,
    spmm_backward,
)
from fastml.graph._spectral import SpectralClustering, spectral_embedding

__all__ = [
    "GAT", "GCN", "ChebConv", "GATConv", "GCNConv", "Graph", "MessagePassing", "SAGEConv",
    "SparseFeatures", "SpectralClustering", "add_remaining_self_loops", "add_self_loops", "degree",
    "from_edge_index", "from_networkx", "from_scipy", "gather", "laplacian",
    "largest_eigenvalue", "normalize", "remove_self_loops", "scatter", "sddmm",
    "segment_softmax", "segment_softmax_backward", "sparse_features", "spmm",
    "spectral_embedding", "spmm_backward", "to_networkx", "to_scipy", "train_node_classifier",
]
