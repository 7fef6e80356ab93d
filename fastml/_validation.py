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
                copy=False, order="C", accept_sparse=False):
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
    accept_sparse : False, str or tuple of str
        Sparse formats ("csr", "csc") the caller's kernels take. A SciPy sparse matrix or
        array is then returned in the first listed format unless it already is in one of
        them, with int32 indices where they fit, sorted indices, no explicit duplicates,
        ``dtype`` applied to its data and ``finite`` checked on its stored values (see
        :func:`check_sparse`). False rejects sparse input with a TypeError.
    """
    if a is None:
        raise TypeError(f"{name} must be an array, got None")
    if _is_sparse(a):
        if not accept_sparse:
            raise TypeError(f"{name}: sparse input is not supported, convert it with .toarray()")
        return check_sparse(a, name, accept_sparse, ndim=ndim, dtype=dtype, finite=finite,
                            allow_empty=allow_empty, copy=copy)
    if not isinstance(a, np.ndarray):
        try:
            a = np.asarray(a)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name} must be array-like, got {type(a).__name__}: {exc}") from None
    target = _float_dtype(a, name, dtype)
    if ndim is not None:
        check_ndim(a, name, ndim)
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


def check_sparse(a, name, formats, *, ndim=None, dtype="float", finite=True,
                 allow_empty=True, copy=False):
    """Validate a SciPy sparse matrix/array and return it as a kernel-ready matrix.

    ``formats`` is one format name or a tuple ("csr", "csc"); the result is a
    ``scipy.sparse`` *matrix* (``csr_matrix``/``csc_matrix``, whose ``@`` and slicing
    behave the same for sparse arrays and matrices) in the first format unless ``a``
    is already in one of them, with canonical structure (sorted indices, duplicates
    summed), int32 indices when nnz and the shape fit, and ``data`` cast as
    :func:`check_array` casts a dense array.
    """
    import scipy.sparse as sp

    formats = (formats,) if isinstance(formats, str) else tuple(formats)
    fmt = a.format if a.format in formats else formats[0]
    if ndim is not None:
        check_ndim(a, name, ndim)
    if not allow_empty and 0 in a.shape:
        raise ValueError(f"{name} must not be empty, got shape {_shape_str(a.shape)}")
    target = _float_dtype(a, name, dtype)
    out = {"csr": sp.csr_matrix, "csc": sp.csc_matrix}[fmt](a, dtype=target, copy=copy)
    if not out.has_canonical_format:
        out = out.copy() if out is a else out
        out.sum_duplicates()
    if out.indices.dtype != np.int32 and max(out.nnz, *out.shape) <= MAX_AXIS_LENGTH:
        out.indices = out.indices.astype(np.int32)
        out.indptr = out.indptr.astype(np.int32)
    if finite and not all_finite(out.data):
        raise ValueError(f"{name} contains NaN or infinity")
    return out


def check_ndim(a, name, ndim):
    """``a.ndim`` is ``ndim`` (an int or a tuple of accepted ints); ``a`` is anything with
    ``ndim`` and ``shape`` (a NumPy or dask array: nothing is converted or computed)."""
    allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
    if a.ndim not in allowed:
        want = " or ".join(f"{d}-D" for d in allowed)
        raise ValueError(f"{name} must be {want}, got {a.ndim}-D array of shape "
                         f"{_shape_str(a.shape)}")
    return a


def float_dtype_of(a, name):
    """The float dtype an array of ``a.dtype`` computes in: float32/float64 kept, ints and
    bools -> float64 (float16 -> float32); complex or non-numeric dtypes are a TypeError.
    For arrays that are not converted here (dask arrays)."""
    return _float_dtype(a, name, "float")


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
        check_callable(x, name)


class _ArrayLike:
    def claims(self, x):
        return isinstance(x, (np.ndarray, list, tuple))

    def check(self, x, name):
        check_array(x, name, dtype=None, finite=False)


class InstanceOf:
    """An instance of ``types`` (a class or a tuple of classes); ``what`` words the
    expectation as :func:`check_instance` does ("a fastml.gp.kernels.Kernel or None")."""

    def __init__(self, types, what=None):
        self.types, self.what = types, what

    def claims(self, x):
        return True

    def check(self, x, name):
        check_instance(x, name, self.types, self.what)


FLAG = _Flag()
RANDOM_STATE = _RandomState()
CALLABLE = _Callable()
ARRAY_LIKE = _ArrayLike()


def check_params(params, constraints):
    """Check every parameter named in ``constraints`` (name -> list of accepted kinds).

    A kind is ``None`` (the value None), an :class:`Interval`, an :class:`Options`, an
    :class:`InstanceOf`, or one of ``FLAG``, ``RANDOM_STATE``, ``CALLABLE``,
    ``ARRAY_LIKE``. A value is accepted
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


