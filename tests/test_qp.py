"""fastml.optimize.solve_qp against qpsolvers (quadprog, OSQP, Clarabel) and the reference."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastml.optimize import solve_qp
from fastml.reference import optimize as reference

qpsolvers = pytest.importorskip("qpsolvers")

SOLVERS = ["ipm", "active_set", "admm"]


def random_qp(seed, n, n_ineq, n_eq, bounds, degenerate=False):
    """A strictly convex, feasible QP (the point x_feas satisfies everything)."""
    rng = np.random.default_rng(seed)
    M = rng.standard_normal((n, n))
    P = M @ M.T / n + 0.1 * np.eye(n)
    q = rng.standard_normal(n)
    x_feas = 0.3 * rng.standard_normal(n)
    G = rng.standard_normal((n_ineq, n)) if n_ineq else None
    h = G @ x_feas + rng.random(n_ineq) if n_ineq else None
    A = rng.standard_normal((n_eq, n)) if n_eq else None
    b = A @ x_feas if n_eq else None
    if degenerate and n_ineq:
        G = np.vstack([G, G[:1]])  # a duplicated inequality
        h = np.concatenate([h, h[:1]])
        q = q + G[0] * 10  # pushes towards the duplicated constraint: active twice
    if degenerate and n_eq:
        A = np.vstack([A, 2 * A[:1]])  # a redundant (linearly dependent) equality
        b = np.concatenate([b, 2 * b[:1]])
    lb = ub = None
    if bounds:
        lb, ub = x_feas - 0.5, x_feas + 0.5
    return P, q, G, h, A, b, lb, ub


def oracle(problem, solver):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return qpsolvers.solve_problem(qpsolvers.Problem(*problem), solver=solver,
                                       **({"eps_abs": 1e-10, "eps_rel": 0.0, "polish": True}
                                          if solver == "osqp" else {}))


def assert_kkt(res, problem, tol=1e-8):
    assert res.success, res.status
    assert res.primal_residual <= tol
    assert res.dual_residual <= tol
    assert res.duality_gap <= tol
    P, q, G, h, A, b, lb, ub = problem
    if G is not None:
        assert np.all(res.z >= -tol)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 12), n_ineq=st.integers(0, 15),
       n_eq=st.integers(0, 4), bounds=st.booleans(), degenerate=st.booleans())
def test_random_strictly_convex_qps_match_qpsolvers(seed, n, n_ineq, n_eq, bounds,
                                                    degenerate):
    n_eq = min(n_eq, n - 1) if n > 1 else 0
    problem = random_qp(seed, n, n_ineq, n_eq, bounds, degenerate)
    expected = oracle(problem, "clarabel").x
    for solver in SOLVERS:
        res = solve_qp(*problem, solver=solver)
        assert_kkt(res, problem)
        np.testing.assert_allclose(res.x, expected, atol=1e-6, err_msg=solver)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("oracle_name", ["quadprog", "osqp", "clarabel"])
def test_same_solution_and_multipliers_as_qpsolvers(solver, oracle_name):
    problem = random_qp(1, 15, 20, 3, bounds=True)
    if oracle_name == "quadprog":
        problem = problem[:6] + (None, None)  # quadprog has no bound arguments of its own
    expected = oracle(problem, oracle_name)
    res = solve_qp(*problem, solver=solver)
    assert_kkt(res, problem)
    np.testing.assert_allclose(res.x, expected.x, atol=1e-7)
    np.testing.assert_allclose(res.z, expected.z, atol=1e-6)
    np.testing.assert_allclose(res.y, expected.y, atol=1e-6)
    if problem[6] is not None:
        np.testing.assert_allclose(res.z_box, expected.z_box, atol=1e-6)
    P, q = problem[:2]
    objective = 0.5 * expected.x @ P @ expected.x + q @ expected.x
    assert res.fun == pytest.approx(objective, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("solver", SOLVERS)
def test_unconstrained_and_equality_only_and_reference(solver):
    P, q, *_ = random_qp(2, 6, 0, 0, False)
    res = solve_qp(P, q, solver=solver)
    np.testing.assert_allclose(res.x, np.linalg.solve(P, -q), atol=1e-9)
    problem = random_qp(3, 6, 4, 2, False)
    res = solve_qp(*problem, solver=solver)
    np.testing.assert_allclose(res.x, reference.solve_qp(*problem[:6]), atol=1e-8)


@pytest.mark.parametrize("solver", SOLVERS)
def test_primal_infeasible_is_detected(solver):
    P = np.eye(2)
    q = np.zeros(2)
    G = np.array([[1.0, 0.0], [-1.0, 0.0]])
    h = np.array([-1.0, -1.0])  # x0 <= -1 and x0 >= 1
    res = solve_qp(P, q, G, h, solver=solver)
    assert res.status == "primal_infeasible" and res.x is None and not res.found


@pytest.mark.parametrize("solver", ["ipm", "admm"])
def test_unbounded_is_detected(solver):
    P = np.diag([1.0, 0.0])  # PSD: no curvature along x1
    q = np.array([0.0, -1.0])
    G = np.array([[1.0, 0.0]])
    h = np.array([1.0])
    res = solve_qp(P, q, G, h, solver=solver)
    assert res.status == "dual_infeasible" and not res.success


def test_semidefinite_p_with_constraints():
    """An LP-like QP (P = 0 on some directions) with a bounded optimum."""
    P = np.diag([1.0, 0.0, 0.0])
    q = np.array([2.0, -1.0, 1.0])
    lb, ub = -np.ones(3), np.ones(3)
    for solver in ("ipm", "admm"):
        res = solve_qp(P, q, lb=lb, ub=ub, solver=solver)
        np.testing.assert_allclose(res.x, [-1.0, 1.0, -1.0], atol=1e-7)


def test_bad_input_names_the_argument():
    P, q, G, h, A, b, lb, ub = random_qp(4, 3, 2, 1, True)
    with pytest.raises(ValueError, match="P must be symmetric"):
        solve_qp(P + np.triu(np.ones((3, 3)), 1), q)
    with pytest.raises(ValueError, match="P must be positive semidefinite"):
        solve_qp(-np.eye(3), q)
    with pytest.raises(ValueError, match="P must have shape"):
        solve_qp(np.eye(2), q)
    with pytest.raises(ValueError, match="G must have 3 columns"):
        solve_qp(P, q, np.ones((2, 4)), h)
    with pytest.raises(ValueError, match="h must have shape"):
        solve_qp(P, q, G, np.ones(3))
    with pytest.raises(ValueError, match="A and b must be given together"):
        solve_qp(P, q, A=A)
    with pytest.raises(ValueError, match="lb > ub"):
        solve_qp(P, q, lb=np.ones(3), ub=np.zeros(3))
    with pytest.raises(ValueError, match="solver"):
        solve_qp(P, q, solver="cvxopt")
    with pytest.raises(ValueError, match="q contains NaN"):
        solve_qp(P, np.full(3, np.nan))


# QPCBOEI1 is not here: its outcome depends on the BLAS's rounding (2.7e-3 with
# OpenBLAS's SkylakeX kernels, a false infeasibility certificate with
# OPENBLAS_CORETYPE=Haswell), so it is not a property of the solver a test can assert.
@pytest.mark.parametrize("name", ["QSHARE2B", "QISRAEL"])
def test_maros_meszaros_problems_that_stalled(name):
    """Degenerate LP-like problems on which the IPM once stalled (mu collapsed, the
    iterates then diverged): the answer is the iterate with the best unscaled KKT error.
    qpbenchmark's default accuracy is 1 on each measure; the bound is a hundredth of it
    (measured: QSHARE2B 2e-9, QISRAEL 1.5e-6)."""
    _solve_maros_meszaros(name)


def _solve_maros_meszaros(name):
    """solve_qp on problem ``name`` of ../shared/data: found, and every KKT measure
    within a hundredth of qpbenchmark's default accuracy (1)."""
    from fastml.benchmarks.cases import optimize as cases

    folder = cases.maros_meszaros_dir()
    if folder is None:
        pytest.skip("Maros-Meszaros data not found")
    _, problem = cases.load_problem(f"{folder}/{name}.mat")
    res = solve_qp(**problem)
    assert res.found, res.status
    assert max(res.primal_residual, res.dual_residual, res.duality_gap) <= 1e-2, res
    return res


