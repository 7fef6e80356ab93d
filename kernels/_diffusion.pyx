"""Fused DDIM sampling of the residual-MLP denoiser (``fastml.models.DiffusionMLP``).

The batch is cut into tiles of at most ``tile`` rows; one task takes a tile through all S
inference steps (rows never interact), so the activations (3 tiles of H columns) stay in
the core's cache and no step returns to Python. Per step s with timestep t_s:

    h   = x W_x^T + c_s (+ E[y]),       c_s = b_in + W_emb emb(t_s) (precomputed)
    h  += SiLU(LN_k(h) W1_k^T + b1_k) W2_k^T + b2_k              k = 0 .. K-1
    out = SiLU(LN_K(h)) W_out^T + b_out
    (guidance: out = out(null) + w (out(y) - out(null)), rescaled per row by
     phi std(out(y)) / std(out) + 1 - phi)
    x0, eps from (x, out) per prediction type (a = sqrt(abar_t), b = sqrt(1 - abar_t)):
        epsilon: x0 = (x - b out) / a, eps = out;  sample: x0 = out, eps = (x - a out) / b
        v_prediction: x0 = a x - b out, eps = a out + b x
    x0 clipped to +-clip_range (clip), eps = (x - a x0) / b (use_clipped),
    x <- sqrt(abar_prev) x0 + dir_s eps + std_s z_s

with ``coef[s] = (a, b, sqrt(abar_prev), dir_s, std_s)``. The tile GEMMs call BLAS pinned
to one thread (the caller's ``blas_single_threaded``); the row passes (LayerNorm, bias +
SiLU) are C loops under ``omp simd`` on the vectorisable exp of ``kernels._math``.
Arrays are C-contiguous of the right dtype; K >= 1 rows of placeholders when the model
has no blocks, a 1-row class table and ``has_class`` 0 without classes.
"""

# GCC if-converts the clamps of the exp polynomials (so the row loops vectorise) only
# without trapping math; nothing here enables floating-point traps.
cdef extern from *:
    """
    #if defined(__GNUC__) && !defined(__clang__)
    #pragma GCC optimize("no-trapping-math")
    #endif
    """

from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport sqrt
from libc.stdint cimport int64_t
from kernels._blas cimport gemm_rm
from kernels._math cimport fml_math_expf  # no-cython-lint (defines fastml_expf / fastml_exp)
from kernels._parallel cimport thread_id

EPSILON = 0
SAMPLE = 1
V_PREDICTION = 2

DEF C_EPSILON = 0
DEF C_SAMPLE = 1

