"""fastml.linalg against SciPy/NumPy and the textbook reference."""

import numpy as np
import pytest
import scipy.linalg
from hypothesis import given
from hypothesis import strategies as st

import fastml
from fastml import linalg
from fastml.reference import linalg as reference

DTYPES = [np.float64, np.float32]
TOL = {np.float64: 1e-10, np.float32: 2e-4}


def spd(n, seed=0, dtype=np.float64, cond=None):
    rng = np.random.default_rng(seed)
    if cond is None:
        x = rng.standard_normal((n, n + 2))
        return (x @ x.T / (n + 2) + 0.5 * np.eye(n)).astype(dtype)
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    eig = np.logspace(0, -np.log10(cond), n)
    return ((q * eig) @ q.T).astype(dtype)


def assert_close(actual, desired, dtype, scale=1.0):
    np.testing.assert_allclose(actual, desired, rtol=TOL[dtype], atol=TOL[dtype] * scale)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("lower", [True, False])
@pytest.mark.parametrize("n", [0, 1, 2, 7, 16, 33, 100])
def test_cholesky_matches_scipy_and_reference(n, lower, dtype):
    A = spd(n, n, dtype)
    L = linalg.cholesky(A, lower=lower)
    assert L.dtype == dtype and L.shape == (n, n)
    if n == 0:
        return
    assert_close(L, scipy.linalg.cholesky(A, lower=lower), dtype)
    assert_close(L, reference.cholesky(A, lower=lower), dtype)
    other = np.triu(L, 1) if lower else np.tril(L, -1)
    assert not other.any(), "the other triangle must be zero"


@pytest.mark.parametrize("layout", ["fortran", "strided", "int"])
def test_cholesky_accepts_any_layout(layout):
    A = spd(12, 1)
    expected = scipy.linalg.cholesky(A, lower=True)
    if layout == "fortran":
        arg = np.asfortranarray(A)
    elif layout == "strided":
        big = np.zeros((24, 24))
        big[::2, ::2] = A
        arg = big[::2, ::2]
    else:
        arg = np.array([[4, 2], [2, 3]])
        expected = scipy.linalg.cholesky(arg.astype(float), lower=True)
    L = linalg.cholesky(arg)
    np.testing.assert_allclose(L, expected, rtol=1e-12)
    assert L.flags.c_contiguous


def test_cholesky_reads_one_triangle_and_keeps_input():
    A = spd(6, 2)
    junk = A.copy()
    junk[np.triu_indices(6, 1)] = 1e6
    np.testing.assert_allclose(linalg.cholesky(junk), scipy.linalg.cholesky(A, lower=True),
                               rtol=1e-12)
    saved = junk.copy()
    linalg.cholesky(junk)
    assert np.array_equal(junk, saved), "input must not be modified by default"


def test_cholesky_overwrite_reuses_memory():
    A = spd(5, 3)
    L = linalg.cholesky(A, overwrite_a=True)
    assert L is A


@given(n=st.integers(1, 40), seed=st.integers(0, 2**32 - 1),
       log_cond=st.floats(0, 12), dtype=st.sampled_from(DTYPES))
def test_cholesky_hypothesis_spd(n, seed, log_cond, dtype):
    if dtype == np.float32:
        log_cond = min(log_cond, 4)
    A = spd(n, seed, np.float64, cond=10**log_cond)
    L = linalg.cholesky(A.astype(dtype))
    assert np.all(np.isfinite(L)) and np.all(np.diagonal(L) > 0)
    np.testing.assert_allclose(L.astype(float) @ L.T, A, rtol=0,
                               atol=50 * np.finfo(dtype).eps * np.abs(A).max() * n)


def test_not_positive_definite_names_pivot():
    A = np.diag([1.0, 2.0, -1.0, 4.0])
    with pytest.raises(fastml.NotPositiveDefiniteError, match="order 3") as info:
        linalg.cholesky(A)
    assert info.value.pivot == 2
    assert isinstance(info.value, np.linalg.LinAlgError)


@pytest.mark.parametrize("dtype", DTYPES)
def test_jitter_retries_and_reports(dtype):
    x = np.random.default_rng(0).standard_normal((30, 3))
    A = (x @ x.T).astype(dtype)  # rank 3: PSD, not PD
    with pytest.warns(fastml.JitterWarning, match="added"):
        L, added = linalg.cholesky(A, jitter="auto", return_jitter=True)
    assert added > 0
    np.testing.assert_allclose(L.astype(float) @ L.T, A + added * np.eye(30),
                               rtol=TOL[dtype], atol=TOL[dtype] * np.abs(A).max())
    _, none = linalg.cholesky(spd(4), jitter=1e-3, return_jitter=True)
    assert none == 0.0


def test_jitter_gives_up_on_indefinite_matrix():
    with pytest.raises(fastml.NotPositiveDefiniteError):
        linalg.cholesky(-np.eye(3), jitter=1e-12)
    with pytest.raises(ValueError, match="jitter"):
        linalg.cholesky(np.eye(2), jitter=-1.0)


@pytest.mark.parametrize("bad", [np.array([[1.0, np.nan], [np.nan, 1.0]]),
                                 np.array([[np.inf, 0.0], [0.0, 1.0]])])
def test_non_finite_input_rejected(bad):
    with pytest.raises(ValueError, match="NaN or infinity"):
        linalg.cholesky(bad)


