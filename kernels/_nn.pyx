# Fused neural-network kernels: Linear (BLAS GEMM), LayerNorm, BatchNorm, GELU, SiLU,
# softmax cross-entropy and the Adam update, forward and backward.
#
# Every routine assumes C-contiguous float32/float64 arrays of consistent shapes,
# validated and allocated by fastml.nn.functional; outputs are written in place.
# The per-row loops are small C functions (below) marked "omp simd", so that sums are
# vectorised and float32 exp / normal CDF are branch-free polynomials that vectorise too;
# the Cython code parallelises over rows (prange) and dispatches on the dtype.

# GCC if-converts the clamps and selects of the float32 polynomials (exp, normal CDF) so
# that the elementwise loops vectorise only without trapping math; nothing here enables
# floating-point traps. Emitted before the cimported helpers so that they compile alike.
cdef extern from *:
    """
    #if defined(__GNUC__) && !defined(__clang__)
    #pragma GCC optimize("no-trapping-math")
    #endif
    """

from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport log, sqrt
from libc.stdlib cimport calloc, free
from libc.stdint cimport int64_t

from kernels._blas cimport gemm_rm, gemv_rm
from kernels._math cimport fast_expf  # no-cython-lint (its C defines fastml_expf, used below)
from kernels._parallel cimport thread_id

# Thread counts come from Python (fastml.nn.functional._core: fewer threads for small
# work); elementwise loops are split into blocks of ELEM_BLOCK.
cdef enum:
    ELEM_BLOCK = 8192


