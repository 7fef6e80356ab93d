"""``fastml.distributed.sample``: MCMC chains spread over the workers of a Dask cluster."""

import sys

import numpy as np

from fastml._validation import check_positive_int
from fastml.distributed._dask import require, worker_threads
from fastml.mcmc._sample import _prepare_chains, _sample_chains
from fastml.mcmc._trace import _concatenate_chains


class _Density:
    """``logp`` and ``grad`` travelling together: scattered once to every worker."""

    def __init__(self, logp, grad):
        self.logp = logp
        self.grad = grad


def _run_share(density, chains, threads):
    """On a worker: its share of the chains, on ``threads`` (default: the worker's)."""
    n_threads = threads or worker_threads() or 1
    return _sample_chains(chains, density.logp, density.grad, False, n_threads)


def _shares(n_chains, workers):
    """Contiguous runs of chain ids per worker, in proportion to the workers' threads."""
    addresses = sorted(workers)
    nthreads = np.array([workers[a] for a in addresses], dtype=float)
    used = min(len(addresses), n_chains)
    addresses, nthreads = addresses[:used], nthreads[:used]
    counts = np.floor(n_chains * nthreads / nthreads.sum()).astype(int)
    counts = np.maximum(counts, 1)
    while counts.sum() > n_chains:
        counts[np.argmax(counts)] -= 1
    for i in np.argsort(-nthreads, kind="stable")[:n_chains - counts.sum()]:
        counts[i] += 1
    edges = np.concatenate([[0], np.cumsum(counts)])
    return [(a, np.arange(edges[i], edges[i + 1])) for i, a in enumerate(addresses)]


def sample(client, logp, x0, *, grad=None, method="nuts", draws=1000, tune=1000, chains=4,
           seed=None, progress=None, threads=None, workers=None, **options):
    """:func:`fastml.mcmc.sample` with the chains spread over the workers of ``client``.

    Every chain ``c`` draws from its own stream, spawned from ``seed`` exactly as on one
    machine, and advances independently of the others, so the returned Trace equals
    ``fastml.mcmc.sample(logp, x0, ..., seed=seed)`` draw for draw, whatever the number
    of workers. Worker ``w`` with ``t_w`` threads gets about ``chains * t_w / sum t``
    chains (contiguous ids) and runs them on ``threads`` threads (default ``t_w``).
    ``method="ensemble"`` (the walkers interact) runs on one worker.

    Shipping the density: ``logp`` and ``grad`` are pickled once and scattered to every
    worker (``client.scatter(..., broadcast=True)``). A Numba ``@njit`` function pickles
    as its Python source and is compiled on each worker once per process (from Numba's
    cache when ``cache=True`` and the source is in an importable module). Data a density
    closes over travels with it: prefer a closure over NumPy arrays (pickled once, with
    the function) to a module-level global, which Numba freezes into the compiled code
    as a constant and which a worker must be able to import. Python densities work too
    (same draws, Python speed).

    Parameters
    ----------
    client : distributed.Client
    logp, x0, grad, method, draws, tune, chains, seed, **options
        As :func:`fastml.mcmc.sample`.
    progress : bool, optional
        A progress bar over finished workers' shares (default: when stderr is a terminal).
    threads : int, optional
        fastml threads per worker task (default: the worker's ``nthreads``).
    workers : list of str, optional
        Addresses of the workers to use (default: every worker of ``client``).

    Returns
    -------
    Trace
        The chains in order ``0 .. chains-1``; a ``SamplingWarning`` for divergences or
        R-hat > 1.01, as on one machine.
    """
    distributed = require("distributed")
    if not isinstance(client, distributed.Client):
        raise TypeError(f"client must be a distributed.Client, got {type(client).__name__}")
    if threads is not None:
        threads = check_positive_int(threads, "threads")
    problem = _prepare_chains(logp, grad, x0, method, draws, tune, chains, seed, options)
    available = {a: w["nthreads"] for a, w in client.scheduler_info()["workers"].items()}
    if not available:
        raise ValueError("client has no workers: start some (cluster.scale(n)) first")
    if workers is not None:
        unknown = sorted(set(workers) - set(available))
        if unknown or not workers:
            raise ValueError(f"workers must be addresses of the client's workers "
                             f"{sorted(available)}, got {list(workers)}")
        available = {a: available[a] for a in workers}
    if method == "ensemble":
        shares = [(sorted(available)[0], None)]
    else:
        shares = _shares(problem.X.shape[0], available)
    [density] = client.scatter([_Density(logp, grad)], broadcast=True, hash=False)
    futures = [client.submit(_run_share, density,
                             problem if ids is None else problem.subset(ids), threads,
                             workers=[address], allow_other_workers=False, pure=False)
               for address, ids in shares]
    if progress is None:
        progress = sys.stderr.isatty()
    if progress:
        distributed.progress(futures)
    traces = client.gather(futures)
    trace = _concatenate_chains(traces)
    trace.check()
    return trace
