"""Logistic (binary) and softmax (multinomial) loss, gradient and Hessian.

Scores z_i = W x_i + b with W of shape (K, p) and b of shape (K,); K = 1 is the binary
model with y_i in {0, 1}:

    loss_i = log(1 + exp(z_i)) - y_i z_i,          r_i = sigmoid(z_i) - y_i,

K >= 2 is the multinomial model with y_i in {0..K-1}:

    loss_i = logsumexp_k(z_ik) - z_{i,y_i},         r_ik = softmax(z_i)_k - [k = y_i].

Gradient: dL/dW = R' X, dL/db = sum_i r_i (sums, not means; the caller scales).
Hessian with x~_i = (x_i, 1) when there is an intercept, parameters ordered class by
class: H = sum_i (diag(p_i) - p_i p_i') (x) x~_i x~_i' (binary: p_i (1 - p_i) x~_i x~_i').

Rows are processed in chunks under ``prange``; each thread owns its accumulators (no
locks), merged at the end. BLAS calls inside the loop need BLAS pinned to one thread.
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport exp, fabs, log, log1p, sqrt
from libc.stdlib cimport free

from kernels._blas cimport gemm_rm, gemv_rm, syrk_rm
from kernels._parallel cimport add_thread_blocks, thread_id, thread_scratch

cdef enum:
    CHUNK = 256     # rows per task for the loss / gradient (scores stay in L1)
    HCHUNK = 1024   # rows per task for the Hessian (longer SYRK inner dimension)


cdef inline void _scores(const floating *x, int m, int p, int k, const floating *coef,
                         const floating *intercept, floating *z) noexcept nogil:
    """z = X_chunk W' + b for m rows."""
    cdef int i, c
    if k == 1:
        gemv_rm(False, m, p, 1, x, p, coef, 1, 0, z, 1)
    else:
        gemm_rm(False, True, m, k, p, 1, x, p, coef, p, 0, z, k)
    for i in range(m):
        for c in range(k):
            z[i * k + c] += intercept[c]


cdef double _residuals(floating *z, const int *y, int m, int k, bint prob) noexcept nogil:
    """Overwrite scores with residuals p - y (or probabilities when ``prob``); return loss.

    One exp per score: binary uses e = exp(-|z|), log(1 + exp(z)) = max(z, 0) + log1p(e);
    softmax stores exp(z - max) in place and divides by its sum.
    """
    cdef int i, c
    cdef double loss = 0, zi, e, mx, s, zy
    if k == 1:
        for i in range(m):
            zi = z[i]
            e = exp(-fabs(zi))
            if not prob:
                loss += max(zi, 0.0) + log1p(e) - y[i] * zi
            zi = 1 / (1 + e) if zi > 0 else e / (1 + e)
            z[i] = zi if prob else zi - y[i]
        return loss
    for i in range(m):
        mx = z[i * k]
        for c in range(1, k):
            mx = max(mx, <double> z[i * k + c])
        if not prob:
            zy = z[i * k + y[i]]
        s = 0
        for c in range(k):
            e = exp(z[i * k + c] - mx)
            z[i * k + c] = e
            s += e
        if not prob:
            loss += mx + log(s) - zy
        s = 1 / s
        for c in range(k):
            z[i * k + c] *= s
        if not prob:
            z[i * k + y[i]] -= 1
    return loss