# ---------------------------------------------------------------- vectorised row kernels
cdef extern from *:
    """
    #include <math.h>
    #include <stddef.h>
    #include <stdint.h>
    #include <string.h>

    /* float32 exp: fastml_expf of kernels/_math.pxd (Cephes polynomial, vectorises);
       float64: libm's exp (the row loops here are not exp-bound in double). */
    static inline double fml_exp(double x) { return exp(x); }

    /* Phi(x), the standard normal CDF. float32: 0.5 erfc(|x| / sqrt 2) by the
       Numerical Recipes Chebyshev fit (relative error < 1.2e-7 for all x), so both
       tails keep full relative precision; float64: libm erf. */
    static inline float fml_cdf_f(float x) {
        float z = fabsf(x) * 0.70710678118654752f;
        float t = 1.0f / (1.0f + 0.5f * z);
        float p = -1.26551223f + t * (1.00002368f + t * (0.37409196f + t * (0.09678418f
            + t * (-0.18628806f + t * (0.27886807f + t * (-1.13520398f + t * (1.48851587f
            + t * (-0.82215223f + t * 0.17087277f))))))));
        float h = 0.5f * t * fastml_expf(-z * z + p);
        return x >= 0 ? 1.0f - h : h;
    }
    static inline double fml_cdf_d(double x) { return 0.5 * (1.0 + erf(x * M_SQRT1_2)); }

    /* exp overflowing to +inf like libm (fastml_expf saturates at exp(88.3)), so that
       SiLU's x / (1 + exp(-x)) gives -0 and NaN at -inf as PyTorch does. */
    static inline float fml_exp_inf_f(float x) { return x > 88.3f ? INFINITY : fastml_expf(x); }

    #define FML_SQRT_2_OVER_PI 0.79788456080286535588
    #define FML_INV_SQRT_2PI 0.39894228040143267794
    #define FML_GELU_C 0.044715

    /* Row kernels, one per dtype. "omp simd" lets the reductions be reordered into
       SIMD lanes (the compiler may not do that by itself for floating point). */
    #define FML_DEFINE(T, S, EXP, EXP_INF, CDF, SQRT)                                       \\
    static inline T fml_sum_##S(const T *restrict x, ptrdiff_t n) {                  \\
        T s = 0;                                                                      \\
        _Pragma("omp simd reduction(+:s)")                                            \\
        for (ptrdiff_t i = 0; i < n; i++) s += x[i];                                  \\
        return s;                                                                     \\
    }                                                                                 \\
    static inline T fml_sumsq_##S(const T *restrict x, ptrdiff_t n, T mu) {          \\
        T s = 0;                                                                      \\
        _Pragma("omp simd reduction(+:s)")                                            \\
        for (ptrdiff_t i = 0; i < n; i++) s += (x[i] - mu) * (x[i] - mu);             \\
        return s;                                                                     \\
    }                                                                                 \\
    static inline T fml_max_##S(const T *restrict x, ptrdiff_t n) {                  \\
        T m = x[0];                                                                   \\
        _Pragma("omp simd reduction(max:m)")                                          \\
        for (ptrdiff_t i = 1; i < n; i++) m = x[i] > m ? x[i] : m;                    \\
        return m;                                                                     \\
    }                                                                                 \\
    /* a = sum g w, b = sum g w (x - mu)  (w == NULL: w = 1) */                        \\
    static inline void fml_gsums_##S(const T *restrict g, const T *restrict w,        \\
                                     const T *restrict x, T mu, ptrdiff_t n,          \\
                                     T *a_out, T *b_out) {                            \\
        T a = 0, b = 0;                                                               \\
        if (w) {                                                                      \\
            _Pragma("omp simd reduction(+:a, b)")                                     \\
            for (ptrdiff_t i = 0; i < n; i++) {                                       \\
                T gw = g[i] * w[i]; a += gw; b += gw * (x[i] - mu);                   \\
            }                                                                         \\
        } else {                                                                      \\
            _Pragma("omp simd reduction(+:a, b)")                                     \\
            for (ptrdiff_t i = 0; i < n; i++) { a += g[i]; b += g[i] * (x[i] - mu); } \\
        }                                                                             \\
        *a_out = a; *b_out = b;                                                       \\
    }                                                                                 \\
    /* out = (x - mu) r w + b */                                                      \\
    static inline void fml_ln_out_##S(const T *restrict x, const T *restrict w,       \\
                                      const T *restrict b, T mu, T r,                 \\
                                      T *restrict out, ptrdiff_t n) {                 \\
        _Pragma("omp simd")                                                           \\
        for (ptrdiff_t i = 0; i < n; i++) out[i] = (x[i] - mu) * r * w[i] + b[i];      \\
    }                                                                                 \\
    /* gx = r g w + c2 - xhat c1, pw += g xhat, pb += g, xhat = (x - mu) r */          \\
    static inline void fml_ln_grad_##S(const T *restrict g, const T *restrict w,      \\
                                       const T *restrict x, T mu, T r, T c1, T c2,    \\
                                       T *restrict gx, T *restrict pw,                \\
                                       T *restrict pb, ptrdiff_t n) {                 \\
        _Pragma("omp simd")                                                           \\
        for (ptrdiff_t i = 0; i < n; i++) {                                           \\
            T xh = (x[i] - mu) * r;                                                   \\
            gx[i] = r * g[i] * w[i] + c2 - xh * c1;                                   \\
            pw[i] += g[i] * xh;                                                       \\
            pb[i] += g[i];                                                            \\
        }                                                                             \\
    }                                                                                 \\
    /* out = x scale + shift */                                                       \\
    static inline void fml_affine_##S(const T *restrict x, T scale, T shift,          \\
                                      T *restrict out, ptrdiff_t n) {                 \\
        _Pragma("omp simd")                                                           \\
        for (ptrdiff_t i = 0; i < n; i++) out[i] = x[i] * scale + shift;              \\
    }                                                                                 \\
    /* gx = k (g - off - (x - mu) a) */                                               \\
    static inline void fml_bn_grad_##S(const T *restrict g, const T *restrict x,      \\
                                       T mu, T k, T off, T a, T *restrict gx,         \\
                                       ptrdiff_t n) {                                 \\
        _Pragma("omp simd")                                                           \\
        for (ptrdiff_t i = 0; i < n; i++) gx[i] = k * (g[i] - off - (x[i] - mu) * a); \\
    }                                                                                 \\
    static inline T fml_expsum_##S(const T *restrict z, T mx, ptrdiff_t n) {         \\
        T s = 0;                                                                      \\
        _Pragma("omp simd reduction(+:s)")                                            \\
        for (ptrdiff_t i = 0; i < n; i++) s += EXP(z[i] - mx);                        \\
        return s;                                                                     \\
    }                                                                                 \\
    /* gz = sc (exp(z - lse) - off) */                                                \\
    static inline void fml_ce_grad_##S(const T *restrict z, T lse, T sc, T off,       \\
                                       T *restrict gz, ptrdiff_t n) {                 \\
        _Pragma("omp simd")                                                           \\
        for (ptrdiff_t i = 0; i < n; i++) gz[i] = sc * (EXP(z[i] - lse) - off);       \\
    }                                                                                 \\
    /* erf form: x Phi(x); tanh form: 0.5 x (1 + tanh u) = x s, s = sigmoid(2u),       \\
       u = sqrt(2/pi) (x + 0.044715 x^3) */                                           \\
    static inline void fml_gelu_##S(const T *restrict x, T *restrict out,             \\
                                    ptrdiff_t n, int tanh_form) {                     \\
        if (tanh_form) {                                                              \\
            _Pragma("omp simd")                                                       \\
            for (ptrdiff_t i = 0; i < n; i++) {                                       \\
                T v = x[i];                                                           \\
                T u = (T) FML_SQRT_2_OVER_PI * (v + (T) FML_GELU_C * v * v * v);      \\
                out[i] = v / (1 + EXP(-2 * u));                                       \\
            }                                                                         \\
        } else {                                                                      \\
            _Pragma("omp simd")                                                       \\
            for (ptrdiff_t i = 0; i < n; i++) out[i] = x[i] * CDF(x[i]);              \\
        }                                                                             \\
    }                                                                                 \\
    /* erf form: Phi(x) + x phi(x); tanh form: s + 2 x s (1 - s) u' */                \\
    static inline void fml_gelu_grad_##S(const T *restrict g, const T *restrict x,    \\
                                         T *restrict gx, ptrdiff_t n, int tanh_form) {\\
        if (tanh_form) {                                                              \\
            _Pragma("omp simd")                                                       \\
            for (ptrdiff_t i = 0; i < n; i++) {                                       \\
                T v = x[i];                                                           \\
                T u = (T) FML_SQRT_2_OVER_PI * (v + (T) FML_GELU_C * v * v * v);      \\
                T du = (T) FML_SQRT_2_OVER_PI * (1 + 3 * (T) FML_GELU_C * v * v);     \\
                T s = 1 / (1 + EXP(-2 * u));                                          \\
                gx[i] = g[i] * (s + 2 * v * s * (1 - s) * du);                        \\
            }                                                                         \\
        } else {                                                                      \\
            _Pragma("omp simd")                                                       \\
            for (ptrdiff_t i = 0; i < n; i++) {                                       \\
                T v = x[i];                                                           \\
                gx[i] = g[i] * (CDF(v) + v * (T) FML_INV_SQRT_2PI * EXP(-(T) 0.5 * v * v)); \\
            }                                                                         \\
        }                                                                             \\
    }                                                                                 \\
    /* Column-vector forms for BatchNorm over (N, C) rows (one value per channel and row) */ \\
    static inline void fml_col_sums_##S(const T *restrict x, const T *restrict mu,    \\
                                        T *restrict s1, T *restrict s2, ptrdiff_t n) {\\
        if (mu) {                                                                     \\
            _Pragma("omp simd")                                                       \\
            for (ptrdiff_t i = 0; i < n; i++) s2[i] += (x[i] - mu[i]) * (x[i] - mu[i]); \\
        } else {                                                                      \\
            _Pragma("omp simd")                                                       \\
            for (ptrdiff_t i = 0; i < n; i++) s1[i] += x[i];                          \\
        }                                                                             \\
    }                                                                                 \\
    /* s1 += g, s2 += g (x - mu) */                                                   \\
    static inline void fml_col_gsums_##S(const T *restrict g, const T *restrict x,    \\
                                         const T *restrict mu, T *restrict s1,        \\
                                         T *restrict s2, ptrdiff_t n) {               \\
        _Pragma("omp simd")                                                           \\
        for (ptrdiff_t i = 0; i < n; i++) { s1[i] += g[i]; s2[i] += g[i] * (x[i] - mu[i]); } \\
    }                                                                                 \\
    /* out = x scale + shift (vectors) */                                             \\
    static inline void fml_col_affine_##S(const T *restrict x, const T *restrict sc,  \\
                                          const T *restrict sh, T *restrict out,      \\
                                          ptrdiff_t n) {                              \\
        _Pragma("omp simd")                                                           \\
        for (ptrdiff_t i = 0; i < n; i++) out[i] = x[i] * sc[i] + sh[i];              \\
    }                                                                                 \\
    /* gx = k (g - off - (x - mu) a) (vectors) */                                     \\
    static inline void fml_col_bn_grad_##S(const T *restrict g, const T *restrict x,  \\
                                           const T *restrict mu, const T *restrict k, \\
                                           const T *restrict off, const T *restrict a,\\
                                           T *restrict gx, ptrdiff_t n) {             \\
        _Pragma("omp simd")                                                           \\
        for (ptrdiff_t i = 0; i < n; i++)                                             \\
            gx[i] = k[i] * (g[i] - off[i] - (x[i] - mu[i]) * a[i]);                   \\
    }                                                                                 \\
    /* SiLU: x sigmoid(x) = x / (1 + exp(-x)); gradient s (1 + x (1 - s)), s = sigmoid(x) */ \\
    static inline void fml_silu_##S(const T *restrict x, T *restrict out, ptrdiff_t n) { \\
        _Pragma("omp simd")                                                           \\
        for (ptrdiff_t i = 0; i < n; i++) out[i] = x[i] / (1 + EXP_INF(-x[i]));       \\
    }                                                                                 \\
    static inline void fml_silu_grad_##S(const T *restrict g, const T *restrict x,    \\
                                         T *restrict gx, ptrdiff_t n) {               \\
        _Pragma("omp simd")                                                           \\
        for (ptrdiff_t i = 0; i < n; i++) {                                           \\
            T s = 1 / (1 + EXP_INF(-x[i]));                                           \\
            gx[i] = g[i] * (s * (1 + x[i] * (1 - s)));                                \\
        }                                                                             \\
    }                                                                                 \\
    static inline void fml_relu_##S(const T *restrict x, T *restrict out, ptrdiff_t n) { \\
        _Pragma("omp simd")                                                           \\
        for (ptrdiff_t i = 0; i < n; i++) out[i] = x[i] > 0 ? x[i] : (x[i] != x[i] ? x[i] : 0); \\
    }                                                                                 \\
    static inline void fml_relu_grad_##S(const T *restrict g, const T *restrict x,    \\
                                         T *restrict gx, ptrdiff_t n) {               \\
        _Pragma("omp simd")                                                           \\
        for (ptrdiff_t i = 0; i < n; i++) gx[i] = x[i] > 0 ? g[i] : 0;                \\
    }                                                                                 \\
    /* Adam / AdamW on one tensor (see adam_step) */                                  \\
    static inline void fml_adam_##S(T *restrict p, const T *restrict g,               \\
                                    T *restrict m, T *restrict v, ptrdiff_t n,        \\
                                    T lr, T b1, T b2, T eps, T wd, int decoupled,     \\
                                    T bc1, T bc2_sqrt) {                              \\
        T step = lr / bc1, decay = decoupled ? 1 - lr * wd : 1;                       \\
        T l2 = decoupled ? 0 : wd;                                                    \\
        _Pragma("omp simd")                                                           \\
        for (ptrdiff_t i = 0; i < n; i++) {                                           \\
            T pi = p[i] * decay;                                                      \\
            T gi = g[i] + l2 * p[i];                                                  \\
            T mi = m[i] + (1 - b1) * (gi - m[i]);                                     \\
            T vi = v[i] * b2 + (1 - b2) * gi * gi;                                    \\
            m[i] = mi;                                                                \\
            v[i] = vi;                                                                \\
            p[i] = pi - step * mi / (SQRT(vi) / bc2_sqrt + eps);                      \\
        }                                                                             \\
    }

    FML_DEFINE(float, f, fastml_expf, fml_exp_inf_f, fml_cdf_f, sqrtf)
    FML_DEFINE(double, d, fml_exp, fml_exp, fml_cdf_d, sqrt)
    """
    float fml_sum_f(const float *x, Py_ssize_t n) noexcept nogil
    double fml_sum_d(const double *x, Py_ssize_t n) noexcept nogil
    float fml_sumsq_f(const float *x, Py_ssize_t n, float mu) noexcept nogil
    double fml_sumsq_d(const double *x, Py_ssize_t n, double mu) noexcept nogil
    float fml_max_f(const float *x, Py_ssize_t n) noexcept nogil
    double fml_max_d(const double *x, Py_ssize_t n) noexcept nogil
    void fml_gsums_f(const float *g, const float *w, const float *x, float mu, Py_ssize_t n,
                     float *a, float *b) noexcept nogil
    void fml_gsums_d(const double *g, const double *w, const double *x, double mu,
                     Py_ssize_t n, double *a, double *b) noexcept nogil
    void fml_ln_out_f(const float *x, const float *w, const float *b, float mu, float r,
                      float *out, Py_ssize_t n) noexcept nogil
    void fml_ln_out_d(const double *x, const double *w, const double *b, double mu, double r,
                      double *out, Py_ssize_t n) noexcept nogil
    void fml_ln_grad_f(const float *g, const float *w, const float *x, float mu, float r,
                       float c1, float c2, float *gx, float *pw, float *pb,
                       Py_ssize_t n) noexcept nogil
    void fml_ln_grad_d(const double *g, const double *w, const double *x, double mu,
                       double r, double c1, double c2, double *gx, double *pw, double *pb,
                       Py_ssize_t n) noexcept nogil
    void fml_affine_f(const float *x, float scale, float shift, float *out,
                      Py_ssize_t n) noexcept nogil
    void fml_affine_d(const double *x, double scale, double shift, double *out,
                      Py_ssize_t n) noexcept nogil
    void fml_bn_grad_f(const float *g, const float *x, float mu, float k, float off, float a,
                       float *gx, Py_ssize_t n) noexcept nogil
    void fml_bn_grad_d(const double *g, const double *x, double mu, double k, double off,
                       double a, double *gx, Py_ssize_t n) noexcept nogil
    float fml_expsum_f(const float *z, float mx, Py_ssize_t n) noexcept nogil
    double fml_expsum_d(const double *z, double mx, Py_ssize_t n) noexcept nogil
    void fml_ce_grad_f(const float *z, float lse, float sc, float off, float *gz,
                       Py_ssize_t n) noexcept nogil
    void fml_ce_grad_d(const double *z, double lse, double sc, double off, double *gz,
                       Py_ssize_t n) noexcept nogil
    void fml_gelu_f(const float *x, float *out, Py_ssize_t n, int tanh_form) noexcept nogil
    void fml_gelu_d(const double *x, double *out, Py_ssize_t n,
                    int tanh_form) noexcept nogil
    void fml_gelu_grad_f(const float *g, const float *x, float *gx, Py_ssize_t n,
                         int tanh_form) noexcept nogil
    void fml_gelu_grad_d(const double *g, const double *x, double *gx, Py_ssize_t n,
                         int tanh_form) noexcept nogil
    void fml_adam_f(float *p, const float *g, float *m, float *v, Py_ssize_t n, float lr,
                    float b1, float b2, float eps, float wd, int decoupled, float bc1,
                    float bc2_sqrt) noexcept nogil
    void fml_adam_d(double *p, const double *g, double *m, double *v, Py_ssize_t n,
                    double lr, double b1, double b2, double eps, double wd, int decoupled,
                    double bc1, double bc2_sqrt) noexcept nogil
    void fml_col_sums_f(const float *x, const float *mu, float *s1, float *s2,
                        Py_ssize_t n) noexcept nogil
    void fml_col_sums_d(const double *x, const double *mu, double *s1, double *s2,
                        Py_ssize_t n) noexcept nogil
    void fml_col_gsums_f(const float *g, const float *x, const float *mu, float *s1,
                         float *s2, Py_ssize_t n) noexcept nogil
    void fml_col_gsums_d(const double *g, const double *x, const double *mu, double *s1,
                         double *s2, Py_ssize_t n) noexcept nogil
    void fml_col_affine_f(const float *x, const float *sc, const float *sh, float *out,
                          Py_ssize_t n) noexcept nogil
    void fml_col_affine_d(const double *x, const double *sc, const double *sh, double *out,
                          Py_ssize_t n) noexcept nogil
    void fml_col_bn_grad_f(const float *g, const float *x, const float *mu, const float *k,
                           const float *off, const float *a, float *gx,
                           Py_ssize_t n) noexcept nogil
    void fml_col_bn_grad_d(const double *g, const double *x, const double *mu,
                           const double *k, const double *off, const double *a, double *gx,
                           Py_ssize_t n) noexcept nogil
    void fml_silu_f(const float *x, float *out, Py_ssize_t n) noexcept nogil
    void fml_silu_d(const double *x, double *out, Py_ssize_t n) noexcept nogil
    void fml_silu_grad_f(const float *g, const float *x, float *gx,
                         Py_ssize_t n) noexcept nogil
    void fml_silu_grad_d(const double *g, const double *x, double *gx,
                         Py_ssize_t n) noexcept nogil
    void fml_relu_f(const float *x, float *out, Py_ssize_t n) noexcept nogil
    void fml_relu_d(const double *x, double *out, Py_ssize_t n) noexcept nogil
    void fml_relu_grad_f(const float *g, const float *x, float *gx,
                         Py_ssize_t n) noexcept nogil
    void fml_relu_grad_d(const double *g, const double *x, double *gx,
                         Py_ssize_t n) noexcept nogil


