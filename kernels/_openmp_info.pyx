"""Report how the compiled layer was built and what this CPU can run (``fastml info`` and
the CPU dispatch of ``fastml._kernels.load``). Built once, for the baseline, never per level.
"""

from kernels._parallel cimport openmp_enabled, omp_get_max_threads

cdef extern from *:
    """
    #if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
    /* __builtin_cpu_supports reads CPUID and, for AVX and AVX-512, checks with XGETBV
       that the OS saves the wide registers, so a level it reports is safe to run. */
    static int fastml_cpu_has_avx2(void) {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")
            && __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2")
            && __builtin_cpu_supports("popcnt") && __builtin_cpu_supports("sse4.2");
    }
    static int fastml_cpu_has_avx512(void) {
        __builtin_cpu_init();
        return fastml_cpu_has_avx2() && __builtin_cpu_supports("avx512f")
            && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512cd")
            && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
    }
    #define FASTML_X86 1
    #else
    static int fastml_cpu_has_avx2(void) { return 0; }
    static int fastml_cpu_has_avx512(void) { return 0; }
    #define FASTML_X86 0
    #endif
    #if defined(__AVX512F__)
    #define FASTML_BUILT_FOR 2
    #elif defined(__AVX2__) && defined(__FMA__)
    #define FASTML_BUILT_FOR 1
    #else
    #define FASTML_BUILT_FOR 0
    #endif
    """
    int fastml_cpu_has_avx2() nogil
    int fastml_cpu_has_avx512() nogil
    int FASTML_X86
    int FASTML_BUILT_FOR


def openmp_info():
    """Return ``(enabled, max_threads)`` of the OpenMP runtime the kernels were built with."""
    return bool(openmp_enabled()), int(omp_get_max_threads())


def cpu_level():
    """Highest CPU level this machine runs: 0 baseline, 1 avx2 (x86-64-v3: AVX2, FMA, BMI2),
    2 avx512 (x86-64-v4: AVX-512 F/BW/CD/DQ/VL); 0 on other architectures."""
    if fastml_cpu_has_avx512():
        return 2
    return 1 if fastml_cpu_has_avx2() else 0


def build_level():
    """The CPU level the baseline extensions were compiled for (0 for a portable build;
    the host's level for ``FASTML_NATIVE=1``), and whether the target is x86."""
    return int(FASTML_BUILT_FOR), bool(FASTML_X86)
