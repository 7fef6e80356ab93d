"""fastml on Dask distributed: MCMC chains, block-wise prediction and k-means past one machine.

Nothing here changes what is computed, only where: :func:`sample` gives the same
:class:`~fastml.mcmc.Trace` (the same draws for the same seed) as
:func:`fastml.mcmc.sample`; :class:`ParallelPostFit` gives the same predictions as the
in-memory estimator; :class:`KMeans` runs fastml's Lloyd kernel on every block of a
``dask.array`` and reduces the per-block sums on the client.

A ``distributed.Client`` connects to any cluster: ``LocalCluster`` on a laptop,
``dask_jobqueue.SLURMCluster`` or ``dask_kubernetes.KubeCluster`` elsewhere; only the
line that creates the cluster changes. Dask is optional
(``pip install "fastml-kernels[distributed]"``) and imported on first use.

Threads: every task (one MCMC chain, one row block) runs fastml's kernels on one
thread, and Dask runs ``nthreads`` tasks at a time on each worker, so Dask's threads
and OpenMP's never oversubscribe the cores.
"""

from fastml.distributed._kmeans import KMeans
from fastml.distributed._postfit import ParallelPostFit
from fastml.distributed._sample import sample

__all__ = ["KMeans", "ParallelPostFit", "sample"]
