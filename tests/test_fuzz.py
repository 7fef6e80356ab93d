"""Fuzz every public function and estimator of fastml (issue 13, part 2).

The specs live in ``tests/fuzz_specs/<module>.py`` (see ``tests/fuzz_specs/__init__.py``).
``test_every_public_name_has_a_fuzz_spec`` walks ``fastml.__all__``'s submodules and
their ``__all__`` and fails for a public name with neither a spec nor an exemption;
``test_every_exemption_gives_a_reason`` fails for an exemption whose reason is "pending".

Each spec gets, for every array argument: an empty array, a 0-d array, one dimension
more and one less, int/bool/complex/object/float16 dtypes, NaN and +-inf, a
non-contiguous view, a negative-stride view and Fortran order (these three must give
the contiguous answer: a kernel reading strides wrongly or uninitialised memory shows
up), a stride-0 view with an axis of 2**31 (must be rejected without allocating),
mismatched lengths between arrays that must agree, and its bad hyper-parameters.
Every call either answers or raises ValueError/TypeError naming the argument; a crash,
a hang (faulthandler aborts after ``FUZZ_TIMEOUT`` seconds), another exception, a
wrong shape or a different answer for a different layout fails. A hypothesis test
draws further strided layouts and NaN positions per spec (few examples, derandomised).
"""

import faulthandler
import importlib
import inspect
import os
import pkgutil
import re
import resource
import warnings

import fuzz_specs  # tests/ is on sys.path (conftest.py)
import numpy as np
import pytest
from fuzz_specs import HUGE
from hypothesis import given, settings
from hypothesis import strategies as st

import fastml

TIMEOUT = float(os.environ.get("FUZZ_TIMEOUT", "120"))
# Every call runs with the address space capped (RLIMIT_AS) 2 GiB above its current size,
# so a bad size that allocates fails with MemoryError instead of eating the machine's RAM.
# Under AddressSanitizer the address space is reserved up front, so the cap cannot be
# used and the huge-size mutations are skipped; .ci/sanitize sets this.
SANITIZED = os.environ.get("FASTML_SANITIZED") == "1"

# fastml.__all__ entries that are infrastructure, not algorithms with inputs to fuzz.
NOT_FUZZED_MODULES = {
    "base": "estimator base classes and validate_data, exercised by every estimator spec",
    "benchmarks": "benchmark registry; tests/test_registry.py runs every case",
    "cli": "command line; tests/test_package.py runs it",
    "kernels": "private compiled layer, reached only through the public faces",
    "reference": "readable reference implementations (test oracles), not the product",
}


