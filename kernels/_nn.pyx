# Fused neural-network kernels: Linear (BLAS GEMM), LayerNorm, BatchNorm, GELU,
# softmax cross-entropy and the Adam update, forward and backward.
#
# Every routine assumes C-contiguous float32/float64 arrays of consistent shapes,
# validated and allocated by fastml.nn.functional; outputs are written in place.
# Row reductions use eight independent accumulators so that the compiler can keep
# them in one SIMD register (and to shorten the floating-point dependency chain).

from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport exp, expf, log, logf, sqrt, sqrtf, erf, erff, tanh, tanhf
from libc.stdlib cimport calloc, free
from libc.stdint cimport int64_t

from kernels._blas cimport gemm_rm
from kernels._parallel cimport thread_id

# Elementwise loops below this many elements run on one thread (thread start-up
# costs more than the work); larger ones are split into blocks of ELEM_BLOCK.
cdef enum:
    PARALLEL_MIN = 131072
    ELEM_BLOCK = 8192

# GEMMs below this many multiply-adds run on one thread.
cdef double GEMM_PARALLEL_MIN = 1 << 23

cdef double SQRT1_2 = 0.70710678118654752440
cdef double INV_SQRT_2PI = 0.39894228040143267794
cdef double SQRT_2_OVER_PI = 0.79788456080286535588
cdef double GELU_C = 0.044715


cdef inline int _threads_for(Py_ssize_t work, int n_threads) noexcept nogil:
    return n_threads if work >= PARALLEL_MIN else 1


# ---------------------------------------------------------------- scalar math
cdef inline floating _exp(floating x) noexcept nogil:
    if floating is float:
        return expf(x)
    else:
        return exp(x)


cdef inline floating _log(floating x) noexcept nogil:
    if floating is float:
        return logf(x)
    else:
        return log(x)


cdef inline floating _sqrt(floating x) noexcept nogil:
    if floating is float:
        return sqrtf(x)
    else:
        return sqrt(x)


cdef inline floating _erf(floating x) noexcept nogil:
    if floating is float:
        return erff(x)
    else:
        return erf(x)


cdef inline floating _tanh(floating x) noexcept nogil:
    if floating is float:
        return tanhf(x)
    else:
        return tanh(x)


# ---------------------------------------------------------------- row reductions
cdef inline floating _sum(const floating *x, Py_ssize_t n) noexcept nogil:
    cdef floating a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0
    cdef Py_ssize_t i = 0
    while i + 8 <= n:
        a0 += x[i]
        a1 += x[i + 1]
        a2 += x[i + 2]
        a3 += x[i + 3]
        a4 += x[i + 4]
        a5 += x[i + 5]
        a6 += x[i + 6]
        a7 += x[i + 7]
        i += 8
    while i < n:
        a0 += x[i]
        i += 1
    return ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7))


cdef inline floating _centered_sumsq(const floating *x, Py_ssize_t n,
                                     floating mu) noexcept nogil:
    """sum_i (x_i - mu)^2"""
    cdef floating a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0
    cdef floating d
    cdef Py_ssize_t i = 0
    while i + 8 <= n:
        a0 += (x[i] - mu) * (x[i] - mu)
        a1 += (x[i + 1] - mu) * (x[i + 1] - mu)
        a2 += (x[i + 2] - mu) * (x[i + 2] - mu)
        a3 += (x[i + 3] - mu) * (x[i + 3] - mu)
        a4 += (x[i + 4] - mu) * (x[i + 4] - mu)
        a5 += (x[i + 5] - mu) * (x[i + 5] - mu)
        a6 += (x[i + 6] - mu) * (x[i + 6] - mu)
        a7 += (x[i + 7] - mu) * (x[i + 7] - mu)
        i += 8
    while i < n:
        d = x[i] - mu
        a0 += d * d
        i += 1
    return ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7))


cdef inline floating _max(const floating *x, Py_ssize_t n) noexcept nogil:
    cdef floating m = x[0]
    cdef Py_ssize_t i
    for i in range(1, n):
        if x[i] > m or x[i] != x[i]:   # NaN wins, as in torch
            m = x[i]
    return m


