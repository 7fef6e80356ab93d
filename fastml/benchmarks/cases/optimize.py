"""optimize suite: QP solvers on Maros–Meszaros, L-BFGS on logistic regression.

The Maros–Meszaros dense subset (n <= 1000 variables, <= 1000 constraints: 62 problems)
is read from ``../shared/data/maros_meszaros`` (qpbenchmark's ``.mat`` files:
minimise 1/2 x^T P x + q^T x subject to l <= A x <= u, the last n rows of A being the
variable bounds, +-1e20 meaning no bound, rows with u - l < 1e-10 equalities).
:func:`maros_meszaros_table` runs every solver on every problem once, with a per-problem
time limit, and reports qpbenchmark's metrics: success rate at the "default" (primal,
dual residual and duality gap <= 1) and "high accuracy" (<= 1e-9, solvers asked for
eps_abs = 1e-9, eps_rel = 0) settings, and the shifted geometric mean of runtimes
(shift 10 s, failures counted at the time limit) relative to the best solver. Run it with
``python -m fastml.benchmarks.cases.optimize [--time-limit S] [--out FILE]``.
"""

import glob
import os
import time
import warnings

import numpy as np

from fastml.benchmarks import Case, Impl, register
from fastml.benchmarks._data import shared_data
from fastml.optimize import minimize, qp_residuals, solve_qp

TOLERANCES = {"default": 1.0, "high_accuracy": 1e-9}
SHIFT = 10.0
#: qpsolvers' peers and the module each needs
_PEER_MODULES = {"quadprog": "quadprog", "osqp": "osqp", "clarabel": "clarabel",
                 "proxqp": "proxsuite", "piqp": "piqp"}


def maros_meszaros_dir():
    """The folder of the Maros-Meszaros .mat files ($FASTML_MAROS_MESZAROS or the shared
    data folder), or None."""
    path = os.environ.get("FASTML_MAROS_MESZAROS") or shared_data("maros_meszaros")
    return os.fspath(path) if path is not None and os.path.isdir(path) else None


def load_problem(path):
    """(name, dict of dense qpsolvers arrays P, q, G, h, A, b, lb, ub) from a .mat file."""
    import scipy.io

    mat = scipy.io.loadmat(path)
    n, m = int(mat["n"].item()), int(mat["m"].item())
    P = mat["P"].toarray().astype(float)
    P = 0.5 * (P + P.T)
    q = mat["q"].ravel().astype(float)
    A = mat["A"].toarray().astype(float)
    lo, up = mat["l"].ravel().astype(float), mat["u"].ravel().astype(float)
    C, lo_c, up_c = A[:m - n], lo[:m - n], up[:m - n]
    lb = np.where(lo[m - n:] > -9e19, lo[m - n:], -np.inf)
    ub = np.where(up[m - n:] < 9e19, up[m - n:], np.inf)
    eq = (up_c - lo_c) < 1e-10
    upper = ~eq & (up_c < 9e19)
    lower = ~eq & (lo_c > -9e19)
    G = np.vstack([C[upper], -C[lower]])
    h = np.concatenate([up_c[upper], -lo_c[lower]])
    problem = {"P": P, "q": q, "G": G if h.size else None, "h": h if h.size else None,
               "A": C[eq] if eq.any() else None, "b": up_c[eq] if eq.any() else None,
               "lb": lb if np.isfinite(lb).any() else None,
               "ub": ub if np.isfinite(ub).any() else None}
    return os.path.basename(path)[:-4], problem


def dense_subset(max_n=1000, max_m=1000):
    """Paths of the problems with n <= max_n and m (constraints incl. bounds) <= max_m."""
    import scipy.io

    folder = maros_meszaros_dir()
    if folder is None:
        return []
    paths = []
    for path in sorted(glob.glob(os.path.join(folder, "*.mat"))):
        mat = scipy.io.loadmat(path, variable_names=["n", "m"])
        if int(mat["n"].item()) <= max_n and int(mat["m"].item()) <= max_m:
            paths.append(path)
    return paths