def loss_grad(const floating[:, ::1] X, const int[::1] y, const floating[:, ::1] coef,
              const floating[::1] intercept, floating[:, ::1] grad_coef,
              floating[::1] grad_intercept, int n_threads):
    """Total loss sum_i loss_i; writes the summed gradients (one fused pass over X)."""
    cdef int n = X.shape[0], p = X.shape[1], k = coef.shape[0]
    cdef int n_chunks = (n + CHUNK - 1) // CHUNK, chunk, t, m, c, i, j
    cdef int per = k * p + k + CHUNK * k
    cdef floating *buf = <floating *> thread_scratch(n_threads, per, sizeof(floating))
    cdef double *losses
    cdef floating *g
    cdef floating *z
    losses = <double *> thread_scratch(n_threads, 1, sizeof(double), buf)
    with nogil:
        for chunk in prange(n_chunks, num_threads=n_threads, schedule="static"):
            t = thread_id()
            g = buf + t * per
            z = g + k * p + k
            m = min(CHUNK, n - chunk * CHUNK)
            _scores(&X[chunk * CHUNK, 0], m, p, k, &coef[0, 0], &intercept[0], z)
            losses[t] += _residuals(z, &y[chunk * CHUNK], m, k, False)
            if k == 1:
                gemv_rm(True, m, p, 1, &X[chunk * CHUNK, 0], p, z, 1, 1, g, 1)
            else:
                gemm_rm(True, False, k, p, m, 1, z, k, &X[chunk * CHUNK, 0], p, 1, g, p)
            for i in range(m):
                for c in range(k):
                    g[k * p + c] += z[i * k + c]
        for j in range(k * p):
            grad_coef[j // p, j % p] = 0
        for c in range(k):
            grad_intercept[c] = 0
        add_thread_blocks(&grad_coef[0, 0], buf, n_threads, per, k * p)
        add_thread_blocks(&grad_intercept[0], buf + k * p, n_threads, per, k)
    loss = 0.0
    for t in range(n_threads):
        loss += losses[t]
    free(buf)
    free(losses)
    return loss


def predict_proba(const floating[:, ::1] X, const floating[:, ::1] coef,
                  const floating[::1] intercept, floating[:, ::1] out, int n_threads):
    """out (n, K) = sigmoid / softmax of the scores (K = 1: P(y = 1))."""
    cdef int n = X.shape[0], p = X.shape[1], k = coef.shape[0]
    cdef int n_chunks = (n + CHUNK - 1) // CHUNK, chunk, m
    if n == 0:
        return
    with nogil:
        for chunk in prange(n_chunks, num_threads=n_threads, schedule="static"):
            m = min(CHUNK, n - chunk * CHUNK)
            _scores(&X[chunk * CHUNK, 0], m, p, k, &coef[0, 0], &intercept[0],
                    &out[chunk * CHUNK, 0])
            _residuals(&out[chunk * CHUNK, 0], NULL, m, k, True)


def hessian(const floating[:, ::1] X, const floating[:, ::1] coef,
            const floating[::1] intercept, bint fit_intercept, floating[:, ::1] H,
            int n_threads):
    """Lower triangle of the summed Hessian H (D x D, D = K (p + fit_intercept))."""
    cdef int n = X.shape[0], p = X.shape[1], k = coef.shape[0]
    cdef int p1 = p + fit_intercept, d = k * p1
    cdef int n_chunks = (n + HCHUNK - 1) // HCHUNK, chunk, t, m, c, i, j, r
    cdef Py_ssize_t per = <Py_ssize_t> d * d + HCHUNK * k + HCHUNK * p1 + <Py_ssize_t> HCHUNK * d
    cdef floating *buf = <floating *> thread_scratch(n_threads, per, sizeof(floating))
    cdef floating *h
    cdef floating *z
    cdef floating *b
    cdef floating *a
    cdef const floating *xi
    cdef floating pk
    with nogil:
        for chunk in prange(n_chunks, num_threads=n_threads, schedule="static"):
            t = thread_id()
            h = buf + t * per
            z = h + d * d
            b = z + HCHUNK * k
            a = b + HCHUNK * p1
            m = min(HCHUNK, n - chunk * HCHUNK)
            _scores(&X[chunk * HCHUNK, 0], m, p, k, &coef[0, 0], &intercept[0], z)
            _residuals(z, NULL, m, k, True)
            for c in range(k):
                # diagonal block: sum_i p_ic x~_i x~_i' (binary: p (1 - p))
                for i in range(m):
                    pk = z[i * k + c]
                    pk = sqrt(pk * (1 - pk)) if k == 1 else sqrt(pk)
                    xi = &X[chunk * HCHUNK + i, 0]
                    for j in range(p):
                        b[i * p1 + j] = pk * xi[j]
                    if fit_intercept:
                        b[i * p1 + p] = pk
                syrk_rm(True, True, p1, m, 1, b, p1, 1, h + c * p1 * d + c * p1, d)
            if k > 1:
                # minus sum_i (p_i (x) x~_i)(p_i (x) x~_i)'
                for i in range(m):
                    xi = &X[chunk * HCHUNK + i, 0]
                    for c in range(k):
                        pk = z[i * k + c]
                        for j in range(p):
                            a[i * d + c * p1 + j] = pk * xi[j]
                        if fit_intercept:
                            a[i * d + c * p1 + p] = pk
                syrk_rm(True, True, d, m, -1, a, d, 1, h, d)
        for r in range(d):
            for j in range(r + 1):
                H[r, j] = 0
        for t in range(n_threads):
            h = buf + t * per
            for r in range(d):
                for j in range(r + 1):
                    H[r, j] += h[r * d + j]
    free(buf)