# ---------------------------------------------------------------- Linear
cdef void _gemm(bint ta, bint tb, int m, int n, int k, floating alpha, const floating *a,
                int lda, const floating *b, int ldb, floating beta, floating *c, int ldc,
                int n_threads) noexcept nogil:
    """C = alpha op(A) op(B) + beta C (row-major) with single-threaded BLAS calls, one
    block of C per OpenMP thread: rows of C when m >= n, else columns. Keeps the whole
    layer in one thread pool (the caller pins BLAS to one thread)."""
    cdef int nt = n_threads if <double> m * n * k >= GEMM_PARALLEL_MIN else 1
    cdef int t, lo, hi
    cdef bint by_rows = m >= n
    if nt == 1 or (m if by_rows else n) < 2 * nt:
        gemm_rm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        return
    for t in prange(nt, schedule="static", chunksize=1, num_threads=nt):
        if by_rows:
            lo = t * m // nt
            hi = (t + 1) * m // nt
            gemm_rm(ta, tb, hi - lo, n, k, alpha, a + (lo if ta else lo * lda), lda,
                    b, ldb, beta, c + lo * ldc, ldc)
        else:
            lo = t * n // nt
            hi = (t + 1) * n // nt
            gemm_rm(ta, tb, m, hi - lo, k, alpha, a, lda, b + (lo * ldb if tb else lo),
                    ldb, beta, c + lo, ldc)


def linear_forward(const floating[:, ::1] x, const floating[:, ::1] w,
                   const floating[::1] b, bint has_bias, floating[:, ::1] out,
                   int n_threads):
    """out = x w^T (+ b): one GEMM, the bias pre-loaded into ``out`` (beta = 1)."""
    cdef int m = x.shape[0], k = x.shape[1], n = w.shape[0]
    cdef Py_ssize_t i, j
    cdef floating beta = 0
    if m == 0 or n == 0:
        return
    with nogil:
        if has_bias or k == 0:
            beta = 1
            for i in range(m):
                for j in range(n):
                    out[i, j] = b[j] if has_bias else 0
        if k > 0:
            _gemm(False, True, m, n, k, 1, &x[0, 0], k, &w[0, 0], k, beta,
                  &out[0, 0], n, n_threads)


def linear_backward(const floating[:, ::1] g, const floating[:, ::1] x,
                    const floating[:, ::1] w, floating[:, ::1] grad_x, bint need_grad_x,
                    floating[:, ::1] grad_w, floating[::1] grad_b, bint has_bias,
                    int n_threads):
    """grad_x = g w; grad_w += g^T x; grad_b += column sums of g (accumulating GEMMs)."""
    cdef int m = g.shape[0], n = g.shape[1], k = x.shape[1]
    cdef Py_ssize_t i, j
    if m == 0 or n == 0:
        if need_grad_x and m > 0 and k > 0:
            with nogil:
                for i in range(m):
                    for j in range(k):
                        grad_x[i, j] = 0
        return
    with nogil:
        if k > 0:
            if need_grad_x:
                _gemm(False, False, m, k, n, 1, &g[0, 0], n, &w[0, 0], k, 0,
                      &grad_x[0, 0], k, n_threads)
            _gemm(True, False, n, k, m, 1, &g[0, 0], n, &x[0, 0], k, 1,
                  &grad_w[0, 0], k, n_threads)
        if has_bias:
            for i in range(m):
                for j in range(n):
                    grad_b[j] += g[i, j]


# ---------------------------------------------------------------- LayerNorm
def layer_norm_forward(const floating[:, ::1] x, const floating[::1] w,
                       const floating[::1] b, double eps, floating[:, ::1] out,
                       floating[::1] mean, floating[::1] rstd, int n_threads):
    """Each row: mu, sigma^2 (biased, two-pass); out = (x - mu) / sqrt(sigma^2 + eps) w + b."""
    cdef Py_ssize_t m = x.shape[0], d = x.shape[1], i, j
    cdef floating mu, r
    if m == 0 or d == 0:
        return
    for i in prange(m, nogil=True, schedule="static",
                    num_threads=_threads_for(m * d, n_threads)):
        mu = _sum(&x[i, 0], d) / d
        r = 1 / _sqrt(_centered_sumsq(&x[i, 0], d, mu) / d + <floating> eps)
        mean[i] = mu
        rstd[i] = r
        for j in range(d):
            out[i, j] = (x[i, j] - mu) * r * w[j] + b[j]