# ------------------------------------------------- checks shared by nn, graph, rlhf, diffusion
def check_instance(x, name, types, what=None):
    """``x`` must be an instance of ``types`` (a class or a tuple of classes).

    ``what`` words the expectation ("a Module or None"); by default "a <class name>".
    """
    if not isinstance(x, types):
        what = what or "a " + _type_name(types)
        raise TypeError(f"{name} must be {what}, got {type(x).__name__}")
    return x


def check_shape(a, name, shape, detail="", *, verb="must", label="shape"):
    """``a.shape`` must be ``shape``; a str entry (e.g. "n") matches any length.

    A last entry ``...`` matches any number of trailing axes ("samples must have shape
    (chains, draws, ...)"). ``detail`` is appended to the expectation, e.g. " (one row
    per node)"; ``verb`` "should" gives the words of scikit-learn's estimators
    ("means_init should have shape ..."); ``label`` may say whose shape it is ("the
    forward output's shape").
    """
    if a.shape == shape:
        return a
    head = shape[:-1] if shape and shape[-1] is Ellipsis else shape
    if (len(a.shape) < len(head) if head is not shape else len(a.shape) != len(shape)) or any(
            not isinstance(s, str) and s != t for s, t in zip(head, a.shape)):
        want = "(" + ", ".join("..." if s is Ellipsis else str(s) for s in shape) + \
            ("," if len(shape) == 1 else "") + ")"
        raise ValueError(f"{name} {verb} have {label} {want}{detail}, got "
                         f"{_shape_str(a.shape)}")
    return a


def check_index_array(a, name, high, *, what="indices", ndim=None):
    """An integer array (ids, labels, class indices) with every value in [0, ``high``).

    A non-integer dtype is a TypeError ("{name} must be integer {what}"), a value out of
    range a ValueError naming the range and the values found; ``high=None`` checks the
    dtype only (the range is the caller's, e.g. with an ignore value). Returned as an
    ndarray of its own integer dtype.
    """
    a = check_dtype_kind(check_array(a, name, ndim=ndim, dtype=None, finite=False, order=None),
                         name, "iu", "integer " + what)
    if high is not None and a.size:
        lo, hi = a.min(), a.max()
        if lo < 0 or hi >= high:
            raise ValueError(f"{name} must be in [0, {high}) ({what}), got values in "
                             f"[{lo}, {hi}]")
    return a


def check_finite_real(x, name):
    """A finite real number (not bool, NaN or infinity), returned as a float."""
    x = float(check_scalar(x, name, numbers.Real))
    if not math.isfinite(x):
        raise ValueError(f"{name} must be finite, got {x!r}")
    return x


def check_nonempty(x, name, what="empty"):
    """A sized argument (array, sequence, data set) with ``len(x) >= 1``; the ValueError
    reads "{name} must not be {what}" (e.g. "an empty parameter list")."""
    if len(x) == 0:
        raise ValueError(f"{name} must not be {what}")
    return x


