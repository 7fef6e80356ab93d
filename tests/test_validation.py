import numpy as np
import pytest

from fastml._validation import (
    all_finite,
    check_array,
    check_consistent_length,
    check_option,
    check_positive_int,
    check_random_state,
    check_scalar,
    check_square,
    common_float_dtype,
)


@pytest.mark.parametrize(("dtype", "expected"), [
    (np.float64, np.float64), (np.float32, np.float32), (np.float16, np.float32),
    (np.int64, np.float64), (np.int8, np.float64), (np.bool_, np.float64),
])
def test_check_array_dtypes(dtype, expected):
    out = check_array(np.ones((2, 3), dtype=dtype), "X")
    assert out.dtype == expected
    assert out.flags.c_contiguous


@pytest.mark.parametrize("bad", [np.ones(3, complex), np.array(["a", "b"]),
                                 np.array([{}, {}], dtype=object)])
def test_check_array_rejects_non_real(bad):
    with pytest.raises(TypeError, match="X"):
        check_array(bad, "X")


def test_check_array_makes_contiguous_copies_only_when_needed():
    a = np.arange(24.0).reshape(4, 6)
    assert check_array(a, "a") is a
    strided = a[:, ::2]
    out = check_array(strided, "a")
    assert out.flags.c_contiguous and np.array_equal(out, strided)
    fortran = np.asfortranarray(a)
    assert check_array(fortran, "a").flags.c_contiguous
    assert check_array(a, "a", copy=True) is not a
    assert check_array(strided, "a", order=None) is strided


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_check_array_rejects_non_finite(value):
    a = np.zeros((3, 3))
    a[1, 2] = value
    with pytest.raises(ValueError, match="A contains NaN or infinity"):
        check_array(a, "A")
    assert check_array(a, "A", finite=False) is a


def test_all_finite_survives_overflowing_sum():
    big = np.full(10, np.finfo(np.float32).max, dtype=np.float32)
    assert all_finite(big)
    assert not all_finite(np.array([1.0, np.nan]))
    assert all_finite(np.array([], dtype=float))


def test_check_array_ndim_and_empty():
    with pytest.raises(ValueError, match=r"X must be 2-D, got 1-D array of shape \(3,\)"):
        check_array([1, 2, 3], "X", ndim=2)
    with pytest.raises(ValueError, match="1-D or 2-D"):
        check_array(np.zeros((1, 1, 1)), "B", ndim=(1, 2))
    with pytest.raises(ValueError, match="must not be empty"):
        check_array(np.zeros((0, 3)), "X", allow_empty=False)
    assert check_array(np.zeros((0, 3)), "X").shape == (0, 3)
    with pytest.raises(TypeError, match="None"):
        check_array(None, "X")


def test_check_array_rejects_sparse():
    sparse = pytest.importorskip("scipy.sparse")
    with pytest.raises(TypeError, match="sparse"):
        check_array(sparse.eye(3, format="csr"), "X")


def test_check_square():
    with pytest.raises(ValueError, match=r"A must be a square matrix, got shape \(2, 3\)"):
        check_square(np.zeros((2, 3)), "A")


def test_scalars():
    assert check_positive_int(np.int64(3), "k") == 3
    with pytest.raises(ValueError, match="k == 0, must be >= 1"):
        check_positive_int(0, "k")
    with pytest.raises(TypeError, match="k must be an instance of int, not float"):
        check_positive_int(2.0, "k")
    with pytest.raises(TypeError, match="not bool"):
        check_positive_int(True, "k")
    with pytest.raises(ValueError, match="alpha == 0.0, must be > 0"):
        check_scalar(0.0, "alpha", float, min_val=0, include_boundaries="neither")
    with pytest.raises(ValueError, match="NaN"):
        check_scalar(float("nan"), "alpha", float)
    with pytest.raises(ValueError, match="method must be one of 'a', 'b'"):
        check_option("c", "method", ("a", "b"))


def test_lengths_dtype_and_random_state():
    with pytest.raises(ValueError, match="X has 3, y has 2"):
        check_consistent_length(("X", np.zeros(3)), ("y", np.zeros(2)))
    assert common_float_dtype(np.zeros(1, np.float32), np.zeros(1, np.float32)) == np.float32
    assert common_float_dtype(np.zeros(1, np.float32), np.zeros(1)) == np.float64
    a = check_random_state(0).random(3)
    assert np.array_equal(a, check_random_state(0).random(3))
    g = np.random.default_rng(1)
    assert check_random_state(g) is g
    with pytest.raises(TypeError, match="random_state"):
        check_random_state("seed")


