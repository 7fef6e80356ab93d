# Elementwise math shared by kernels (compile-time only: ``from kernels._math cimport ...``).
#
# float32 exp, sigmoid and tanh are branch-free polynomials (Cephes), so loops that call
# them under ``omp simd`` vectorise when compiled, like these helpers, with
# ``#pragma GCC optimize("no-trapping-math")`` (GCC does not if-convert the clamps under
# trapping math); float64 uses libm (full precision).

cdef extern from *:
    """
    #include <math.h>
    #include <stdint.h>
    #include <string.h>

    #ifndef FASTML_MATH_H
    #define FASTML_MATH_H
    /* Without trapping math GCC may if-convert the clamps and selects, so loops calling
       these helpers vectorise; users wrap their loops in the same options. */
    #pragma GCC push_options
    #pragma GCC optimize("no-trapping-math")
    /* exp for float32 (Cephes expf: x = n ln2 + r, |r| <= ln2 / 2, degree-6 polynomial,
       2^n from the exponent bits; ~1 ulp). NaN propagates; the argument is clamped to
       [-87.3, 88] (no overflow). */
    static inline float fml_math_expf(float x) {
        x = x > 88.0f ? 88.0f : x;
        x = x < -87.3f ? -87.3f : x;
        float n = rintf(x * 1.44269504088896341f);
        float r = x - n * 0.693359375f + n * 2.12194440e-4f;
        float p = 1.9875691500e-4f;
        p = p * r + 1.3981999507e-3f;
        p = p * r + 8.3334519073e-3f;
        p = p * r + 4.1665795894e-2f;
        p = p * r + 1.6666665459e-1f;
        p = p * r + 5.0000001201e-1f;
        p = p * r * r + r + 1.0f;
        int32_t bits = ((int32_t) n + 127) << 23;
        float scale;
        memcpy(&scale, &bits, sizeof scale);
        return p * scale;
    }
    /* tanh for float32: Cephes' odd polynomial for |x| < 0.625 (full relative precision
       near 0), (1 - e) / (1 + e) with e = exp(-2|x|) beyond; both computed, one kept. */
    static inline float fml_math_tanhf(float x) {
        float a = fabsf(x), z = x * x;
        float small = ((((-5.70498872745e-3f * z + 2.06390887954e-2f) * z
                         - 5.37397155531e-2f) * z + 1.33314422036e-1f) * z
                       - 3.33332819422e-1f) * z * x + x;
        float e = fml_math_expf(-2.0f * a);
        float big = (1.0f - e) / (1.0f + e);
        big = x < 0 ? -big : big;
        return a < 0.625f ? small : big;
    }
    static inline float fml_math_sigmoidf(float x) {
        return 1.0f / (1.0f + fml_math_expf(-x));
    }
    static inline double fml_math_sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }
    #pragma GCC pop_options
    #endif
    """
    float fml_math_expf(float x) noexcept nogil
    float fml_math_tanhf(float x) noexcept nogil
    float fml_math_sigmoidf(float x) noexcept nogil
    double fml_math_sigmoid(double x) noexcept nogil