def check_divisible(n, n_name, divisor, divisor_name=None):
    """``n % divisor == 0`` for checked positive ints (e.g. the width and the heads);
    ``divisor_name`` None: the divisor is a constant, not an argument."""
    if n % divisor:
        if divisor_name is None:
            raise ValueError(f"{n_name} must be a multiple of {divisor}, got {n}")
        raise ValueError(f"{n_name} ({n}) must be divisible by {divisor_name} ({divisor})")
    return n


def check_dtype(a, name, dtype, owner, hint=""):
    """``a.dtype == dtype``, the dtype of ``owner`` (e.g. "the parameters are").

    The TypeError reads "{name} has dtype X but {owner} {dtype}{hint}"; ``hint`` may say
    how to cast.
    """
    if a.dtype != dtype:
        raise TypeError(f"{name} has dtype {a.dtype} but {owner} {dtype}{hint}")
    return a


def check_int_tuple(value, name, n, min_val=1):
    """An int, or a tuple/list of ``n`` ints, each in [``min_val``, MAX_AXIS_LENGTH],
    returned as a tuple of ``n`` Python ints (kernel sizes, strides, paddings)."""
    if type(value) is int and min_val <= value <= MAX_AXIS_LENGTH:  # the common case
        return (value,) * n
    if type(value) is tuple and len(value) == n and \
            all(type(v) is int and min_val <= v <= MAX_AXIS_LENGTH for v in value):
        return value
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (value,) * n
    if not isinstance(value, (tuple, list)) or len(value) != n:
        raise TypeError(f"{name} must be an int or a tuple of {n} ints, got {value!r}")
    return tuple(check_positive_int(v, name, min_val=min_val) for v in value)


# ------------------------------------------------- checks shared by the estimators (H7)
def check_callable(x, name, *, allow_none=False):
    """``x`` must be callable (or None when ``allow_none``): a TypeError otherwise."""
    if not (callable(x) or (allow_none and x is None)):
        raise TypeError(f"{name} must be callable{' or None' if allow_none else ''}, "
                        f"got {type(x).__name__}")
    return x


def check_bounds(a, name, *, low=None, high=None, closed="both", detail=""):
    """Every value of the array ``a`` lies in the interval from ``low`` to ``high``
    (None: unbounded; ends included as ``closed`` says: "both", "left", "right",
    "neither"). The ValueError names the interval and what was found: "{name} must be
    in [0, 1]{detail}, got values in [-0.5, 2.0]"; with one bound "{name} must be > 0,
    got a minimum of -1.0" (``low=0`` reads "positive" / "non-negative"). NaN fails
    every bound. ``detail`` says why, e.g. " for a Bernoulli decoder"."""
    a = np.asarray(a)
    if a.size == 0:
        return a
    left = closed in ("both", "left")
    right = closed in ("both", "right")
    ok_low = low is None or (np.all(a >= low) if left else np.all(a > low))
    ok_high = high is None or (np.all(a <= high) if right else np.all(a < high))
    if ok_low and ok_high:
        return a
    if low is not None and high is not None:
        raise ValueError(f"{name} must be in {'[' if left else '('}{low}, {high}"
                         f"{']' if right else ')'}{detail}, got values in "
                         f"[{np.min(a)}, {np.max(a)}]")
    if not ok_low:
        word = ("non-negative" if left else "positive") if low == 0 else \
            f"{'>=' if left else '>'} {low}"
        raise ValueError(f"{name} must be {word}{detail}, got a minimum of {np.min(a)}")
    raise ValueError(f"{name} must be {'<=' if right else '<'} {high}{detail}, got a "
                     f"maximum of {np.max(a)}")


def check_same_shape(a, name_a, b, name_b):
    """Two arrays of the same shape (a cross-argument check)."""
    if np.shape(a) != np.shape(b):
        raise ValueError(f"{name_a} and {name_b} must have the same shape, got "
                         f"{_shape_str(np.shape(a))} and {_shape_str(np.shape(b))}")


