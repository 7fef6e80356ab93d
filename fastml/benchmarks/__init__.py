"""Benchmark case registry: one definition of each case, two uses.

A :class:`Case` knows how to build seeded inputs of a given size and which
implementations answer it (``fastml``, ``reference``, and peers such as SciPy, PyTorch,
scikit-learn). The tests run every case at its small ``test_sizes`` and compare the
answers; ``fastml bench`` and ``pytest bench/`` run the same cases at ``sizes`` (or
``quick_sizes``) and time them. A new kernel registers its case once, in a module of
:mod:`fastml.benchmarks.cases` (every module there is loaded by :func:`load_cases`).

Example
-------
>>> register(Case(
...     suite="linalg", name="cholesky",
...     setup=lambda n, rng: {"A": random_spd(n, rng)},
...     sizes=[1000, 4000], quick_sizes=[250], test_sizes=[1, 8],
...     flops=lambda n: n**3 / 3,
...     impls=[Impl("fastml", lambda A: fastml.linalg.cholesky(A)),
...            Impl("reference", lambda A: reference.linalg.cholesky(A), max_size=250),
...            Impl("scipy", lambda A: scipy.linalg.cholesky(A, lower=True), kind="peer",
...                 requires=("scipy",))]))
"""

import dataclasses
import importlib
import importlib.util
import pkgutil
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from fastml._validation import check_option

KINDS = ("fastml", "reference", "peer")


@dataclasses.dataclass
class Impl:
    """One implementation that answers a case.

    Parameters
    ----------
    name : the implementation's name in reports ("fastml", "reference", a peer's name).
    fn : called as ``fn(**inputs)``; returns the answer (anything ``Case.check`` accepts).
    kind : "fastml", "reference" or "peer".
    requires : importable module names; the implementation is skipped, with a note,
        when one is missing.
    max_size : skip sizes whose ``Case.size_key`` exceeds it (slow references).
    prepare : ``inputs -> inputs`` run once per size outside the timing (e.g. NumPy to
        torch tensors, fitting a model that the timed call then uses).
    to_numpy : converts the answer for comparison (e.g. a tensor to an array).
    """

    name: str
    fn: Callable[..., Any]
    kind: str = "peer"
    requires: Sequence[str] = ()
    max_size: float | None = None
    prepare: Callable[[dict], dict] | None = None
    to_numpy: Callable[[Any], Any] | None = None

    def __post_init__(self):
        if self.name in ("fastml", "reference") and self.kind == "peer":
            self.kind = self.name
        check_option(self.kind, "kind", KINDS)

    def arguments(self, inputs):
        """The keyword arguments of :meth:`call` for a case's ``inputs`` (``prepare``
        applied; run it outside any timing)."""
        return self.prepare(dict(inputs)) if self.prepare else inputs

    def call(self, arguments):
        """The answer for prepared ``arguments`` (the timed part): ``fn(**arguments)``."""
        return self.fn(**arguments)

    def answer(self, inputs):
        """Prepare, call and convert: the answer as compared with the other impls."""
        out = self.call(self.arguments(inputs))
        return self.to_numpy(out) if self.to_numpy else out

    def missing(self):
        """Name of the first required module that is not installed, or None."""
        for mod in self.requires:
            if importlib.util.find_spec(mod) is None:
                return mod
        return None


