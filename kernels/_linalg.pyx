"""Cholesky family: factorisation, triangular solves, rank-one update and downdate.

Every routine works in place on C-contiguous float32/float64 arrays that the caller
(``fastml.linalg``) has validated and copied as needed.
"""

from cython cimport floating
from libc.math cimport sqrt, isfinite
from libc.stdlib cimport malloc, free

from kernels._blas cimport potrf_rm, trsm_rm

# Rank-one update tiling: UPDATE_BLOCK rows are rotated together (independent dependency
# chains that hide floating-point latency and fill SIMD lanes), TILE_K columns at a time.
cdef enum:
    UPDATE_BLOCK = 16
    TILE_K = 8


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


cdef inline void _rotate(floating *l, Py_ssize_t rs, Py_ssize_t cs, Py_ssize_t i0,
                         Py_ssize_t i1, Py_ssize_t k0, Py_ssize_t k1, floating *x,
                         const floating *c, const floating *c_inv, const floating *s,
                         floating sign) noexcept nogil:
    """Apply the rotations of columns k0..k1-1 to rows i0..i1-1 (generic strides)."""
    cdef Py_ssize_t i, k
    cdef floating lik, xi
    for k in range(k0, k1):
        for i in range(i0, i1):
            xi = x[i]
            lik = (l[i * rs + k * cs] + sign * s[k] * xi) * c_inv[k]
            l[i * rs + k * cs] = lik
            x[i] = c[k] * xi - s[k] * lik


cdef Py_ssize_t _rank_one(floating *l, Py_ssize_t n, Py_ssize_t rs, Py_ssize_t cs,
                          floating *x, floating *c, floating *c_inv, floating *s,
                          floating sign) noexcept nogil:
    """L L^T + sign x x^T = L' L'^T by Givens-like rotations, L[i, k] = l[i*rs + k*cs].

    Row-blocked: the rows of a block are independent given the rotations
    (c_k, s_k) of the earlier columns, each fixed when its row reached the diagonal.
    Full blocks are processed by UPDATE_BLOCK x TILE_K tiles copied (transposed) into a
    local array, so the rotation loop runs over contiguous rows and vectorises.
    Returns 0, or k + 1 when the updated leading minor of order k + 1 is not PD.
    """
    cdef Py_ssize_t block, i0, i1, i, k, kk, kt
    cdef floating lkk, r2, r, ck, ck_inv, sk, ssk, lik
    cdef floating xb[UPDATE_BLOCK]
    cdef floating tile[TILE_K][UPDATE_BLOCK]
    cdef floating *p
    for block in range((n + UPDATE_BLOCK - 1) // UPDATE_BLOCK):
        i0 = block * UPDATE_BLOCK
        i1 = min(i0 + UPDATE_BLOCK, n)
        if i1 - i0 == UPDATE_BLOCK:
            for i in range(UPDATE_BLOCK):
                xb[i] = x[i0 + i]
            for kt in range(0, i0 // TILE_K):  # i0 is a multiple of TILE_K
                for i in range(UPDATE_BLOCK):
                    p = l + (i0 + i) * rs + kt * TILE_K * cs
                    for kk in range(TILE_K):
                        tile[kk][i] = p[kk * cs]
                for kk in range(TILE_K):
                    k = kt * TILE_K + kk
                    ck = c[k]
                    ck_inv = c_inv[k]
                    sk = s[k]
                    ssk = sign * sk
                    for i in range(UPDATE_BLOCK):
                        lik = (tile[kk][i] + ssk * xb[i]) * ck_inv
                        tile[kk][i] = lik
                        xb[i] = ck * xb[i] - sk * lik
                for i in range(UPDATE_BLOCK):
                    p = l + (i0 + i) * rs + kt * TILE_K * cs
                    for kk in range(TILE_K):
                        p[kk * cs] = tile[kk][i]
            for i in range(UPDATE_BLOCK):
                x[i0 + i] = xb[i]
        else:
            _rotate(l, rs, cs, i0, i1, 0, i0, x, c, c_inv, s, sign)
        for k in range(i0, i1):
            lkk = l[k * rs + k * cs]
            r2 = lkk * lkk + sign * x[k] * x[k]
            if not (r2 > 0 and isfinite(r2)):
                return k + 1
            r = sqrt(r2)
            c[k] = r / lkk
            c_inv[k] = lkk / r
            s[k] = x[k] / lkk
            l[k * rs + k * cs] = r
            _rotate(l, rs, cs, k + 1, i1, k, k + 1, x, c, c_inv, s, sign)
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
