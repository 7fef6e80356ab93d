# Fused float/double BLAS and LAPACK wrappers shared by every kernel.
#
# All calls go through scipy.linalg.cython_blas / cython_lapack, so fastml links against
# the BLAS that SciPy ships. Two layers:
#
# * ``xgemm``, ``xtrsm``, ... : the Fortran (column-major) routines, fused over floating.
# * ``gemm_rm``, ``trsm_rm``, ...: the same for C-contiguous (row-major) arrays. A row-major
#   matrix is the column-major view of its transpose, so C = op(A) op(B) becomes
#   C^T = op(B)^T op(A)^T: swap the operands and the sizes, keep the trans flags.
#
# Everything here is ``cdef inline ... nogil`` so kernels can call it inside prange.
# A kernel that calls BLAS inside prange must run with BLAS pinned to one thread
# (fastml._threads.blas_single_threaded) to avoid oversubscription.

from cython cimport floating
cimport scipy.linalg.cython_blas as blas
cimport scipy.linalg.cython_lapack as lapack


# ---------------------------------------------------------------- level 1
cdef inline floating xdot(int n, const floating *x, int incx,
                          const floating *y, int incy) noexcept nogil:
    if floating is float:
        return blas.sdot(&n, <float *> x, &incx, <float *> y, &incy)
    else:
        return blas.ddot(&n, <double *> x, &incx, <double *> y, &incy)


cdef inline void xaxpy(int n, floating alpha, const floating *x, int incx,
                       floating *y, int incy) noexcept nogil:
    """y += alpha * x"""
    if floating is float:
        blas.saxpy(&n, &alpha, <float *> x, &incx, y, &incy)
    else:
        blas.daxpy(&n, &alpha, <double *> x, &incx, y, &incy)


cdef inline void xscal(int n, floating alpha, floating *x, int incx) noexcept nogil:
    if floating is float:
        blas.sscal(&n, &alpha, x, &incx)
    else:
        blas.dscal(&n, &alpha, x, &incx)


# ---------------------------------------------------------------- level 2 / 3, row-major
cdef inline void gemv_rm(bint trans, int m, int n, floating alpha, const floating *a,
                         int lda, const floating *x, int incx, floating beta,
                         floating *y, int incy) noexcept nogil:
    """y = alpha * op(A) x + beta * y for a row-major m x n matrix A (op = A or A^T)."""
    cdef char ta = b'N' if trans else b'T'
    if floating is float:
        blas.sgemv(&ta, &n, &m, &alpha, <float *> a, &lda, <float *> x, &incx,
                   &beta, y, &incy)
    else:
        blas.dgemv(&ta, &n, &m, &alpha, <double *> a, &lda, <double *> x, &incx,
                   &beta, y, &incy)


cdef inline void gemm_rm(bint trans_a, bint trans_b, int m, int n, int k,
                         floating alpha, const floating *a, int lda,
                         const floating *b, int ldb, floating beta,
                         floating *c, int ldc) noexcept nogil:
    """C = alpha * op(A) op(B) + beta * C, all row-major; C is m x n, inner size k."""
    cdef char ta = b'T' if trans_a else b'N'
    cdef char tb = b'T' if trans_b else b'N'
    if floating is float:
        blas.sgemm(&tb, &ta, &n, &m, &k, &alpha, <float *> b, &ldb, <float *> a, &lda,
                   &beta, c, &ldc)
    else:
        blas.dgemm(&tb, &ta, &n, &m, &k, &alpha, <double *> b, &ldb, <double *> a, &lda,
                   &beta, c, &ldc)


cdef inline void syrk_rm(bint lower, bint trans, int n, int k, floating alpha,
                         const floating *a, int lda, floating beta,
                         floating *c, int ldc) noexcept nogil:
    """C = alpha * op(A) op(A)^T + beta * C (row-major), updating only one triangle of C.

    op(A) = A (n x k) when ``trans`` is False, A^T (A is k x n) when True.
    """
    cdef char uplo = b'U' if lower else b'L'
    cdef char t = b'T' if not trans else b'N'
    if floating is float:
        blas.ssyrk(&uplo, &t, &n, &k, &alpha, <float *> a, &lda, &beta, c, &ldc)
    else:
        blas.dsyrk(&uplo, &t, &n, &k, &alpha, <double *> a, &lda, &beta, c, &ldc)


cdef inline void trsm_rm(bint left, bint lower, bint trans, bint unit_diag, int m, int n,
                         floating alpha, const floating *a, int lda,
                         floating *b, int ldb) noexcept nogil:
    """Solve op(A) X = alpha B (left) or X op(A) = alpha B (right) in place of B.

    B is a row-major m x n matrix, A a row-major triangular matrix (lower or upper).
    In column-major terms B^T is n x m, A^T has the other triangle, and the side flips.
    """
    cdef char side = b'R' if left else b'L'
    cdef char uplo = b'U' if lower else b'L'
    cdef char ta = b'T' if trans else b'N'
    cdef char diag = b'U' if unit_diag else b'N'
    if floating is float:
        blas.strsm(&side, &uplo, &ta, &diag, &n, &m, &alpha, <float *> a, &lda, b, &ldb)
    else:
        blas.dtrsm(&side, &uplo, &ta, &diag, &n, &m, &alpha, <double *> a, &lda, b, &ldb)


# ---------------------------------------------------------------- LAPACK, row-major
cdef inline int potrf_rm(bint lower, int n, floating *a, int lda) noexcept nogil:
    """Cholesky factor of a row-major SPD matrix in place; returns LAPACK's info.

    lower: A = L L^T with L in the lower triangle; else A = U^T U in the upper one.
    The other triangle is left untouched. info > 0: the leading minor of that order
    is not positive definite.
    """
    cdef char uplo = b'U' if lower else b'L'
    cdef int info = 0
    if floating is float:
        lapack.spotrf(&uplo, &n, a, &lda, &info)
    else:
        lapack.dpotrf(&uplo, &n, a, &lda, &info)
    return info


cdef inline int potri_rm(bint lower, int n, floating *a, int lda) noexcept nogil:
    """Overwrite a row-major Cholesky factor (from potrf_rm) with one triangle of A^-1."""
    cdef char uplo = b'U' if lower else b'L'
    cdef int info = 0
    if floating is float:
        lapack.spotri(&uplo, &n, a, &lda, &info)
    else:
        lapack.dpotri(&uplo, &n, a, &lda, &info)
    return info
