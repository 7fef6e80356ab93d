"""Lazy Dask imports and the thread rule of fastml inside Dask tasks."""

import contextlib
import importlib

from fastml._threads import set_num_threads, threads
from fastml._validation import check_ndim

_worker_pinned = False  # this process is a Dask worker whose fastml/BLAS run 1 thread


def require(module):
    """Import ``module`` (``dask.array``, ``distributed``...) or say how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(f"fastml.distributed needs {module.split('.')[0]}: "
                          'pip install "fastml-kernels[distributed]"') from exc


def worker_threads():
    """The current Dask worker's ``nthreads`` (None outside a worker)."""
    distributed = require("distributed")
    try:
        return distributed.get_worker().state.nthreads
    except ValueError:
        return None


@contextlib.contextmanager
def one_thread_per_task():
    """Run a block task's fastml kernels (and BLAS) on one thread.

    Dask already runs ``nthreads`` block tasks at a time on each worker, so one thread
    each fills its cores. In a worker process the setting is made once, process-wide
    (``fastml.set_num_threads(1)``: entering and leaving :func:`fastml.threads` per task
    costs a BLAS re-scan and two thread-count changes, as much as the task itself for
    small blocks); elsewhere (Dask's in-process schedulers) the block runs inside
    ``fastml.threads(1)``.
    """
    global _worker_pinned
    if _worker_pinned or worker_threads() is not None:
        if not _worker_pinned:
            set_num_threads(1)
            _worker_pinned = True
        yield
        return
    with threads(1):
        yield


def is_dask_collection(X):
    """True for a ``dask.array.Array`` or ``dask.dataframe`` object (without importing Dask)."""
    return type(X).__module__.split(".")[0] == "dask" and hasattr(X, "__dask_graph__")


def as_dask_array(X, name, chunk_rows=None):
    """X as a 2-D or 1-D ``dask.array`` chunked along rows only (one chunk of columns)."""
    da = require("dask.array")
    if hasattr(X, "to_dask_array"):  # dask DataFrame / Series
        X = X.to_dask_array(lengths=True)
    if not isinstance(X, da.Array):
        import numpy as np

        X = np.asarray(X)
        X = da.from_array(X, chunks=(chunk_rows or max(1, X.shape[0]),) + X.shape[1:])
    check_ndim(X, name, (1, 2))
    if X.ndim == 2 and len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})
    return X
