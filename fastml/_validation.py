"""The one place that checks arrays and parameters for the whole library.

Public functions call these once, before any kernel runs. Kernels then assume what is
guaranteed here: C-contiguous float32/float64 arrays of the expected ndim, finite unless
said otherwise. Errors are ``ValueError`` (wrong value, shape, non-finite) or
``TypeError`` (wrong kind), and name the argument and what was expected.
"""

import math
import numbers
import os

import numpy as np

FLOAT_DTYPES = (np.float64, np.float32)
# Kernels and BLAS/LAPACK index an axis with a C int: longer axes are rejected up front
# (checked on the shape, before any copy, so a stride-0 view of that size costs nothing).
MAX_AXIS_LENGTH = 2**31 - 1


def _shape_str(shape):
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def _is_sparse(a):
    return type(a).__module__.startswith("scipy.sparse")


def _float_dtype(a, name, dtype):
    """The dtype ``a`` is cast to: float32/float64 kept, ints/bools upcast to float64."""
    kind = a.dtype.kind
    if kind == "c":
        raise TypeError(f"{name} must be real, got complex dtype {a.dtype}")
    if kind in "OUSVMm":
        raise TypeError(f"{name} must be a numeric array, got dtype {a.dtype}")
    if dtype is None:
        return a.dtype
    if isinstance(dtype, str) and dtype == "float":  # np.dtype("float64") == "float" too
        if a.dtype in FLOAT_DTYPES:
            return a.dtype
        return np.dtype(np.float32) if a.dtype == np.float16 else np.dtype(np.float64)
    return np.dtype(dtype)


def all_finite(a):
    """True when every element of ``a`` is finite (one fused reduction; exact fallback).

    The sum of an array is finite when all its elements are (barring overflow, which
    the exact check below rules out), so the common case costs one pass and no
    temporary.
    """
    if a.dtype.kind not in "fc" or a.size == 0:
        return True
    with np.errstate(over="ignore", invalid="ignore"):
        if math.isfinite(np.add.reduce(a, axis=None)):
            return True
    return bool(np.isfinite(a).all())


def check_array(a, name, *, ndim=None, dtype="float", finite=True, allow_empty=True,
                copy=False, order="C"):
    """Validate ``a`` and return it as an array ready for a kernel.

    Parameters
    ----------
    a : array_like
    name : str
        Argument name used in error messages.
    ndim : int or tuple of int, optional
        Accepted number(s) of dimensions.
    dtype : "float", numpy dtype or None
        "float" keeps float32/float64 and upcasts integers and bools to float64
        (float16 to float32); a dtype forces it; None keeps any numeric dtype.
    finite : bool
        Reject NaN and infinity.
    allow_empty : bool
        Accept arrays with a zero-length axis.
    copy : bool
        Always return a new array (the kernel may overwrite it).
    order : "C" or None
        "C" guarantees a C-contiguous result (copying when needed); None keeps strides.
    """
    if a is None:
        raise TypeError(f"{name} must be an array, got None")
    if _is_sparse(a):
        raise TypeError(f"{name}: sparse input is not supported, convert it with .toarray()")
    if not isinstance(a, np.ndarray):
        try:
            a = np.asarray(a)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name} must be array-like, got {type(a).__name__}: {exc}") from None
    target = _float_dtype(a, name, dtype)
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if a.ndim not in allowed:
            want = " or ".join(f"{d}-D" for d in allowed)
            raise ValueError(f"{name} must be {want}, got {a.ndim}-D array of shape "
                             f"{_shape_str(a.shape)}")
    if not allow_empty and a.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {_shape_str(a.shape)}")
    if a.ndim and max(a.shape) > MAX_AXIS_LENGTH:
        raise ValueError(f"{name} has an axis of length {max(a.shape)}, more than the "
                         f"kernels' 32-bit index limit {MAX_AXIS_LENGTH} (shape "
                         f"{_shape_str(a.shape)})")
    if order == "C":
        out = np.array(a, dtype=target, order="C", copy=True) if copy else \
            np.ascontiguousarray(a, dtype=target)
    else:
        out = np.array(a, dtype=target, copy=True) if copy else a.astype(target, copy=False)
    if finite and not all_finite(out):
        raise ValueError(f"{name} contains NaN or infinity")
    return out


def check_square(a, name):
    """Raise unless ``a`` is a square 2-D array."""
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"{name} must be a square matrix, got shape {_shape_str(a.shape)}")
    return a


def common_float_dtype(*arrays):
    """The float dtype of a result computed from ``arrays`` (float64 unless all float32)."""
    if all(np.asarray(a).dtype == np.float32 for a in arrays):
        return np.dtype(np.float32)
    return np.dtype(np.float64)