cdef inline void _col_sums(const floating *x, const floating *mu, floating *s1, floating *s2,
                           Py_ssize_t n) noexcept nogil:
    if floating is float:
        fml_col_sums_f(x, mu, s1, s2, n)
    else:
        fml_col_sums_d(x, mu, s1, s2, n)


cdef inline void _col_gsums(const floating *g, const floating *x, const floating *mu,
                            floating *s1, floating *s2, Py_ssize_t n) noexcept nogil:
    if floating is float:
        fml_col_gsums_f(g, x, mu, s1, s2, n)
    else:
        fml_col_gsums_d(g, x, mu, s1, s2, n)


cdef inline void _col_affine(const floating *x, const floating *sc, const floating *sh,
                             floating *out, Py_ssize_t n) noexcept nogil:
    if floating is float:
        fml_col_affine_f(x, sc, sh, out, n)
    else:
        fml_col_affine_d(x, sc, sh, out, n)


cdef inline void _col_bn_grad(const floating *g, const floating *x, const floating *mu,
                              const floating *k, const floating *off, const floating *a,
                              floating *gx, Py_ssize_t n) noexcept nogil:
    if floating is float:
        fml_col_bn_grad_f(g, x, mu, k, off, a, gx, n)
    else:
        fml_col_bn_grad_d(g, x, mu, k, off, a, gx, n)