cdef extern from *:
    """
    #include <math.h>
    #include <stddef.h>
    #define FML_DIFF_DEFINE(T, S, EXP)                                                    \
    /* a = LN(h) w + b, then SiLU when silu */                                            \
    static void fml_dm_layer_norm_##S(const T *restrict h, T *restrict a,                 \
                                      const T *restrict w, const T *restrict b,           \
                                      ptrdiff_t n, double eps, int silu) {                \
        T m = 0, v = 0;                                                                   \
        _Pragma("omp simd reduction(+:m)")                                                \
        for (ptrdiff_t j = 0; j < n; j++) m += h[j];                                      \
        m /= (T) n;                                                                       \
        _Pragma("omp simd reduction(+:v)")                                                \
        for (ptrdiff_t j = 0; j < n; j++) { T d = h[j] - m; v += d * d; }                 \
        T inv = (T) (1.0 / sqrt((double) (v / (T) n) + eps));                             \
        if (silu) {                                                                       \
            _Pragma("omp simd")                                                           \
            for (ptrdiff_t j = 0; j < n; j++) {                                           \
                T y = (h[j] - m) * inv * w[j] + b[j];                                     \
                a[j] = y / ((T) 1 + EXP(-y));                                             \
            }                                                                             \
        } else {                                                                          \
            _Pragma("omp simd")                                                           \
            for (ptrdiff_t j = 0; j < n; j++) a[j] = (h[j] - m) * inv * w[j] + b[j];       \
        }                                                                                 \
    }                                                                                     \
    /* u = SiLU(u + b) */                                                                 \
    static void fml_dm_bias_silu_##S(T *restrict u, const T *restrict b, ptrdiff_t n) {   \
        _Pragma("omp simd")                                                               \
        for (ptrdiff_t j = 0; j < n; j++) { T y = u[j] + b[j]; u[j] = y / ((T) 1 + EXP(-y)); } \
    }                                                                                     \
    /* h = b (+ e) + sum_c x_c w[c] (w: rows of length n) */                              \
    static void fml_dm_input_##S(T *restrict h, const T *restrict b, const T *restrict e, \
                                 const T *restrict x, const T *restrict w, ptrdiff_t d,   \
                                 ptrdiff_t n) {                                           \
        _Pragma("omp simd")                                                               \
        for (ptrdiff_t j = 0; j < n; j++) h[j] = e ? b[j] + e[j] : b[j];                  \
        for (ptrdiff_t c = 0; c < d; c++) {                                               \
            T xc = x[c];                                                                  \
            const T *restrict wc = w + c * n;                                             \
            _Pragma("omp simd")                                                           \
            for (ptrdiff_t j = 0; j < n; j++) h[j] += xc * wc[j];                         \
        }                                                                                 \
    }                                                                                     \
    static void fml_dm_add_##S(T *restrict h, const T *restrict b, ptrdiff_t n) {         \
        _Pragma("omp simd")                                                               \
        for (ptrdiff_t j = 0; j < n; j++) h[j] += b[j];                                   \
    }
    FML_DIFF_DEFINE(float, f, fastml_expf)
    FML_DIFF_DEFINE(double, d, fastml_exp)
    """
    void fml_dm_layer_norm_f(const float *h, float *a, const float *w, const float *b,
                             Py_ssize_t n, double eps, int silu) noexcept nogil
    void fml_dm_layer_norm_d(const double *h, double *a, const double *w, const double *b,
                             Py_ssize_t n, double eps, int silu) noexcept nogil
    void fml_dm_bias_silu_f(float *u, const float *b, Py_ssize_t n) noexcept nogil
    void fml_dm_bias_silu_d(double *u, const double *b, Py_ssize_t n) noexcept nogil
    void fml_dm_input_f(float *h, const float *b, const float *e, const float *x,
                        const float *w, Py_ssize_t d, Py_ssize_t n) noexcept nogil
    void fml_dm_input_d(double *h, const double *b, const double *e, const double *x,
                        const double *w, Py_ssize_t d, Py_ssize_t n) noexcept nogil
    void fml_dm_add_f(float *h, const float *b, Py_ssize_t n) noexcept nogil
    void fml_dm_add_d(double *h, const double *b, Py_ssize_t n) noexcept nogil


cdef inline void _layer_norm(const floating *h, floating *a, const floating *w,
                             const floating *b, Py_ssize_t n, double eps,
                             int silu) noexcept nogil:
    if floating is float:
        fml_dm_layer_norm_f(h, a, w, b, n, eps, silu)
    else:
        fml_dm_layer_norm_d(h, a, w, b, n, eps, silu)


cdef inline void _bias_silu(floating *u, const floating *b, Py_ssize_t n) noexcept nogil:
    if floating is float:
        fml_dm_bias_silu_f(u, b, n)
    else:
        fml_dm_bias_silu_d(u, b, n)


cdef inline void _input(floating *h, const floating *b, const floating *e, const floating *x,
                        const floating *w, Py_ssize_t d, Py_ssize_t n) noexcept nogil:
    if floating is float:
        fml_dm_input_f(h, b, e, x, w, d, n)
    else:
        fml_dm_input_d(h, b, e, x, w, d, n)


