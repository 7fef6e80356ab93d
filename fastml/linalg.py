"""Cholesky factorisation and what is built on it.

For a symmetric positive definite (SPD) matrix A there is a unique lower-triangular L
with a positive diagonal such that A = L L^T (``lower=False``: A = U^T U, U = L^T).
With it, A x = b is two triangular solves (L y = b, L^T x = y) and
log det A = 2 sum_i log L_ii. A rank-one change A +/- x x^T updates L in O(n^2)
instead of refactorising in O(n^3).

All functions accept float32 or float64 (integers are upcast to float64) and return the
input's dtype. Only the triangle named by ``lower`` of A is read; A is not checked for
symmetry. NaN or infinity in the input raises ``ValueError``.
"""

import warnings

import numpy as np

from fastml import _kernels
from fastml._errors import JitterWarning, NotPositiveDefiniteError
from fastml._linalg_spectral import (  # eigen/SVD solvers (issue 27)
    eigh,
    eigsh,
    inverse_iteration,
    power_iteration,
    randomized_svd,
    svd,
    svds,
)
from fastml._validation import check_array, check_jitter, check_square, common_float_dtype

__all__ = ["cho_solve", "chol_downdate", "chol_update", "cholesky", "logdet_chol",
           "solve_triangular"]
# Unchecked cores for internal callers (loops inside fit): ready arrays, no validation.
__cores__ = ("_cho_solve", "_cholesky", "_logdet_chol", "_solve_triangular")
__all__ += ["eigh", "eigsh", "inverse_iteration", "power_iteration", "randomized_svd", "svd",
            "svds"]

_MAX_JITTER_TRIES = 6


def _not_pd(pivot, what="matrix"):
    return NotPositiveDefiniteError(
        f"{what} is not positive definite: the leading minor of order {pivot + 1} is not "
        f"positive (pivot {pivot})", pivot=pivot)


def cholesky(A, *, lower=True, jitter=None, return_jitter=False, overwrite_a=False):
    """Cholesky factor of a symmetric positive definite matrix.

    A = L L^T (``lower=True``) or A = U^T U; computed by LAPACK ``potrf``, O(n^3 / 3).

    Parameters
    ----------
    A : array_like, shape (n, n)
        SPD matrix; only the ``lower`` (or upper) triangle is read.
    lower : bool
        Return the lower factor L (default) or the upper factor U.
    jitter : None, "auto" or float
        None: a non-PD matrix raises :class:`fastml.NotPositiveDefiniteError`.
        Otherwise retry up to 6 times with ``j * I`` added to A, starting at ``j`` =
        the given float, or for "auto" at ``1e-10`` (float64) / ``1e-6`` (float32) times
        the mean diagonal, multiplying ``j`` by 10 each time. A :class:`fastml.JitterWarning`
        reports the jitter used; the error is raised if the last try fails too.
        Jitter is for a matrix that is positive definite in exact arithmetic but fails
        through rounding, or is only semidefinite (a covariance of fewer samples than
        dimensions): at most ``1e-5`` (float64; ``0.1`` in float32) of the mean diagonal. An
        indefinite matrix (an eigenvalue below minus that, e.g. ``A - I`` with eigenvalues
        down to -0.26) still raises: shifting it until it factors would answer for a
        different matrix.
        GPyTorch's ``psd_safe_cholesky`` likewise stops at an absolute ``1e-6``.
    return_jitter : bool
        Also return the jitter that was added (0.0 when none was needed).
    overwrite_a : bool
        Allow the factorisation to reuse A's memory when it is already a C-contiguous
        float array (A is destroyed).

    Returns
    -------
    L : ndarray, shape (n, n), same float dtype as A; the other triangle is zero.
    jitter : float, only when ``return_jitter``.
    """
    a = check_array(A, "A", ndim=2, copy=not overwrite_a)
    check_square(a, "A")
    check_jitter(jitter)
    L, added = _cholesky(a, lower, jitter)
    return (L, added) if return_jitter else L


def _cholesky(a, lower=True, jitter=None):
    """Core of :func:`cholesky`: ``a`` is a C-contiguous float square array it may destroy.

    Returns (L, jitter added); no checks (callers inside loops call this).
    """
    kernels = _kernels.load("_linalg")
    original = a.copy() if jitter is not None else None
    info = kernels.cholesky_inplace(a, lower)
    added = 0.0
    if info != 0 and jitter is not None:
        diag_mean = float(np.mean(np.abs(np.diagonal(original)))) or 1.0
        if jitter == "auto":
            added = (1e-6 if a.dtype == np.float32 else 1e-10) * diag_mean
        else:
            added = float(jitter)
        for _ in range(_MAX_JITTER_TRIES):
            np.copyto(a, original)
            a.flat[:: a.shape[0] + 1] += added
            info = kernels.cholesky_inplace(a, lower)
            if info == 0:
                warnings.warn(f"matrix was not positive definite; added {added:.3g} to the "
                              "diagonal", JitterWarning, stacklevel=3)
                break
            added *= 10
    if info != 0:
        raise _not_pd(info - 1)
    return a, added


