"""Cholesky family: factorisation, triangular solves, rank-one update and downdate.

Every routine works in place on C-contiguous float32/float64 arrays that the caller
(``fastml.linalg``) has validated and copied as needed.
"""

from cython cimport floating
from libc.math cimport sqrt, isfinite
from libc.stdlib cimport malloc, free

from kernels._blas cimport potrf_rm, trsm_rm

# Rows processed together by the rank-one update: enough independent dependency
# chains to hide floating-point latency, few enough to stay in registers / L1.
cdef enum:
    UPDATE_BLOCK = 16


def cholesky_inplace(floating[:, ::1] a, bint lower):
    """Overwrite ``a`` with its Cholesky factor and zero the other triangle.

    Returns LAPACK's info: 0 on success, k > 0 when the leading minor of order k is
    not positive definite (then ``a`` is partly overwritten).
    """
    cdef int n = a.shape[0], info
    cdef Py_ssize_t i, j
    if n == 0:
        return 0
    with nogil:
        info = potrf_rm(lower, n, &a[0, 0], n)
        if info == 0:
            for i in range(n):
                if lower:
                    for j in range(i + 1, n):
                        a[i, j] = 0
                else:
                    for j in range(i):
                        a[i, j] = 0
    return info


def solve_triangular_inplace(const floating[:, ::1] t, floating[:, ::1] b,
                             bint lower, bint trans):
    """Overwrite ``b`` (n x k) with op(T)^-1 b, T triangular (n x n), op = T or T^T."""
    cdef int n = t.shape[0], k = b.shape[1]
    if n == 0 or k == 0:
        return
    with nogil:
        trsm_rm(True, lower, trans, False, n, k, 1, &t[0, 0], n, &b[0, 0], k)


def cho_solve_inplace(const floating[:, ::1] c, floating[:, ::1] b, bint lower):
    """Overwrite ``b`` with A^-1 b where A = C C^T (lower) or C^T C (upper)."""
    cdef int n = c.shape[0], k = b.shape[1]
    if n == 0 or k == 0:
        return
    with nogil:
        # lower: solve L y = b, then L^T x = y.  upper: U^T y = b, then U x = y.
        trsm_rm(True, lower, not lower, False, n, k, 1, &c[0, 0], n, &b[0, 0], k)
        trsm_rm(True, lower, lower, False, n, k, 1, &c[0, 0], n, &b[0, 0], k)


cdef Py_ssize_t _rank_one(floating *l, Py_ssize_t n, Py_ssize_t rs, Py_ssize_t cs,
                          floating *x, floating *c, floating *c_inv, floating *s,
                          floating sign) noexcept nogil:
    """L L^T + sign x x^T = L' L'^T by Givens-like rotations, L[i, k] = l[i*rs + k*cs].

    Row-oriented so that a lower factor in C order is read along rows: row i needs the
    rotation (c_k, s_k) of every earlier column k, fixed when row k reached its diagonal.
    Rows of a block are independent chains (x_i is rotated column by column).
    Returns 0, or k + 1 when the updated leading minor of order k + 1 is not PD.
    """
    cdef Py_ssize_t block, i0, i1, i, k
    cdef floating lik, lkk, r2, r, ck, ck_inv, sk, xi
    cdef floating xb[UPDATE_BLOCK]
    cdef floating *row[UPDATE_BLOCK]
    for block in range((n + UPDATE_BLOCK - 1) // UPDATE_BLOCK):
        i0 = block * UPDATE_BLOCK
        i1 = min(i0 + UPDATE_BLOCK, n)
        if i1 - i0 == UPDATE_BLOCK:
            # Full block: fixed trip count, x and the row pointers live in registers.
            for i in range(UPDATE_BLOCK):
                xb[i] = x[i0 + i]
                row[i] = l + (i0 + i) * rs
            for k in range(i0):
                ck = c[k]
                ck_inv = c_inv[k]
                sk = s[k]
                for i in range(UPDATE_BLOCK):
                    lik = (row[i][k * cs] + sign * sk * xb[i]) * ck_inv
                    row[i][k * cs] = lik
                    xb[i] = ck * xb[i] - sk * lik
            for i in range(UPDATE_BLOCK):
                x[i0 + i] = xb[i]
        else:
            for k in range(i0):
                ck = c[k]
                ck_inv = c_inv[k]
                sk = s[k]
                for i in range(i0, i1):
                    xi = x[i]
                    lik = (l[i * rs + k * cs] + sign * sk * xi) * ck_inv
                    l[i * rs + k * cs] = lik
                    x[i] = ck * xi - sk * lik
        for k in range(i0, i1):
            lkk = l[k * rs + k * cs]
            r2 = lkk * lkk + sign * x[k] * x[k]
            if not (r2 > 0 and isfinite(r2)):
                return k + 1
            r = sqrt(r2)
            ck = r / lkk
            ck_inv = lkk / r
            sk = x[k] / lkk
            c[k] = ck
            c_inv[k] = ck_inv
            s[k] = sk
            l[k * rs + k * cs] = r
            for i in range(k + 1, i1):
                xi = x[i]
                lik = (l[i * rs + k * cs] + sign * sk * xi) * ck_inv
                l[i * rs + k * cs] = lik
                x[i] = ck * xi - sk * lik
    return 0


def chol_rank_one_inplace(floating[:, ::1] factor, floating[::1] x, bint lower,
                          bint downdate):
    """Update (or downdate) the Cholesky factor in place by x x^T; ``x`` is overwritten.

    Returns 0, or k > 0 when the downdated leading minor of order k is not positive
    definite (``factor`` is then partly overwritten).
    """
    cdef Py_ssize_t n = factor.shape[0], info
    cdef floating *work
    if n == 0:
        return 0
    work = <floating *> malloc(3 * n * sizeof(floating))
    if work == NULL:
        raise MemoryError()
    with nogil:
        # An upper factor U = L^T in C order is L read with swapped strides.
        info = _rank_one(&factor[0, 0], n, n if lower else 1, 1 if lower else n,
                         &x[0], work, work + n, work + 2 * n,
                         -1 if downdate else 1)
    free(work)
    return info
