"""fastml.datasets.load_planetoid vs the published statistics and the raw files
(checked once against torch_geometric.io.read_planetoid_data: same x, y, masks and edge
set; too slow to import for CI)."""

import pathlib

import numpy as np
import pytest

from fastml import datasets
from fastml.benchmarks._data import shared_data

DATA = shared_data("planetoid") or pathlib.Path("../shared/data/planetoid")
needs_data = pytest.mark.skipif(not (DATA / "ind.cora.graph").is_file(),
                                reason=f"Planetoid data not found in {DATA}")


@needs_data
@pytest.mark.parametrize("name,nodes,features,edges,classes,train", [
    ("Cora", 2708, 1433, 10556, 7, 140), ("CiteSeer", 3327, 3703, 9104, 6, 120)])
def test_planetoid_statistics(name, nodes, features, edges, classes, train):
    data = datasets.load_planetoid(name, DATA)
    assert data.x.shape == (nodes, features) and data.x.dtype == np.float32
    assert data.edge_index.shape == (2, edges)
    assert data.num_classes == classes
    assert (data.train_mask.sum(), data.val_mask.sum(), data.test_mask.sum()) == \
        (train, 500, 1000)
    src, dst = data.edge_index
    assert not np.any(src == dst)
    key = set(zip(src.tolist(), dst.tolist()))
    assert len(key) == edges and all((d, s) in key for s, d in key)  # undirected


@needs_data
def test_test_nodes_reordered_as_pyg():
    """x[test_index[k]] is row k of tx (PyG's reordering by the sorted test index)."""
    import pickle

    data = datasets.load_planetoid("Cora", DATA)
    with open(DATA / "ind.cora.tx", "rb") as f:
        tx = pickle.load(f, encoding="latin1").toarray()
    test_index = np.loadtxt(DATA / "ind.cora.test.index", dtype=np.int64)
    np.testing.assert_array_equal(data.x[test_index], tx)


def test_missing_files_and_bad_name(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"ind\.cora\.\{x,tx,allx,y,ty,ally,graph"):
        datasets.load_planetoid("Cora", tmp_path)
    with pytest.raises(ValueError, match="name must be one of"):
        datasets.load_planetoid("Reddit", tmp_path)
