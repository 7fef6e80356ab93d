"""Gaussian-process kernels: covariance matrices and LML-gradient contractions.

Stationary kernels are evaluated pair by pair from the inputs, with the length scales
already divided out by the caller (``Xs = X / length_scale``) except for
ExpSineSquared, which works on raw distances. For a pair (a, b) with
D_j = (xs_aj - xs_bj)^2 and r^2 = sum_j D_j:

    RBF            k = exp(-r^2 / 2)
    Matern nu=1/2  k = exp(-r)
    Matern nu=3/2  k = (1 + sqrt3 r) exp(-sqrt3 r)
    Matern nu=5/2  k = (1 + sqrt5 r + 5 r^2 / 3) exp(-sqrt5 r)
    RQ             k = (1 + r^2 / (2 alpha))^-alpha                        (p0 = alpha)
    ExpSineSquared k = exp(-2 sin^2(pi r / p) / l^2), r unscaled    (p0 = l, p1 = p)

Gradients are taken with respect to the log hyperparameters, in scikit-learn's theta
order: RBF / Matern [log l_1..log l_d] (ARD) or [log l]; RQ [log alpha, log l];
ExpSineSquared [log l, log p]. For RBF and Matern dk/dlog l_j = s(r) D_j with
s = k (RBF), k / r (nu=1/2, 0 at r = 0), 3 exp(-sqrt3 r) (nu=3/2),
5/3 (1 + sqrt5 r) exp(-sqrt5 r) (nu=5/2); isotropic kernels use r^2 for D_j.

The LML gradient dLML/dtheta_j = 1/2 sum_ab W_ab dK_ab/dtheta_j, W = alpha alpha^T - K^-1,
is contracted on the fly (``contract_lower``): no n x n x p tensor is ever formed.
"""

from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.math cimport exp, log, sqrt, sin, cos, M_PI
from libc.stdlib cimport malloc, free

from kernels._blas cimport potri_rm, syrk_rm, trsm_rm
from kernels._parallel cimport add_thread_blocks, thread_id, thread_scratch

cdef enum:
    K_RBF = 0
    K_MATERN05 = 1
    K_MATERN15 = 2
    K_MATERN25 = 3
    K_RQ = 4
    K_EXPSINE = 5
    TILE = 64       # square tiles of the symmetric matrix: transposed writes stay in cache
    PAD = 8         # doubles between per-thread accumulators (one cache line)

KINDS = {"rbf": K_RBF, "matern0.5": K_MATERN05, "matern1.5": K_MATERN15,
         "matern2.5": K_MATERN25, "rq": K_RQ, "expsine": K_EXPSINE}

cdef double SQRT3 = sqrt(3.0)
cdef double SQRT5 = sqrt(5.0)


def n_gradients(int kind, Py_ssize_t d, bint ard):
    """Number of log-hyperparameter derivatives the kernel ``kind`` produces."""
    if kind == K_RQ or kind == K_EXPSINE:
        return 2
    return d if ard else 1


cdef inline double _sqdist(const floating *xa, const floating *xb, Py_ssize_t d,
                           double *dd) noexcept nogil:
    """r^2 = sum_j (xa_j - xb_j)^2; the terms D_j go to ``dd`` when it is not NULL."""
    cdef Py_ssize_t j
    cdef double t, r2 = 0
    for j in range(d):
        t = <double> xa[j] - <double> xb[j]
        t = t * t
        r2 += t
        if dd != NULL:
            dd[j] = t
    return r2


cdef inline double _value(int kind, double r2, double p0, double p1) noexcept nogil:
    cdef double r, s
    if kind == K_RBF:
        return exp(-0.5 * r2)
    r = sqrt(r2)
    if kind == K_MATERN05:
        return exp(-r)
    if kind == K_MATERN15:
        return (1 + SQRT3 * r) * exp(-SQRT3 * r)
    if kind == K_MATERN25:
        return (1 + SQRT5 * r + 5.0 / 3.0 * r2) * exp(-SQRT5 * r)
    if kind == K_RQ:
        return exp(-p0 * log(1 + r2 / (2 * p0)))
    s = sin(M_PI * r / p1) / p0
    return exp(-2 * s * s)


cdef inline double _grad(int kind, double r2, double p0, double p1, double k,
                         double *extra) noexcept nogil:
    """Return s with dk/dlog l_j = s D_j; RQ and ExpSineSquared put their two
    derivatives in extra[0], extra[1] (theta order) and return 0."""
    cdef double r, base, arg, sn
    if kind == K_RBF:
        return k
    if kind == K_RQ:
        base = 1 + r2 / (2 * p0)
        extra[0] = k * (-p0 * log(base) + r2 / (2 * base))
        extra[1] = k * r2 / base
        return 0
    r = sqrt(r2)
    if kind == K_MATERN05:
        return k / r if r > 0 else 0
    if kind == K_MATERN15:
        return 3 * exp(-SQRT3 * r)
    if kind == K_MATERN25:
        return 5.0 / 3.0 * (1 + SQRT5 * r) * exp(-SQRT5 * r)
    arg = M_PI * r / p1
    sn = sin(arg)
    extra[0] = 4 / (p0 * p0) * sn * sn * k
    extra[1] = 4 * arg / (p0 * p0) * cos(arg) * sn * k
    return 0