def check_y_given(y, estimator):
    """Supervised estimators' ``fit(X, y)``: y must not be None (scikit-learn's words)."""
    if y is None:
        raise ValueError(f"{type(estimator).__name__} requires y to be passed, but the "
                         "target y is None")
    return y


def check_n_features(n, estimator, expected, what="features"):
    """Data passed after fit has the ``expected`` number of columns (``n`` is what came),
    e.g. the fitted ``n_features_in_``: scikit-learn's message."""
    if n != expected:
        raise ValueError(f"X has {n} {what}, but {type(estimator).__name__} is expecting "
                         f"{expected} {what} as input.")


def check_interface(x, name, attrs, what):
    """``x`` has every attribute in ``attrs`` (duck typing: ``what`` names the interface,
    e.g. "a vector environment"); a TypeError naming ``name`` otherwise."""
    missing = [a for a in attrs if not hasattr(x, a)]
    if missing:
        raise TypeError(f"{name} must be {what} (with {', '.join(attrs)}), got "
                        f"{type(x).__name__} {x!r:.80} without {', '.join(missing)}")
    return x


def check_samples_array(X, name="X", *, dtype="float", ensure_min_samples=1):
    """A 2-D (n_samples, n_features) array for an estimator, with scikit-learn's answers
    (its estimator checks match them): a 1-D ``X`` asks to reshape, complex data is a
    ValueError, object arrays of numbers are converted, fewer than
    ``ensure_min_samples`` rows or no column is a ValueError."""
    if not hasattr(X, "toarray"):  # sparse input is rejected by check_array
        a = np.asarray(X)
        if a.ndim == 1:
            raise ValueError(f"Expected a 2-D array for {name}, got a 1-D array of shape "
                             f"{a.shape}. Reshape your data with {name}.reshape(-1, 1) for "
                             f"one feature or {name}.reshape(1, -1) for one sample.")
        if a.dtype.kind == "c":
            raise ValueError(f"Complex data not supported: {name} must be real, got dtype "
                             f"{a.dtype}")
        if a.dtype.kind == "O":
            X = a.astype(np.float64)  # TypeError/ValueError for entries that are not numbers
    X = check_array(X, name, ndim=2, dtype=dtype, allow_empty=True)
    if X.shape[0] < ensure_min_samples:
        raise ValueError(f"Found array with {X.shape[0]} sample(s) (shape={X.shape}) while a "
                         f"minimum of {ensure_min_samples} is required.")
    if X.shape[1] < 1:
        raise ValueError(f"Found array with 0 feature(s) (shape={X.shape}) while a minimum "
                         "of 1 is required.")
    return X


def check_min_ndim(a, name, ndim, layout=""):
    """``a.ndim >= ndim``; ``layout`` names the expected axes, e.g. " (N, C, ...)"."""
    if a.ndim < ndim:
        raise ValueError(f"{name} must have at least {ndim} dimension"
                         f"{'s' if ndim > 1 else ''}{layout}, got shape {_shape_str(a.shape)}")
    return a


def check_min_length(a, name, minimum, what, axis=0):
    """At least ``minimum`` entries along ``axis`` of an array or sequence (``what``
    names them: "samples", "categories"): "{name} must have at least 2 categories (axis
    1), got 1" (the axis is named for arrays of more than one dimension)."""
    shape = np.shape(a)
    if shape[axis] < minimum:
        where = f" (axis {axis})" if len(shape) > 1 else ""
        raise ValueError(f"{name} must have at least {minimum} {what}{where}, got "
                         f"{shape[axis]}")
    return a


def check_counts(x, name, ndim=1):
    """Non-negative integer-valued counts, as a float64 array of ``ndim`` dimension(s)."""
    a = check_array(x, name, ndim=ndim, dtype=np.float64)
    if (a < 0).any() or (a != np.round(a)).any():
        raise ValueError(f"{name} must hold non-negative integer counts")
    return a


