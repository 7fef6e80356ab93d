"""Thread control for fastml kernels (OpenMP) and, when threadpoolctl is installed, BLAS.

The number of threads a kernel uses is decided here, in Python, and passed to the
kernel explicitly (``prange(..., num_threads=n)``), so it never depends on hidden
OpenMP state. Order of precedence: a :func:`threads` block of the calling thread, then
:func:`set_num_threads` (process-wide), then the ``OMP_NUM_THREADS`` environment
variable, then the number of usable cores.

Safe under Python threads:

- :func:`threads` stores its count in a :class:`contextvars.ContextVar`, so a block in
  one thread (or asyncio task) never changes the count another thread sees.
- The BLAS library has one process-wide thread count, so every caller that wants to
  limit it (:func:`threads`, :func:`set_num_threads`, :func:`blas_single_threaded`)
  files a request with one lock-protected registry instead of setting it directly. The
  BLAS runs with the smallest active request; when the last request ends the count the
  library had before the first one is restored. Concurrent pinners therefore restore
  correctly in any order.
"""

import contextlib
import contextvars
import os
import threading

_process_threads = None   # (n, BLAS libraries limited) from set_num_threads
_block_threads = contextvars.ContextVar("fastml_threads", default=None)


def _default_threads():
    env = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def get_num_threads():
    """Number of threads fastml kernels use (in the calling thread)."""
    n = _block_threads.get()
    if n is None and _process_threads is not None:
        n = _process_threads[0]
    return n if n is not None else _default_threads()


def _check_threads(n):
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= _MAX_THREADS:
        raise ValueError(f"n must be a positive int (at most {_MAX_THREADS}), got {n!r}")


_MAX_THREADS = 2**31 - 1  # kernels take the count as a C int


class _BlasLimits:
    """Process-wide thread count of each BLAS library = the smallest of its active requests.

    ``request(n, libs)`` / ``release(n, libs)`` are reference-counted per (library, value)
    under one lock; a library's own count is read before its first request and restored
    after its last one. The controllers (threadpoolctl) are found once and rescanned only
    by :meth:`rescan` (user-level calls, never in kernels' hot paths).
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._libs = None         # threadpoolctl controllers of every BLAS library
        self._scipy_blas = None   # the one behind scipy.linalg.cython_blas
        self._requests = {}       # filepath -> {requested thread count: how many}
        self._original = {}       # filepath -> thread count before its first request
        self._applied = {}        # filepath -> limit currently set

    def _scan(self):
        libs, scipy_blas = [], None
        try:
            import scipy.linalg.cython_blas  # noqa: F401  (loads the library first)
            from threadpoolctl import ThreadpoolController
        except ImportError:
            pass
        else:
            for lib in ThreadpoolController().lib_controllers:
                if lib.user_api != "blas":
                    continue
                libs.append(lib)
                if scipy_blas is None and "scipy" in lib.filepath and \
                        "numpy" not in lib.filepath:
                    scipy_blas = lib
        known = {lib.filepath: lib for lib in self._libs or ()}
        # keep the controllers already holding requests (their originals are recorded)
        self._libs = [known.get(lib.filepath, lib) for lib in libs]
        self._scipy_blas = scipy_blas and known.get(scipy_blas.filepath, scipy_blas)

    def _ensure_scanned(self):
        if self._libs is None:
            self._scan()

    def rescan(self):
        """Look for BLAS libraries loaded since the last scan (e.g. by a new import)."""
        with self._lock:
            self._scan()

    def all_libs(self):
        with self._lock:
            self._ensure_scanned()
            return tuple(self._libs)

    def scipy_blas(self):
        """Controller of the BLAS behind scipy.linalg.cython_blas, or None."""
        with self._lock:
            self._ensure_scanned()
            return self._scipy_blas

    def _apply(self, lib, counts):
        key = lib.filepath
        limit = min(counts) if counts else None
        applied = self._applied.get(key)
        if limit == applied:
            return
        if limit is None:
            lib.set_num_threads(self._original.pop(key))
            del self._applied[key]
            return
        if applied is None:
            self._original[key] = lib.get_num_threads()
        lib.set_num_threads(limit)
        self._applied[key] = limit

    def request(self, n, libs):
        with self._lock:
            for lib in libs:
                counts = self._requests.get(lib.filepath)
                if counts is None:
                    counts = self._requests[lib.filepath] = {}
                counts[n] = counts.get(n, 0) + 1
                self._apply(lib, counts)

    def release(self, n, libs):
        with self._lock:
            for lib in libs:
                counts = self._requests[lib.filepath]
                if counts[n] == 1:
                    del counts[n]
                else:
                    counts[n] -= 1
                if not counts:
                    del self._requests[lib.filepath]
                self._apply(lib, counts)


_blas = _BlasLimits()
_set_lock = threading.Lock()


def set_num_threads(n):
    """Use ``n`` threads in fastml kernels (and BLAS, with threadpoolctl); None resets.

    Process-wide: every thread sees it, except inside its own :func:`threads` block.
    """
    global _process_threads
    if n is not None:
        _check_threads(n)
    with _set_lock:
        if _process_threads is not None:
            _blas.release(_process_threads[0], _process_threads[1])
            _process_threads = None
        if n is not None:
            _blas.rescan()
            libs = _blas.all_libs()
            _blas.request(n, libs)
            _process_threads = (n, libs)


@contextlib.contextmanager
def threads(n):
    """Context manager: run the block with ``n`` threads, then restore the setting.

    The count is local to the calling thread (a context variable); BLAS is limited to
    the smallest count any active block or :func:`set_num_threads` asked for.

    >>> with fastml.threads(1):
    ...     L = fastml.linalg.cholesky(A)
    """
    _check_threads(n)
    _blas.rescan()
    libs = _blas.all_libs()
    token = _block_threads.set(n)
    _blas.request(n, libs)
    try:
        yield n
    finally:
        _blas.release(n, libs)
        _block_threads.reset(token)


@contextlib.contextmanager
def blas_single_threaded():
    """Pin SciPy's BLAS to one thread while a kernel calls it from inside an OpenMP prange.

    Kernels call the BLAS behind ``scipy.linalg.cython_blas``; two thread pools (OpenMP
    and OpenBLAS's own) handing the cores back and forth oversubscribe them. Yields True
    when the BLAS is pinned, False when it cannot be (threadpoolctl missing or another
    BLAS vendor): callers then make one BLAS call and leave the threading to the BLAS.
    The pin is a reference-counted request (see :class:`_BlasLimits`), so concurrent
    pinners from several Python threads restore the original count correctly.
    """
    lib = _scipy_blas_controller()
    if lib is None:
        yield False
        return
    libs = (lib,)
    _blas.request(1, libs)
    try:
        yield True
    finally:
        _blas.release(1, libs)


_SCIPY_BLAS = []


def _scipy_blas_controller():
    """threadpoolctl controller of the BLAS library behind scipy.linalg.cython_blas."""
    if not _SCIPY_BLAS:
        _SCIPY_BLAS.append(_blas.scipy_blas())
    return _SCIPY_BLAS[0]
