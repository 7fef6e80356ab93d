"""``fastml.distributed.sample``: MCMC chains spread over the workers of a Dask cluster."""

import sys

from fastml._validation import check_instance
from fastml.distributed._dask import require
from fastml.mcmc._sample import _prepare_chains, _sample_chains
from fastml.mcmc._trace import _concatenate_chains


class _Density:
    """``logp`` and ``grad`` travelling together: scattered once to every worker."""

    def __init__(self, logp, grad):
        self.logp = logp
        self.grad = grad


def _run_chain(density, chain):
    """On a worker: one chain to the end (a chain is sequential: one thread; Dask runs
    ``nthreads`` chain tasks at a time on each worker)."""
    return _sample_chains(chain, density.logp, density.grad, False, 1)


def sample(client, logp, x0, *, grad=None, method="nuts", draws=1000, tune=1000, chains=4,
           seed=None, progress=None, workers=None, **options):
    """:func:`fastml.mcmc.sample` with the chains spread over the workers of ``client``.

    Every chain ``c`` draws from its own stream, spawned from ``seed`` exactly as on one
    machine, and advances independently of the others, so the returned Trace equals
    ``fastml.mcmc.sample(logp, x0, ..., seed=seed)`` draw for draw, whatever the number
    of workers. Each chain is one Dask task on one thread (a chain is sequential), so a
    worker with ``t`` threads runs ``t`` chains at a time and the scheduler hands the
    next chain to whichever worker frees up first (chains of unequal cost balance
    themselves). ``method="ensemble"`` (the walkers interact) is a single task.

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
        Dask's progress bar over finished chains (default: when stderr is a terminal).
    workers : list of str, optional
        Addresses of the workers to use (default: every worker of ``client``).

    Returns
    -------
    Trace
        The chains in order ``0 .. chains-1``; a ``SamplingWarning`` for divergences or
        R-hat > 1.01, as on one machine.
    """
    distributed = require("distributed")
    check_instance(client, "client", distributed.Client, "a distributed.Client")
    problem = _prepare_chains(logp, grad, x0, method, draws, tune, chains, seed, options)
    available = set(client.scheduler_info()["workers"])
    if not available:
        raise ValueError("client has no workers: start some (cluster.scale(n)) first")
    if workers is not None:
        unknown = sorted(set(workers) - set(available))
        if unknown or not workers:
            raise ValueError(f"workers must be addresses of the client's workers "
                             f"{sorted(available)}, got {list(workers)}")
        available = set(workers)
    if method == "ensemble":  # the walkers interact: one task
        tasks = [problem]
    else:
        tasks = [problem.subset([c]) for c in range(problem.X.shape[0])]
    [density] = client.scatter([_Density(logp, grad)], broadcast=True, hash=False,
                               workers=sorted(available))
    futures = [client.submit(_run_chain, density, task, workers=sorted(available),
                             allow_other_workers=False, pure=False) for task in tasks]
    if progress is None:
        progress = sys.stderr.isatty()
    if progress:
        distributed.progress(futures)
    traces = client.gather(futures)
    trace = _concatenate_chains(traces)
    trace.check()
    return trace
