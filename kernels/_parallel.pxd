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


# ---------------------------------------------------------------- per-thread scratch
# The pattern of every reduction kernel: each thread accumulates into its own block of
# one zeroed buffer (no locks in the hot loop), the blocks are merged at the end.
from cython cimport floating
from libc.stdlib cimport calloc, free


cdef inline void *thread_scratch(int n_threads, Py_ssize_t per_thread, size_t item_size,
                                 void *release_on_failure=NULL) except NULL:
    """Zeroed memory for ``n_threads`` blocks of ``per_thread`` items of ``item_size``
    bytes (thread t owns block t); release it with ``free``. On failure frees
    ``release_on_failure`` (an earlier scratch of the same kernel) and raises
    MemoryError."""
    cdef void *p = calloc(<size_t> n_threads * <size_t> max(per_thread, 1), item_size)
    if p == NULL:
        free(release_on_failure)
        raise MemoryError()
    return p


cdef inline void add_thread_blocks(floating *out, const floating *blocks, int n_threads,
                                   Py_ssize_t stride, Py_ssize_t n) noexcept nogil:
    """out[j] += sum_t blocks[t * stride + j] for j < n: merge the per-thread sums."""
    cdef Py_ssize_t j
    cdef int t
    for t in range(n_threads):
        for j in range(n):
            out[j] += blocks[t * stride + j]
