"""Loaders for public data sets stored as local files (nothing is downloaded).

:func:`load_planetoid` reads the Planetoid citation graphs (Cora, CiteSeer, PubMed) of
Yang, Cohen & Salakhutdinov (2016) in their original format, with the standard public
split, exactly as PyTorch Geometric's ``Planetoid(root, name)`` does.
"""

import dataclasses
import os
import pickle
import warnings

import numpy as np

from fastml._validation import check_instance, check_option

__all__ = ["PlanetoidData", "load_planetoid"]

_PLANETOID_PARTS = ("x", "tx", "allx", "y", "ty", "ally", "graph", "test.index")
_PLANETOID_NAMES = ("cora", "citeseer", "pubmed")


@dataclasses.dataclass
class PlanetoidData:
    """A citation graph: node features, labels, edges and the public split.

    x : (n, F) float32 bag-of-words features (0/1, not normalised)
    y : (n,) int64 class labels; edge_index : (2, E) int64, both directions of every
    citation, no self loops, no duplicates, sorted by (source, target)
    train_mask, val_mask, test_mask : (n,) bool (Cora: 140 / 500 / 1000 nodes)
    """

    name: str
    x: np.ndarray
    y: np.ndarray
    edge_index: np.ndarray
    train_mask: np.ndarray
    val_mask: np.ndarray
    test_mask: np.ndarray

    @property
    def num_nodes(self):
        return int(self.x.shape[0])

    @property
    def num_features(self):
        return int(self.x.shape[1])

    @property
    def num_classes(self):
        return int(self.y.max()) + 1


def _read(path, part):
    if part == "test.index":
        return np.loadtxt(path, dtype=np.int64).reshape(-1)
    with open(path, "rb") as f, warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # old scipy.sparse pickles
        out = pickle.load(f, encoding="latin1")
    return out.toarray() if hasattr(out, "toarray") else out


def _edge_index(graph_dict, num_nodes):
    """Both directions as listed, self loops and duplicate edges removed, sorted."""
    src = np.concatenate([np.full(len(v), k, np.int64) for k, v in graph_dict.items()])
    dst = np.concatenate([np.asarray(v, np.int64) for v in graph_dict.values()])
    keep = src != dst
    key = np.unique(src[keep] * num_nodes + dst[keep])
    return np.stack([key // num_nodes, key % num_nodes])


def load_planetoid(name, root=None):
    """The Planetoid graph ``name`` ("Cora", "CiteSeer" or "PubMed", any case) from the
    files ``root/ind.<name>.{x,tx,allx,y,ty,ally,graph,test.index}``.

    ``root`` defaults to the environment variable ``FASTML_PLANETOID``. The features of
    the test nodes (``tx``) are put at the positions of ``test.index``; CiteSeer's test
    indices have gaps (isolated nodes), which get zero features and label 0, as in PyG.
    Returns a :class:`PlanetoidData`. Missing files raise ``FileNotFoundError`` naming them.
    """
    key = check_option(name.lower() if isinstance(name, str) else name, "name",
                       _PLANETOID_NAMES)
    root = root if root is not None else os.environ.get("FASTML_PLANETOID")
    if root is None:
        raise ValueError("root must be the folder holding the Planetoid files "
                         "(or set FASTML_PLANETOID)")
    check_instance(root, "root", (str, os.PathLike), "a path (str or os.PathLike)")
    paths = {part: os.path.join(os.fspath(root), f"ind.{key}.{part}")
             for part in _PLANETOID_PARTS}
    missing = [p for p in paths.values() if not os.path.isfile(p)]
    if missing:
        raise FileNotFoundError(f"load_planetoid({name!r}) needs the files "
                                f"ind.{key}.{{{','.join(_PLANETOID_PARTS)}}} in {root}; "
                                f"missing: {', '.join(missing)}")
    x, tx, allx, y, ty, ally, graph, test_index = (_read(paths[p], p)
                                                   for p in _PLANETOID_PARTS)
    test_sorted = np.sort(test_index)
    if key == "citeseer":
        full = test_sorted.max() - test_sorted.min() + 1
        tx_ext = np.zeros((full, tx.shape[1]), tx.dtype)
        tx_ext[test_sorted - test_sorted.min()] = tx
        ty_ext = np.zeros((full, ty.shape[1]), ty.dtype)
        ty_ext[test_sorted - test_sorted.min()] = ty
        tx, ty = tx_ext, ty_ext
    features = np.concatenate([allx, tx]).astype(np.float32)
    labels = np.concatenate([ally, ty]).argmax(axis=1).astype(np.int64)
    features[test_index] = features[test_sorted]
    labels[test_index] = labels[test_sorted]
    n = features.shape[0]
    masks = []
    for index in (np.arange(y.shape[0]), np.arange(y.shape[0], y.shape[0] + 500),
                  test_sorted):
        mask = np.zeros(n, bool)
        mask[index] = True
        masks.append(mask)
    return PlanetoidData(name, features, labels, _edge_index(graph, n), *masks)
