"""Thread control for fastml kernels (OpenMP) and, when threadpoolctl is installed, BLAS.

The number of threads a kernel uses is decided here, in Python, and passed to the
kernel explicitly (``prange(..., num_threads=n)``), so it never depends on hidden
OpenMP state. Order of precedence: :func:`threads` / :func:`set_num_threads`, then the
``OMP_NUM_THREADS`` environment variable, then the number of usable cores.
"""

import contextlib
import os
import sys

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
    """Pin BLAS to one thread while a kernel calls it from inside an OpenMP prange."""
    controller = _kernel_blas_controller()
    limiter = controller.limit(limits=1) if controller is not None else _limit_blas(1)
    try:
        yield
    finally:
        if limiter is not None:
            limiter.restore_original_limits()


_kernel_blas = None


def _kernel_blas_controller():
    """threadpoolctl controller of the loaded BLAS libraries, cached once kernels use BLAS.

    Building one scans every loaded shared library (~0.3 ms), too slow to repeat on each
    kernel call; ``limit`` on a cached one costs ~10 us. It is cached only after
    ``scipy.linalg.cython_blas`` (the BLAS every kernel calls) has been loaded.
    """
    global _kernel_blas
    if _kernel_blas is None and "scipy.linalg.cython_blas" in sys.modules:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            return None
        _kernel_blas = ThreadpoolController().select(user_api="blas")
    return _kernel_blas
