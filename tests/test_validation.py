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