def layer_norm_backward(const floating[:, ::1] g, const floating[:, ::1] x,
                        const floating[::1] w, const floating[::1] mean,
                        const floating[::1] rstd, floating[:, ::1] grad_x,
                        floating[::1] grad_w, floating[::1] grad_b, int n_threads):
    """With xhat = (x - mu) r and gw = g w, per row:

    grad_x = r (gw - mean(gw) - xhat mean(gw xhat));
    grad_w += sum_rows g xhat, grad_b += sum_rows g  (per-thread partial sums, merged).
    """
    cdef Py_ssize_t m = x.shape[0], d = x.shape[1], i, j, t
    cdef int nt = _threads_for(m * d, n_threads)
    cdef floating mu, r, s1, s2, gwj, xh, a0, a1, c1, c2
    cdef floating *part
    if m == 0 or d == 0:
        return
    part = <floating *> calloc(2 * nt * d, sizeof(floating))
    if part == NULL:
        raise MemoryError()
    with nogil:
        for i in prange(m, schedule="static", num_threads=nt):
            t = thread_id()
            mu = mean[i]
            r = rstd[i]
            a0 = 0
            a1 = 0
            for j in range(d):
                gwj = g[i, j] * w[j]
                a0 = a0 + gwj
                a1 = a1 + gwj * (x[i, j] - mu)
            s1 = a0 / d
            s2 = a1 * r / d
            c1 = r * s2
            c2 = -r * s1
            for j in range(d):
                xh = (x[i, j] - mu) * r
                grad_x[i, j] = r * g[i, j] * w[j] + c2 - xh * c1
                part[(2 * t) * d + j] += g[i, j] * xh
                part[(2 * t + 1) * d + j] += g[i, j]
        for t in range(nt):
            for j in range(d):
                grad_w[j] += part[(2 * t) * d + j]
                grad_b[j] += part[(2 * t + 1) * d + j]
    free(part)


# ---------------------------------------------------------------- BatchNorm
def batch_norm_forward(const floating[:, :, ::1] x, const floating[::1] w,
                       const floating[::1] b, floating[::1] mean, floating[::1] invstd,
                       bint training, double eps, floating[:, :, ::1] out,
                       floating[::1] var, int n_threads):
    """x: (N, C, L). training: per channel c, mu_c and biased var_c over (N, L) are
    written to ``mean``/``var`` and invstd_c = 1 / sqrt(var_c + eps) to ``invstd``;
    otherwise ``mean``/``invstd`` are read (running statistics).
    out = (x - mu_c) invstd_c w_c + b_c.
    """
    cdef Py_ssize_t n = x.shape[0], c = x.shape[1], l = x.shape[2], ci, ni, li
    cdef floating s, mu, scale, shift
    cdef Py_ssize_t count = n * l
    if c == 0 or count == 0:
        return
    for ci in prange(c, nogil=True, schedule="static",
                     num_threads=_threads_for(n * c * l, n_threads)):
        if training:
            s = 0
            for ni in range(n):
                s = s + _sum(&x[ni, ci, 0], l)
            mu = s / count
            s = 0
            for ni in range(n):
                s = s + _centered_sumsq(&x[ni, ci, 0], l, mu)
            mean[ci] = mu
            var[ci] = s / count
            invstd[ci] = 1 / _sqrt(s / count + <floating> eps)
        scale = invstd[ci] * w[ci]
        shift = b[ci] - mean[ci] * scale
        for ni in range(n):
            for li in range(l):
                out[ni, ci, li] = x[ni, ci, li] * scale + shift