def test_shape_and_length_helpers():
    from fastml._validation import check_min_length, check_ndim, check_same_shape, check_shape

    a = np.zeros((2, 3, 4))
    assert check_shape(a, "s", ("chains", "draws", ...)) is a
    assert check_shape(a[:, :, 0], "s", ("chains", 3, ...)) is not None
    with pytest.raises(ValueError, match=r"samples must have shape \(chains, draws, ...\), "
                                         r"got \(5,\)"):
        check_shape(np.zeros(5), "samples", ("chains", "draws", ...))
    with pytest.raises(ValueError, match=r"w should have shape \(3,\) for k, got \(2,\)"):
        check_shape(np.zeros(2), "w", (3,), " for k", verb="should")
    with pytest.raises(ValueError, match=r"a and b must have the same shape, got \(2,\) and "
                                         r"\(3,\)"):
        check_same_shape(np.zeros(2), "a", np.zeros(3), "b")
    with pytest.raises(ValueError, match=r"counts must have at least 2 categories \(axis 1\), "
                                         "got 1"):
        check_min_length(np.zeros((4, 1)), "counts", 2, "categories", axis=1)
    with pytest.raises(ValueError, match="sizes must have at least 2 sizes, got 1"):
        check_min_length((3,), "sizes", 2, "sizes")
    with pytest.raises(ValueError, match=r"X must be 2-D, got 1-D array of shape \(3,\)"):
        check_ndim(np.zeros(3), "X", 2)


def test_value_helpers():
    from fastml._validation import check_bounds, check_counts

    assert check_bounds(np.array([]), "x", low=0, closed="neither").size == 0
    with pytest.raises(ValueError, match="x must be positive, got a minimum of 0.0"):
        check_bounds(np.array([0.0, 1.0]), "x", low=0, closed="neither")
    with pytest.raises(ValueError, match="x must be non-negative, got a minimum of -1.0"):
        check_bounds(np.array([-1.0, 1.0]), "x", low=0)
    with pytest.raises(ValueError, match=r"x must be in \[0, 1\] for p, got values in "
                                         r"\[0.5, 2.0\]"):
        check_bounds(np.array([0.5, 2.0]), "x", low=0, high=1, detail=" for p")
    with pytest.raises(ValueError, match="x must be < 1"):
        check_bounds(np.array([np.nan]), "x", high=1, closed="neither")
    assert check_counts([0, 2, 3], "k").dtype == np.float64
    for bad in ([1.5], [-1]):
        with pytest.raises(ValueError, match="k must hold non-negative integer counts"):
            check_counts(bad, "k")


def test_type_helpers_and_instance_constraint():
    from fastml._validation import (
        InstanceOf,
        check_callable,
        check_collection,
        check_params,
        float_dtype_of,
    )

    assert check_callable(None, "f", allow_none=True) is None
    with pytest.raises(TypeError, match="f must be callable or None, got int"):
        check_callable(1, "f", allow_none=True)
    with pytest.raises(TypeError, match="tokens must be a list of str, got str"):
        check_collection("ab", "tokens", "a list of str")
    assert check_collection({"a": 1}, "tokens", "a list of str") == {"a": 1}
    with pytest.raises(TypeError, match="k must be a dict or None, got list"):
        check_params({"k": []}, {"k": [None, InstanceOf(dict, "a dict or None")]})
    assert float_dtype_of(np.zeros(1, np.int8), "X") == np.float64
    with pytest.raises(TypeError, match="X must be real"):
        float_dtype_of(np.zeros(1, complex), "X")


def test_estimator_helpers():
    from fastml._validation import check_n_features, check_samples_array, check_y_given

    class Est:
        pass

    with pytest.raises(ValueError, match="Est requires y to be passed"):
        check_y_given(None, Est())
    with pytest.raises(ValueError, match="X has 2 features, but Est is expecting 3 features"):
        check_n_features(2, Est(), 3)
    with pytest.raises(ValueError, match=r"Reshape your data with X.reshape\(-1, 1\)"):
        check_samples_array(np.zeros(3))
    with pytest.raises(ValueError, match="minimum of 2 is required"):
        check_samples_array(np.zeros((1, 2)), ensure_min_samples=2)
    assert check_samples_array(np.array([[1, 2]], dtype=object)).dtype == np.float64


def test_log_density_start():
    from fastml._validation import check_log_density_start

    x = np.zeros(2)
    value, g = check_log_density_start(lambda x: -x @ x, lambda x: -2 * x, (x,), False)
    assert value == 0.0 and g.shape == (2,)
    assert check_log_density_start(lambda x: 1.0, None, (x,), False) == (1.0, None)
    with pytest.raises(ValueError, match=r"logp\(x0\) is not finite \(-inf\) for chain 1"):
        check_log_density_start(lambda x: -np.inf, None, (x,), False, where=" for chain 1")
    with pytest.raises(ValueError, match=r"grad\(x0\) must return shape \(2,\)"):
        check_log_density_start(lambda x: 0.0, lambda x: np.zeros(3), (x,), False)
    with pytest.raises(ValueError, match=r"differs from logp\(x0\)"):
        check_log_density_start(lambda x: 0.0, lambda x: (1.0, x), (x,), True, same_value=True)
    with pytest.raises(ValueError, match="must return"):
        check_log_density_start(lambda x: 0.0, lambda x: x, (x,), True)