@pytest.mark.parametrize("shape", [(2, 3), (3,), (2, 2, 2)])
def test_non_square_rejected(shape):
    with pytest.raises(ValueError, match="A must be"):
        linalg.cholesky(np.ones(shape))


def test_complex_rejected():
    with pytest.raises(TypeError, match="complex"):
        linalg.cholesky(np.eye(2, dtype=complex))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("lower", [True, False])
@pytest.mark.parametrize("trans", [False, True])
@pytest.mark.parametrize("rhs", [(9,), (9, 1), (9, 5)])
def test_solve_triangular(dtype, lower, trans, rhs):
    rng = np.random.default_rng(4)
    L = linalg.cholesky(spd(9, 4, dtype), lower=lower)
    B = rng.standard_normal(rhs).astype(dtype)
    X = linalg.solve_triangular(L, B, lower=lower, trans=trans)
    assert X.shape == B.shape and X.dtype == dtype
    expected = scipy.linalg.solve_triangular(L.astype(float), B.astype(float), lower=lower,
                                             trans=int(trans))
    assert_close(X, expected, dtype, scale=10)
    assert_close(X, reference.solve_triangular(L, B, lower=lower, trans=trans), dtype, 10)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("lower", [True, False])
def test_cho_solve_and_logdet(dtype, lower):
    A = spd(11, 5, dtype)
    B = np.random.default_rng(5).standard_normal((11, 3)).astype(dtype)
    C = linalg.cholesky(A, lower=lower)
    X = linalg.cho_solve(C, B, lower=lower)
    assert_close(X, np.linalg.solve(A.astype(float), B.astype(float)), dtype, scale=10)
    assert_close(X, reference.cho_solve(C, B, lower=lower), dtype, scale=10)
    np.testing.assert_allclose(linalg.logdet_chol(C), np.linalg.slogdet(A.astype(float))[1],
                               rtol=TOL[dtype] * 10)


def test_solve_mixed_dtypes_and_errors():
    L = linalg.cholesky(spd(4, 6, np.float32))
    assert linalg.solve_triangular(L, np.ones(4)).dtype == np.float64
    assert linalg.solve_triangular(L, np.ones(4, np.float32)).dtype == np.float32
    with pytest.raises(ValueError, match="B must have 4 rows"):
        linalg.cho_solve(L, np.ones(5))
    with pytest.raises(np.linalg.LinAlgError, match="singular"):
        linalg.solve_triangular(np.diag([1.0, 0.0]), np.ones(2))
    with pytest.raises(ValueError, match="NaN"):
        linalg.cho_solve(L, np.full(4, np.nan))
    assert linalg.cho_solve(np.zeros((0, 0)), np.zeros((0, 2))).shape == (0, 2)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("lower", [True, False])
@pytest.mark.parametrize("n", [1, 2, 15, 16, 17, 40])
def test_update_and_downdate(n, lower, dtype):
    A = spd(n, n + 10, np.float64)
    x = np.random.default_rng(n).standard_normal(n)
    L = linalg.cholesky(A.astype(dtype), lower=lower)
    U = linalg.chol_update(L, x.astype(dtype), lower=lower)
    assert U.dtype == dtype
    assert_close(U, scipy.linalg.cholesky(A + np.outer(x, x), lower=lower), dtype, 10)
    assert_close(U, reference.chol_update(L, x, lower=lower), dtype, 10)
    D = linalg.chol_downdate(U, x.astype(dtype), lower=lower)
    assert_close(D, L, dtype, 10)
    assert_close(D, reference.chol_downdate(U, x, lower=lower), dtype, 10)


def test_update_in_place():
    L = linalg.cholesky(spd(20, 7))
    x = np.ones(20)
    expected = linalg.chol_update(L, x)
    out = linalg.chol_update(L, x, overwrite=True)
    assert out is L
    np.testing.assert_allclose(L, expected, rtol=1e-12)
    with pytest.raises(ValueError, match="overwrite"):
        linalg.chol_update(np.asfortranarray(L), x, overwrite=True)


def test_downdate_that_loses_definiteness_raises():
    L = linalg.cholesky(np.eye(3))
    with pytest.raises(fastml.NotPositiveDefiniteError) as info:
        linalg.chol_downdate(L, np.array([0.0, 2.0, 0.0]))
    assert info.value.pivot == 1


@given(n=st.integers(1, 30), seed=st.integers(0, 2**32 - 1), scale=st.floats(1e-3, 10))
def test_update_hypothesis(n, seed, scale):
    A = spd(n, seed)
    x = scale * np.random.default_rng(seed).standard_normal(n)
    U = linalg.chol_update(linalg.cholesky(A), x)
    np.testing.assert_allclose(U @ U.T, A + np.outer(x, x), rtol=1e-10,
                               atol=1e-10 * (1 + scale**2))


def test_update_argument_errors():
    L = linalg.cholesky(spd(3))
    with pytest.raises(ValueError, match="x must have length 3"):
        linalg.chol_update(L, np.ones(4))
    with pytest.raises(ValueError, match="positive diagonal"):
        linalg.chol_update(np.zeros((2, 2)), np.ones(2))
    with pytest.raises(ValueError, match="NaN"):
        linalg.chol_update(L, np.array([1.0, np.nan, 0.0]))
