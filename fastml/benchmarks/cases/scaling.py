"""transformer suite, scaling-law case: Chinchilla approach-3 fit on synthetic runs.

A size is the number of (N, D) runs: sqrt(size) model sizes in 70M..16B times as many
token budgets in 5B..500B, with L(N, D) from Hoffmann et al.'s constants (E=1.69337,
A=406.401, B=410.723, alpha=0.33917, beta=0.28491) times 0.2% log-normal noise. fastml:
analytic gradients, grid screened at once, L-BFGS from the 32 best grid points; the
reference evaluates the law point by point with finite-difference gradients (4 starts).
The answers are the fitted losses at the runs (well determined even where A and B trade
off), compared to 1%.
"""

import numpy as np

from fastml import scaling
from fastml.benchmarks import Case, Impl, register
from fastml.reference import scaling as reference

CHINCHILLA = {"E": 1.69337, "A": 406.401, "B": 410.723, "alpha": 0.33917, "beta": 0.28491}


def _setup(size, rng):
    side = int(round(np.sqrt(size)))
    N = np.repeat(np.geomspace(7e7, 1.6e10, side), side)
    D = np.tile(np.geomspace(5e9, 5e11, side), side)
    L = scaling.scaling_law(N, D, **CHINCHILLA) * np.exp(0.002 * rng.standard_normal(N.size))
    return {"N": N, "D": D, "L": L}


def _fastml(N, D, L):
    return scaling.fit_scaling_law(N, D, L).predict(N, D)


def _reference(N, D, L):
    return scaling.scaling_law(N, D, **reference.fit_scaling_law(N, D, L, n_starts=4))


register(Case(
    suite="transformer", name="scaling_law_fit",
    description="Chinchilla approach-3 fit (Huber delta=1e-3 on log L, L-BFGS from grid "
                "starts) of synthetic runs; size: number of runs.",
    setup=_setup, sizes=[49, 400], quick_sizes=[25], test_sizes=[16],
    size_label=lambda s: f"{s} runs", rtol=1e-2,
    impls=[
        Impl("fastml", _fastml),
        Impl("reference", _reference, max_size=49),
    ],
))
