# OpenMP helpers shared by every kernel. They compile with or without OpenMP: without
# it, ``openmp_enabled()`` is False and every query answers as for a single thread.
# Kernels take the thread count as an argument (``num_threads=n_threads`` in prange),
# chosen in Python by ``fastml._threads.get_num_threads()``.

cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    #define FASTML_OPENMP_ENABLED 1
    #else
    #define FASTML_OPENMP_ENABLED 0
    static int omp_get_max_threads(void) { return 1; }
    static int omp_get_thread_num(void) { return 0; }
    static int omp_get_num_threads(void) { return 1; }
    #endif
    """
    bint FASTML_OPENMP_ENABLED
    int omp_get_max_threads() noexcept nogil
    int omp_get_thread_num() noexcept nogil
    int omp_get_num_threads() noexcept nogil


cdef inline bint openmp_enabled() noexcept nogil:
    return FASTML_OPENMP_ENABLED


cdef inline int thread_id() noexcept nogil:
    """Index of the calling thread inside a parallel region (0 outside or without OpenMP)."""
    return omp_get_thread_num()