def batch_norm_backward(const floating[:, :, ::1] g, const floating[:, :, ::1] x,
                        const floating[::1] w, const floating[::1] mean,
                        const floating[::1] invstd, bint training,
                        floating[:, :, ::1] grad_x, floating[::1] grad_w,
                        floating[::1] grad_b, int n_threads):
    """Per channel, with M = N L, sg = sum g, sgx = sum g (x - mu):
    grad_w += sgx invstd, grad_b += sg, and
    grad_x = w invstd (g - sg / M - (x - mu) invstd^2 sgx / M)  (training)
    grad_x = w invstd g                                          (eval: fixed statistics).
    """
    cdef Py_ssize_t n = x.shape[0], c = x.shape[1], l = x.shape[2], ci, ni, li
    cdef Py_ssize_t count = n * l
    cdef floating sg, sgx, mu, k, a, off
    if c == 0 or count == 0:
        return
    for ci in prange(c, nogil=True, schedule="static",
                     num_threads=_threads_for(n * c * l, n_threads)):
        mu = mean[ci]
        sg = 0
        sgx = 0
        for ni in range(n):
            for li in range(l):
                sg = sg + g[ni, ci, li]
                sgx = sgx + g[ni, ci, li] * (x[ni, ci, li] - mu)
        grad_w[ci] += sgx * invstd[ci]
        grad_b[ci] += sg
        k = w[ci] * invstd[ci]
        if training:
            a = invstd[ci] * invstd[ci] * sgx / count
            off = sg / count
        else:
            a = 0
            off = 0
        for ni in range(n):
            for li in range(l):
                grad_x[ni, ci, li] = k * (g[ni, ci, li] - off - (x[ni, ci, li] - mu) * a)


# ---------------------------------------------------------------- GELU
cdef inline floating _gelu(floating v, bint tanh_approx) noexcept nogil:
    if tanh_approx:
        return <floating> 0.5 * v * (1 + _tanh(<floating> SQRT_2_OVER_PI *
                                               (v + <floating> GELU_C * v * v * v)))
    return <floating> 0.5 * v * (1 + _erf(v * <floating> SQRT1_2))


cdef inline floating _gelu_grad(floating v, bint tanh_approx) noexcept nogil:
    cdef floating t, u
    if tanh_approx:
        t = _tanh(<floating> SQRT_2_OVER_PI * (v + <floating> GELU_C * v * v * v))
        u = <floating> SQRT_2_OVER_PI * (1 + 3 * <floating> GELU_C * v * v)
        return <floating> 0.5 * (1 + t) + <floating> 0.5 * v * (1 - t * t) * u
    return (<floating> 0.5 * (1 + _erf(v * <floating> SQRT1_2))
            + v * <floating> INV_SQRT_2PI * _exp(<floating> -0.5 * v * v))


def gelu_forward(const floating[::1] x, floating[::1] out, bint tanh_approx, int n_threads):
    """out = x Phi(x) (erf form) or 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
    cdef Py_ssize_t n = x.shape[0], blk, i, lo, hi
    cdef Py_ssize_t nblk = (n + ELEM_BLOCK - 1) // ELEM_BLOCK
    for blk in prange(nblk, nogil=True, schedule="static",
                      num_threads=_threads_for(n, n_threads)):
        lo = blk * ELEM_BLOCK
        hi = min(lo + ELEM_BLOCK, n)
        for i in range(lo, hi):
            out[i] = _gelu(x[i], tanh_approx)


def gelu_backward(const floating[::1] g, const floating[::1] x, floating[::1] grad_x,
                  bint tanh_approx, int n_threads):
    """grad_x = g GELU'(x)."""
    cdef Py_ssize_t n = x.shape[0], blk, i, lo, hi
    cdef Py_ssize_t nblk = (n + ELEM_BLOCK - 1) // ELEM_BLOCK
    for blk in prange(nblk, nogil=True, schedule="static",
                      num_threads=_threads_for(n, n_threads)):
        lo = blk * ELEM_BLOCK
        hi = min(lo + ELEM_BLOCK, n)
        for i in range(lo, hi):
            grad_x[i] = g[i] * _gelu_grad(x[i], tanh_approx)


# ---------------------------------------------------------------- softmax cross-entropy
def cross_entropy_forward(const floating[:, ::1] z, const int64_t[::1] target,
                          double smoothing, int64_t ignore_index, floating[::1] lse,
                          int n_threads):
    """Sum over rows i with target t_i != ignore_index of
    (1 - eps) (lse_i - z_it) + eps (lse_i - mean_c z_ic),  lse_i = log sum_c exp z_ic.

    Writes lse (the row's log-sum-exp, reused by the backward pass); returns the sum.
    """
    cdef Py_ssize_t n = z.shape[0], c = z.shape[1], i, j
    cdef floating mx, s, ls
    cdef double total = 0
    cdef floating eps = <floating> smoothing
    if n == 0 or c == 0:
        return 0.0
    for i in prange(n, nogil=True, schedule="static",
                    num_threads=_threads_for(n * c, n_threads)):
        if target[i] == ignore_index:
            lse[i] = 0
            continue
        mx = _max(&z[i, 0], c)
        s = 0
        for j in range(c):
            s = s + _exp(z[i, j] - mx)
        ls = mx + _log(s)
        lse[i] = ls
        total += (1 - eps) * (ls - z[i, target[i]])
        if eps != 0:
            total += eps * (ls - _sum(&z[i, 0], c) / c)
    return total