def check_collection(x, name, what):
    """An iterable of entries that is not itself a str or bytes (a list, tuple, set,
    dict, ...): a TypeError "{name} must be {what}, got str" otherwise."""
    if isinstance(x, (str, bytes)) or not hasattr(x, "__iter__"):
        raise TypeError(f"{name} must be {what}, got {type(x).__name__}")
    return x


def check_log_density_start(logp, grad, args, combined, *, where="", same_value=False):
    """logp and grad (samplers, VI) evaluated once at the start ``args`` (``args[0]`` is
    the point x0): logp(x0) finite, grad(x0) a finite array of x0's shape, and, when
    ``combined`` (grad returns the pair (logp(x), grad(x))), that pair; ``same_value``
    also asks its first entry to equal logp(x0). ``where`` ends the messages (" for
    chain 3"). ``grad=None`` checks logp only. Returns (logp(x0), grad(x0) or None).

    These are rules on what the user's functions return, not on an argument's type or
    shape; they live here because every sampler checks them the same way.
    """
    x = args[0]
    value = float(logp(*(a.copy() for a in args)))
    if not math.isfinite(value):
        raise ValueError(f"logp(x0) is not finite ({value}){where}: start where the "
                         "log-density is finite")
    if grad is None:
        return value, None
    g = grad(*(a.copy() for a in args))
    if combined:
        if not (isinstance(g, tuple) and len(g) == 2):
            raise ValueError("grad must return (logp(x), grad(x)) at every point when it "
                             f"does at x0, got {type(g).__name__}")
        if same_value and float(g[0]) != value and not (math.isnan(g[0]) and
                                                         math.isnan(value)):
            raise ValueError(f"grad(x0)[0] = {g[0]} differs from logp(x0) = {value}")
        g = g[1]
    g = np.asarray(g, dtype=np.float64)
    if g.shape != x.shape:
        raise ValueError(f"grad(x0) must return shape {x.shape} (one value per dimension), "
                         f"got shape {g.shape}")
    if not np.isfinite(g).all():
        raise ValueError(f"grad(x0) is not finite{where}")
    return value, g


def check_nonempty_axes(a, name, axes, what):
    """Every axis of ``a`` listed in ``axes`` has length >= 1 (other axes may be empty);
    ``what`` names them, e.g. "spatial axes"."""
    if any(a.shape[ax] == 0 for ax in axes):
        raise ValueError(f"{name} must have non-empty {what}, got shape {_shape_str(a.shape)}")
    return a


def check_dtype_kind(a, name, kinds, what):
    """``a.dtype.kind`` is one of ``kinds`` (e.g. "iu" integers, "bf" bool or float);
    ``what`` words it for the TypeError "{name} must be {what}", e.g. "integer token ids"."""
    if a.dtype.kind not in kinds:
        raise TypeError(f"{name} must be {what}, got dtype {a.dtype}")
    return a


def check_member(x, name, collection):
    """``x in collection`` (a set of options, a range, a space with ``contains``); a
    ValueError naming ``name`` and the collection otherwise."""
    if x not in collection:
        raise ValueError(f"{name} {x!r:.80} is not in {collection}")
    return x



def check_symmetric(a, name):
    """``a`` is square and symmetric to rounding: max |a - a^T| <= tol max(max |a|, 1),
    tol = 1e-5 in float32, 1e-10 in float64 (a ValueError giving the asymmetry)."""
    check_square(a, name)
    scale = np.abs(a).max() if a.size else 0.0
    tol = (1e-5 if a.dtype == np.float32 else 1e-10) * max(scale, 1.0)
    if a.size and np.abs(a - a.T).max() > tol:
        raise ValueError(f"{name} must be symmetric (max |{name} - {name}^T| = "
                         f"{np.abs(a - a.T).max():.3g})")
    return a
