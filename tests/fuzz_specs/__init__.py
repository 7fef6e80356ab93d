"""Fuzz specifications: one file per fastml module, ``tests/fuzz_specs/<module>.py``.

Each file defines

- ``SPECS``: a list of :class:`Spec`, one per public function or estimator (a spec may
  cover several public names, e.g. an optimizer and the module it trains);
- ``EXEMPT`` (optional): ``{public dotted name: reason}`` for names that take no input
  worth fuzzing (abstract bases, constants). Exceptions and warnings are exempt
  automatically.

``tests/test_fuzz.py`` loads every file here, checks that every public name of every
public submodule is covered by a spec or exempted, and feeds every spec the mutations of
:func:`mutations`. A new module adds one file; no shared file changes.

A spec's ``make(rng, dtype)`` returns the keyword arguments of one valid call (arrays
as ``numpy.ndarray``); ``run(**kwargs)`` makes the call and returns what it computed
(arrays, floats, tuples of them; estimators return their predictions or fitted
attributes). The mutations replace one argument at a time.
"""

import dataclasses
from collections.abc import Callable

import numpy as np

# Axis length one past the kernels' 32-bit index limit: stride-0 views of it cost nothing.
HUGE = 2**31


@dataclasses.dataclass
class Spec:
    """How to call one public function or estimator, and what its arguments accept.

    name : dotted public name (``"fastml.linalg.cholesky"``).
    make : ``make(rng, dtype) -> dict`` of valid keyword arguments.
    run : ``run(**kwargs)`` -> result.
    also : further public names this spec exercises.
    arrays : arguments to fuzz as arrays (default: every float ndarray ``make`` returns).
    any_ndim : arrays that accept any number of dimensions (elementwise functions).
    nonfinite_ok : arrays where NaN/inf propagates (documented) instead of raising;
        "all" for every array.
    inplace : arrays updated in place: a non-contiguous layout may be rejected (naming
        the argument) instead of answering.
    known : ``{mutation label: reason}`` of findings not fixed yet; listed in the report
        of the issue that found them, skipped by the test (keep this short).
    empty_ok : arrays that may be empty (a documented empty result); default: all may
        either raise or answer.
    same_length : groups of arrays whose first axes must agree.
    bad_params : ``{argument: [values]}`` that must raise ValueError/TypeError naming it
        (non-positive sizes, NaN, wrong types, sizes past the int32 limit).
    aliases : ``{argument: (words,)}`` also accepted as naming the argument in an error.
    deterministic : repeated calls give the same answer (seeded or exact).
    rtol : tolerance for comparing layouts (views vs contiguous copies) of the input.
    dtypes : float dtypes ``make`` is called with.
    huge : fuzz stride-0 views with an axis of length 2**31 (must raise, not allocate).
    errors : further exception types that are documented answers to bad input (e.g.
        ``fastml.NotPositiveDefiniteError``); they need not name the argument.
    """

    name: str
    make: Callable
    run: Callable
    also: tuple = ()
    arrays: tuple = None
    any_ndim: tuple = ()
    nonfinite_ok: tuple = ()
    same_length: tuple = ()
    bad_params: dict = dataclasses.field(default_factory=dict)
    aliases: dict = dataclasses.field(default_factory=dict)
    deterministic: bool = True
    rtol: float = None
    dtypes: tuple = ("float64", "float32")
    huge: bool = True
    errors: tuple = ()
    inplace: tuple = ()
    known: dict = dataclasses.field(default_factory=dict)

    def accepts_nonfinite(self, name):
        return self.nonfinite_ok == "all" or name in self.nonfinite_ok

    def array_names(self, kwargs):
        if self.arrays is not None:
            return [n for n in self.arrays if kwargs.get(n) is not None]
        return [n for n, v in kwargs.items()
                if isinstance(v, np.ndarray) and v.dtype.kind == "f"]


def estimator(name, make_estimator, data, method="predict", *, also=(), **spec_options):
    """Spec of an estimator: ``make_estimator(**params)`` is fitted on ``data(rng, dtype)``
    (a dict with ``X`` and optionally ``y``), then ``method`` is called on X.

    ``bad_params`` name constructor parameters; array mutations apply to ``fit``'s X/y.
    The result holds the method's answer and every fitted attribute that is an array.
    """
    defaults = spec_options.pop("params", {})

    def make(rng, dtype):
        return {**data(rng, dtype), **defaults}

    def run(X, y=None, **params):
        est = make_estimator(**params)
        est.fit(X) if y is None else est.fit(X, y)
        fitted = {k: v for k, v in vars(est).items()
                  if k.endswith("_") and not k.startswith("_") and isinstance(v, np.ndarray)}
        answer = getattr(est, method)(X) if method else None
        return answer, fitted

    aliases = {"X": ("sample", "feature"), **spec_options.pop("aliases", {})}
    return Spec(name, make, run, also=also, arrays=spec_options.pop("arrays", ("X", "y")),
                same_length=spec_options.pop("same_length", (("X", "y"),)),
                aliases=aliases, **spec_options)


def spd(rng, n, dtype):
    """A well-conditioned symmetric positive definite n x n matrix."""
    a = rng.standard_normal((n, n))
    return (a @ a.T / n + np.eye(n)).astype(dtype)