def _peer(name, accuracy):
    """A qpsolvers solver with qpbenchmark's settings: fn(problem dict, time_limit)."""
    high = accuracy == "high_accuracy"
    settings = {
        "quadprog": {},
        "osqp": {"eps_abs": 1e-9, "eps_rel": 0.0} if high else {},
        "clarabel": {"tol_feas": 1e-9, "tol_gap_abs": 1e-9, "tol_gap_rel": 0.0} if high
        else {},
        "proxqp": {"eps_abs": 1e-9, "eps_rel": 0.0} if high else {},
        "piqp": {"eps_abs": 1e-9, "eps_rel": 0.0} if high else {},
    }[name]

    def run(problem, time_limit):
        import qpsolvers

        extra = dict(settings)
        if name in ("osqp", "clarabel"):
            extra["time_limit"] = time_limit
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sol = qpsolvers.solve_problem(qpsolvers.Problem(**problem), solver=name, **extra)
        if not sol.found or sol.x is None:
            return None
        n = problem["q"].size
        z = sol.z if sol.z is not None else np.zeros(0)
        y = sol.y if sol.y is not None else np.zeros(0)
        z_box = sol.z_box if sol.z_box is not None else np.zeros(n)
        return sol.x, y, z, z_box
    return run


def _fastml(solver):
    def run(problem, time_limit):
        res = solve_qp(**problem, solver=solver, time_limit=time_limit)
        if not res.found:
            return None
        return res.x, res.y, res.z, res.z_box
    return run


def solvers_available():
    import importlib.util

    names = {"fastml-ipm": "ipm", "fastml-admm": "admm", "fastml-active_set": "active_set"}
    out = {label: ("fastml", solver) for label, solver in names.items()}
    if importlib.util.find_spec("qpsolvers") is not None:
        import qpsolvers

        for peer in _PEER_MODULES:
            if peer in qpsolvers.available_solvers:
                out[peer] = ("peer", peer)
    return out


def _residuals(problem, answer):
    x, y, z, z_box = (np.asarray(v, dtype=float).ravel() for v in answer)
    n = problem["q"].size
    G = problem["G"] if problem["G"] is not None else np.zeros((0, n))
    h = problem["h"] if problem["h"] is not None else np.zeros(0)
    A = problem["A"] if problem["A"] is not None else np.zeros((0, n))
    b = problem["b"] if problem["b"] is not None else np.zeros(0)
    lb = problem["lb"] if problem["lb"] is not None else np.full(n, -np.inf)
    ub = problem["ub"] if problem["ub"] is not None else np.full(n, np.inf)
    z = z if z.size == h.size else np.zeros(h.size)
    z_box = z_box if z_box.size == n else np.zeros(n)
    y = y if y.size == b.size else np.zeros(b.size)
    r = qp_residuals(problem["P"], problem["q"], G, h, A, b, lb, ub, x, y, z, z_box)
    return r["primal_residual"], r["dual_residual"], r["duality_gap"]


def shifted_geometric_mean(times, shift=SHIFT):
    return float(np.exp(np.mean(np.log(np.asarray(times) + shift))) - shift)


def solver_records(label, problems, time_limit=10.0, log=None):
    """Records (problem, solver, accuracy, runtime, primal, dual, gap) of one solver
    (a key of :func:`solvers_available`) on ``problems``, a list of (name, problem dict),
    at both accuracies (fastml's solvers once: the same settings, tol 1e-9, serve both)."""
    kind, solver = solvers_available()[label]
    records = []
    for name, problem in problems:
        for accuracy in TOLERANCES:
            if kind == "fastml" and accuracy == "high_accuracy":
                continue
            fn = _fastml(solver) if kind == "fastml" else _peer(solver, accuracy)
            start = time.perf_counter()
            try:
                answer = fn(problem, time_limit)
            except Exception:  # a solver error is a failure, as in qpbenchmark
                answer = None
            runtime = time.perf_counter() - start
            res = _residuals(problem, answer) if answer is not None else (np.inf,) * 3
            for acc in (TOLERANCES if kind == "fastml" else (accuracy,)):
                records.append({"problem": name, "solver": label, "accuracy": acc,
                                "runtime": runtime, "primal": res[0], "dual": res[1],
                                "gap": res[2]})
            if log is not None:
                log(f"{name:10s} {label:18s} {accuracy:13s} {runtime:8.3f}s "
                    f"res {max(res):.2e}")
    return records


