"""Thread control for fastml kernels (OpenMP) and, when threadpoolctl is installed, BLAS.

The number of threads a kernel uses is decided here, in Python, and passed to the
kernel explicitly (``prange(..., num_threads=n)``), so it never depends on hidden
OpenMP state. Order of precedence: :func:`threads` / :func:`set_num_threads`, then the
``OMP_NUM_THREADS`` environment variable, then the number of usable cores.
"""

import contextlib
import os

_num_threads = None
_blas_limiter = None


def _default_threads():
    env = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def get_num_threads():
    """Number of threads fastml kernels use."""
    return _num_threads if _num_threads is not None else _default_threads()


def _limit_blas(n):
    """Limit BLAS to ``n`` threads through threadpoolctl; return the limiter or None."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    return threadpool_limits(limits=n, user_api="blas")


def set_num_threads(n):
    """Use ``n`` threads in fastml kernels (and BLAS, with threadpoolctl); None resets."""
    global _num_threads, _blas_limiter
    if n is not None:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive int or None, got {n!r}")
    if _blas_limiter is not None:
        _blas_limiter.restore_original_limits()
        _blas_limiter = None
    _num_threads = n
    if n is not None:
        _blas_limiter = _limit_blas(n)


@contextlib.contextmanager
def threads(n):
    """Context manager: run the block with ``n`` threads, then restore the setting.

    >>> with fastml.threads(1):
    ...     L = fastml.linalg.cholesky(A)
    """
    global _num_threads
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    previous = _num_threads
    _num_threads = n
    limiter = _limit_blas(n)
    try:
        yield n
    finally:
        _num_threads = previous
        if limiter is not None:
            limiter.restore_original_limits()


@contextlib.contextmanager
def blas_single_threaded():
    """Pin SciPy's BLAS to one thread while a kernel calls it from inside an OpenMP prange.

    Kernels call the BLAS behind ``scipy.linalg.cython_blas``; two thread pools (OpenMP
    and OpenBLAS's own) handing the cores back and forth oversubscribe them. Yields True
    when the BLAS is pinned, False when it cannot be (threadpoolctl missing or another
    BLAS vendor): callers then make one BLAS call and leave the threading to the BLAS.
    The library's controller is found once and cached; pinning costs two calls (~2 us).
    """
    lib = _scipy_blas_controller()
    if lib is None:
        yield False
        return
    previous = lib.get_num_threads()
    lib.set_num_threads(1)
    try:
        yield True
    finally:
        lib.set_num_threads(previous)


_SCIPY_BLAS = []


def _scipy_blas_controller():
    """threadpoolctl controller of the BLAS library behind scipy.linalg.cython_blas."""
    if not _SCIPY_BLAS:
        controller = None
        try:
            import scipy.linalg.cython_blas  # noqa: F401  (loads the library first)
            from threadpoolctl import ThreadpoolController
        except ImportError:
            pass
        else:
            for lib in ThreadpoolController().lib_controllers:
                if lib.user_api == "blas" and "scipy" in lib.filepath and \
                        "numpy" not in lib.filepath:
                    controller = lib
                    break
        _SCIPY_BLAS.append(controller)
    return _SCIPY_BLAS[0]