def test_nearly_psd_p_counts_as_convex():
    """P with an eigenvalue of -1e-7 ||P|| (data rounded to a few digits) is accepted,
    as qpbenchmark does for Maros-Meszaros VALUES, and the answer is a KKT point; an
    eigenvalue of -1e-3 ||P|| is rejected as non-convex."""
    rng = np.random.default_rng(3)
    Q, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    lb, ub = -np.ones(6), np.ones(6)
    q = rng.standard_normal(6)
    for eig, accepted in ((-1e-7, True), (-1e-3, False)):
        P = Q @ np.diag([eig, 0.5, 1.0, 1.5, 2.0, 2.5]) @ Q.T
        P = 0.5 * (P + P.T)
        if not accepted:
            with pytest.raises(ValueError, match="P must be positive semidefinite"):
                solve_qp(P, q, lb=lb, ub=ub)
            continue
        res = solve_qp(P, q, lb=lb, ub=ub)
        assert res.found, res.status
        assert max(res.primal_residual, res.dual_residual, res.duality_gap) <= 1e-8, res


def test_maros_meszaros_values():
    """VALUES: P has eigenvalue -1.27e-5 (-1.2e-6 ||P||_2); solved by the IPM's LDL^T
    path (measured: residuals 6e-17 / 2e-16, gap 1e-11; objective -1.39662114, the
    published optimum)."""
    res = _solve_maros_meszaros("VALUES")
    np.testing.assert_allclose(res.fun, -1.39662114, rtol=1e-6)