def _load_specs():
    specs, exempt = [], {}
    for info in sorted(pkgutil.iter_modules(fuzz_specs.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"fuzz_specs.{info.name}")
        specs += module.SPECS
        exempt.update(getattr(module, "EXEMPT", {}))
    return specs, exempt


SPECS, EXEMPT = _load_specs()
SPEC_IDS = [s.name for s in SPECS]


def _resolve(dotted):
    module, _, attr = dotted.rpartition(".")
    return getattr(importlib.import_module(module), attr)


def _public_names():
    """{dotted name: object} for every public name of fastml's public submodules."""
    out = {}

    def walk(module):
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            if inspect.ismodule(obj):
                if obj.__name__.startswith("fastml."):
                    walk(obj)
                continue
            out[f"{module.__name__}.{name}"] = obj

    for name in fastml.__all__:
        if name in NOT_FUZZED_MODULES or name.startswith("_"):
            continue
        obj = getattr(fastml, name, None) if name not in fastml._SUBMODULES else None
        if name in fastml._SUBMODULES:
            try:
                obj = importlib.import_module(f"fastml.{name}")
            except ModuleNotFoundError as exc:
                if exc.name == f"fastml.{name}":
                    continue  # listed for a module that is not in this tree yet
                raise
            walk(obj)
        elif callable(obj):
            out[f"fastml.{name}"] = obj
    return out


def _importable(dotted):
    try:
        importlib.import_module(dotted.rpartition(".")[0])
    except ModuleNotFoundError:
        return False
    return True


def _needs_no_fuzzing(obj):
    if inspect.isclass(obj) and issubclass(obj, BaseException):
        return True  # exceptions and warnings
    return not callable(obj)  # constants


def test_every_public_name_has_a_fuzz_spec():
    covered = set()
    for spec in SPECS:
        for name in (spec.name, *spec.also):
            covered.add(id(_resolve(name)))
    missing = [name for name, obj in _public_names().items()
               if id(obj) not in covered and name not in EXEMPT and not _needs_no_fuzzing(obj)]
    assert not missing, (f"public names without a fuzz spec in tests/fuzz_specs/ "
                         f"(add one, or an EXEMPT entry with the reason): {missing}")
    stale = [name for name in EXEMPT if name not in _public_names() and _importable(name)]
    assert not stale, f"EXEMPT entries that are not public names: {stale}"


# An exemption says why the name needs no fuzzing ("abstract base of ...", "a namedtuple of
# results"); "pending", "todo" or a bare word is a spec not written, not a reason.
_NOT_A_REASON = re.compile(r"pending|todo|to ?do|tbd|fixme|still to|not yet|later", re.I)


def test_every_exemption_gives_a_reason():
    unjustified = {name: reason for name, reason in EXEMPT.items()
                   if not isinstance(reason, str) or len(reason.split()) < 3
                   or _NOT_A_REASON.search(reason)}
    assert not unjustified, ("EXEMPT entries without a reason (write the Spec in "
                             f"tests/fuzz_specs/, or say why none is needed): {unjustified}")


# ---------------------------------------------------------------- mutations

def _noncontiguous(v):
    return np.repeat(v, 2, axis=-1)[..., ::2]


def _negative_stride(v):
    return v[::-1].copy()[::-1]


def _with_value(v, value, index=0):
    out = v.astype(v.dtype if v.dtype.kind == "f" else np.float64, copy=True)
    out.flat[index % out.size] = value
    return out


def mutations(spec, kwargs):
    """(label, argument names it touches, replacement kwargs, expectation) tuples.

    expectation: "raise" (ValueError/TypeError naming one of the arguments), "either"
    (that, or an answer), "same" (the answer of the unmutated call).
    """
    out = []
    for name in spec.array_names(kwargs):
        v = kwargs[name]
        shape_rule = "either" if name in spec.any_ndim else "raise"
        is_float = v.dtype.kind == "f"

        def put(label, value, expect, names=(name,), name=name):
            out.append((f"{name}:{label}", names, {**kwargs, name: value}, expect))

        if v.ndim:
            put("empty", v[:0], "either")
            put("0-d", np.asarray(v.flat[0]) if v.size else np.asarray(1.0), shape_rule)
            put("ndim-1", v[0], shape_rule)
        put("ndim+1", v[None], shape_rule)
        if is_float:
            put("int64", np.round(3 * v).astype(np.int64), "either")
            put("bool", v > 0, "either")
            put("complex", v.astype(np.complex128) + 1j, "raise")
            put("object", v.astype(object), "either")
            put("float16", v.astype(np.float16), "either")
            finite_rule = "either" if spec.accepts_nonfinite(name) else "raise"
            if v.size:
                put("nan", _with_value(v, np.nan, v.size // 2), finite_rule)
                put("+inf", _with_value(v, np.inf), finite_rule)
                put("-inf", _with_value(v, -np.inf, v.size - 1), finite_rule)
        layout_rule = "either" if name in spec.inplace else "same"
        if v.ndim and v.size:
            put("non-contiguous", _noncontiguous(v), layout_rule)
            put("negative-stride", _negative_stride(v), layout_rule)
        if v.ndim >= 2:
            put("fortran", np.asfortranarray(v), layout_rule)
        if spec.huge and v.ndim and v.size and not SANITIZED:
            put("huge", np.broadcast_to(v[:1], (HUGE,) + v.shape[1:]), "raise",
                names=(name,) + tuple(n for g in spec.same_length if name in g for n in g))
    for group in spec.same_length:
        present = [n for n in group if kwargs.get(n) is not None]
        for name in present[1:]:
            v = kwargs[name]
            if v.ndim:
                out.append((f"{name}:longer-than-{present[0]}", tuple(present),
                            {**kwargs, name: np.concatenate([v, v[:1]])}, "raise"))
    for name, values in spec.bad_params.items():
        for value in values:
            out.append((f"{name}={value!r}", (name,), {**kwargs, name: value}, "raise"))
    return out


# ---------------------------------------------------------------- checks

def _flatten(result):
    """The arrays and numbers in a (nested) result, in a fixed order."""
    if isinstance(result, np.ndarray):
        return [result]
    if isinstance(result, (bool, int, float, complex, np.generic)):
        return [np.asarray(result)]
    if isinstance(result, dict):
        return [a for k in sorted(result, key=str) for a in _flatten(result[k])]
    if isinstance(result, (tuple, list)):
        return [a for r in result for a in _flatten(r)]
    return []


def _compare(got, want, rtol):
    got, want = _flatten(got), _flatten(want)
    if len(got) != len(want):
        return f"{len(got)} results, expected {len(want)}"
    for i, (g, w) in enumerate(zip(got, want)):
        if g.shape != w.shape:
            return f"result {i} has shape {g.shape}, expected {w.shape}"
        if w.dtype.kind in "fc" and g.dtype.kind in "fc":
            scale = float(np.nanmax(np.abs(w))) if w.size and np.isfinite(w).any() else 1.0
            if not np.allclose(g, w, rtol=rtol, atol=rtol * max(scale, 1e-30),
                               equal_nan=True):
                return f"result {i} differs: max |diff| {np.nanmax(np.abs(g - w)):.3g}"
        elif not np.array_equal(g, w):
            return f"result {i} differs"
    return None


def _names_argument(message, names, aliases):
    words = list(names) + [a for n in names for a in aliases.get(n, ())]
    words += [w.replace("_", " ") for w in words if "_" in w]
    return any(re.search(rf"(?<![A-Za-z0-9_]){re.escape(w)}(?![A-Za-z0-9_])", message)
               for w in words)


class _AddressSpaceGuard:
    """Cap the address space a little above its current size, so that an allocation
    of a huge input fails fast with MemoryError instead of eating the machine's RAM."""

    def __enter__(self):
        with open("/proc/self/status") as fh:
            vm = next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmSize"))
        self.saved = resource.getrlimit(resource.RLIMIT_AS)
        resource.setrlimit(resource.RLIMIT_AS, (vm + 2**31, self.saved[1]))

    def __exit__(self, *exc):
        resource.setrlimit(resource.RLIMIT_AS, self.saved)


def _call(spec, kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if SANITIZED:
            return spec.run(**kwargs)
        with _AddressSpaceGuard():
            return spec.run(**kwargs)


FINITE_LABELS = (":nan", ":+inf", ":-inf", ":complex")


def _check_one(spec, label, names, kwargs, expect, valid, rtol, arrays=()):
    """None when the call behaves, else a description of what went wrong.

    ``arrays``: the spec's array arguments; an error about a mutated array's shape or
    dtype may name any of them (it conflicts with the others).
    """
    try:
        result = _call(spec, kwargs)
    except spec.errors as exc:
        if expect == "same":
            return f"{label}: raised {type(exc).__name__}({exc}) for a valid layout"
        return None
    except (ValueError, TypeError) as exc:
        if expect == "same":
            return f"{label}: raised {type(exc).__name__}({exc}) for a valid layout"
        if label.split(":")[0] in arrays and not label.endswith(FINITE_LABELS):
            names = tuple(names) + tuple(arrays)  # a shape/dtype conflict names either side
        if not _names_argument(str(exc), names, spec.aliases):
            return f"{label}: {type(exc).__name__} does not name {'/'.join(names)}: {exc}"
        return None
    except MemoryError:
        return f"{label}: MemoryError (allocated instead of rejecting the size up front)"
    except Exception as exc:
        return f"{label}: {type(exc).__name__}: {exc}"
    if expect == "raise":
        return f"{label}: answered instead of raising ValueError/TypeError"
    if expect == "same" and spec.deterministic:
        problem = _compare(result, valid, rtol)
        if problem:
            return f"{label}: {problem}"
    return None


# Mutations repeated for every dtype of a spec (mixed dtypes, layouts); the others run
# for the first dtype only.
PER_DTYPE = (":int64", ":bool", ":float16", ":object", ":non-contiguous", ":negative-stride",
             ":fortran")


def _rtol(spec, dtype):
    return spec.rtol if spec.rtol is not None else (1e-4 if dtype == "float32" else 1e-9)


@pytest.fixture(autouse=True)
def _abort_on_hang():
    faulthandler.dump_traceback_later(TIMEOUT, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_fuzz(spec):
    problems = []
    for dtype in spec.dtypes:
        kwargs = spec.make(np.random.default_rng(0), dtype)
        valid = _call(spec, kwargs)
        rtol = _rtol(spec, dtype)
        if spec.deterministic:
            again = _compare(_call(spec, spec.make(np.random.default_rng(0), dtype)), valid, rtol)
            if again:
                problems.append(f"[{dtype}] repeated valid call: {again}")
        for label, names, mutated, expect in mutations(spec, kwargs):
            if label in spec.known:
                continue
            if dtype != spec.dtypes[0] and not label.endswith(PER_DTYPE):
                continue  # shape/value/parameter checks do not depend on the dtype
            problem = _check_one(spec, label, names, mutated, expect, valid, rtol,
                                 spec.array_names(kwargs))
            if problem:
                problems.append(f"[{dtype}] {problem}")
    assert not problems, f"{spec.name}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
@settings(max_examples=2, deadline=None, derandomize=True, database=None)
@given(data=st.data())
def test_fuzz_random_layouts(spec, data):
    """Strided views drawn by hypothesis give the contiguous answer; NaN anywhere raises."""
    dtype = data.draw(st.sampled_from(spec.dtypes), label="dtype")
    kwargs = spec.make(np.random.default_rng(0), dtype)
    names = [n for n in spec.array_names(kwargs) if kwargs[n].ndim and kwargs[n].size]
    if not names:
        return
    name = data.draw(st.sampled_from(names), label="argument")
    v = kwargs[name]
    axis = data.draw(st.integers(0, v.ndim - 1), label="axis")
    step = data.draw(st.integers(2, 3), label="step")
    reverse = data.draw(st.booleans(), label="reverse")
    big = np.repeat(v, step, axis=axis)
    view = big[(slice(None),) * axis + (slice(None, None, step),)]
    if reverse:
        view = np.flip(np.flip(view, axis).copy(), axis)
    if name in spec.inplace:
        return
    valid = _call(spec, kwargs)
    problem = _check_one(spec, f"{name}:view(axis={axis}, step={step}, reverse={reverse})",
                         (name,), {**kwargs, name: view}, "same", valid, _rtol(spec, dtype))
    assert problem is None, problem
    if v.dtype.kind == "f" and not spec.accepts_nonfinite(name):
        index = data.draw(st.integers(0, v.size - 1), label="nan index")
        problem = _check_one(spec, f"{name}:nan@{index}", (name,),
                             {**kwargs, name: _with_value(v, np.nan, index)}, "raise",
                             valid, _rtol(spec, dtype))
        assert problem is None, problem
