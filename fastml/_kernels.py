"""The one gateway between the public layer (``fastml/``) and the compiled kernels.

Public modules never import ``fastml.kernels.*`` themselves; they ask this module:

- :func:`load` imports a kernel module by name, lazily (first use), and caches it, so
  ``import fastml`` never pays for compiled code, Numba or SciPy submodules. In a portable
  build it picks the best per-CPU build of the extension (runtime CPU dispatch, below).
- :func:`threads_for` decides how many OpenMP threads a piece of work deserves: a
  small problem runs serially (no team woken, no barrier), a large one gets at most
  :func:`fastml.get_num_threads`. Kernels receive the count as an argument and never
  decide it themselves.
- :func:`blas_single_threaded` pins SciPy's BLAS to one thread while a kernel calls it
  from inside an OpenMP ``prange`` (nested parallelism without oversubscription).

CPU dispatch: a portable build (the default, see ``setup.py``) holds each SIMD-bound
extension three times: the baseline (x86-64-v2) in ``fastml.kernels``, and AVX2+FMA and
AVX-512 builds in ``fastml.kernels._avx2`` / ``._avx512``. :func:`cpu_dispatch` detects
the CPU's level from its feature flags (CPUID and the OS's saved register state, never by
trying an instruction); ``FASTML_CPU=baseline|avx2|avx512`` forces a level (an error if the
CPU lacks it). ``fastml info`` shows the choice and the reason. Numba kernels compile for
the host and Numba keys each cache entry by CPU name and features, so one cache directory
shared by mixed machines stays correct.

Codes shared by both layers (enumerations of kinds, methods, flags) are defined in the
kernel module and read from it here, never written twice.
"""

import contextlib
import importlib
import importlib.util
import os

from fastml._threads import blas_single_threaded, get_num_threads

__all__ = ["CPU_LEVELS", "blas_serial_below", "blas_single_threaded", "cpu_dispatch",
           "get_num_threads", "load", "threads_for"]

CPU_LEVELS = ("baseline", "avx2", "avx512")  # the subpackage of level i > 0 is "_" + name

_BLAS_SERIAL_FLOPS = 3e9  # below this per evaluation, serial LAPACK chains win

_LOADED = {}


def load(name):
    """The compiled kernel module ``fastml.kernels.<name>``, imported on first use: the
    build for the dispatched CPU level when the package holds one, else the baseline.

    >>> _kmeans = load("_kmeans")      # the Cython extension kernels/_kmeans.pyx
    """
    module = _LOADED.get(name)
    if module is None:
        module = importlib.import_module(_module_path(name, cpu_dispatch()["level"]))
        _LOADED[name] = module
    return module


def _module_path(name, level):
    """Dotted path of the build of kernel ``name`` for ``level``, falling back level by
    level to the baseline (an extension without SIMD variants has only the baseline)."""
    for lower in reversed(CPU_LEVELS[1:CPU_LEVELS.index(level) + 1]):
        path = f"fastml.kernels._{lower}.{name}"
        if importlib.util.find_spec(f"fastml.kernels._{lower}") and importlib.util.find_spec(path):
            return path
    return f"fastml.kernels.{name}"


_DISPATCH = {}


def cpu_dispatch():
    """The CPU level kernels are loaded for, and why: a dict with ``level`` (one of
    ``CPU_LEVELS``), ``supported`` (the highest level this CPU runs), ``reason`` and
    ``build`` ("portable" with per-level variants, or the level a native build targets).

    Raises ``ValueError`` for an unknown ``FASTML_CPU`` and ``RuntimeError`` when it asks
    for a level the CPU cannot run (running it would die of an illegal instruction).
    """
    if not _DISPATCH:
        info = importlib.import_module("fastml.kernels._openmp_info")
        supported = CPU_LEVELS[info.cpu_level()]
        built_for, x86 = info.build_level()
        variants = x86 and importlib.util.find_spec("fastml.kernels._avx2") is not None
        build = "portable (baseline x86-64-v2 + avx2 + avx512 builds)" if variants else (
            f"single build for {CPU_LEVELS[built_for]}" if x86 else "single build (non-x86)")
        forced = os.environ.get("FASTML_CPU", "").strip().lower()
        if forced:
            if forced not in CPU_LEVELS:
                raise ValueError(f"FASTML_CPU must be one of {', '.join(CPU_LEVELS)}; "
                                 f"got {forced!r}")
            if CPU_LEVELS.index(forced) > CPU_LEVELS.index(supported):
                raise RuntimeError(f"FASTML_CPU={forced} asks for instructions this CPU "
                                   f"lacks (it supports up to {supported})")
            level, reason = forced, f"FASTML_CPU={forced}"
        else:
            level, reason = supported, "highest level the CPU's feature flags allow"
        _DISPATCH.update(level=level, supported=supported, reason=reason, build=build)
    return dict(_DISPATCH)


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
