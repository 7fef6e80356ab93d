"""Public signatures stay as they were: the live ``inspect.signature`` of every public name
of the modules listed in ``tests/data/public_signatures.json`` (functions, classes'
``__init__`` and public methods) must equal the snapshot committed before the issue-14
refactor.

Only names in the snapshot are checked: names added later (new modules, new functions)
are not in it and are free. Regenerate deliberately, after an intended API change, with
``python tests/test_signatures.py``.
"""

import importlib
import inspect
import json
import pathlib

import pytest

SNAPSHOT = pathlib.Path(__file__).parent / "data" / "public_signatures.json"

MODULES = [
    "fastml", "fastml.base", "fastml.bayes", "fastml.cluster", "fastml.decomposition",
    "fastml.gp", "fastml.gp.kernels", "fastml.linalg", "fastml.linear_model",
    "fastml.manifold", "fastml.mcmc", "fastml.mixture", "fastml.model_selection", "fastml.nn",
    "fastml.nn.functional", "fastml.nn.init", "fastml.nn.optim", "fastml.nn.utils",
    "fastml.svm", "fastml.benchmarks",
]


def _signature(obj):
    try:
        return str(inspect.signature(obj))
    except (TypeError, ValueError):
        return None


def _describe(obj):
    """Signature of a function; signature of ``__init__`` and public methods of a class."""
    if inspect.isclass(obj):
        members = {"__init__": _signature(obj)}
        # inherited public methods count too (the most derived definition wins)
        inherited = {}
        for klass in reversed(obj.__mro__[:-1]):
            inherited.update(vars(klass))
        for attr, value in inherited.items():
            if attr.startswith("_"):
                continue
            if isinstance(value, (staticmethod, classmethod)):
                value = value.__func__
            if inspect.isfunction(value):
                members[attr] = _signature(value)
            elif isinstance(value, property):
                members[attr] = "property"
        return members
    if callable(obj):
        return _signature(obj)
    return None


def public_names(module_name):
    module = importlib.import_module(module_name)
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n in vars(module) if not n.startswith("_")]
    # submodules are not signatures (fastml lists its submodules lazily in __all__)
    return module, [n for n in names if n not in getattr(module, "_SUBMODULES", ())]


def live_signatures(module_name, names):
    module = importlib.import_module(module_name)
    return {name: _describe(getattr(module, name)) for name in names
            if not inspect.ismodule(getattr(module, name))}


def snapshot():
    return {module_name: live_signatures(module_name, public_names(module_name)[1])
            for module_name in MODULES}


def _cases():
    if not SNAPSHOT.exists():  # only while writing the first snapshot
        return []
    recorded = json.loads(SNAPSHOT.read_text())
    return [(m, n, d) for m, names in recorded.items() for n, d in names.items()]


@pytest.mark.parametrize(("module_name", "name", "recorded"), _cases(),
                         ids=lambda x: x if isinstance(x, str) else "")
def test_public_signature_unchanged(module_name, name, recorded):
    module = importlib.import_module(module_name)
    assert hasattr(module, name), f"{module_name}.{name} disappeared"
    live = _describe(getattr(module, name))
    if isinstance(recorded, dict):
        for member, signature in recorded.items():
            assert live.get(member) == signature, f"{module_name}.{name}.{member}"
    else:
        assert live == recorded


if __name__ == "__main__":
    SNAPSHOT.write_text(json.dumps(snapshot(), indent=1, sort_keys=True) + "\n")
