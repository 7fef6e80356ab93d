"""Fuzz specs of fastml.datasets: load_planetoid on a small synthetic data set written in
the Planetoid file format (the real files are not needed)."""

import atexit
import os
import pickle
import shutil
import tempfile

import numpy as np

from fastml import datasets
from fuzz_specs import Spec

_ROOT = []


def _planetoid_root():
    """A folder with ind.cora.{x,tx,allx,y,ty,ally,graph,test.index}: 520 labelled nodes
    (10 train, 500 validation), 5 test nodes listed out of order, 3 features, 2 classes."""
    if not _ROOT:
        root = tempfile.mkdtemp(prefix="fuzz-planetoid-")
        atexit.register(shutil.rmtree, root, True)
        rng = np.random.default_rng(0)
        n_all, n_test = 520, 5
        allx = (rng.random((n_all, 3)) < 0.5).astype(np.float32)
        ally = np.eye(2)[rng.integers(0, 2, n_all)]
        tx = (rng.random((n_test, 3)) < 0.5).astype(np.float32)
        ty = np.eye(2)[rng.integers(0, 2, n_test)]
        n = n_all + n_test
        graph = {i: [int(j) for j in rng.integers(0, n, 3)] for i in range(n)}
        parts = {"x": allx[:10], "y": ally[:10], "allx": allx, "ally": ally, "tx": tx,
                 "ty": ty, "graph": graph}
        for part, value in parts.items():
            with open(os.path.join(root, f"ind.cora.{part}"), "wb") as f:
                pickle.dump(value, f)
        np.savetxt(os.path.join(root, "ind.cora.test.index"),
                   rng.permutation(np.arange(n_all, n)), fmt="%d")
        _ROOT.append(root)
    return _ROOT[0]


def _load(**kw):
    data = datasets.load_planetoid(**kw)
    return (data.x, data.y, data.edge_index, data.train_mask, data.val_mask, data.test_mask,
            data.num_nodes, data.num_features, data.num_classes)


SPECS = [
    Spec("fastml.datasets.load_planetoid",
         lambda rng, dtype: {"name": "Cora", "root": _planetoid_root()}, _load,
         also=("fastml.datasets.PlanetoidData",), arrays=(), dtypes=("float64",),
         errors=(FileNotFoundError,),  # documented: a folder without the files
         bad_params={"name": ["MNIST", "", 3, None], "root": [3, 2.5, b"\xff", ["x"]]}),
]
