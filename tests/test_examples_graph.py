"""examples/gcn_cora.py in CI: GCN over 2 seeds, GAT over 1 seed, 200 epochs each.

The issue's bar is the mean over 5 seeds (GCN >= 80.5%, GAT >= 81%; the example and the
benchmark report those). With fewer seeds the mean is noisier: the 5-seed spread of both
models is about 0.5 points, so the CI bars sit one point lower (GCN >= 79.5% over 2 seeds,
GAT >= 80% on one seed).
"""

import pathlib
import sys

import numpy as np
import pytest

from fastml.benchmarks._data import shared_data

ROOT = pathlib.Path(__file__).resolve().parents[1]
DATA = shared_data("planetoid") or ROOT.parent / "shared" / "data" / "planetoid"

pytestmark = pytest.mark.skipif(not (DATA / "ind.cora.graph").is_file(),
                                reason=f"Planetoid data not found in {DATA}")


@pytest.fixture(scope="module")
def example():
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        import gcn_cora
    finally:
        sys.path.remove(str(ROOT / "examples"))
    return gcn_cora


def test_gcn_cora_accuracy(example):
    accs = example.main(seeds=2, root=DATA, models=("gcn",), verbose=False)["gcn"]
    assert np.mean(accs) >= 0.795, accs


def test_gat_cora_accuracy(example):
    accs = example.main(seeds=1, root=DATA, models=("gat",), verbose=False)["gat"]
    assert np.mean(accs) >= 0.80, accs
