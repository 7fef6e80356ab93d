"""Report how the compiled layer was built (used by ``fastml info``)."""

from kernels._parallel cimport openmp_enabled, omp_get_max_threads


def openmp_info():
    """Return ``(enabled, max_threads)`` of the OpenMP runtime the kernels were built with."""
    return bool(openmp_enabled()), int(omp_get_max_threads())
