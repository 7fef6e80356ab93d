"""linalg suite: Cholesky factorisation, solves and rank-one updates."""

import numpy as np

from fastml import linalg
from fastml.benchmarks import Case, Impl, register
from fastml.reference import linalg as reference


def random_spd(n, rng, dtype=np.float64):
    """A well-conditioned SPD matrix: X X^T / n + I."""
    x = rng.standard_normal((n, n))
    return (x @ x.T / max(n, 1) + np.eye(n)).astype(dtype)


def _scipy_cholesky(A):
    import scipy.linalg

    return scipy.linalg.cholesky(A, lower=True)


register(Case(
    suite="linalg", name="cholesky",
    description="A = L L^T by LAPACK potrf (float64), vs SciPy and the textbook loops.",
    setup=lambda n, rng: {"A": random_spd(n, rng)},
    sizes=[250, 1000, 2000, 4000], quick_sizes=[250, 1000], test_sizes=[1, 2, 17, 64],
    flops=lambda n: n**3 / 3,
    rtol=1e-9, atol=1e-12,
    impls=[
        Impl("fastml", lambda A: linalg.cholesky(A)),
        Impl("reference", lambda A: reference.cholesky(A), max_size=250),
        Impl("scipy", _scipy_cholesky, requires=("scipy",)),
    ],
))

register(Case(
    suite="linalg", name="cholesky_f32",
    description="Cholesky in float32.",
    setup=lambda n, rng: {"A": random_spd(n, rng, np.float32)},
    sizes=[1000, 4000], quick_sizes=[500], test_sizes=[3, 40],
    flops=lambda n: n**3 / 3,
    rtol=2e-4, atol=1e-5,
    impls=[
        Impl("fastml", lambda A: linalg.cholesky(A)),
        Impl("scipy", _scipy_cholesky, requires=("scipy",)),
    ],
))


def _solve_setup(n, rng):
    return {"L": linalg.cholesky(random_spd(n, rng)), "B": rng.standard_normal((n, 64))}


def _scipy_cho_solve(L, B):
    import scipy.linalg

    return scipy.linalg.cho_solve((L, True), B)


register(Case(
    suite="linalg", name="cho_solve",
    description="A X = B with 64 right-hand sides from the Cholesky factor (two trsm).",
    setup=_solve_setup,
    sizes=[1000, 4000], quick_sizes=[500], test_sizes=[1, 9, 50],
    flops=lambda n: 2 * n * n * 64,
    rtol=1e-8, atol=1e-10,
    impls=[
        Impl("fastml", lambda L, B: linalg.cho_solve(L, B)),
        Impl("reference", lambda L, B: reference.cho_solve(L, B), max_size=500),
        Impl("scipy", _scipy_cho_solve, requires=("scipy",)),
    ],
))


def _update_setup(n, rng):
    A = random_spd(n, rng)
    x = rng.standard_normal(n)
    return {"A": A, "L": linalg.cholesky(A), "x": x}


def _refactorise_given_a(A, L, x):
    import scipy.linalg

    return scipy.linalg.cholesky(A + np.outer(x, x), lower=True)


register(Case(
    suite="linalg", name="chol_update",
    description="Factor of A + x x^T: O(n^2) rank-one update (fastml) vs refactorising "
                "from the factor (reference: rebuild L L^T + x x^T, potrf) and SciPy "
                "refactorising A + x x^T when A is still at hand.",
    setup=_update_setup,
    sizes=[500, 2000, 4000], quick_sizes=[500], test_sizes=[1, 2, 16, 17, 40],
    flops=lambda n: 4 * n * n / 2,
    rtol=1e-8, atol=1e-10,
    impls=[
        # In place, as a factor is maintained; repeated updates keep it SPD.
        Impl("fastml", lambda A, L, x: linalg.chol_update(L, x, overwrite=True),
             prepare=lambda inputs: {**inputs, "L": inputs["L"].copy()}),
        Impl("reference", lambda A, L, x: reference.chol_update(L, x)),
        Impl("scipy-refactorise", _refactorise_given_a, requires=("scipy",)),
    ],
))


def _downdate_setup(n, rng):
    A = random_spd(n, rng)
    x = 0.5 * rng.standard_normal(n) / np.sqrt(n)
    return {"L": linalg.cholesky(A + np.outer(x, x)), "x": x}


register(Case(
    suite="linalg", name="chol_downdate",
    description="Factor of A - x x^T: rank-one downdate vs refactorisation.",
    setup=_downdate_setup,
    sizes=[2000], quick_sizes=[500], test_sizes=[1, 5, 33],
    flops=lambda n: 4 * n * n / 2,
    rtol=1e-8, atol=1e-10,
    impls=[
        Impl("fastml", lambda L, x: linalg.chol_downdate(L, x)),
        Impl("reference", lambda L, x: reference.chol_downdate(L, x)),
    ],
))