def success_and_shm(records, time_limit=10.0):
    """{accuracy: (success rate in %, shifted geometric mean runtime in s)} of one
    solver's records (a failure counts at the time limit, as in qpbenchmark)."""
    out = {}
    for acc, tol in TOLERANCES.items():
        mine = [r for r in records if r["accuracy"] == acc]
        ok = [max(r["primal"], r["dual"], r["gap"]) <= tol and r["runtime"] <= time_limit
              for r in mine]
        times = [r["runtime"] if good else time_limit for r, good in zip(mine, ok)]
        out[acc] = (100.0 * np.mean(ok) if ok else 0.0,
                    shifted_geometric_mean(times) if times else np.nan)
    return out


def maros_meszaros_table(time_limit=10.0, solvers=None, paths=None, log=print):
    """Run the dense subset; returns (markdown table, per-problem records)."""
    paths = dense_subset() if paths is None else paths
    solvers = list(solvers_available()) if solvers is None else solvers
    records = []
    for path in paths:  # problem by problem: every solver sees the same machine load
        problem = [load_problem(path)]
        for label in solvers:
            records += solver_records(label, problem, time_limit, log)
    return _table(records, solvers, time_limit), records


def _table(records, solvers, time_limit):
    lines = ["| solver | success (default) | success (high accuracy) | shm runtime default (s) "
             "| shm default / best | shm high (s) | shm high / best |",
             "|---|---|---|---|---|---|---|"]
    stats = {label: success_and_shm([r for r in records if r["solver"] == label], time_limit)
             for label in solvers}
    best = {acc: min(stats[s][acc][1] for s in solvers) for acc in TOLERANCES}
    for label in solvers:
        d, hi = stats[label]["default"], stats[label]["high_accuracy"]
        lines.append(f"| {label} | {d[0]:.1f}% | {hi[0]:.1f}% | {d[1]:.4f} | "
                     f"{d[1] / best['default']:.2f} | {hi[1]:.4f} | "
                     f"{hi[1] / best['high_accuracy']:.2f} |")
    return "\n".join(lines)


# ------------------------------------------------------------------- registry cases
def _mm_setup(size, rng):
    paths = dense_subset()
    chosen = [p for p in paths if os.path.basename(p)[:-4] in size]
    return {"problems": [load_problem(p)[1] for p in chosen]}


def _objectives(run):
    def fn(problems):
        out = []
        for problem in problems:
            answer = run(problem, 60.0)
            x = answer[0]
            out.append(0.5 * x @ problem["P"] @ x + problem["q"] @ x)
        return np.array(out)
    return fn


_SMALL_MM = ("HS21", "HS35", "HS51", "HS76", "QAFIRO", "GENHS28", "DUALC1", "QPCBLEND")
# (quadprog is left out here: it rejects the problems whose P is only semidefinite)
if maros_meszaros_dir() is not None:
    register(Case(
        suite="optimize", name="maros_meszaros_small",
        description="Small Maros-Meszaros QPs solved back to back (objective values agree); "
                    "the full dense-subset table: python -m fastml.benchmarks.cases.optimize",
        setup=_mm_setup,
        sizes=[_SMALL_MM], quick_sizes=[_SMALL_MM[:4]], test_sizes=[_SMALL_MM[:3]],
        size_key=len, size_label=lambda s: f"{len(s)} problems",
        rtol=1e-6, atol=1e-6,
        impls=[
            Impl("fastml", _objectives(_fastml("ipm"))),
            Impl("fastml-admm", _objectives(_fastml("admm")), kind="fastml"),
            Impl("clarabel", _objectives(_peer("clarabel", "high_accuracy")),
                 requires=("qpsolvers", "clarabel")),
        ],
    ))


_MM_TIME_LIMIT = 10.0


def _mm_dense_setup(size, rng):
    return {"problems": [load_problem(p) for p in dense_subset(size, size)]}


def _mm_records(label):
    return lambda problems: solver_records(label, problems, _MM_TIME_LIMIT)


def _mm_metrics(size, records):
    stats = success_and_shm(records, _MM_TIME_LIMIT)
    return {"success default %": stats["default"][0],
            "success high %": stats["high_accuracy"][0],
            "shm default s": stats["default"][1], "shm high s": stats["high_accuracy"][1]}