cdef inline void _relu(const floating *x, floating *out, Py_ssize_t n) noexcept nogil:
    if floating is float:
        fml_relu_f(x, out, n)
    else:
        fml_relu_d(x, out, n)


cdef inline void _relu_grad(const floating *g, const floating *x, floating *gx,
                            Py_ssize_t n) noexcept nogil:
    if floating is float:
        fml_relu_grad_f(g, x, gx, n)
    else:
        fml_relu_grad_d(g, x, gx, n)


cdef inline void _silu(const floating *x, floating *out, Py_ssize_t n) noexcept nogil:
    if floating is float:
        fml_silu_f(x, out, n)
    else:
        fml_silu_d(x, out, n)


cdef inline void _silu_grad(const floating *g, const floating *x, floating *gx,
                            Py_ssize_t n) noexcept nogil:
    if floating is float:
        fml_silu_grad_f(g, x, gx, n)
    else:
        fml_silu_grad_d(g, x, gx, n)


cdef inline floating _sum(const floating *x, Py_ssize_t n) noexcept nogil:
    if floating is float:
        return fml_sum_f(x, n)
    else:
        return fml_sum_d(x, n)


cdef inline floating _sumsq(const floating *x, Py_ssize_t n, floating mu) noexcept nogil:
    if floating is float:
        return fml_sumsq_f(x, n, mu)
    else:
        return fml_sumsq_d(x, n, mu)


