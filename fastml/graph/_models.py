"""Two-layer node classifiers of the GCN and GAT papers (PyG's example models) and a
full-batch training loop.

- :class:`GCN`: dropout -> GCNConv -> ReLU -> dropout -> GCNConv (Kipf & Welling 2017).
- :class:`GAT`: dropout -> GATConv (H heads, concatenated) -> ELU -> dropout -> GATConv
  (1 head) (Velickovic et al. 2018), attention dropout in both layers.
- :func:`train_node_classifier`: Adam on the cross-entropy of the training nodes, one
  full-batch step per epoch; returns the model and the accuracy on each mask.
"""

import numbers
import time

import numpy as np

from fastml._validation import (
    check_array,
    check_positive_int,
    check_scalar,
    check_shape,
)
from fastml.graph._conv import GATConv, GCNConv
from fastml.graph._graph import from_edge_index
from fastml.graph._ops import SparseFeatures, sparse_features
from fastml.nn import CrossEntropyLoss, Dropout, Module, ReLU, init
from fastml.nn import optim as nn_optim
from fastml.nn.functional import _core

__all__ = ["GAT", "GCN", "train_node_classifier"]


class _ELU(Module):
    """x if x > 0 else exp(x) - 1."""

    def forward(self, x):
        self._cache = x
        return np.where(x > 0, x, np.expm1(np.minimum(x, 0)))

    def backward(self, grad_out):
        x = self._saved()
        return grad_out * np.where(x > 0, 1, np.exp(np.minimum(x, 0))).astype(x.dtype)


class _TwoLayer(Module):
    """dropout, conv1, activation, dropout, conv2; backward in reverse order. The first
    layer computes no gradient for the input features."""

    def forward(self, x, graph):
        if isinstance(x, SparseFeatures):
            h = x  # dropout of the nonzeros only (the zeros stay zero)
            if self.training and self.dropout1.p > 0:
                h = x.with_values(x.values * _core._dropout_mask(
                    x.values.shape, self.dropout1.p, x.dtype, self.dropout1._rng))
        else:
            h = self.dropout1.forward(x)
        h = self.act.forward(self.conv1.forward(h, graph))
        return self.conv2.forward(self.dropout2.forward(h), graph)

    def backward(self, grad_out):
        g = self.dropout2.backward(self.conv2.backward(grad_out))
        self.conv1.backward(self.act.backward(g))

    def first_layer_parameters(self):
        return self.conv1.parameters()


class GCN(_TwoLayer):
    """GCN(in, hidden=16, classes, dropout=0.5): logits (n, classes)."""

    def __init__(self, in_channels, hidden_channels, out_channels, dropout=0.5, *,
                 dtype=np.float32, random_state=None):
        super().__init__()
        rng = init._rng(random_state)
        self.dropout1 = Dropout(dropout, random_state=rng)
        self.conv1 = GCNConv(in_channels, hidden_channels, dtype=dtype, random_state=rng)
        self.conv1.input_grad = False
        self.act = ReLU()
        self.dropout2 = Dropout(dropout, random_state=rng)
        self.conv2 = GCNConv(hidden_channels, out_channels, dtype=dtype, random_state=rng)


class GAT(_TwoLayer):
    """GAT(in, hidden=8, classes, heads=8, dropout=0.6): logits (n, classes)."""

    def __init__(self, in_channels, hidden_channels, out_channels, heads=8, dropout=0.6, *,
                 dtype=np.float32, random_state=None):
        super().__init__()
        rng = init._rng(random_state)
        self.dropout1 = Dropout(dropout, random_state=rng)
        self.conv1 = GATConv(in_channels, hidden_channels, heads=heads, dropout=dropout,
                             dtype=dtype, random_state=rng)
        self.conv1.input_grad = False
        self.act = _ELU()
        self.dropout2 = Dropout(dropout, random_state=rng)
        self.conv2 = GATConv(hidden_channels * heads, out_channels, heads=1, concat=False,
                             dropout=dropout, dtype=dtype, random_state=rng)


def _features(x, dtype):
    """Sparse features when x is sparse or has < 10% nonzeros (bag-of-words), else dense."""
    if isinstance(x, SparseFeatures) or type(x).__module__.startswith("scipy.sparse"):
        return sparse_features(x, dtype)
    x = check_array(x, "x", ndim=2, dtype=dtype)
    if np.count_nonzero(x) < 0.1 * x.size:
        return sparse_features(x, dtype)
    return x


def train_node_classifier(model, x, edge_index, y, train_mask, masks=(), *, epochs=200,
                          lr=0.01, weight_decay=5e-4, first_layer_decay_only=False):
    """Full-batch training: ``epochs`` Adam steps on the mean cross-entropy of the nodes in
    ``train_mask``; weight decay on every parameter, or only on the first layer's
    (``first_layer_decay_only``, as the GCN paper). Returns (accuracies on ``masks``
    in eval mode, training seconds). Features with < 10% nonzeros (or SciPy sparse) run
    the first layer as a sparse product, dropout drawing only for the nonzeros."""
    epochs = check_positive_int(epochs, "epochs", min_val=0)
    lr = float(check_scalar(lr, "lr", numbers.Real, min_val=0, include_boundaries="neither"))
    weight_decay = float(check_scalar(weight_decay, "weight_decay", numbers.Real, min_val=0))
    x = _features(x, model.dtype)
    y = np.asarray(y)
    # x may be SparseFeatures (no len): one label per node, i.e. per row of x
    check_shape(y, "y", (x.shape[0], *y.shape[1:]), " (one label per node, a row of x)")
    graph = from_edge_index(edge_index, x.shape[0])
    train = np.flatnonzero(train_mask)
    if first_layer_decay_only:
        first = model.first_layer_parameters()
        ids = {id(p) for p in first}
        groups = [{"params": first, "weight_decay": weight_decay},
                  {"params": [p for p in model.parameters() if id(p) not in ids],
                   "weight_decay": 0.0}]
    else:
        groups = [{"params": model.parameters(), "weight_decay": weight_decay}]
    opt = nn_optim.Adam(groups, lr=lr)
    loss_fn = CrossEntropyLoss()
    grad = np.zeros((x.shape[0], int(y.max()) + 1), model.dtype)
    model.train()
    start = time.perf_counter()
    for _ in range(epochs):
        out = model.forward(x, graph)
        loss_fn.forward(out[train], y[train])
        grad[train] = loss_fn.backward()
        opt.zero_grad()
        model.backward(grad)
        opt.step()
    seconds = time.perf_counter() - start
    model.eval()
    pred = model.forward(x, graph).argmax(axis=1)
    return [float(np.mean(pred[m] == y[m])) for m in masks], seconds