if maros_meszaros_dir() is not None:
    register(Case(
        suite="optimize", name="maros_meszaros_dense",
        description="The Maros-Meszaros dense subset (n and constraints <= 1000: 62 "
                    "problems), qpbenchmark's metrics per solver: success rate at the "
                    "default (residuals and gap <= 1) and high-accuracy (<= 1e-9) settings "
                    f"and the shifted geometric mean runtime (shift {SHIFT:g} s, a failure "
                    f"counted at the {_MM_TIME_LIMIT:g} s time limit). The time column is "
                    "the whole subset at both settings (fastml's solvers once: the same "
                    "settings serve both).",
        setup=_mm_dense_setup,
        sizes=[1000], quick_sizes=[10], test_sizes=[5],
        size_label=lambda s: f"n, m <= {s}", compare=False, min_repeats=1,
        metrics=_mm_metrics,
        impls=[Impl("fastml", _mm_records("fastml-ipm")),
               Impl("fastml-admm", _mm_records("fastml-admm"), kind="fastml"),
               Impl("fastml-active_set", _mm_records("fastml-active_set"), kind="fastml")]
        + [Impl(peer, _mm_records(peer), requires=("qpsolvers", module))
           for peer, module in _PEER_MODULES.items()],
    ))


def _logistic_setup(size, rng):
    n, d = size
    X = rng.standard_normal((n, d))
    w_true = rng.standard_normal(d) / np.sqrt(d)
    y = np.where(X @ w_true + 0.5 * rng.standard_normal(n) > 0, 1.0, -1.0)
    return {"X": X, "y": y, "l2": 1e-3}


def logistic_objective(X, y, l2):
    """Mean logistic loss + l2/2 ||w||^2 and its gradient, one pass over X each way."""
    from scipy.special import expit

    n = X.shape[0]

    def fg(w):
        z = y * (X @ w)
        loss = np.logaddexp(0.0, -z).mean() + 0.5 * l2 * (w @ w)
        grad = -(X.T @ (y * expit(-z))) / n + l2 * w
        return loss, grad
    return fg


def fused_logistic_objective(X, y, l2):
    """The same objective by fastml's compiled logistic loss (``linear_model``'s kernel):
    loss and gradient in one pass over X (chunks of rows: scores, residuals, X^T r)."""
    from fastml.linear_model._logistic import _Objective

    return _Objective(X, (y > 0).astype(np.intc), 1, False, 1.0 / (l2 * X.shape[0])).value_grad


def _fastml_lbfgs(objective):
    def run(X, y, l2):
        res = minimize(objective(X, y, l2), np.zeros(X.shape[1]), jac=True,
                       method="lbfgs", tol=1e-8, options={"ftol": 1e-12})
        return res.x
    return run


def _scipy_lbfgs(X, y, l2):
    import scipy.optimize

    res = scipy.optimize.minimize(logistic_objective(X, y, l2), np.zeros(X.shape[1]),
                                  jac=True, method="L-BFGS-B",
                                  options={"gtol": 1e-8, "ftol": 1e-12, "maxiter": 1000})
    return res.x


register(Case(
    suite="optimize", name="lbfgs_logistic",
    description="L-BFGS on L2-regularised logistic regression: fastml.optimize.minimize "
                "on fastml's fused compiled loss (fastml) and on the NumPy objective "
                "(fastml-numpy: the optimisers alone) vs scipy.optimize L-BFGS-B on the "
                "NumPy objective (two BLAS passes over X per evaluation).",
    setup=_logistic_setup,
    sizes=[(100_000, 100)], quick_sizes=[(20_000, 50)], test_sizes=[(200, 5)],
    size_key=lambda s: s[0] * s[1],
    rtol=1e-5, atol=1e-6,
    impls=[
        Impl("fastml", _fastml_lbfgs(fused_logistic_objective)),
        Impl("fastml-numpy", _fastml_lbfgs(logistic_objective), kind="fastml"),
        Impl("scipy", _scipy_lbfgs, requires=("scipy",)),
    ],
))


def _main(argv=None):
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-limit", type=float, default=10.0)
    parser.add_argument("--solvers", nargs="*", default=None)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    table, records = maros_meszaros_table(args.time_limit, args.solvers)
    print(table)
    if args.out:
        import json

        with open(args.out, "w") as fh:
            fh.write(table + "\n")
        with open(args.out + ".json", "w") as fh:
            json.dump(records, fh, default=float)


if __name__ == "__main__":
    _main()