def check_consistent_length(*named):
    """``named``: (name, array) pairs whose first axes must agree."""
    for name, a in named:
        if a is not None and np.ndim(a) == 0:
            raise ValueError(f"{name} must be an array of samples, got a scalar: {a!r}")
    lengths = {name: len(a) for name, a in named if a is not None}
    if len(set(lengths.values())) > 1:
        detail = ", ".join(f"{k} has {v}" for k, v in lengths.items())
        raise ValueError(f"inconsistent numbers of samples: {detail}")


def check_scalar(x, name, target_type, *, min_val=None, max_val=None,
                 include_boundaries="both"):
    """Validate a scalar parameter's type and range, as scikit-learn's ``check_scalar``.

    ``include_boundaries`` is "both", "left", "right" or "neither".
    """
    if isinstance(x, bool) and target_type not in (bool, object):
        raise TypeError(f"{name} must be an instance of {_type_name(target_type)}, not bool")
    if not isinstance(x, target_type):
        raise TypeError(f"{name} must be an instance of {_type_name(target_type)}, "
                        f"not {type(x).__name__}")
    if isinstance(x, numbers.Real) and math.isnan(x):
        raise ValueError(f"{name} must not be NaN")
    left = include_boundaries in ("both", "left")
    right = include_boundaries in ("both", "right")
    if min_val is not None and (x < min_val or (x == min_val and not left)):
        raise ValueError(f"{name} == {x}, must be {'>=' if left else '>'} {min_val}")
    if max_val is not None and (x > max_val or (x == max_val and not right)):
        raise ValueError(f"{name} == {x}, must be {'<=' if right else '<'} {max_val}")
    return x


def _type_name(t):
    if isinstance(t, tuple):
        return " or ".join(_type_name(x) for x in t)
    return {numbers.Integral: "int", numbers.Real: "float"}.get(t, getattr(t, "__name__", str(t)))


def check_positive_int(x, name, *, min_val=1, max_val=MAX_AXIS_LENGTH):
    """An integer in [``min_val``, ``max_val``] (NumPy integers accepted), as a Python int.

    The default ``max_val`` is the kernels' C int limit: sizes, counts and geometry
    parameters past it would overflow there.
    """
    return int(check_scalar(x, name, numbers.Integral, min_val=min_val, max_val=max_val))


def check_option(x, name, options):
    """``x`` must be one of ``options``."""
    if x not in options:
        choices = ", ".join(repr(o) for o in options)
        raise ValueError(f"{name} must be one of {choices}, got {x!r}")
    return x


def check_jitter(jitter, name="jitter"):
    """None, "auto" or a positive real number: how a Cholesky retries a non-PD matrix."""
    if jitter is None or (isinstance(jitter, str) and jitter == "auto") or (
            isinstance(jitter, numbers.Real) and not isinstance(jitter, bool) and jitter > 0):
        return jitter
    raise ValueError(f"{name} must be None, 'auto' or a positive float, got {jitter!r}")


def check_n_jobs(n_jobs, name="n_jobs"):
    """A thread limit from scikit-learn's ``n_jobs``: None (no limit beyond
    :func:`fastml.get_num_threads`), a positive count, or -1 (all cores), -2 (all but
    one), ... as joblib counts."""
    if n_jobs is None:
        return None
    check_scalar(n_jobs, name, numbers.Integral)
    if n_jobs == 0:
        raise ValueError(f"{name} == 0 has no meaning; use None, a positive int or -1")
    return int(n_jobs) if n_jobs > 0 else max(1, (os.cpu_count() or 1) + 1 + int(n_jobs))


def check_random_state(seed):
    """A ``numpy.random.Generator`` from None, an int, a Generator or a RandomState."""
    if isinstance(seed, numbers.Integral) and seed < 0:
        raise ValueError(f"random_state must be a non-negative int, got {seed}")
    if seed is None or isinstance(seed, (numbers.Integral, np.random.SeedSequence)):
        return np.random.default_rng(seed)
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, np.random.RandomState):
        return np.random.default_rng(seed.randint(np.iinfo(np.int32).max))
    raise TypeError(f"random_state must be None, an int or a numpy Generator, "
                    f"got {type(seed).__name__}")