cdef inline floating _max(const floating *x, Py_ssize_t n) noexcept nogil:
    if floating is float:
        return fml_max_f(x, n)
    else:
        return fml_max_d(x, n)


cdef inline void _gsums(const floating *g, const floating *w, const floating *x, floating mu,
                        Py_ssize_t n, floating *a, floating *b) noexcept nogil:
    if floating is float:
        fml_gsums_f(g, w, x, mu, n, a, b)
    else:
        fml_gsums_d(g, w, x, mu, n, a, b)


cdef inline void _ln_out(const floating *x, const floating *w, const floating *b,
                         floating mu, floating r, floating *out,
                         Py_ssize_t n) noexcept nogil:
    if floating is float:
        fml_ln_out_f(x, w, b, mu, r, out, n)
    else:
        fml_ln_out_d(x, w, b, mu, r, out, n)


cdef inline void _ln_grad(const floating *g, const floating *w, const floating *x,
                          floating mu, floating r, floating c1, floating c2, floating *gx,
                          floating *pw, floating *pb, Py_ssize_t n) noexcept nogil:
    if floating is float:
        fml_ln_grad_f(g, w, x, mu, r, c1, c2, gx, pw, pb, n)
    else:
        fml_ln_grad_d(g, w, x, mu, r, c1, c2, gx, pw, pb, n)


cdef inline void _affine(const floating *x, floating scale, floating shift, floating *out,
                         Py_ssize_t n) noexcept nogil:
    if floating is float:
        fml_affine_f(x, scale, shift, out, n)
    else:
        fml_affine_d(x, scale, shift, out, n)


cdef inline void _bn_grad(const floating *g, const floating *x, floating mu, floating k,
                          floating off, floating a, floating *gx,
                          Py_ssize_t n) noexcept nogil:
    if floating is float:
        fml_bn_grad_f(g, x, mu, k, off, a, gx, n)
    else:
        fml_bn_grad_d(g, x, mu, k, off, a, gx, n)


cdef inline floating _expsum(const floating *z, floating mx, Py_ssize_t n) noexcept nogil:
    if floating is float:
        return fml_expsum_f(z, mx, n)
    else:
        return fml_expsum_d(z, mx, n)


cdef inline void _ce_grad(const floating *z, floating lse, floating sc, floating off,
                          floating *gz, Py_ssize_t n) noexcept nogil:
    if floating is float:
        fml_ce_grad_f(z, lse, sc, off, gz, n)
    else:
        fml_ce_grad_d(z, lse, sc, off, gz, n)


cdef inline void _gelu(const floating *x, floating *out, Py_ssize_t n,
                       int tanh_form) noexcept nogil:
    if floating is float:
        fml_gelu_f(x, out, n, tanh_form)
    else:
        fml_gelu_d(x, out, n, tanh_form)


cdef inline void _gelu_grad(const floating *g, const floating *x, floating *gx, Py_ssize_t n,
                            int tanh_form) noexcept nogil:
    if floating is float:
        fml_gelu_grad_f(g, x, gx, n, tanh_form)
    else:
        fml_gelu_grad_d(g, x, gx, n, tanh_form)


cdef inline void _adam(floating *p, const floating *g, floating *m, floating *v,
                       Py_ssize_t n, floating lr, floating b1, floating b2, floating eps,
                       floating wd, int decoupled, floating bc1,
                       floating bc2_sqrt) noexcept nogil:
    if floating is float:
        fml_adam_f(p, g, m, v, n, lr, b1, b2, eps, wd, decoupled, bc1, bc2_sqrt)
    else:
        fml_adam_d(p, g, m, v, n, lr, b1, b2, eps, wd, decoupled, bc1, bc2_sqrt)


# ---------------------------------------------------------------- Linear
cdef void _gemm(bint ta, bint tb, int m, int n, int k, floating alpha, const floating *a,
                int lda, const floating *b, int ldb, floating beta, floating *c, int ldc,
                int n_threads) noexcept nogil:
    """C = alpha op(A) op(B) + beta C (row-major) with single-threaded BLAS calls, one
    block of C per OpenMP thread: rows of C when m >= n, else columns. Keeps the whole
    layer in one thread pool (the caller pins BLAS to one thread)."""
    cdef int t, lo, hi
    cdef bint by_rows = m >= n
    if n_threads == 1 or (m if by_rows else n) < 2 * n_threads:
        gemm_rm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        return
    for t in prange(n_threads, schedule="static", chunksize=1, num_threads=n_threads):
        if by_rows:
            lo = t * m // n_threads
            hi = (t + 1) * m // n_threads
            gemm_rm(ta, tb, hi - lo, n, k, alpha, a + (lo if ta else lo * lda), lda,
                    b, ldb, beta, c + lo * ldc, ldc)
        else:
            lo = t * n // n_threads
            hi = (t + 1) * n // n_threads
            gemm_rm(ta, tb, m, hi - lo, k, alpha, a, lda, b + (lo * ldb if tb else lo),
                    ldb, beta, c + lo, ldc)


