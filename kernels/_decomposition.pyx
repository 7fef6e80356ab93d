"""Pairwise kernel matrices and kernel centring for kernel PCA.

``pairwise_kernel`` computes the Gram block X Y^T with one GEMM per block of ``BLOCK``
rows of X (inside ``prange``; the caller pins BLAS to one thread) and applies the
kernel function to the block while it is still in cache, so the n x m matrix is
written once. ``center_kernel`` applies the double centring in one pass.
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport exp, tanh, pow, sqrt

from kernels._blas cimport gemm_rm

cdef enum:
    BLOCK = 64

# kernel codes (must match fastml.decomposition._KERNEL_CODES)
cdef enum:
    LINEAR = 0
    POLY = 1
    RBF = 2
    SIGMOID = 3
    COSINE = 4


def pairwise_kernel(const floating[:, ::1] X, const floating[:, ::1] Y,
                    const floating[::1] x_sq_norms, const floating[::1] y_sq_norms,
                    int kind, double gamma, double coef0, double degree,
                    floating[:, ::1] out, int n_threads):
    """out[i, j] = k(x_i, y_j) for one of the kernels

    linear  <x, y>
    poly    (gamma <x, y> + coef0)^degree
    rbf     exp(-gamma ||x - y||^2),  ||x - y||^2 = ||x||^2 - 2 <x, y> + ||y||^2 (>= 0)
    sigmoid tanh(gamma <x, y> + coef0)
    cosine  <x, y> / (||x|| ||y||)   (0 when a norm is 0)

    ``x_sq_norms`` / ``y_sq_norms`` hold squared row norms (read for rbf and cosine).
    """
    cdef Py_ssize_t n = X.shape[0], m = Y.shape[0], d = X.shape[1]
    cdef Py_ssize_t n_blocks = (n + BLOCK - 1) // BLOCK
    cdef Py_ssize_t b, i, j, i0, rows
    cdef floating v, nx, ny
    if n == 0 or m == 0:
        return
    with nogil:
        for b in prange(n_blocks, num_threads=n_threads, schedule="static"):
            i0 = b * BLOCK
            rows = min(BLOCK, n - i0)
            if d > 0:
                gemm_rm(False, True, <int> rows, <int> m, <int> d, 1.0, &X[i0, 0], <int> d,
                        &Y[0, 0], <int> d, 0.0, &out[i0, 0], <int> m)
            else:
                for i in range(i0, i0 + rows):
                    for j in range(m):
                        out[i, j] = 0
            for i in range(i0, i0 + rows):
                if kind == POLY:
                    for j in range(m):
                        out[i, j] = pow(gamma * out[i, j] + coef0, degree)
                elif kind == RBF:
                    nx = x_sq_norms[i]
                    for j in range(m):
                        v = nx - 2 * out[i, j] + y_sq_norms[j]
                        out[i, j] = exp(-gamma * (v if v > 0 else 0))
                elif kind == SIGMOID:
                    for j in range(m):
                        out[i, j] = tanh(gamma * out[i, j] + coef0)
                elif kind == COSINE:
                    nx = sqrt(x_sq_norms[i])
                    for j in range(m):
                        ny = nx * sqrt(y_sq_norms[j])
                        out[i, j] = out[i, j] / ny if ny > 0 else 0


def center_kernel(floating[:, ::1] K, const floating[::1] fit_col_means,
                  double fit_all_mean, int n_threads):
    """K_ij <- K_ij - colmean_j - rowmean_i + allmean, in place (one read, one write).

    ``fit_col_means`` are the column means of the training kernel, ``fit_all_mean``
    their mean; the row means are those of K itself (each row is read twice while
    in cache). This is K~ = K - 1_n K_fit - K 1_n + 1_n K_fit 1_n (Schoelkopf et al. 1998).
    """
    cdef Py_ssize_t n = K.shape[0], m = K.shape[1], i, j
    cdef double s
    cdef floating shift
    if m == 0:
        return
    with nogil:
        for i in prange(n, num_threads=n_threads, schedule="static"):
            s = 0
            for j in range(m):
                s = s + K[i, j]
            shift = <floating> (fit_all_mean - s / m)
            for j in range(m):
                K[i, j] = K[i, j] - fit_col_means[j] + shift