cdef inline void _add(floating *h, const floating *b, Py_ssize_t n) noexcept nogil:
    if floating is float:
        fml_dm_add_f(h, b, n)
    else:
        fml_dm_add_d(h, b, n)


cdef void _trunk(Py_ssize_t nb, Py_ssize_t D, Py_ssize_t H, Py_ssize_t K,
                 const floating *x, const floating *w_x, const floating *bias,
                 const floating *table, const int64_t *labels, int64_t fixed_label,
                 const floating *ln_w, const floating *ln_b, const floating *w1,
                 const floating *b1, const floating *w2, const floating *b2,
                 const floating *w_out, const floating *b_out, double ln_eps,
                 floating *h, floating *a, floating *u, floating *out) noexcept nogil:
    """out (nb, D) = the denoiser on the nb rows of x; h, a, u: (nb, H) scratch. ``table``
    NULL without classes; ``fixed_label`` >= 0 replaces ``labels`` (the null class)."""
    cdef Py_ssize_t r, k, c
    cdef int64_t label
    cdef const floating *e = NULL
    for r in range(nb):
        if table != NULL:
            label = fixed_label if fixed_label >= 0 else labels[r]
            e = table + label * H
        _input(h + r * H, bias, e, x + r * D, w_x, D, H)
    for k in range(K):
        for r in range(nb):
            _layer_norm(h + r * H, a + r * H, ln_w + k * H, ln_b + k * H, H, ln_eps, 0)
        gemm_rm(False, True, nb, H, H, 1, a, H, w1 + k * H * H, H, 0, u, H)
        for r in range(nb):
            _bias_silu(u + r * H, b1 + k * H, H)
            _add(h + r * H, b2 + k * H, H)
        gemm_rm(False, True, nb, H, H, 1, u, H, w2 + k * H * H, H, 1, h, H)
    for r in range(nb):
        _layer_norm(h + r * H, a + r * H, ln_w + K * H, ln_b + K * H, H, ln_eps, 1)
    gemm_rm(False, True, nb, D, H, 1, a, H, w_out, H, 0, out, D)
    for r in range(nb):
        for c in range(D):
            out[r * D + c] += b_out[c]


cdef void _update(Py_ssize_t nb, Py_ssize_t D, floating *x, const floating *out,
                  floating *out_null, bint guided, double w, double phi,
                  const double *coef, int prediction, bint clip, double clip_range,
                  bint use_clipped, const floating *z) noexcept nogil:
    """One DDIM step on nb rows of x in place (module docstring). With ``guided`` the
    model output is the guided one, written over ``out_null``; z NULL: no noise."""
    cdef Py_ssize_t r, c
    cdef floating a = <floating> coef[0], b = <floating> coef[1]
    cdef floating sa_prev = <floating> coef[2], dir_c = <floating> coef[3]
    cdef floating sd = <floating> coef[4], lo = <floating> -clip_range
    cdef floating hi = <floating> clip_range, fw = <floating> w, fphi = <floating> phi
    cdef floating xv, o, x0, e, mc, mg, vc, vg, ratio
    cdef const floating *crow
    cdef floating *g
    for r in range(nb):
        crow = out + r * D
        if guided:
            g = out_null + r * D
            for c in range(D):
                g[c] = g[c] + fw * (crow[c] - g[c])
            if phi > 0:     # std(out(y)) / std(guided) over the row
                mc = 0
                mg = 0
                for c in range(D):
                    mc = mc + crow[c]
                    mg = mg + g[c]
                mc = mc / D
                mg = mg / D
                vc = 0
                vg = 0
                for c in range(D):
                    vc = vc + (crow[c] - mc) * (crow[c] - mc)
                    vg = vg + (g[c] - mg) * (g[c] - mg)
                ratio = <floating> sqrt(vc / vg)
                for c in range(D):
                    g[c] = fphi * ratio * g[c] + (1 - fphi) * g[c]
            crow = g
        for c in range(D):
            xv = x[r * D + c]
            o = crow[c]
            if prediction == C_EPSILON:
                x0 = (xv - b * o) / a
                e = o
            elif prediction == C_SAMPLE:
                x0 = o
                e = (xv - a * o) / b
            else:
                x0 = a * xv - b * o
                e = a * o + b * xv
            if clip:
                x0 = lo if x0 < lo else (hi if x0 > hi else x0)
            if use_clipped:
                e = (xv - a * x0) / b
            xv = sa_prev * x0 + dir_c * e
            if z != NULL:
                xv = xv + sd * z[r * D + c]
            x[r * D + c] = xv