def kernel_matrix(int kind, const floating[:, ::1] X, const floating[:, ::1] Y,
                  double p0, double p1, floating[:, ::1] out, bint symmetric,
                  int n_threads):
    """out[a, b] = k(X[a], Y[b]).

    ``symmetric`` (Y is X): tiles on and below the diagonal are computed once and
    mirrored (the transposed writes of a tile stay in cache).
    """
    cdef Py_ssize_t n = X.shape[0], m = Y.shape[0], d = X.shape[1]
    cdef Py_ssize_t a, b, ib, jb, b_end, n_tiles
    cdef double k
    if n == 0 or m == 0:
        return
    if not symmetric:
        for a in prange(n, nogil=True, num_threads=n_threads, schedule="static"):
            for b in range(m):
                out[a, b] = <floating> _value(kind, _sqdist(&X[a, 0], &Y[b, 0], d, NULL),
                                              p0, p1)
        return
    n_tiles = (n + TILE - 1) // TILE
    for ib in prange(n_tiles, nogil=True, num_threads=n_threads, schedule="dynamic"):
        for jb in range(ib + 1):
            for a in range(ib * TILE, min(ib * TILE + TILE, n)):
                b_end = min(jb * TILE + TILE, a + 1)
                for b in range(jb * TILE, b_end):
                    k = _value(kind, _sqdist(&X[a, 0], &X[b, 0], d, NULL), p0, p1)
                    out[a, b] = <floating> k
                    out[b, a] = <floating> k


def kernel_gradient(int kind, const floating[:, ::1] X, double p0, double p1, bint ard,
                    floating[:, ::1] K, floating[:, :, ::1] G, int n_threads):
    """K[a, b] = k(X[a], X[b]) and G[a, b, :] = dK_ab / dlog(theta) (all parameters)."""
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], a, b, j
    cdef double k, s, r2
    cdef double *dd
    cdef double *extra
    if n == 0:
        return
    with nogil, parallel(num_threads=n_threads):
        dd = <double *> malloc((d + 2) * sizeof(double))
        extra = dd + d
        for a in prange(n, schedule="static"):
            for b in range(n):
                r2 = _sqdist(&X[a, 0], &X[b, 0], d, dd)
                k = _value(kind, r2, p0, p1)
                K[a, b] = <floating> k
                s = _grad(kind, r2, p0, p1, k, extra)
                if kind == K_RQ or kind == K_EXPSINE:
                    G[a, b, 0] = <floating> extra[0]
                    G[a, b, 1] = <floating> extra[1]
                elif ard:
                    for j in range(d):
                        G[a, b, j] = <floating> (s * dd[j])
                else:
                    G[a, b, 0] = <floating> (s * r2)
        free(dd)