@dataclasses.dataclass
class Case:
    """A benchmark case: inputs of a given size and the implementations that answer it.

    Parameters
    ----------
    suite, name : the case id is ``suite/name``; the suite is named after the module.
    impls : the :class:`Impl` objects that answer it (one is named "fastml").
    setup : ``(size, rng) -> dict`` of inputs; ``rng`` is a seeded numpy Generator.
    sizes, quick_sizes, test_sizes : full benchmark, ``--quick`` and test sizes. A size
        is anything ``setup`` understands (int, tuple, dict).
    flops : ``size -> float`` floating-point operations of one call (gives GFLOP/s).
    rates : ``(size, answer) -> {unit: amount}``; reported as amount per second
        (e.g. ``{"draws": 4000}`` gives draws/s).
    metrics : ``(size, answer) -> {name: value}``: the quality of each implementation's
        answer (e.g. its distance to the data), reported beside its time.
    check : ``(expected, actual, size) -> None`` raising AssertionError; default
        compares with ``numpy.testing.assert_allclose(rtol, atol)``.
    compare : False for stochastic answers that no two implementations share.
    size_key : ``size -> float`` used for ``max_size`` and as the x axis of plots.
    min_repeats : fewer timed repeats than the runner's default (full runs: 5) for a
        case whose peers take minutes per call (the median of fewer repeats).
    """

    suite: str
    name: str
    setup: Callable[[Any, np.random.Generator], dict]
    impls: Sequence[Impl]
    sizes: Sequence[Any]
    quick_sizes: Sequence[Any] | None = None
    test_sizes: Sequence[Any] = ()
    flops: Callable[[Any], float] | None = None
    rates: Callable[[Any, Any], dict] | None = None
    check: Callable[[Any, Any, Any], None] | None = None
    rtol: float = 1e-7
    atol: float = 0.0
    compare: bool = True
    size_key: Callable[[Any], float] | None = None
    size_label: Callable[[Any], str] | None = None
    description: str = ""
    seed: int = 0
    min_repeats: int | None = None
    metrics: Callable[[Any, Any], dict] | None = None

    @property
    def id(self):
        return f"{self.suite}/{self.name}"

    def key(self, size):
        if self.size_key is not None:
            return float(self.size_key(size))
        if isinstance(size, (int, float)):
            return float(size)
        return float(np.prod(size)) if isinstance(size, tuple) else 0.0

    def label(self, size):
        if self.size_label is not None:
            return self.size_label(size)
        if isinstance(size, tuple):
            return "x".join(str(s) for s in size)
        return str(size)

    def inputs(self, size):
        """Seeded inputs for ``size`` (same every call)."""
        return self.setup(size, np.random.default_rng(self.seed))

    def impl(self, name):
        for impl in self.impls:
            if impl.name == name:
                return impl
        raise KeyError(f"{self.id} has no implementation {name!r}")

    def applies(self, impl, size):
        return impl.max_size is None or self.key(size) <= impl.max_size

    def assert_same(self, expected, actual, size):
        if self.check is not None:
            self.check(expected, actual, size)
            return
        if isinstance(expected, (tuple, list)):
            assert len(expected) == len(actual), "answers have different lengths"
            for e, a in zip(expected, actual):
                np.testing.assert_allclose(np.asarray(a), np.asarray(e),
                                           rtol=self.rtol, atol=self.atol)
        else:
            np.testing.assert_allclose(np.asarray(actual), np.asarray(expected),
                                       rtol=self.rtol, atol=self.atol)


_REGISTRY: dict[str, Case] = {}
_LOADED = False


def register(case):
    """Add ``case`` to the registry (its ``suite/name`` must be new). Returns it."""
    if case.id in _REGISTRY:
        raise ValueError(f"benchmark case {case.id} is registered twice")
    names = [impl.name for impl in case.impls]
    if "fastml" not in names:
        raise ValueError(f"{case.id} has no 'fastml' implementation")
    _REGISTRY[case.id] = case
    return case


def load_cases():
    """Import every module of :mod:`fastml.benchmarks.cases` once; return all cases."""
    global _LOADED
    if not _LOADED:
        from fastml.benchmarks import cases

        for mod in pkgutil.iter_modules(cases.__path__):
            if not mod.name.startswith("_"):
                importlib.import_module(f"fastml.benchmarks.cases.{mod.name}")
        _LOADED = True
    return list(_REGISTRY.values())


# Suites are named after the modules they measure; the old area names stay as aliases
# of ``fastml bench`` for one release (0.2 removes them).
SUITE_ALIASES = {
    "supervised": ("linear_model", "svm"),
    "unsupervised": ("cluster", "mixture", "decomposition", "manifold"),
}


def suites():
    """Sorted names of the suites that have registered cases."""
    return sorted({case.suite for case in load_cases()})


def expand_suites(names):
    """Suite names with the old aliases replaced by the module suites they stand for."""
    out = []
    for name in names:
        out.extend((name, *SUITE_ALIASES[name]) if name in SUITE_ALIASES else (name,))
    return out


def select(suites=None, pattern=None):
    """Cases in the given suites or aliases (all when None) whose id matches the glob
    ``pattern``."""
    import fnmatch

    suites = expand_suites(suites) if suites else suites
    chosen = []
    for case in load_cases():
        if suites and case.suite not in suites:
            continue
        if pattern and not fnmatch.fnmatch(case.id, pattern) and \
                not fnmatch.fnmatch(case.name, pattern):
            continue
        chosen.append(case)
    return chosen


__all__ = ["SUITE_ALIASES", "Case", "Impl", "expand_suites", "load_cases", "register", "select",
           "suites"]