def check_bool(x, name):
    """A flag: ``bool`` or ``numpy.bool_`` (not 0/1, not None), returned as a bool."""
    if not isinstance(x, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {type(x).__name__}")
    return bool(x)


def check_float_dtype(dtype, name="dtype"):
    """A float32 or float64 dtype from anything ``numpy.dtype`` parses, returned as a
    ``numpy.dtype``; a string numpy cannot parse is a TypeError naming ``name`` too."""
    try:
        parsed = np.dtype(dtype)
    except (TypeError, ValueError) as exc:  # numpy: "data type 'x' not understood"
        raise TypeError(f"{name} must be float32 or float64, got {dtype!r} ({exc})") from None
    if parsed not in FLOAT_DTYPES:
        raise TypeError(f"{name} must be float32 or float64, got {parsed}")
    return parsed


def check_nonneg(x, name):
    """A real number >= 0."""
    return check_scalar(x, name, numbers.Real, min_val=0)


def check_positive(x, name):
    """A real number > 0."""
    return check_scalar(x, name, numbers.Real, min_val=0, include_boundaries="neither")


def as_float_if_object(X):
    """Object arrays of numbers become float64 arrays (anything else is left to check_array)."""
    if isinstance(X, np.ndarray) and X.dtype == object:
        return X.astype(np.float64)
    return X


def check_sample_weight(sample_weight, n, dtype):
    """Per-sample weights: None -> ones, a number -> that constant, else a (n,) array of
    non-negative values, not all zero, in ``dtype``."""
    if sample_weight is None:
        return np.ones(n, dtype=dtype)
    if isinstance(sample_weight, numbers.Number):
        return np.full(n, sample_weight, dtype=dtype)
    w = check_array(sample_weight, "sample_weight", ndim=1, dtype=dtype)
    if w.shape[0] != n:
        raise ValueError(f"sample_weight.shape == {w.shape}, expected ({n},)")
    if np.any(w < 0):
        raise ValueError("sample_weight must be non-negative")
    if n and not w.any():
        raise ValueError("sample_weight must not be all zero")
    return w


def check_classification_targets(y):
    """Encode class labels; reject continuous targets and fewer than two classes.

    Returns (classes_, y as int32 indices into classes_).
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D class labels, got shape {y.shape}")
    if y.dtype.kind == "f":
        check_array(y, "y", ndim=1, dtype=None)
        if not np.all(y == np.round(y)):
            raise ValueError("Unknown label type: continuous. Classifiers need discrete "
                             "class labels (integers or strings), not a continuous target")
    if y.dtype.kind not in "biufUSO":
        raise ValueError(f"Unknown label type: dtype {y.dtype}")
    classes, y_idx = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ValueError("The number of classes has to be greater than one; got "
                         f"{len(classes)} class")
    return classes, np.ascontiguousarray(y_idx, dtype=np.int32)


def check_n_samples(n_samples, minimum, what):
    """At least ``minimum`` samples (``what`` names the parameter that asks for them)."""
    if n_samples < minimum:
        raise ValueError(f"n_samples={n_samples} should be >= {what}={minimum}.")


# ---------------------------------------------------------------- parameter constraints
class Interval:
    """A number of ``kind`` (``numbers.Integral`` or ``numbers.Real``) between ``low`` and
    ``high`` (None: unbounded), ends included as ``closed`` says ("both", "left",
    "right", "neither"); checked by :func:`check_scalar`, so the messages are its own."""

    def __init__(self, kind, low=None, high=None, closed="both"):
        self.kind, self.low, self.high, self.closed = kind, low, high, closed

    def claims(self, x):
        return isinstance(x, numbers.Number)

    def check(self, x, name):
        check_scalar(x, name, self.kind, min_val=self.low, max_val=self.high,
                     include_boundaries=self.closed)


class Options:
    """One of the given values (strings, usually); checked by :func:`check_option`."""

    def __init__(self, *options):
        self.options = options

    def claims(self, x):
        return isinstance(x, str)

    def check(self, x, name):
        check_option(x, name, self.options)


class _Flag:
    def claims(self, x):
        return True

    def check(self, x, name):
        check_bool(x, name)


class _RandomState:
    def claims(self, x):
        return True

    def check(self, x, name):
        check_random_state(x)


class _Callable:
    def claims(self, x):
        return callable(x)

    def check(self, x, name):
        if not callable(x):
            raise TypeError(f"{name} must be callable, got {type(x).__name__}")


class _ArrayLike:
    def claims(self, x):
        return isinstance(x, (np.ndarray, list, tuple))

    def check(self, x, name):
        check_array(x, name, dtype=None, finite=False)


FLAG = _Flag()
RANDOM_STATE = _RandomState()
CALLABLE = _Callable()
ARRAY_LIKE = _ArrayLike()


def check_params(params, constraints):
    """Check every parameter named in ``constraints`` (name -> list of accepted kinds).

    A kind is ``None`` (the value None), an :class:`Interval`, an :class:`Options`, or
    one of ``FLAG``, ``RANDOM_STATE``, ``CALLABLE``, ``ARRAY_LIKE``. A value is accepted
    when one kind accepts it; otherwise the error is that of the first kind that claims
    the value's type (a string is claimed by :class:`Options`, a number by
    :class:`Interval`), else of the last kind listed.
    """
    for name, kinds in constraints.items():
        x = params[name]
        if x is None and None in kinds:
            continue
        checkers = [k for k in kinds if k is not None]
        for kind in checkers:
            try:
                kind.check(x, name)
                break
            except (TypeError, ValueError):
                continue
        else:
            claiming = [k for k in checkers if k.claims(x)]
            (claiming[0] if claiming else checkers[-1]).check(x, name)