cdef void _gemv(int n, int k, const floating *w, const floating *x, floating beta,
                floating *y, int n_threads) noexcept nogil:
    """y = w x + beta y for a row-major n x k matrix w (single-threaded BLAS calls, one
    block of rows of w per OpenMP thread): a one-row Linear (decoding one token) is
    memory-bound, and GEMM's packing of w costs more than the product."""
    cdef int t, lo, hi
    if n_threads == 1 or n < 2 * n_threads:
        gemv_rm(False, n, k, 1, w, k, x, 1, beta, y, 1)
        return
    for t in prange(n_threads, schedule="static", chunksize=1, num_threads=n_threads):
        lo = t * n // n_threads
        hi = (t + 1) * n // n_threads
        gemv_rm(False, hi - lo, k, 1, w + lo * k, k, x, 1, beta, y + lo, 1)


def linear_forward(const floating[:, ::1] x, const floating[:, ::1] w,
                   const floating[::1] b, bint has_bias, floating[:, ::1] out,
                   int n_threads):
    """out = x w^T (+ b): one GEMM (GEMV for a single row), the bias pre-loaded into
    ``out`` (beta = 1)."""
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
        if k > 0 and m == 1:
            _gemv(n, k, &w[0, 0], &x[0, 0], beta, &out[0, 0], n_threads)
        elif k > 0:
            _gemm(False, True, m, n, k, 1, &x[0, 0], k, &w[0, 0], k, beta,
                  &out[0, 0], n, n_threads)


def linear_backward(const floating[:, ::1] g, const floating[:, ::1] x,
                    const floating[:, ::1] w, floating[:, ::1] grad_x,
                    floating[:, ::1] grad_w, floating[::1] grad_b, bint has_bias,
                    int n_threads):
    """grad_x = g w; grad_w += g^T x; grad_b += column sums of g (accumulating GEMMs)."""
    cdef int m = g.shape[0], n = g.shape[1], k = x.shape[1]
    cdef Py_ssize_t i, j
    if m == 0:
        return
    if n == 0:
        grad_x[:, :] = 0
    elif k > 0:
        with nogil:
            _gemm(False, False, m, k, n, 1, &g[0, 0], n, &w[0, 0], k, 0, &grad_x[0, 0], k,
                  n_threads)
            _gemm(True, False, n, k, m, 1, &g[0, 0], n, &x[0, 0], k, 1, &grad_w[0, 0], k,
                  n_threads)
    if has_bias:
        with nogil:
            for i in range(m):
                for j in range(n):
                    grad_b[j] += g[i, j]


# ---------------------------------------------------------------- LayerNorm
def layer_norm_forward(const floating[:, ::1] x, const floating[::1] w,
                       const floating[::1] b, double eps, floating[:, ::1] out,
                       floating[::1] mean, floating[::1] rstd, int n_threads):
    """Each row: mu, sigma^2 (biased, two-pass); out = (x - mu) / sqrt(sigma^2 + eps) w + b."""
    cdef Py_ssize_t m = x.shape[0], d = x.shape[1], i
    cdef floating mu, r
    if m == 0 or d == 0:
        return
    for i in prange(m, nogil=True, schedule="static",
                    num_threads=n_threads):
        mu = _sum(&x[i, 0], d) / d
        r = 1 / <floating> sqrt(_sumsq(&x[i, 0], d, mu) / d + eps)
        mean[i] = mu
        rstd[i] = r
        _ln_out(&x[i, 0], &w[0], &b[0], mu, r, &out[i, 0], d)


def layer_norm_backward(const floating[:, ::1] g, const floating[:, ::1] x,
                        const floating[::1] w, const floating[::1] mean,
                        const floating[::1] rstd, floating[:, ::1] grad_x,
                        floating[::1] grad_w, floating[::1] grad_b, int n_threads):
    """With xhat = (x - mu) r and gw = g w, per row:

    grad_x = r (gw - mean(gw) - xhat mean(gw xhat));
    grad_w += sum_rows g xhat, grad_b += sum_rows g  (per-thread partial sums, merged).
    """
    cdef Py_ssize_t m = x.shape[0], d = x.shape[1], i, j, t
    cdef int nt = n_threads
    cdef floating r, s1, s2
    cdef floating *part
    if m == 0 or d == 0:
        return
    part = <floating *> calloc(2 * nt * d, sizeof(floating))
    if part == NULL:
        raise MemoryError()
    with nogil:
        for i in prange(m, schedule="static", num_threads=nt):
            t = thread_id()
            r = rstd[i]
            s1 = 0   # assigned here so that prange makes s1, s2 thread-private
            s2 = 0
            _gsums(&g[i, 0], &w[0], &x[i, 0], mean[i], d, &s1, &s2)
            # grad_x = r g w + c2 - xhat c1 with c1 = r^2 s2 / d, c2 = -r s1 / d
            _ln_grad(&g[i, 0], &w[0], &x[i, 0], mean[i], r, r * r * s2 / d, -r * s1 / d,
                     &grad_x[i, 0], part + 2 * t * d, part + (2 * t + 1) * d, d)
        for t in range(nt):
            for j in range(d):
                grad_w[j] += part[2 * t * d + j]
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
    cdef Py_ssize_t n = x.shape[0], c = x.shape[1], l = x.shape[2], ci, ni
    cdef floating s, mu, scale, shift
    cdef Py_ssize_t count = n * l
    if c == 0 or count == 0:
        return
    for ci in prange(c, nogil=True, schedule="static",
                     num_threads=n_threads):
        if training:
            s = 0
            for ni in range(n):
                s = s + _sum(&x[ni, ci, 0], l)
            mu = s / count
            s = 0
            for ni in range(n):
                s = s + _sumsq(&x[ni, ci, 0], l, mu)
            mean[ci] = mu
            var[ci] = s / count
            invstd[ci] = 1 / <floating> sqrt(s / count + eps)
        scale = invstd[ci] * w[ci]
        shift = b[ci] - mean[ci] * scale
        for ni in range(n):
            _affine(&x[ni, ci, 0], scale, shift, &out[ni, ci, 0], l)


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
    cdef Py_ssize_t n = x.shape[0], c = x.shape[1], l = x.shape[2], ci, ni
    cdef Py_ssize_t count = n * l
    cdef floating sg, sgx, a, b, mu
    if c == 0 or count == 0:
        return
    for ci in prange(c, nogil=True, schedule="static",
                     num_threads=n_threads):
        mu = mean[ci]
        sg = 0
        sgx = 0
        for ni in range(n):
            _gsums(&g[ni, ci, 0], NULL, &x[ni, ci, 0], mu, l, &a, &b)
            sg = sg + a
            sgx = sgx + b
        grad_w[ci] += sgx * invstd[ci]
        grad_b[ci] += sg
        if training:
            a = invstd[ci] * invstd[ci] * sgx / count
            b = sg / count
        else:
            a = 0
            b = 0
        for ni in range(n):
            _bn_grad(&g[ni, ci, 0], &x[ni, ci, 0], mu, w[ci] * invstd[ci], b, a,
                     &grad_x[ni, ci, 0], l)


