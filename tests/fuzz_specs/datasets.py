"""Fuzz specs of fastml.datasets: the Planetoid loader (no arrays: its arguments are a
name and a folder; bad names must raise ValueError naming ``name``)."""

import pytest

from fastml import datasets
from fastml.benchmarks._data import shared_data
from fuzz_specs import Spec


def _planetoid(rng, dtype):
    root = shared_data("planetoid")
    if root is None:
        pytest.skip("Planetoid data not found (../shared/data/planetoid)")
    return {"name": "Cora", "root": root}


def _load(**kw):
    data = datasets.load_planetoid(**kw)
    return data.x[:50], data.edge_index[:, :50], data.y[:50]


SPECS = [
    Spec("fastml.datasets.load_planetoid", _planetoid, _load,
         also=("fastml.datasets.PlanetoidData",), dtypes=("float64",),
         bad_params={"name": ["Reddit", 3, None]}),
]
