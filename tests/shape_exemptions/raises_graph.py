"""Raises in fastml/graph/ that are not single-argument checks (see __init__.py)."""
RAISES = {
    "fastml/graph/_conv.py": {
        "cross-argument: sparse x given to a layer built without sparse-input support": 1,
        "cross-argument: x's shape vs the layer's in_channels, or x's rows vs the graph's "
        "nodes": 3,
        "cross-argument: add_self_loops=True needs normalize=True": 1,
        "cross-argument: fill_value's length vs edge_dim, or edge_attr without edge_dim": 2,
        "cross-argument: lambda_max is needed when normalization is not 'sym'": 1,
    },
    "fastml/graph/_graph.py": {
        "data content: edge_index must hold whole node ids (a test pins ValueError; an empty "
        "float edge_index is accepted)": 1,
        "cross-argument: a Graph's num_nodes vs num_nodes, or edge_weight given with a "
        "Graph": 2,
        "data content: degree normalisation needs non-negative edge weights of the graph "
        "(a test pins the '>= 0' wording)": 1,
    },
    "fastml/graph/_ops.py": {
        "cross-argument: x's rows vs the graph's nodes": 1,
        "cross-argument: x's columns vs the heads of values": 1,
    },
    "fastml/graph/_spectral.py": {
        "data content: the adjacency matrix must be symmetric (an undirected graph)": 1,
    },
}