def batch_norm_forward_rows(const floating[:, ::1] x, const floating[::1] w,
                            const floating[::1] b, floating[::1] mean,
                            floating[::1] invstd, bint training, double eps,
                            floating[:, ::1] out, floating[::1] var, int n_threads):
    """:func:`batch_norm_forward` for (N, C) input (one value per channel and row),
    vectorised along the channels: each thread sums its rows into its own buffers."""
    cdef Py_ssize_t n = x.shape[0], c = x.shape[1], i, j, t
    cdef int nt = n_threads
    cdef floating *buf
    cdef floating *sums
    if c == 0 or n == 0:
        return
    buf = <floating *> calloc((2 * nt + 2) * c, sizeof(floating))
    if buf == NULL:
        raise MemoryError()
    sums = buf + 2 * nt * c                    # scale (c), then shift (c)
    with nogil:
        if training:
            for i in prange(n, schedule="static", num_threads=nt):
                _col_sums(&x[i, 0], NULL, buf + thread_id() * c, NULL, c)
            for j in range(c):
                mean[j] = 0
                for t in range(nt):
                    mean[j] += buf[t * c + j]
                mean[j] /= n
            for i in prange(n, schedule="static", num_threads=nt):
                _col_sums(&x[i, 0], &mean[0], NULL, buf + (nt + thread_id()) * c, c)
            for j in range(c):
                var[j] = 0
                for t in range(nt):
                    var[j] += buf[(nt + t) * c + j]
                var[j] /= n
                invstd[j] = 1 / <floating> sqrt(var[j] + eps)
        for j in range(c):
            sums[j] = invstd[j] * w[j]
            sums[c + j] = b[j] - mean[j] * sums[j]
        for i in prange(n, schedule="static", num_threads=nt):
            _col_affine(&x[i, 0], sums, sums + c, &out[i, 0], c)
    free(buf)


def batch_norm_backward_rows(const floating[:, ::1] g, const floating[:, ::1] x,
                             const floating[::1] w, const floating[::1] mean,
                             const floating[::1] invstd, bint training,
                             floating[:, ::1] grad_x, floating[::1] grad_w,
                             floating[::1] grad_b, int n_threads):
    """:func:`batch_norm_backward` for (N, C) input, vectorised along the channels."""
    cdef Py_ssize_t n = x.shape[0], c = x.shape[1], i, j, t
    cdef int nt = n_threads
    cdef floating sg, sgx
    cdef floating *buf
    cdef floating *coef
    if c == 0 or n == 0:
        return
    buf = <floating *> calloc((2 * nt + 3) * c, sizeof(floating))
    if buf == NULL:
        raise MemoryError()
    coef = buf + 2 * nt * c                    # k, off, a (c each)
    with nogil:
        for i in prange(n, schedule="static", num_threads=nt):
            t = thread_id()
            _col_gsums(&g[i, 0], &x[i, 0], &mean[0], buf + 2 * t * c,
                       buf + (2 * t + 1) * c, c)
        for j in range(c):
            sg = 0
            sgx = 0
            for t in range(nt):
                sg = sg + buf[2 * t * c + j]
                sgx = sgx + buf[(2 * t + 1) * c + j]
            grad_w[j] += sgx * invstd[j]
            grad_b[j] += sg
            coef[j] = w[j] * invstd[j]
            coef[c + j] = sg / n if training else 0
            coef[2 * c + j] = invstd[j] * invstd[j] * sgx / n if training else 0
        for i in prange(n, schedule="static", num_threads=nt):
            _col_bn_grad(&g[i, 0], &x[i, 0], &mean[0], coef, coef + c, coef + 2 * c,
                         &grad_x[i, 0], c)
    free(buf)


# ---------------------------------------------------------------- ReLU
def relu_forward(const floating[::1] x, floating[::1] out, int n_threads):
    """out = max(x, 0) (NaN propagates)."""
    cdef Py_ssize_t n = x.shape[0], blk, lo
    cdef Py_ssize_t nblk = (n + ELEM_BLOCK - 1) // ELEM_BLOCK
    for blk in prange(nblk, nogil=True, schedule="static",
                      num_threads=n_threads):
        lo = blk * ELEM_BLOCK
        _relu(&x[lo], &out[lo], min(ELEM_BLOCK, n - lo))


def relu_backward(const floating[::1] g, const floating[::1] x, floating[::1] grad_x,
                  int n_threads):
    """grad_x = g [x > 0]."""
    cdef Py_ssize_t n = x.shape[0], blk, lo
    cdef Py_ssize_t nblk = (n + ELEM_BLOCK - 1) // ELEM_BLOCK
    for blk in prange(nblk, nogil=True, schedule="static",
                      num_threads=n_threads):
        lo = blk * ELEM_BLOCK
        _relu_grad(&g[lo], &x[lo], &grad_x[lo], min(ELEM_BLOCK, n - lo))


