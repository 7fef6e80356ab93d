"""Gaussian mixture kernels: the E-step (log densities + log-sum-exp) and the full
covariance scatter of the M-step.

Samples are cut into chunks of ``CHUNK`` rows shared among threads by ``prange``; each
thread owns its scratch rows (and, for the scatter, its own K x d x d accumulator that
is merged once at the end). BLAS is called inside ``prange``: the caller pins it to one
thread.
"""

cimport scipy.linalg.cython_blas as blas
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport exp, log, sqrt
from libc.stdlib cimport free
from libc.string cimport memcpy

from kernels._blas cimport syrk_rm
from kernels._parallel cimport thread_id, thread_scratch

cdef enum:
    CHUNK = 128


cdef inline void _x_times_tri(int m, int d, const floating *x, const floating *p, bint upper,
                              floating *y) noexcept nogil:
    """y = x P (row-major, x and y m x d) for a triangular d x d P: copy, then one TRMM
    (half the GEMM flops). Column-major, y^T = P^T x^T with P^T lower when P is upper.
    Called here directly (not a kernels._blas wrapper: no other kernel needs it)."""
    cdef char side = b'L', uplo = b'L' if upper else b'U', trans = b'N', diag = b'N'
    cdef floating one = 1.0
    memcpy(y, x, m * d * sizeof(floating))
    if floating is float:
        blas.strmm(&side, &uplo, &trans, &diag, &d, &m, &one, <float *> p, &d, y, &d)
    else:
        blas.dtrmm(&side, &uplo, &trans, &diag, &d, &m, &one, <double *> p, &d, y, &d)


cdef void _log_prob_chunk(const floating *x, Py_ssize_t m, Py_ssize_t d, Py_ssize_t K,
                          const floating *means, const floating *prec_chol,
                          Py_ssize_t chol_stride, const floating *shifted_means,
                          const floating *prec_diag, const floating *offset, bint full,
                          bint upper, floating *y, floating *lp) noexcept nogil:
    """lp[i, k] = offset_k - ||P_k^T (x_i - mu_k)||^2 / 2 for the m rows of ``x``.

    full: y = x P_k (P_k upper or lower triangular: one TRMM), then ||y_i - mu_k P_k||^2
    (``shifted_means`` holds mu_k P_k); the precision Cholesky of component k starts at
    prec_chol + k * chol_stride (stride 0 for a tied covariance).
    diag: sum_f ((x_f - mu_f) p_f)^2.
    """
    cdef Py_ssize_t i, k, f
    cdef floating s, t
    cdef const floating *b
    cdef const floating *mu
    cdef const floating *p
    for k in range(K):
        if full:
            _x_times_tri(<int> m, <int> d, x, prec_chol + k * chol_stride, upper, y)
            b = shifted_means + k * d
            for i in range(m):
                s = 0
                for f in range(d):
                    t = y[i * d + f] - b[f]
                    s = s + t * t
                lp[i * K + k] = offset[k] - 0.5 * s
        else:
            mu = means + k * d
            p = prec_diag + k * d
            for i in range(m):
                s = 0
                for f in range(d):
                    t = (x[i * d + f] - mu[f]) * p[f]
                    s = s + t * t
                lp[i * K + k] = offset[k] - 0.5 * s


