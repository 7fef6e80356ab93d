"""Coordinate descent for the elastic net, with duality-gap stopping.

Minimises, for one target,

    P(w) = 1/2 ||y - X w||^2 + alpha ||w||_1 + beta/2 ||w||^2

(the caller scales alpha = n * alpha_enet * l1_ratio, beta = n * alpha_enet * (1 - l1_ratio)).
X is passed transposed, ``xt`` of shape (n_features, n_samples) C-contiguous, so every
column of X is a contiguous row: each coordinate update is one dot and one axpy.

Coordinate update (Friedman et al. 2010): with rho_j = x_j' (R + w_j x_j),
w_j <- S(rho_j, alpha) / (||x_j||^2 + beta), S the soft threshold.

Stopping: the duality gap G(w, v) = P(w) - D(v) with the dual point v = s R, where
s = min(1, alpha / ||X'R - beta w||_inf) (for alpha = 0, beta > 0 the unconstrained
dual of Duenner et al. 2016 is used), must fall below tol (already multiplied by y'y
by the caller). Gap-safe screening (Ndiaye et al. 2017) drops features that are
provably zero, and between full sweeps the solver cycles on the non-zero coefficients
only (the glmnet "active set" strategy) until they settle.
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport fabs, sqrt
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy

from kernels._blas cimport gemv_rm, xaxpy, xdot

# Inner sweeps over the non-zero coefficients allowed between two full sweeps.
cdef enum:
    MAX_INNER = 1000


cdef inline floating _fsign(floating x) noexcept nogil:
    return (x > 0) - (x < 0)


cdef inline unsigned long long _xorshift(unsigned long long *state) noexcept nogil:
    cdef unsigned long long x = state[0]
    x ^= x << 13
    x ^= x >> 7
    x ^= x << 17
    state[0] = x
    return x


cdef double _gap(int n, int p, const floating *w, double alpha, double beta,
                 const floating *xt, const floating *y, const floating *r,
                 floating *xta, bint positive, double *dual_norm) noexcept nogil:
    """Duality gap at (w, v = s R); fills xta = X'R - beta w and its dual norm."""
    cdef double r_norm2 = xdot(n, r, 1, r, 1)
    cdef double ry = xdot(n, r, 1, y, 1)
    memcpy(xta, w, p * sizeof(floating))
    gemv_rm(False, p, n, <floating> 1.0, xt, n, r, 1, <floating> -beta, xta, 1)
    return _gap_from(p, w, alpha, beta, r_norm2, ry, xta, positive, dual_norm)


cdef double _gap_from(int p, const floating *w, double alpha, double beta, double r_norm2,
                      double ry, const floating *xta, bint positive,
                      double *dual_norm) noexcept nogil:
    """Duality gap from ||R||^2, R'y and xta = X'R - beta w (dense or Gram form)."""
    cdef double w_l2 = xdot(p, w, 1, w, 1) if beta > 0 else 0.0
    cdef double w_l1 = 0.0, norm = 0.0, scale, primal, dual, v
    cdef int j
    if alpha == 0:
        # Ridge: formulation B, D(v) = -1/2 ||v||^2 + y'v - ||X'v||^2 / (2 beta).
        for j in range(p):
            v = xta[j] + beta * w[j]
            norm += v * v
        dual_norm[0] = sqrt(norm)
        if beta == 0:  # least squares: no dual, use the first-order condition ||X'R||^2
            return norm
        return r_norm2 + 0.5 * beta * w_l2 - ry + norm / (2 * beta)
    for j in range(p):
        w_l1 += fabs(w[j])
        v = xta[j] if positive else fabs(xta[j])
        if v > norm:
            norm = v
    dual_norm[0] = norm
    primal = 0.5 * (r_norm2 + beta * w_l2) + alpha * w_l1
    scale = alpha / norm if norm > alpha else 1.0
    dual = -0.5 * scale * scale * (r_norm2 + beta * w_l2) + scale * ry
    return primal - dual


cdef int _screen(int p, int n, floating *w, double alpha, double beta, double gap,
                 double dual_norm, const floating *xt, const floating *xta,
                 const floating *norm2, floating *r, int *active,
                 char *excluded) noexcept nogil:
    """Gap-safe rule: drop j when (1 - |x_j' theta|) / ||x_j|| > sqrt(2 gap) / alpha."""
    cdef int j, n_active = 0
    cdef double radius = sqrt(2 * gap) / alpha, d_j
    for j in range(p):
        if excluded[j]:
            continue
        d_j = (1 - fabs(xta[j] / max(alpha, dual_norm))) / sqrt(norm2[j] + beta)
        if d_j <= radius:
            active[n_active] = j
            n_active += 1
        else:
            if w[j] != 0:
                xaxpy(n, w[j], xt + <Py_ssize_t> j * n, 1, r, 1)
                w[j] = 0
            excluded[j] = 1
    return n_active