# ---------------------------------------------------------------- SiLU
def silu_forward(const floating[::1] x, floating[::1] out, int n_threads):
    """out = x sigmoid(x) = x / (1 + exp(-x))."""
    cdef Py_ssize_t n = x.shape[0], blk, lo
    cdef Py_ssize_t nblk = (n + ELEM_BLOCK - 1) // ELEM_BLOCK
    for blk in prange(nblk, nogil=True, schedule="static",
                      num_threads=n_threads):
        lo = blk * ELEM_BLOCK
        _silu(&x[lo], &out[lo], min(ELEM_BLOCK, n - lo))


def silu_backward(const floating[::1] g, const floating[::1] x, floating[::1] grad_x,
                  int n_threads):
    """grad_x = g s (1 + x (1 - s)), s = sigmoid(x)."""
    cdef Py_ssize_t n = x.shape[0], blk, lo
    cdef Py_ssize_t nblk = (n + ELEM_BLOCK - 1) // ELEM_BLOCK
    for blk in prange(nblk, nogil=True, schedule="static",
                      num_threads=n_threads):
        lo = blk * ELEM_BLOCK
        _silu_grad(&g[lo], &x[lo], &grad_x[lo], min(ELEM_BLOCK, n - lo))


# ---------------------------------------------------------------- GELU
def gelu_forward(const floating[::1] x, floating[::1] out, bint tanh_approx, int n_threads):
    """out = x Phi(x) (erf form) or 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
    cdef Py_ssize_t n = x.shape[0], blk, lo
    cdef Py_ssize_t nblk = (n + ELEM_BLOCK - 1) // ELEM_BLOCK
    for blk in prange(nblk, nogil=True, schedule="static",
                      num_threads=n_threads):
        lo = blk * ELEM_BLOCK
        _gelu(&x[lo], &out[lo], min(ELEM_BLOCK, n - lo), tanh_approx)


def gelu_backward(const floating[::1] g, const floating[::1] x, floating[::1] grad_x,
                  bint tanh_approx, int n_threads):
    """grad_x = g GELU'(x), GELU'(x) = Phi(x) + x phi(x) (erf form)."""
    cdef Py_ssize_t n = x.shape[0], blk, lo
    cdef Py_ssize_t nblk = (n + ELEM_BLOCK - 1) // ELEM_BLOCK
    for blk in prange(nblk, nogil=True, schedule="static",
                      num_threads=n_threads):
        lo = blk * ELEM_BLOCK
        _gelu_grad(&g[lo], &x[lo], &grad_x[lo], min(ELEM_BLOCK, n - lo), tanh_approx)


# ---------------------------------------------------------------- softmax cross-entropy
def cross_entropy_forward(const floating[:, ::1] z, const int64_t[::1] target,
                          double smoothing, int64_t ignore_index, floating[::1] lse,
                          int n_threads):
    """Sum over rows i with target t_i != ignore_index of
    (1 - eps) (lse_i - z_it) + eps (lse_i - mean_c z_ic),  lse_i = log sum_c exp z_ic.

    Writes lse (the row's log-sum-exp, reused by the backward pass); returns the sum.
    """
    cdef Py_ssize_t n = z.shape[0], c = z.shape[1], i
    cdef floating mx, ls
    cdef double total = 0
    if n == 0 or c == 0:
        return 0.0
    for i in prange(n, nogil=True, schedule="static",
                    num_threads=n_threads):
        if target[i] == ignore_index:
            lse[i] = 0
            continue
        mx = _max(&z[i, 0], c)
        ls = mx + <floating> log(_expsum(&z[i, 0], mx, c))
        lse[i] = ls
        total += (1 - smoothing) * (ls - z[i, target[i]])
        if smoothing != 0:
            total += smoothing * (ls - _sum(&z[i, 0], c) / c)
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
                    num_threads=n_threads):
        if target[i] == ignore_index:
            for j in range(c):
                grad_z[i, j] = 0
            continue
        _ce_grad(&z[i, 0], lse[i], sc, off, &grad_z[i, 0], c)
        grad_z[i, target[i]] -= sc * hit


# ---------------------------------------------------------------- Adam / AdamW
def _adam_typed(floating[::1] p, const floating[::1] g, floating[::1] m, floating[::1] v,
                double lr, double b1, double b2, double eps, double wd, bint decoupled,
                double bc1, double bc2_sqrt, int n_threads):
    cdef Py_ssize_t n = p.shape[0], blk, lo
    cdef Py_ssize_t nblk = (n + ELEM_BLOCK - 1) // ELEM_BLOCK
    for blk in prange(nblk, nogil=True, schedule="static",
                      num_threads=n_threads):
        lo = blk * ELEM_BLOCK
        _adam(&p[lo], &g[lo], &m[lo], &v[lo], min(ELEM_BLOCK, n - lo), <floating> lr,
              <floating> b1, <floating> b2, <floating> eps, <floating> wd, decoupled,
              <floating> bc1, <floating> bc2_sqrt)


def adam_step(list params, list grads, list exp_avgs, list exp_avg_sqs, double lr,
              double beta1, double beta2, double eps, double weight_decay,
              bint decoupled, double bias_correction1, double bias_correction2_sqrt,
              list n_threads):
    """One Adam (``decoupled=False``) or AdamW step over every parameter, in place.

    Per element, with g += wd p (Adam) or p *= 1 - lr wd (AdamW):
    m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
    p -= lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps).
    The arrays are flat (1-D views), each tensor in its own dtype; ``n_threads`` holds
    one thread count per tensor.
    """
    cdef Py_ssize_t k
    for k in range(len(params)):
        _adam_typed(params[k], grads[k], exp_avgs[k], exp_avg_sqs[k], lr, beta1, beta2,
                    eps, weight_decay, decoupled, bias_correction1,
                    bias_correction2_sqrt, n_threads[k])