def _check_factor(L, name="L"):
    t = check_array(L, name, ndim=2)
    check_square(t, name)
    return t


def _factor_and_rhs(L, B):
    """Validated (factor, right-hand side copy) in their common float dtype."""
    t = _check_factor(L)
    b = check_array(B, "B", ndim=(1, 2))
    n = t.shape[0]
    if b.shape[0] != n:
        raise ValueError(f"B must have {n} rows to match L of shape {t.shape}, "
                         f"got shape {b.shape}")
    dtype = common_float_dtype(t, b)
    zero = np.flatnonzero(np.diagonal(t) == 0)
    if zero.size:
        raise np.linalg.LinAlgError(f"singular matrix: L[{zero[0]}, {zero[0]}] is zero")
    return t.astype(dtype, copy=False), np.array(b, dtype=dtype, order="C", copy=True)


def _as_2d(x):
    """A (n, k) view of a right-hand side of shape (n,) or (n, k)."""
    return x[:, None] if x.ndim == 1 else x


def solve_triangular(L, B, *, lower=True, trans=False):
    """Solve op(L) X = B for triangular L by substitution (BLAS ``trsm``), O(n^2 k).

    op(L) = L, or L^T when ``trans``. Only the ``lower`` (or upper) triangle of L is
    read. B has shape (n,) or (n, k); X has B's shape and the common float dtype.
    A zero on the diagonal raises ``numpy.linalg.LinAlgError`` (singular matrix).
    """
    t, x = _factor_and_rhs(L, B)
    return _solve_triangular(t, x, lower, trans)


def _solve_triangular(t, x, lower=True, trans=False):
    """Core of :func:`solve_triangular`: overwrites and returns ``x`` (C-contiguous, (n,)
    or (n, k), ``t``'s float dtype) with op(t)^-1 x; no checks."""
    _kernels.load("_linalg").solve_triangular_inplace(t, _as_2d(x), lower, trans)
    return x


def cho_solve(L, B, *, lower=True):
    """Solve A X = B given the Cholesky factor of A (A = L L^T, or U^T U if not ``lower``).

    Two triangular solves, O(n^2 k). B has shape (n,) or (n, k).
    """
    t, x = _factor_and_rhs(L, B)
    return _cho_solve(t, x, lower)


def _cho_solve(t, x, lower=True):
    """Core of :func:`cho_solve`: overwrites and returns ``x`` with A^-1 x, A = t t^T."""
    _kernels.load("_linalg").cho_solve_inplace(t, _as_2d(x), lower)
    return x


def logdet_chol(L):
    """log det A = 2 sum_i log L_ii from a Cholesky factor L of A."""
    return _logdet_chol(_check_factor(L))


def _logdet_chol(t):
    """Core of :func:`logdet_chol`."""
    return float(2.0 * np.sum(np.log(np.diagonal(t))))


def _rank_one(L, x, lower, overwrite, downdate):
    t = check_array(L, "L", ndim=2, copy=not overwrite)
    check_square(t, "L")
    if overwrite and t is not L:
        raise ValueError("overwrite=True needs L to be a C-contiguous float32/float64 array")
    v = check_array(x, "x", ndim=1, dtype=t.dtype, copy=True)
    if v.shape[0] != t.shape[0]:
        raise ValueError(f"x must have length {t.shape[0]} to match L, got shape {v.shape}")
    if np.any(np.diagonal(t) <= 0):
        raise ValueError("L must be a Cholesky factor with a positive diagonal")
    info = _kernels.load("_linalg").chol_rank_one_inplace(t, v, lower, downdate)
    if info != 0:
        raise _not_pd(info - 1, "downdated matrix L L^T - x x^T")
    return t


def chol_update(L, x, *, lower=True, overwrite=False):
    """Cholesky factor of A + x x^T from the factor L of A, in O(n^2).

    For k = 0..n-1 a rotation with r = sqrt(L_kk^2 + x_k^2), c = r / L_kk,
    s = x_k / L_kk sets L_kk = r, L_ik = (L_ik + s x_i) / c and x_i = c x_i - s L_ik for
    i > k. ``overwrite=True`` updates L in place (it must then be C-contiguous float).
    """
    return _rank_one(L, x, lower, overwrite, downdate=False)


def chol_downdate(L, x, *, lower=True, overwrite=False):
    """Cholesky factor of A - x x^T from the factor L of A, in O(n^2).

    Same rotations as :func:`chol_update` with r = sqrt(L_kk^2 - x_k^2) and
    L_ik = (L_ik - s x_i) / c. Raises :class:`fastml.NotPositiveDefiniteError` when
    A - x x^T is not positive definite (with ``overwrite=True``, L is then left partly
    updated).
    """
    return _rank_one(L, x, lower, overwrite, downdate=True)
