# Math shared by the kernels, vectorisable (omp simd), float and double: one exp per
# precision (polynomials, as libm's exp does not vectorise without -ffast-math), the
# row maximum, and x <- exp(x - m) with its sum (the log-sum-exp / softmax step).
# ``cimport`` it; the C definitions below are compiled into every module that does.

cdef extern from *:
    """
    #include <math.h>
    /* Row helpers the compiler can vectorise (omp simd), float and double.
       exp_sum: x[j] = exp(x[j] - m) in place for j < n, returns the sum.
       Polynomials, as libm's exp does not vectorise without -ffast-math. float: Cephes
       (rel. error ~2 ulp); arguments below -87.3 (including -inf) give 0. */
    static inline float fastml_expf(float x) {
        float xc = x < -87.3f ? -87.3f : (x > 88.3f ? 88.3f : x);
        /* round to nearest by the 1.5 * 2^23 trick (floorf does not vectorise) */
        float fx = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
        float r = xc - fx * 0.693359375f + fx * 2.12194440e-4f;
        float z = r * r;
        float y = 1.9875691500e-4f;
        y = y * r + 1.3981999507e-3f;
        y = y * r + 8.3334519073e-3f;
        y = y * r + 4.1665795894e-2f;
        y = y * r + 1.6666665459e-1f;
        y = y * r + 5.0000001201e-1f;
        y = y * z + r + 1.0f;
        int e = ((int) fx + 127) << 23;
        float p;
        __builtin_memcpy(&p, &e, sizeof p);
        return x < -87.3f ? 0.0f : y * p;
    }
    static float fastml_rowmax_f(const float *x, int n) {
        float m = -INFINITY;
        #pragma omp simd reduction(max:m)
        for (int j = 0; j < n; j++) m = x[j] > m ? x[j] : m;
        return m;
    }
    static double fastml_rowmax_d(const double *x, int n) {
        double m = -INFINITY;
        #pragma omp simd reduction(max:m)
        for (int j = 0; j < n; j++) m = x[j] > m ? x[j] : m;
        return m;
    }
    static float fastml_exp_sum_f(float *x, int n, float m) {
        float s = 0.0f;
        #pragma omp simd reduction(+:s)
        for (int j = 0; j < n; j++) { float e = fastml_expf(x[j] - m); x[j] = e; s += e; }
        return s;
    }
    /* double: Taylor polynomial of degree 12 on |r| <= ln2 / 2 (truncation < 2e-16)
       after a two-constant (Cody-Waite) reduction; arguments below -708 give 0. */
    static inline double fastml_exp(double x) {
        double xc = x < -708.0 ? -708.0 : (x > 709.0 ? 709.0 : x);
        double fx = (xc * 1.4426950408889634074 + 6755399441055744.0) - 6755399441055744.0;
        double r = xc - fx * 6.93147180369123816490e-01 - fx * 1.90821492927058770002e-10;
        double y = 1.0 / 479001600.0;
        y = y * r + 1.0 / 39916800.0;
        y = y * r + 1.0 / 3628800.0;
        y = y * r + 1.0 / 362880.0;
        y = y * r + 1.0 / 40320.0;
        y = y * r + 1.0 / 5040.0;
        y = y * r + 1.0 / 720.0;
        y = y * r + 1.0 / 120.0;
        y = y * r + 1.0 / 24.0;
        y = y * r + 1.0 / 6.0;
        y = y * r + 0.5;
        y = y * r + 1.0;
        y = y * r + 1.0;
        long long e = ((long long) (int) fx + 1023) << 52;
        double p;
        __builtin_memcpy(&p, &e, sizeof p);
        return x < -708.0 ? 0.0 : y * p;
    }
    static double fastml_exp_sum_d(double *x, int n, double m) {
        double s = 0.0;
        #pragma omp simd reduction(+:s)
        for (int j = 0; j < n; j++) { double e = fastml_exp(x[j] - m); x[j] = e; s += e; }
        return s;
    }
    /* float32 tanh and sigmoid on fastml_expf (the RNN gates, kernels/_rnn.pyx): Cephes'
       odd polynomial for |x| < 0.625 (full relative precision near 0), (1 - e) / (1 + e)
       with e = exp(-2|x|) beyond; both computed, one kept (branch-free). */
    static inline float fml_math_tanhf(float x) {
        float a = fabsf(x), z = x * x;
        float small = ((((-5.70498872745e-3f * z + 2.06390887954e-2f) * z
                         - 5.37397155531e-2f) * z + 1.33314422036e-1f) * z
                       - 3.33332819422e-1f) * z * x + x;
        float e = fastml_expf(-2.0f * a);
        float big = (1.0f - e) / (1.0f + e);
        big = x < 0 ? -big : big;
        return a < 0.625f ? small : big;
    }
    static inline float fml_math_sigmoidf(float x) { return 1.0f / (1.0f + fastml_expf(-x)); }
    static inline double fml_math_sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }
    """
    float fast_expf "fastml_expf"(float x) noexcept nogil
    double exp_d "fastml_exp"(double x) noexcept nogil
    float rowmax_f "fastml_rowmax_f"(const float *x, int n) noexcept nogil
    double rowmax_d "fastml_rowmax_d"(const double *x, int n) noexcept nogil
    float exp_sum_f "fastml_exp_sum_f"(float *x, int n, float m) noexcept nogil
    double exp_sum_d "fastml_exp_sum_d"(double *x, int n, double m) noexcept nogil
    float fml_math_expf "fastml_expf"(float x) noexcept nogil
    float fml_math_tanhf(float x) noexcept nogil
    float fml_math_sigmoidf(float x) noexcept nogil
    double fml_math_sigmoid(double x) noexcept nogil