cdef inline floating _update(int j, int n, floating *w, double alpha, double beta,
                             const floating *xt, const floating *norm2, floating *r,
                             bint positive) noexcept nogil:
    """One coordinate step on w_j; returns |change|."""
    cdef const floating *xj = xt + <Py_ssize_t> j * n
    cdef floating w_j = w[j], tmp, new
    tmp = xdot(n, xj, 1, r, 1) + w_j * norm2[j]
    if positive and tmp < 0:
        new = 0
    else:
        new = _fsign(tmp) * max(fabs(tmp) - <floating> alpha, <floating> 0) / \
            (norm2[j] + <floating> beta)
    if new != w_j:
        xaxpy(n, w_j - new, xj, 1, r, 1)
        w[j] = new
    return fabs(new - w_j)


def enet_coordinate_descent(floating[::1] w, double alpha, double beta,
                            const floating[:, ::1] xt, const floating[::1] y,
                            const floating[::1] norm2, int max_iter, double tol,
                            bint random, bint positive, unsigned long long seed):
    """Minimise P(w) in place of ``w`` (warm start); returns (gap, n_iter).

    ``norm2[j]`` = ||x_j||^2; ``tol`` is the absolute gap tolerance.
    """
    cdef int p = xt.shape[0], n = xt.shape[1]
    cdef int it = 0, _inner, f, j, k, n_active = p, n_nz = 0
    cdef double gap = 0, dual_norm = 0, d_w_tol = tol, dw, d_max, w_max
    cdef unsigned long long state = seed | 1
    cdef floating *r = <floating *> malloc(max(n, 1) * sizeof(floating))
    cdef floating *xta = <floating *> malloc(max(p, 1) * sizeof(floating))
    cdef int *active = <int *> malloc(max(p, 1) * sizeof(int))
    cdef int *nz = <int *> malloc(max(p, 1) * sizeof(int))
    cdef char *excluded = <char *> malloc(max(p, 1))
    cdef bint screening = alpha > 0, converged = False
    if r == NULL or xta == NULL or active == NULL or nz == NULL or excluded == NULL:
        free(r)
        free(xta)
        free(active)
        free(nz)
        free(excluded)
        raise MemoryError()
    with nogil:
        for j in range(p):
            active[j] = j
            excluded[j] = norm2[j] == 0
            if excluded[j]:
                w[j] = 0
        memcpy(r, &y[0], n * sizeof(floating))
        gemv_rm(True, p, n, <floating> -1.0, &xt[0, 0], n, &w[0], 1, <floating> 1.0, r, 1)
        gap = _gap(n, p, &w[0], alpha, beta, &xt[0, 0], &y[0], r, xta, positive, &dual_norm)
        converged = gap <= tol
        if not converged and screening:
            n_active = _screen(p, n, &w[0], alpha, beta, gap, dual_norm, &xt[0, 0], xta,
                               &norm2[0], r, active, excluded)
        elif not screening:
            n_active = 0
            for j in range(p):
                if not excluded[j]:
                    active[n_active] = j
                    n_active += 1
        while not converged and it < max_iter:
            it += 1
            d_max = 0
            w_max = 0
            for f in range(n_active):
                j = active[_xorshift(&state) % n_active] if random else active[f]
                dw = _update(j, n, &w[0], alpha, beta, &xt[0, 0], &norm2[0], r, positive)
                d_max = max(d_max, dw)
            for f in range(n_active):
                w_max = max(w_max, fabs(w[active[f]]))
            if w_max == 0 or d_max / w_max <= d_w_tol or it == max_iter:
                gap = _gap(n, p, &w[0], alpha, beta, &xt[0, 0], &y[0], r, xta, positive,
                           &dual_norm)
                converged = gap <= tol
                if not converged and screening:
                    n_active = _screen(p, n, &w[0], alpha, beta, gap, dual_norm, &xt[0, 0],
                                       xta, &norm2[0], r, active, excluded)
                continue
            # Cycle on the non-zero coefficients until they settle.
            n_nz = 0
            for f in range(n_active):
                if w[active[f]] != 0:
                    nz[n_nz] = active[f]
                    n_nz += 1
            for _inner in range(MAX_INNER):
                d_max = 0
                w_max = 0
                for k in range(n_nz):
                    dw = _update(nz[k], n, &w[0], alpha, beta, &xt[0, 0], &norm2[0], r,
                                 positive)
                    d_max = max(d_max, dw)
                    w_max = max(w_max, fabs(w[nz[k]]))
                if w_max == 0 or d_max / w_max <= d_w_tol:
                    break
    free(r)
    free(xta)
    free(active)
    free(nz)
    free(excluded)
    return gap, it


