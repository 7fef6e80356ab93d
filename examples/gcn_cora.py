"""GCN and GAT on the Cora citation graph (Planetoid public split), test accuracy and time.

    python examples/gcn_cora.py [--seeds 5] [--epochs 200] [--threads 1]
                                [--root ../shared/data/planetoid]

GCN (Kipf & Welling): 2 layers, 16 hidden, ReLU, dropout 0.5, Adam lr 0.01, weight decay
5e-4 on the first layer. GAT (Velickovic et al.): 8 heads x 8 hidden, ELU, dropout 0.6 on
features and attention, a 1-head output layer, Adam lr 0.005, weight decay 5e-4. Both train
200 full-batch epochs on row-normalised bag-of-words features (stored sparse: the first
layer is one sparse product). Published test accuracies: GCN 81.5%, GAT 83.0 +- 0.7%.
"""

import argparse
import pathlib

import numpy as np

import fastml
from fastml import datasets
from fastml import graph as G
from fastml.benchmarks._data import shared_data

DEFAULT_ROOT = (shared_data("planetoid")
                or pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "planetoid")


def load(root=DEFAULT_ROOT):
    """Cora with row-normalised features (each row sums to 1)."""
    data = datasets.load_planetoid("Cora", root)
    data.x = data.x / np.maximum(data.x.sum(axis=1, keepdims=True), 1)
    return data


def run(model_name, data, seed=0, epochs=200):
    """(test accuracy, training seconds) of one seeded run."""
    if model_name == "gcn":
        model = G.GCN(data.num_features, 16, data.num_classes, random_state=seed)
        options = {"lr": 0.01, "first_layer_decay_only": True}
    else:
        model = G.GAT(data.num_features, 8, data.num_classes, random_state=seed)
        options = {"lr": 0.005}
    (acc,), seconds = G.train_node_classifier(model, data.x, data.edge_index, data.y,
                                              data.train_mask, [data.test_mask],
                                              epochs=epochs, **options)
    return acc, seconds


def main(seeds=5, epochs=200, threads=1, root=DEFAULT_ROOT, models=("gcn", "gat"),
         verbose=True):
    """{model: list of test accuracies over ``seeds`` seeds}."""
    data = load(root)
    results = {}
    with fastml.threads(threads):
        for name in models:
            accs, times = zip(*(run(name, data, seed, epochs) for seed in range(seeds)))
            results[name] = list(accs)
            if verbose:
                print(f"{name.upper()}: test accuracy {100 * np.mean(accs):.1f}% "
                      f"(+- {100 * np.std(accs):.1f}, {seeds} seeds), "
                      f"{np.mean(times):.2f} s per {epochs}-epoch run")
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--root", default=str(DEFAULT_ROOT))
    args = parser.parse_args()
    main(args.seeds, args.epochs, args.threads, args.root)