def ddim_mlp(floating[:, ::1] x, const floating[:, ::1] w_x, const floating[:, ::1] bias,
             const floating[:, ::1] table, const int64_t[::1] labels, bint has_class,
             bint guided, double w, double phi, int64_t null_label,
             const floating[:, ::1] ln_w, const floating[:, ::1] ln_b,
             const floating[:, :, ::1] w1, const floating[:, ::1] b1,
             const floating[:, :, ::1] w2, const floating[:, ::1] b2,
             const floating[:, ::1] w_out, const floating[::1] b_out, Py_ssize_t n_blocks,
             double ln_eps, const double[:, ::1] coef, int prediction, bint clip,
             double clip_range, bint use_clipped, const floating[:, :, ::1] noise,
             bint use_noise, floating[:, ::1] work, Py_ssize_t tile, int n_threads):
    """All S = len(coef) DDIM steps on x (n, D) in place (module docstring).

    w_x (D, H): the x columns of the input layer, transposed; bias (S, H): c_s; table
    (C + 1, H) and labels (n,): class embedding (used when has_class; ``null_label`` is
    the null row for guidance); ln_w, ln_b (K + 1, H): the blocks' and the head's
    LayerNorm; w1, w2 (K, H, H), b1, b2 (K, H); w_out (D, H), b_out (D,); noise (S, n, D)
    when use_noise; work (n_threads, 3 tile H + 2 tile D).
    """
    cdef Py_ssize_t n = x.shape[0], D = x.shape[1], H = w_x.shape[1]
    cdef Py_ssize_t S = coef.shape[0], n_tiles = (n + tile - 1) // tile
    cdef Py_ssize_t i, s, r0, nb, stride = tile * H
    cdef floating *ws
    cdef floating *out
    cdef floating *out_null
    cdef const floating *tab = &table[0, 0] if has_class else NULL
    cdef const floating *z
    with nogil:
        for i in prange(n_tiles, schedule="dynamic", chunksize=1, num_threads=n_threads):
            ws = &work[thread_id(), 0]
            out = ws + 3 * stride
            out_null = out + tile * D
            r0 = i * tile
            nb = min(tile, n - r0)
            for s in range(S):
                z = &noise[s, r0, 0] if use_noise else NULL
                if guided:
                    _trunk(nb, D, H, n_blocks, &x[r0, 0], &w_x[0, 0], &bias[s, 0], tab,
                           &labels[r0], null_label, &ln_w[0, 0], &ln_b[0, 0],
                           &w1[0, 0, 0], &b1[0, 0], &w2[0, 0, 0], &b2[0, 0], &w_out[0, 0],
                           &b_out[0], ln_eps, ws, ws + stride, ws + 2 * stride, out_null)
                _trunk(nb, D, H, n_blocks, &x[r0, 0], &w_x[0, 0], &bias[s, 0], tab,
                       &labels[r0], -1, &ln_w[0, 0], &ln_b[0, 0], &w1[0, 0, 0], &b1[0, 0],
                       &w2[0, 0, 0], &b2[0, 0], &w_out[0, 0], &b_out[0], ln_eps, ws,
                       ws + stride, ws + 2 * stride, out)
                _update(nb, D, &x[r0, 0], out, out_null, guided, w, phi, &coef[s, 0],
                        prediction, clip, clip_range, use_clipped, z)