def enet_coordinate_descent_gram(floating[::1] w, double alpha, double beta,
                                 const floating[:, ::1] Q, const floating[::1] q,
                                 double yy, int max_iter, double tol, bint random,
                                 bint positive, unsigned long long seed):
    """Minimise P(w) in place of ``w`` given only Q = X'X, q = X'y and yy = y'y.

    The same objective, update and duality gap as :func:`enet_coordinate_descent`, in
    covariance form: with H = Q w kept up to date, rho_j = q_j - H_j + Q_jj w_j, and for
    the gap X'R = q - H, ||R||^2 = yy - 2 w'q + w'H, R'y = yy - w'q. Each update costs
    O(p) (one row of Q) instead of O(n). Returns (gap, n_iter).
    """
    cdef int p = Q.shape[0], it = 0, f, j, k
    cdef double gap = 0, dual_norm = 0, d_max, w_max, wq, wh
    cdef floating tmp, new, d
    cdef unsigned long long state = seed | 1
    cdef floating *h = <floating *> malloc(max(p, 1) * sizeof(floating))
    cdef floating *xta = <floating *> malloc(max(p, 1) * sizeof(floating))
    if h == NULL or xta == NULL:
        free(h)
        free(xta)
        raise MemoryError()
    with nogil:
        for j in range(p):
            if Q[j, j] == 0:
                w[j] = 0
        gemv_rm(False, p, p, <floating> 1.0, &Q[0, 0], p, &w[0], 1, <floating> 0.0, h, 1)
        while True:
            wq = xdot(p, &w[0], 1, &q[0], 1)
            wh = xdot(p, &w[0], 1, h, 1)
            for j in range(p):
                xta[j] = q[j] - h[j] - beta * w[j]
            gap = _gap_from(p, &w[0], alpha, beta, yy - 2 * wq + wh, yy - wq, xta,
                            positive, &dual_norm)
            if gap <= tol or it >= max_iter:
                break
            while it < max_iter:  # sweeps until the coefficients settle, then the gap
                it += 1
                d_max = 0
                w_max = 0
                for f in range(p):
                    j = <int> (_xorshift(&state) % p) if random else f
                    if Q[j, j] == 0:
                        continue
                    tmp = q[j] - h[j] + Q[j, j] * w[j]
                    if positive and tmp < 0:
                        new = 0
                    else:
                        new = _fsign(tmp) * max(fabs(tmp) - <floating> alpha,
                                                <floating> 0) / (Q[j, j] + <floating> beta)
                    d = new - w[j]
                    if d != 0:
                        xaxpy(p, d, &Q[j, 0], 1, h, 1)
                        w[j] = new
                    d_max = max(d_max, fabs(d))
                for k in range(p):
                    w_max = max(w_max, fabs(w[k]))
                if w_max == 0 or d_max / w_max <= tol:
                    break
    free(h)
    free(xta)
    return gap, it


cdef enum:
    TILE = 64


def center_transpose(const floating[:, ::1] X, const floating[::1] mean,
                     floating[:, ::1] xt, floating[::1] norm2, int n_threads):
    """xt[j, i] = X[i, j] - mean[j] and norm2[j] = sum_i xt[j, i]^2, in one tiled pass.

    64 x 64 tiles keep both the rows read and the columns written in L1; each thread owns
    a band of columns, so the norms need no reduction across threads.
    """
    cdef int n = X.shape[0], p = X.shape[1]
    cdef int n_bands = (p + TILE - 1) // TILE, band, tile, j0, j1, i0, i1, i, j
    cdef floating v
    with nogil:
        for band in prange(n_bands, num_threads=n_threads, schedule="static"):
            j0 = band * TILE
            j1 = min(j0 + TILE, p)
            for j in range(j0, j1):
                norm2[j] = 0
            for tile in range((n + TILE - 1) // TILE):
                i0 = tile * TILE
                i1 = min(i0 + TILE, n)
                for i in range(i0, i1):
                    for j in range(j0, j1):
                        v = X[i, j] - mean[j]
                        xt[j, i] = v
                        norm2[j] += v * v