def estep(const floating[:, ::1] X, const floating[:, ::1] means,
          const floating[:, :, ::1] prec_chol, const floating[:, ::1] shifted_means,
          const floating[:, ::1] prec_diag, const floating[::1] offset, bint full, bint upper,
          floating[:, ::1] out, floating[::1] log_norm, bint exp_out, int n_threads):
    """E-step: log p(x_i, z = k) for every sample and component, normalised by log-sum-exp.

    log p(x_i, k) = log w_k + log N(x_i | mu_k, Sigma_k)
                  = offset_k - ||P_k^T (x_i - mu_k)||^2 / 2,  with Sigma_k^-1 = P_k P_k^T
    and offset_k = log w_k + log det P_k - d log(2 pi) / 2 (computed by the caller).
    log_norm[i] = log sum_k exp(log p(x_i, k)) (stable: the row maximum is taken out);
    out[i, k] = log p(x_i, k) - log_norm[i] (log responsibilities), or its exp when
    ``exp_out``. ``full``: ``prec_chol`` is (K, d, d), or (1, d, d) for a tied
    covariance, every factor upper triangular if ``upper`` (P = L^-T from a covariance
    Cholesky L), else lower (the Cholesky of a given precision), and
    ``shifted_means[k] = mu_k P_k``; otherwise ``prec_diag`` (K, d)
    holds 1 / sigma_kf. Returns (sum_i log_norm[i], sum_ik r_ik log r_ik), both float64
    accumulators; the second (the negative entropy of the responsibilities, used by the
    variational bound) is summed only when ``exp_out``, from log r_ik = (lp_ik - max_i)
    - log s_i, so it costs no extra log.
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], K = means.shape[0]
    cdef Py_ssize_t n_chunks = (n + CHUNK - 1) // CHUNK
    cdef Py_ssize_t c, i, i0, m, k
    cdef Py_ssize_t chol_stride = d * d if prec_chol.shape[0] > 1 else 0
    cdef int t
    cdef floating *work
    cdef floating *y
    cdef floating *lp
    cdef floating mx, s, v
    cdef double total = 0, neg_entropy = 0, e
    if n == 0:
        return 0.0, 0.0
    work = <floating *> thread_scratch(n_threads, CHUNK * d, sizeof(floating))
    with nogil:
        for c in prange(n_chunks, num_threads=n_threads, schedule="static"):
            t = thread_id()
            i0 = c * CHUNK
            m = min(CHUNK, n - i0)
            y = work + t * CHUNK * d
            lp = &out[i0, 0]
            _log_prob_chunk(&X[i0, 0], m, d, K, &means[0, 0],
                            &prec_chol[0, 0, 0] if full else NULL, chol_stride,
                            &shifted_means[0, 0] if full else NULL,
                            NULL if full else &prec_diag[0, 0], &offset[0], full, upper,
                            y, lp)
            for i in range(m):
                mx = lp[i * K]
                for k in range(1, K):
                    if lp[i * K + k] > mx:
                        mx = lp[i * K + k]
                s = 0
                if exp_out:  # keep exp(lp - max): one exp per entry, then scale by 1 / s
                    e = 0  # sum_k exp(lp_k - max) (lp_k - max), for sum_k r_k log r_k
                    for k in range(K):
                        v = lp[i * K + k] - mx
                        lp[i * K + k] = exp(v)
                        s = s + lp[i * K + k]
                        e = e + lp[i * K + k] * v
                    for k in range(K):
                        lp[i * K + k] = lp[i * K + k] / s
                    v = log(s)
                    neg_entropy += e / s - v
                    v = mx + v
                else:
                    for k in range(K):
                        s = s + exp(lp[i * K + k] - mx)
                    v = mx + log(s)
                    for k in range(K):
                        lp[i * K + k] = lp[i * K + k] - v
                log_norm[i0 + i] = v
                total += v
    free(work)
    return total, neg_entropy


def weighted_scatter(const floating[:, ::1] X, const floating[:, ::1] resp,
                     const floating[:, ::1] means, floating[:, :, ::1] out, int n_threads):
    """out[k] = sum_i r_ik (x_i - mu_k)(x_i - mu_k)^T for every component (full M-step).

    Per chunk and component the rows z_i = sqrt(r_ik) (x_i - mu_k) with r_ik > 0 are
    formed and added with one SYRK (z^T z) into the thread's accumulator; the
    accumulators are summed and the lower triangle mirrored at the end.
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], K = means.shape[0]
    cdef Py_ssize_t n_chunks = (n + CHUNK - 1) // CHUNK
    cdef Py_ssize_t c, i, i0, m, mz, k, f, g, tt
    cdef int t
    cdef floating *acc
    cdef floating *zbuf
    cdef floating *z
    cdef floating r
    acc = <floating *> thread_scratch(n_threads, K * d * d, sizeof(floating))
    zbuf = <floating *> thread_scratch(n_threads, CHUNK * d, sizeof(floating), acc)
    with nogil:
        for c in prange(n_chunks, num_threads=n_threads, schedule="static"):
            t = thread_id()
            i0 = c * CHUNK
            m = min(CHUNK, n - i0)
            z = zbuf + t * CHUNK * d
            for k in range(K):
                mz = 0
                for i in range(m):
                    if resp[i0 + i, k] > 0:  # rows with r_ik = 0 add exactly nothing
                        r = sqrt(resp[i0 + i, k])
                        for f in range(d):
                            z[mz * d + f] = r * (X[i0 + i, f] - means[k, f])
                        mz = mz + 1
                if mz > 0:  # lower triangle of z^T z (d x d) += ...
                    syrk_rm(True, True, <int> d, <int> mz, 1.0, z, <int> d, 1.0,
                            acc + (t * K + k) * d * d, <int> d)
        for k in range(K):
            for f in range(d):
                for g in range(f + 1):
                    r = 0
                    for tt in range(n_threads):
                        r = r + acc[((tt * K + k) * d + f) * d + g]
                    out[k, f, g] = r
                    out[k, g, f] = r
    free(acc)
    free(zbuf)
