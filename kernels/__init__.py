"""fastml's private compiled layer (installed as ``fastml.kernels``).

Cython modules (``*.pyx``) and Numba modules (``*.py``). Kernels never validate their
input and never import :mod:`fastml`: the public API in :mod:`fastml` checks arrays once
(C-contiguous, float32/float64, finite) and then calls exactly one kernel.

Shared helpers every kernel reuses (compile-time only, ``cdef inline``):

- ``_blas.pxd``: fused float/double wrappers of BLAS/LAPACK through
  ``scipy.linalg.cython_blas`` / ``cython_lapack``, with row-major helpers.
- ``_parallel.pxd``: OpenMP queries that degrade to one thread without OpenMP.
"""