def cross_entropy_backward(const floating[:, ::1] z, const int64_t[::1] target,
                           const floating[::1] lse, double smoothing,
                           int64_t ignore_index, double scale, floating[:, ::1] grad_z,
                           int n_threads):
    """grad_z_ic = scale (softmax(z_i)_c - eps / C - (1 - eps) [c == t_i]); 0 for ignored rows."""
    cdef Py_ssize_t n = z.shape[0], c = z.shape[1], i, j
    cdef floating sc = <floating> scale
    cdef floating off = <floating> (smoothing / c) if c > 0 else 0
    cdef floating hit = <floating> (1 - smoothing)
    for i in prange(n, nogil=True, schedule="static",
                    num_threads=_threads_for(n * c, n_threads)):
        if target[i] == ignore_index:
            for j in range(c):
                grad_z[i, j] = 0
            continue
        for j in range(c):
            grad_z[i, j] = sc * (_exp(z[i, j] - lse[i]) - off)
        grad_z[i, target[i]] -= sc * hit


# ---------------------------------------------------------------- Adam / AdamW
cdef void _adam_one(floating *p, const floating *g, floating *m, floating *v,
                    Py_ssize_t n, floating lr, floating b1, floating b2, floating eps,
                    floating wd, bint decoupled, floating bc1, floating bc2_sqrt,
                    int n_threads) noexcept nogil:
    cdef Py_ssize_t blk, i, lo, hi
    cdef Py_ssize_t nblk = (n + ELEM_BLOCK - 1) // ELEM_BLOCK
    cdef floating gi, step = lr / bc1, decay = 1 - lr * wd
    for blk in prange(nblk, schedule="static", num_threads=_threads_for(n, n_threads)):
        lo = blk * ELEM_BLOCK
        hi = min(lo + ELEM_BLOCK, n)
        for i in range(lo, hi):
            gi = g[i]
            if decoupled:
                p[i] = p[i] * decay
            elif wd != 0:
                gi = gi + wd * p[i]
            m[i] = m[i] + (1 - b1) * (gi - m[i])
            v[i] = v[i] * b2 + (1 - b2) * gi * gi
            p[i] = p[i] - step * m[i] / (_sqrt(v[i]) / bc2_sqrt + eps)


def _adam_typed(floating[::1] p, const floating[::1] g, floating[::1] m, floating[::1] v,
                double lr, double b1, double b2, double eps, double wd, bint decoupled,
                double bc1, double bc2_sqrt, int n_threads):
    if p.shape[0] == 0:
        return
    with nogil:
        _adam_one(&p[0], &g[0], &m[0], &v[0], p.shape[0], <floating> lr, <floating> b1,
                  <floating> b2, <floating> eps, <floating> wd, decoupled, <floating> bc1,
                  <floating> bc2_sqrt, n_threads)


def adam_step(list params, list grads, list exp_avgs, list exp_avg_sqs, double lr,
              double beta1, double beta2, double eps, double weight_decay,
              bint decoupled, double bias_correction1, double bias_correction2_sqrt,
              int n_threads):
    """One Adam (``decoupled=False``) or AdamW step over every parameter, in place.

    Per element, with g += wd p (Adam) or p *= 1 - lr wd (AdamW):
    m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
    p -= lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps).
    The arrays are flat (1-D views), each tensor in its own dtype.
    """
    cdef Py_ssize_t k
    for k in range(len(params)):
        _adam_typed(params[k], grads[k], exp_avgs[k], exp_avg_sqs[k], lr, beta1, beta2,
                    eps, weight_decay, decoupled, bias_correction1,
                    bias_correction2_sqrt, n_threads)