def contract_lower(int kind, const floating[:, ::1] X, const floating[:, ::1] W,
                   double p0, double p1, bint ard, double[::1] out, int n_threads):
    """out[j] = sum_ab W_ab dK_ab/dlog(theta_j) for symmetric W given by its lower triangle.

    Each off-diagonal pair counts twice; the diagonal once. Rows are shared among
    threads (guided schedule for the triangular work), each thread accumulating into
    its own padded slot, merged at the end.
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], a, b, j
    cdef int ng = n_gradients(kind, d, ard)
    cdef Py_ssize_t stride = ng + PAD
    cdef double k, s, r2, w
    cdef double *acc
    cdef double *mine
    cdef double *dd
    cdef double *extra
    for j in range(ng):
        out[j] = 0
    if n == 0:
        return
    acc = <double *> thread_scratch(n_threads, stride, sizeof(double))
    with nogil, parallel(num_threads=n_threads):
        dd = <double *> malloc((d + 2) * sizeof(double))
        extra = dd + d
        mine = acc + thread_id() * stride
        for a in prange(n, schedule="guided"):
            for b in range(a + 1):
                w = W[a, b]
                if b < a:
                    w = 2 * w
                r2 = _sqdist(&X[a, 0], &X[b, 0], d, dd)
                k = _value(kind, r2, p0, p1)
                s = w * _grad(kind, r2, p0, p1, k, extra)
                if kind == K_RQ or kind == K_EXPSINE:
                    mine[0] += w * extra[0]
                    mine[1] += w * extra[1]
                elif ard:
                    for j in range(d):
                        mine[j] += s * dd[j]
                else:
                    mine[0] += s * r2
        free(dd)
    add_thread_blocks(&out[0], acc, n_threads, stride, ng)
    free(acc)


def lower_sym_sum(const floating[:, ::1] W):
    """sum_ab W_ab of a symmetric matrix given by its lower triangle."""
    cdef Py_ssize_t n = W.shape[0], a, b
    cdef double total = 0, row
    with nogil:
        for a in range(n):
            row = 0
            for b in range(a):
                row += W[a, b]
            total += 2 * row + W[a, a]
    return total


def gram_lower(const floating[:, ::1] At, floating[:, ::1] out):
    """out = At^T At for At (n x m) by one syrk; the upper triangle is mirrored."""
    cdef int n = At.shape[0], m = At.shape[1]
    cdef Py_ssize_t i, j
    if m == 0:
        return
    with nogil:
        syrk_rm(True, True, m, n, 1, &At[0, 0], m, 0, &out[0, 0], m)
        for i in range(m):
            for j in range(i + 1, m):
                out[i, j] = out[j, i]


def lml_weights_inplace(floating[:, ::1] L, const floating[:, ::1] alpha):
    """Overwrite the lower Cholesky factor L of K with the lower triangle of
    W = alpha alpha^T - t K^-1 (t = number of targets, the columns of alpha).

    K^-1 comes from LAPACK potri; the rank-t update is one syrk. Returns potri's info.
    """
    cdef int n = L.shape[0], t = alpha.shape[1], info
    if n == 0:
        return 0
    with nogil:
        info = potri_rm(True, n, &L[0, 0], n)
        if info == 0:
            syrk_rm(True, False, n, t, 1, &alpha[0, 0], t, -t, &L[0, 0], n)
    return info


def contract_cross(int kind, const floating[:, ::1] Z, const floating[:, ::1] X,
                   const floating[:, ::1] GT, double p0, double p1, bint ard,
                   double[::1] theta_out, double[:, ::1] dz_out, int n_threads):
    """Contract a weight matrix G (m x n, passed transposed: GT is n x m) with K(Z, X).

    Adds to ``theta_out``: [sum_ij G_ij k_ij, sum_ij G_ij dk_ij/dlog(theta_1), ...] (the
    first entry is the derivative with respect to a log amplitude multiplying k), and to
    ``dz_out[i, :]``: sum_j G_ij dk(z_i, x_j)/dz_i with respect to the scaled inputs,
    dk/dzs = -s (zs - xs) for RBF, Matern and RQ (s as in the module docstring; for RQ
    s = k / base). ExpSineSquared is not supported here. Rows of X (and of GT) are
    shared among threads; each thread accumulates into its own theta and dz buffers.
    """
    cdef Py_ssize_t m = Z.shape[0], n = X.shape[0], d = Z.shape[1], i, j, c
    cdef int ng = n_gradients(kind, d, ard) + 1
    cdef Py_ssize_t stride = ng + m * d + PAD
    cdef double k, s, r2, g
    cdef double *acc
    cdef double *mine
    cdef double *dz
    cdef double *dd
    cdef double *extra
    if m == 0 or n == 0:
        return
    acc = <double *> thread_scratch(n_threads, stride, sizeof(double))
    with nogil, parallel(num_threads=n_threads):
        dd = <double *> malloc((d + 2) * sizeof(double))
        extra = dd + d
        mine = acc + thread_id() * stride
        for j in prange(n, schedule="static"):
            for i in range(m):
                g = GT[j, i]
                r2 = _sqdist(&Z[i, 0], &X[j, 0], d, dd)
                k = _value(kind, r2, p0, p1)
                s = _grad(kind, r2, p0, p1, k, extra)
                mine[0] += g * k
                if kind == K_RQ:
                    mine[1] += g * extra[0]
                    mine[2] += g * extra[1]
                    s = k / (1 + r2 / (2 * p0))
                elif ard:
                    for c in range(d):
                        mine[1 + c] += g * s * dd[c]
                else:
                    mine[1] += g * s * r2
                dz = mine + ng + i * d
                for c in range(d):
                    dz[c] -= g * s * (<double> Z[i, c] - <double> X[j, c])
        free(dd)
    add_thread_blocks(&theta_out[0], acc, n_threads, stride, ng)
    add_thread_blocks(&dz_out[0, 0], acc + ng, n_threads, stride, m * d)
    free(acc)


def solve_right_lower_t(const floating[:, ::1] L, floating[:, ::1] B):
    """B <- B L^-T in place (B is n x m, L lower triangular m x m): one trsm."""
    cdef int n = B.shape[0], m = B.shape[1]
    if n == 0 or m == 0:
        return
    with nogil:
        trsm_rm(False, True, True, False, n, m, 1, &L[0, 0], m, &B[0, 0], m)
