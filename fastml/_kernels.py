"""The one gateway between the public layer (``fastml/``) and the compiled kernels.

Public modules never import ``fastml.kernels.*`` themselves; they ask this module:

- :func:`load` imports a kernel module by name, lazily (first use), and caches it, so
  ``import fastml`` never pays for compiled code, Numba or SciPy submodules.
- :func:`threads_for` decides how many OpenMP threads a piece of work deserves: a
  small problem runs serially (no team woken, no barrier), a large one gets at most
  :func:`fastml.get_num_threads`. Kernels receive the count as an argument and never
  decide it themselves.
- :func:`blas_single_threaded` pins SciPy's BLAS to one thread while a kernel calls it
  from inside an OpenMP ``prange`` (nested parallelism without oversubscription).

Codes shared by both layers (enumerations of kinds, methods, flags) are defined in the
kernel module and read from it here, never written twice.
"""

import contextlib
import importlib

from fastml._threads import blas_single_threaded, get_num_threads

__all__ = ["blas_serial_below", "blas_single_threaded", "get_num_threads", "load",
           "threads_for"]

_BLAS_SERIAL_FLOPS = 3e9  # below this per evaluation, serial LAPACK chains win

_LOADED = {}


def load(name):
    """The compiled kernel module ``fastml.kernels.<name>``, imported on first use.

    >>> _kmeans = load("_kmeans")      # the Cython extension kernels/_kmeans.pyx
    """
    module = _LOADED.get(name)
    if module is None:
        module = importlib.import_module(f"fastml.kernels.{name}")
        _LOADED[name] = module
    return module


def threads_for(work, grain, limit=None):
    """Threads worth waking for ``work`` units when each thread should get ``grain`` of them.

    ``max(1, min(get_num_threads(), limit, work // grain))``: below one grain the kernel
    runs serially, so tiny calls never start an OpenMP team they cannot keep busy.
    ``limit`` (an estimator's ``n_jobs``, already resolved) caps the count further.
    """
    cap = get_num_threads() if limit is None else min(get_num_threads(), int(limit))
    return max(1, min(cap, int(work) // max(1, int(grain))))


def blas_serial_below(flops, threshold=_BLAS_SERIAL_FLOPS):
    """Context for a loop of LAPACK calls with Python in between (an optimiser loop):
    BLAS pinned to one thread unless each evaluation costs at least ``threshold`` flops.

    Threaded ``potrf``/``potri`` on small matrices spend their time waking threads (on
    the 2-core machine serial wins at n = 1000, threaded from n = 2000; see the bench
    report's BLAS section); ``fastml.threads`` still controls the OpenMP kernels.
    """
    return blas_single_threaded() if flops < threshold else contextlib.nullcontext()
