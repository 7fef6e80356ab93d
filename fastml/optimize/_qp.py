"""solve_qp: convex quadratic programs with qpsolvers' conventions.

    minimise    1/2 x^T P x + q^T x
    subject to  G x <= h,  A x = b,  lb <= x <= ub

Three dense solvers share one problem form, l <= K x <= u with K = [A; G; I_bounds]
(equality rows have l = u), and one result:

- "ipm": primal-dual interior point, Mehrotra predictor-corrector. Inequalities C x + s = d,
  s >= 0, with duals z >= 0; each Newton system is reduced to
  (P + C^T diag(z/s) C) dx + A^T dy = r, A dx = r' and solved by a Cholesky factor of
  the first block and of the Schur complement A H^-1 A^T (LAPACK potrf through
  ``fastml.kernels._linalg``), with iterative refinement against the regularisation.
- "active_set": primal active set (Nocedal & Wright Algorithm 16.3) from a feasible point
  (phase 1 by SciPy's HiGHS LP); each step solves the equality-constrained QP of the
  working set. For small dense problems.
- "admm": OSQP's operator splitting, x-update by one cached Cholesky factor of
  P + sigma I + K^T diag(rho) K, over-relaxation 1.6, adaptive rho, infeasibility
  certificates from the iterate differences, and solution polishing on the active set.

All three scale the problem first (Ruiz equilibration of the KKT matrix), detect primal
infeasibility (a Farkas certificate A^T y + G^T z = 0, z >= 0, b^T y + h^T z < 0) and
unboundedness (a direction with P dx = 0, A dx = 0, G dx <= 0, q^T dx < 0), and report
the KKT multipliers with qpsolvers' signs (P x + q + G^T z + A^T y + z_box = 0, z >= 0,
z_box < 0 at lower and > 0 at upper bounds), the primal residual, dual residual and
duality gap |x^T P x + q^T x + h^T z + b^T y + lb^T min(z_box, 0) + ub^T max(z_box, 0)|.
"""

import contextlib
import numbers
import time

import numpy as np

from fastml import _kernels, _threads
from fastml._validation import (
    check_array,
    check_option,
    check_positive_int,
    check_scalar,
    check_shape,
    check_symmetric,
)
from fastml.optimize._minimize import OptimizeResult

__all__ = ["SOLVERS", "solve_qp"]

SOLVERS = ("ipm", "active_set", "admm")
_BIG = 1e20  # |bound| >= _BIG means no bound (the Maros-Meszaros convention)
_PSD_RTOL = 1e-5  # P counts as PSD when P + _PSD_RTOL ||P||_inf I is positive definite


class _QP:
    """The scaled problem l <= K x <= u (rows: n_eq equalities, then inequalities)."""

    def __init__(self, P, q, A, b, G, h, lb, ub):
        n = q.size
        self.n = n
        self.n_eq, self.n_g = A.shape[0], G.shape[0]
        self.lb_rows = np.flatnonzero(lb > -_BIG)
        self.ub_rows = np.flatnonzero(ub < _BIG)
        box = np.flatnonzero((lb > -_BIG) | (ub < _BIG))
        self.box = box
        K = np.vstack([A, G, np.eye(n)[box]])
        lo = np.concatenate([b, np.full(G.shape[0], -np.inf), np.where(lb[box] > -_BIG,
                                                                       lb[box], -np.inf)])
        hi = np.concatenate([b, h, np.where(ub[box] < _BIG, ub[box], np.inf)])
        self.original = (P, q, G, h, A, b, lb, ub)
        # Ruiz equilibration: D scales variables, E rows, c the cost
        D = np.ones(n)
        E = np.ones(K.shape[0])
        Ps, Ks, qs = P.copy(), K.copy(), q.copy()
        for _ in range(10):
            col = np.maximum(np.abs(Ps).max(axis=0, initial=0.0),
                             np.abs(Ks).max(axis=0, initial=0.0))
            row = np.abs(Ks).max(axis=1, initial=0.0)
            dcol = 1.0 / np.sqrt(np.where(col > 1e-8, col, 1.0))
            drow = 1.0 / np.sqrt(np.where(row > 1e-8, row, 1.0))
            Ps = Ps * dcol[:, None] * dcol[None, :]
            Ks = Ks * drow[:, None] * dcol[None, :]
            qs = qs * dcol
            D *= dcol
            E *= drow
        scale = max(np.abs(Ps).max(initial=0.0), np.abs(qs).max(initial=0.0), 1e-8)
        self.c = 1.0 / min(max(scale, 1e-4), 1e4)
        self.D, self.E = D, E
        self.P, self.q, self.K = self.c * Ps, self.c * qs, Ks
        self.lo, self.hi = lo * E, hi * E

    def unscale(self, x, w):
        """(x, row multipliers w) in the original variables and rows."""
        return self.D * x, self.E * w / self.c

    def split(self, w):
        """Row multipliers -> qpsolvers' (y, z, z_box)."""
        me, mg = self.n_eq, self.n_g
        z_box = np.zeros(self.n)
        z_box[self.box] = w[me + mg:]
        return w[:me], w[me:me + mg], z_box

    def original_error(self, xs, ws):
        """Largest of qpsolvers' primal residual, dual residual and duality gap, unscaled."""
        x, w = self.unscale(xs, ws)
        return max(_qp_residuals_core(*self.original, x, *self.split(w)).values())


def _factor(M):
    """Lower Cholesky factor (in place) or None when M is not positive definite."""
    L = np.array(M, order="C")
    return L if _kernels.load("_linalg").cholesky_inplace(L, True) == 0 else None


def _cho_solve(L, B):
    X = np.array(B, dtype=np.float64, order="C")
    _kernels.load("_linalg").cho_solve_inplace(L, X[:, None] if X.ndim == 1 else X, True)
    return X


def _factor_regularised(M):
    """Cholesky of M + delta I with the smallest delta (1e-12, 1e-10, ...) that works.

    The shifts are absolute: the problems are equilibrated first, and a shift relative to
    the largest diagonal (which grows like z/s near the solution) would swamp the rest."""
    delta = 0.0
    for _ in range(12):
        L = _factor(M if delta == 0.0 else M + delta * np.eye(M.shape[0]))
        if L is not None:
            return L, delta
        delta = 1e-12 if delta == 0.0 else delta * 100
    raise np.linalg.LinAlgError("KKT matrix could not be factorised")


class _Saddle:
    """Solves [[H, A^T], [A, 0]] [x; y] = [r1; r2] for PSD H.

    When H is positive definite: Cholesky of H and of the Schur complement A H^-1 A^T
    (rank-deficient A: the smallest diagonal shift of the complement that factors).
    When H or the complement is numerically singular (e.g. an LP, or free variables
    constrained only by A): LDL^T (LAPACK sytrf, Bunch-Kaufman) of the symmetric
    indefinite matrix itself, slightly regularised to [[H + delta I, A^T], [A, -delta I]].
    Three steps of iterative refinement against the unregularised system remove the
    effect of the shifts.
    """

    def __init__(self, H, A, delta=1e-11):
        self.H, self.A = H, A
        n, p = H.shape[0], A.shape[0]
        self.ldl = None
        L = _factor(H)
        # a pivot below 1e-7 sqrt(max H_ii) means H is numerically singular: use LDL^T
        if L is not None and np.diagonal(L).min(initial=1.0) ** 2 > \
                1e-14 * max(float(np.abs(np.diagonal(H)).max(initial=0.0)), 1e-300):
            self.LH = L
            if not p:
                return
            try:
                # A H^-1 A^T = W^T W with W = L^-1 A^T: one trsm and one syrk
                W = np.array(A.T, order="C")
                _kernels.load("_linalg").solve_triangular_inplace(L, W, True, False)
                self.LS, _ = _factor_regularised(W.T @ W)
                return
            except np.linalg.LinAlgError:
                pass
        from scipy.linalg import lapack

        K = np.zeros((n + p, n + p))
        K[:n, :n] = H
        K[n:, :n] = A
        K[np.arange(n), np.arange(n)] += delta
        K[np.arange(n, n + p), np.arange(n, n + p)] = -delta
        self.ldl, self.ipiv, _ = lapack.dsytrf(K, lower=1)
        self.sytrs = lapack.dsytrs

    def _solve_once(self, r1, r2):
        if self.ldl is not None:
            sol, _ = self.sytrs(self.ldl, self.ipiv, np.concatenate([r1, r2]), lower=1)
            return sol[:r1.size], sol[r1.size:]
        if not self.A.shape[0]:
            return _cho_solve(self.LH, r1), np.zeros(0)
        Hr = _cho_solve(self.LH, r1)
        y = _cho_solve(self.LS, self.A @ Hr - r2)
        return Hr - _cho_solve(self.LH, self.A.T @ y), y

    def solve(self, r1, r2):
        x, y = self._solve_once(r1, r2)
        for _ in range(3):
            e1 = r1 - self.H @ x - self.A.T @ y
            e2 = r2 - self.A @ x
            dx, dy = self._solve_once(e1, e2)
            x, y = x + dx, y + dy
        return x, y


def _max_step(v, dv):
    neg = dv < 0
    return min(1.0, float(np.min(-v[neg] / dv[neg]))) if neg.any() else 1.0


def _direction(saddle, C, s, z, residuals, rc):
    """Newton step for the residuals (dual, equality, inequality) and the complementarity
    right-hand side rc: P dx + A^T dy + C^T dz = -rd, A dx = -rp, C dx + ds = -ri,
    Z ds + S dz = rc, by eliminating ds and dz."""
    rd, rp, ri = residuals
    dx, dy = saddle.solve(-rd - C.tdot((rc + z * ri) / s), -rp)
    ds = -ri - C.dot(dx)
    dz = (rc - z * ds) / s
    return dx, dy, ds, dz


class _Inequalities:
    """The IPM's inequalities C x <= d: the rows of K with a finite upper bound (+K_r,
    d = u_r) and with a finite lower bound (-K_r, d = -l_r).

    General rows are a dense block; bound rows are (scaled) unit vectors, kept as a
    column index and a coefficient, so C x, C^T v and C^T diag(w) C cost O(n) for them
    instead of O(n^2) / O(n^3): bounds are most of the rows of many problems.
    """

    def __init__(self, qp):
        me, K = qp.n_eq, qp.K
        general = np.arange(me, me + qp.n_g)
        box = np.arange(me + qp.n_g, K.shape[0])
        parts = [r[np.isfinite(bound[r])] for r in (general, box) for bound in (qp.hi, qp.lo)]
        self.rows = np.concatenate(parts)
        self.sign = np.concatenate([np.full(r.size, 1.0 - 2.0 * (i % 2))
                                    for i, r in enumerate(parts)])
        self.d = self.sign * np.where(self.sign > 0, qp.hi[self.rows], qp.lo[self.rows])
        n_dense = parts[0].size + parts[1].size
        self.dense = self.sign[:n_dense, None] * K[self.rows[:n_dense]]
        self.col = qp.box[self.rows[n_dense:] - me - qp.n_g]
        self.coef = self.sign[n_dense:] * K[self.rows[n_dense:], self.col]
        self.n_dense, self.n, self.m = n_dense, qp.n, self.rows.size

    def dot(self, x):
        """C x."""
        return np.concatenate([self.dense @ x, self.coef * x[self.col]])

    def tdot(self, v):
        """C^T v."""
        nd = self.n_dense
        return self.dense.T @ v[:nd] + np.bincount(self.col, self.coef * v[nd:],
                                                    minlength=self.n)

    def gram(self, w):
        """C^T diag(w) C."""
        nd = self.n_dense
        M = (self.dense.T * w[:nd]) @ self.dense
        M[np.diag_indices_from(M)] += np.bincount(self.col, self.coef ** 2 * w[nd:],
                                                  minlength=self.n)
        return M

    def multipliers(self, qp, y, z):
        """Row multipliers of l <= K x <= u from (y, z) of A x = b, C x <= d."""
        w = np.zeros(qp.K.shape[0])
        w[:qp.n_eq] = y
        np.add.at(w, self.rows, self.sign * z)
        return w


#: IPM iterations without a better unscaled error before it stops (status max_iter)
_STALL = 15


def _ipm(qp, tol, max_iter, deadline):
    """Mehrotra predictor-corrector on the scaled problem; returns (x, w, status, nit)."""
    me = qp.n_eq
    A, b = qp.K[:me], qp.lo[:me]
    C = _Inequalities(qp)
    d, m = C.d, C.m
    P, q = qp.P, qp.q
    # start: minimise 1/2 x^T P x + q^T x + 1/2 ||C x - d||^2 s.t. A x = b, then shift s, z
    saddle = _Saddle(P + C.gram(np.ones(m)), A)
    x, y = saddle.solve(-q + C.tdot(d), b)
    s = d - C.dot(x)
    z = -s.copy()
    if m:
        # Mehrotra's shifts: positive s and z, then balanced so that s_i z_i ~ mu
        s += max(0.0, -1.5 * s.min())
        z += max(0.0, -1.5 * z.min())
        sz = float(s @ z)
        if sz > 0 and s.sum() > 0 and z.sum() > 0:
            s, z = s + 0.5 * sz / z.sum(), z + 0.5 * sz / s.sum()
        s = np.maximum(s, 1e-8)
        z = np.maximum(z, 1e-8)
    status = "max_iter"
    converged_at = max_iter + 1
    best = (np.inf, x, y, z, 0)
    for it in range(max_iter + 1):
        rd = P @ x + q + A.T @ y + C.tdot(z)
        rp = A @ x - b
        ri = C.dot(x) + s - d
        mu = float(s @ z) / m if m else 0.0
        pres = max(np.abs(rp).max(initial=0.0), np.abs(ri).max(initial=0.0))
        dres = np.abs(rd).max(initial=0.0)
        gap = abs(float(x @ P @ x + q @ x + b @ y + d @ z))
        # the best iterate by the unscaled error is the answer: steps at tiny mu can
        # lose accuracy (the Newton systems become ill-conditioned), and then it stalls
        error = qp.original_error(x, C.multipliers(qp, y, z))
        if error < best[0]:
            best = (error, x, y, z, it)
        if error <= tol:
            status = "solved"
            break
        if max(pres, dres) <= tol and (gap <= tol or mu * m <= tol):
            # converged on the scaled problem: up to 5 more steps for the unscaled
            # tolerance
            converged_at = min(converged_at, it)
            if error > 10 * best[0] or it >= converged_at + 5:
                status = "solved"
                break
        # infeasibility certificates (normalised by the certificate's own size)
        dual_obj = -float(b @ y + d @ z)
        if m and dual_obj > 0 and np.abs(A.T @ y + C.tdot(z)).max() <= 1e-9 * dual_obj \
                and z.max() > 1e6:
            status = "primal_infeasible"
            break
        qx = float(q @ x)
        if qx < 0 and np.abs(P @ x).max() <= 1e-9 * -qx \
                and np.abs(A @ x).max(initial=0.0) <= 1e-9 * -qx \
                and C.dot(x).max(initial=0.0) <= 1e-9 * -qx and np.abs(x).max() > 1e6:
            status = "dual_infeasible"
            break
        if it == max_iter or it >= best[4] + _STALL:
            break  # (no better unscaled error in _STALL iterations: keep the best)
        if time.perf_counter() > deadline:
            status = "time_limit"
            break
        saddle = _Saddle(P + C.gram(z / s), A)
        residuals = (rd, rp, ri)
        dx, dy, ds, dz = _direction(saddle, C, s, z, residuals, -s * z)
        if m:
            a_aff = min(_max_step(s, ds), _max_step(z, dz))
            mu_aff = float((s + a_aff * ds) @ (z + a_aff * dz)) / m
            sigma = (mu_aff / mu) ** 3 if mu > 0 else 0.0
            dx, dy, ds, dz = _direction(saddle, C, s, z, residuals, -s * z - ds * dz + sigma * mu)
            alpha = min(1.0, 0.99 * min(_max_step(s, ds), _max_step(z, dz)))
        else:
            alpha = 1.0
        x, y, s, z = x + alpha * dx, y + alpha * dy, s + alpha * ds, z + alpha * dz
        if m:
            # keep strict positivity after round-off
            s = np.maximum(s, 1e-300)
            z = np.maximum(z, 1e-300)
    if status not in ("primal_infeasible", "dual_infeasible"):
        _, x, y, z, _ = best
    return x, C.multipliers(qp, y, z), status, it


def _project(v, lo, hi):
    return np.minimum(np.maximum(v, lo), hi)


def _polish(qp, x, w, delta=1e-9):
    """Solve the KKT system of the constraints that ``w`` says are active (OSQP polish)."""
    me = qp.n_eq
    rows = np.arange(qp.K.shape[0])
    lower = (rows >= me) & (w < -1e-9 * max(1.0, np.abs(w).max(initial=0.0)))
    upper = (rows >= me) & (w > 1e-9 * max(1.0, np.abs(w).max(initial=0.0)))
    active = np.flatnonzero((rows < me) | lower | upper)
    Ka = qp.K[active]
    target = np.where(upper[active], qp.hi[active], qp.lo[active])
    n, k = qp.n, active.size
    KKT = np.block([[qp.P + delta * np.eye(n), Ka.T], [Ka, -delta * np.eye(k)]])
    rhs = np.concatenate([-qp.q, target])
    try:
        sol = np.linalg.solve(KKT, rhs)
        exact = np.block([[qp.P, Ka.T], [Ka, np.zeros((k, k))]])
        for _ in range(3):
            sol += np.linalg.solve(KKT, rhs - exact @ sol)
    except np.linalg.LinAlgError:
        return None
    wp = np.zeros_like(w)
    wp[active] = sol[n:]
    return sol[:n], wp


def _kkt_error(qp, x, w):
    """Largest violation of the scaled KKT conditions: primal feasibility, stationarity,
    multiplier signs (w <= 0 where only a lower bound can be active, >= 0 for upper) and
    complementarity w_i (K x - bound)_i."""
    Kx = qp.K @ x
    pres = np.abs(Kx - _project(Kx, qp.lo, qp.hi)).max(initial=0.0)
    dres = np.abs(qp.P @ x + qp.q + qp.K.T @ w).max(initial=0.0)
    wu, wl = np.maximum(w, 0.0), np.minimum(w, 0.0)
    hi_gap = np.abs(np.where(np.isfinite(qp.hi), qp.hi, 0.0) - Kx)
    lo_gap = np.abs(Kx - np.where(np.isfinite(qp.lo), qp.lo, 0.0))
    upper = np.where(np.isfinite(qp.hi), wu * hi_gap, wu)  # no upper bound: w > 0 is wrong
    lower = np.where(np.isfinite(qp.lo), -wl * lo_gap, -wl)
    comp = (upper + lower)[qp.n_eq:]
    return max(pres, dres, comp.max(initial=0.0))


def _admm(qp, tol, max_iter, deadline, rho=0.1, sigma=1e-6, alpha=1.6):
    """OSQP iterations on the scaled problem; returns (x, w, status, nit)."""
    n, me, K, lo, hi, P, q = qp.n, qp.n_eq, qp.K, qp.lo, qp.hi, qp.P, qp.q
    m = K.shape[0]
    eq = np.zeros(m, bool)
    eq[:me] = True
    eq |= (hi - lo) < 1e-10
    free = np.isinf(lo) & np.isinf(hi)

    def rho_vector(r):
        return np.where(eq, 1e3 * r, np.where(free, 1e-6, r))

    rho_v = rho_vector(rho)
    L = _factor(P + sigma * np.eye(n) + (K.T * rho_v) @ K)
    x, z, y = np.zeros(n), np.zeros(m), np.zeros(m)
    status = "max_iter"
    eps_inf = 1e-5 * max(tol, 1e-4) / 1e-4
    it = 0
    for it in range(1, max_iter + 1):
        x_prev, y_prev = x, y
        xt = _cho_solve(L, sigma * x - q + K.T @ (rho_v * z - y))
        zt = K @ xt
        x = alpha * xt + (1 - alpha) * x
        z_relaxed = alpha * zt + (1 - alpha) * z
        z_new = _project(z_relaxed + y / rho_v, lo, hi)
        y = y + rho_v * (z_relaxed - z_new)
        z = z_new
        if it % 10 and it != max_iter:
            continue
        Kx = K @ x
        Px = P @ x
        KTy = K.T @ y
        pres = np.abs(Kx - z).max(initial=0.0)
        dres = np.abs(Px + q + KTy).max(initial=0.0)
        if pres <= tol and dres <= tol:
            status = "solved"
            break
        if time.perf_counter() > deadline:
            status = "time_limit"
            break
        dy, dx = y - y_prev, x - x_prev
        ndy = np.abs(dy).max(initial=0.0)
        if ndy > 0 and np.abs(K.T @ dy).max() <= eps_inf * ndy:
            support = np.where(np.isfinite(hi), hi, 0.0) @ np.maximum(dy, 0.0) \
                + np.where(np.isfinite(lo), lo, 0.0) @ np.minimum(dy, 0.0)
            bad = (np.isinf(hi) & (dy > eps_inf * ndy)) | (np.isinf(lo) & (dy < -eps_inf * ndy))
            if support < -eps_inf * ndy and not bad.any():
                status = "primal_infeasible"
                break
        ndx = np.abs(dx).max(initial=0.0)
        if ndx > 0 and q @ dx < -eps_inf * ndx and np.abs(P @ dx).max() <= eps_inf * ndx:
            Kdx = K @ dx
            ok = np.where(np.isfinite(hi), Kdx <= eps_inf * ndx, True) & \
                np.where(np.isfinite(lo), Kdx >= -eps_inf * ndx, True)
            if ok.all():
                status = "dual_infeasible"
                break
        if it % 50 == 0:  # OSQP's adaptive rho from the normalised residual ratio
            p_norm = pres / max(np.abs(Kx).max(initial=0.0), np.abs(z).max(initial=0.0), 1e-30)
            d_norm = dres / max(np.abs(Px).max(initial=0.0), np.abs(KTy).max(initial=0.0),
                                np.abs(q).max(initial=0.0), 1e-30)
            new_rho = float(np.clip(rho * np.sqrt(p_norm / max(d_norm, 1e-30)), 1e-6, 1e6))
            if new_rho > 5 * rho or new_rho < rho / 5:
                rho = new_rho
                rho_v = rho_vector(rho)
                L = _factor(P + sigma * np.eye(n) + (K.T * rho_v) @ K)
    if status in ("solved", "max_iter", "time_limit"):
        polished = _polish(qp, x, y)
        if polished is not None:
            before = _kkt_error(qp, x, y)
            after = _kkt_error(qp, *polished)
            if after < before:
                x, y = polished
                if after <= tol:
                    status = "solved"
    return x, y, status, it


def _active_set(qp, tol, max_iter, deadline):
    """Primal active set on the scaled problem; returns (x, w, status, nit)."""
    import scipy.optimize

    n, me, K, lo, hi, P, q = qp.n, qp.n_eq, qp.K, qp.lo, qp.hi, qp.P, qp.q
    A, b = K[:me], lo[:me]
    rows = np.arange(me, K.shape[0])
    up = rows[np.isfinite(hi[me:])]
    low = rows[np.isfinite(lo[me:])]
    C = np.vstack([K[up], -K[low]])
    d = np.concatenate([hi[up], -lo[low]])
    phase1 = scipy.optimize.linprog(np.zeros(n), A_ub=C if d.size else None,
                                    b_ub=d if d.size else None, A_eq=A if me else None,
                                    b_eq=b if me else None, bounds=(None, None),
                                    method="highs")
    if phase1.status == 2:
        return np.zeros(n), np.zeros(K.shape[0]), "primal_infeasible", 0
    if phase1.status != 0:
        return np.zeros(n), np.zeros(K.shape[0]), "max_iter", 0
    x = phase1.x
    feas_tol = 1e-9 * max(1.0, np.abs(d).max(initial=0.0))
    working = [i for i in np.flatnonzero(C @ x >= d - feas_tol)]
    status, lam = "max_iter", np.zeros(0)
    it = 0
    while it < max_iter:
        it += 1
        if time.perf_counter() > deadline:
            status = "time_limit"
            break
        W = C[working]
        k = len(working)
        g = P @ x + q
        KKT = np.block([[P, A.T, W.T], [A, np.zeros((me, me + k))],
                        [W, np.zeros((k, me + k))]])
        sol = np.linalg.lstsq(KKT, np.concatenate([-g, np.zeros(me + k)]), rcond=None)[0]
        p = sol[:n]
        if np.abs(p).max(initial=0.0) <= 1e-12 * max(1.0, np.abs(x).max(initial=0.0)):
            mult = sol[n:]
            lam = mult[me:]
            if k == 0 or lam.min() >= -1e-12 * max(1.0, np.abs(lam).max()):
                status = "solved"
                break
            working.pop(int(np.argmin(lam)))
            continue
        Cp = C @ p
        step, block = 1.0, -1
        for i in np.flatnonzero(Cp > 1e-14 * max(1.0, np.abs(p).max())):
            if i in working:
                continue
            t = (d[i] - C[i] @ x) / Cp[i]
            if t < step:
                step, block = max(t, 0.0), i
        if block < 0 and np.abs(P @ p).max(initial=0.0) <= 1e-12 * np.abs(p).max() \
                and q @ p < 0:
            status = "dual_infeasible"  # a descent direction of zero curvature, unblocked
            break
        x = x + step * p
        if block >= 0:
            working.append(int(block))
    w = np.zeros(K.shape[0])
    if status == "solved":
        mult = np.linalg.lstsq(np.vstack([A, C[working]]).T, -(P @ x + q), rcond=None)[0] \
            if (me + len(working)) else np.zeros(0)
        w[:me] = mult[:me]
        z = np.zeros(d.size)
        z[working] = mult[me:]
        w[up] += z[:up.size]
        w[low] -= z[up.size:]
    return x, w, status, it


def _as_dense(a, name, ndim, n=None):
    if a is None:
        return None
    if type(a).__module__.startswith("scipy.sparse"):
        a = a.toarray()
    return check_array(a, name, ndim=ndim, dtype=np.float64)


def _check_problem(P, q, G, h, A, b, lb, ub):
    """Dense float64 (P, q, G, h, A, b, lb, ub) with matching shapes; absent constraints as
    (0, n) / (0,) arrays, absent bounds as -inf / +inf (see :func:`solve_qp`)."""
    Pm = _as_dense(P, "P", 2)
    qv = _as_dense(q, "q", 1)
    n = qv.size
    check_shape(Pm, "P", (n, n), f" to match q of length {n}")
    parts = {}
    for mat, vec, mname, vname in ((G, h, "G", "h"), (A, b, "A", "b")):
        if (mat is None) != (vec is None):
            raise ValueError(f"{mname} and {vname} must be given together")
        if mat is None:
            parts[mname], parts[vname] = np.zeros((0, n)), np.zeros(0)
            continue
        M = _as_dense(mat, mname, (1, 2))
        M = M.reshape(1, -1) if M.ndim == 1 else M
        v = np.atleast_1d(_as_dense(vec, vname, (0, 1)))
        if M.shape[1] != n:
            raise ValueError(f"{mname} must have {n} columns to match q, got shape "
                             f"{M.shape}")
        check_shape(v, vname, (M.shape[0],), f" to match {mname}")
        parts[mname], parts[vname] = M, v
    bounds = {}
    for name, value, default in (("lb", lb, -np.inf), ("ub", ub, np.inf)):
        if value is None:
            bounds[name] = np.full(n, default)
            continue
        v = check_array(value, name, ndim=1, dtype=np.float64, finite=False)
        if v.shape != (n,) or np.isnan(v).any():
            raise ValueError(f"{name} must have shape ({n},) without NaN, got {v.shape}")
        bounds[name] = v
    return (Pm, qv, parts["G"], parts["h"], parts["A"], parts["b"], bounds["lb"],
            bounds["ub"])


def solve_qp(P, q, G=None, h=None, A=None, b=None, lb=None, ub=None, *, solver="ipm",
             tol=1e-9, max_iter=None, time_limit=None, initvals=None):
    """Solve a convex QP: min 1/2 x^T P x + q^T x s.t. G x <= h, A x = b, lb <= x <= ub.

    Arguments follow qpsolvers' names and conventions.

    Parameters
    ----------
    P : (n, n) symmetric positive semidefinite (dense or scipy sparse; checked: P +
        1e-5 ||P||_inf I must be positive definite, so rounding-level negative
        eigenvalues pass).
    q : (n,)
    G, h : (m, n), (m,) inequalities, optional (both or neither); a 1-D G is one row.
    A, b : (p, n), (p,) equalities, optional (both or neither); a 1-D A is one row.
    lb, ub : (n,) bounds, optional; entries beyond +-1e20 or infinite mean no bound.
    solver : "ipm" (default), "active_set" (small dense problems) or "admm".
    tol : absolute tolerance on the scaled primal and dual residuals (and the gap, IPM).
    max_iter : default 100 (ipm), 10 (n + m) (active_set), 20000 (admm).
    time_limit : seconds, optional; the solver stops with status "time_limit" after it.
    initvals : ignored (accepted for qpsolvers compatibility).

    Returns
    -------
    OptimizeResult with x (None unless found), y (equality multipliers), z (inequality
    multipliers >= 0), z_box (bound multipliers), fun (objective), found, status
    ("solved", "primal_infeasible", "dual_infeasible", "max_iter", "time_limit"), success,
    nit, solver, primal_residual, dual_residual, duality_gap (in the original, unscaled problem).
    """
    del initvals
    check_option(solver, "solver", SOLVERS)
    Pm, qv, G, h, A, b, lb, ub = _check_problem(P, q, G, h, A, b, lb, ub)
    n = qv.size
    check_symmetric(Pm, "P")
    # PSD up to a relative 1e-5 of ||P||_inf (>= ||P||_2): data rounded to a few digits
    # (Maros-Meszaros VALUES: lambda_min = -1.2e-6 ||P||_2) count as convex, as in
    # qpbenchmark; the IPM's LDL^T path copes with such a slightly indefinite P
    shift = max(1e-9, _PSD_RTOL * float(np.abs(Pm).sum(axis=1).max(initial=0.0)))
    if n and _factor(Pm + shift * np.eye(n)) is None:
        raise ValueError("P must be positive semidefinite for a convex QP (Cholesky of "
                         f"P + {_PSD_RTOL:g} ||P||_inf I failed)")
    bad = np.flatnonzero(lb > ub)
    if bad.size:
        raise ValueError(f"lb > ub at index {bad[0]} ({lb[bad[0]]} > {ub[bad[0]]}): the "
                         "bounds are infeasible")
    tol = float(check_scalar(tol, "tol", numbers.Real, min_val=0.0,
                             include_boundaries="neither"))
    if max_iter is None:
        max_iter = {"ipm": 100, "active_set": 10 * (n + G.shape[0] + 2 * n),
                    "admm": 20_000}[solver]
    max_iter = check_positive_int(max_iter, "max_iter")
    deadline = np.inf
    if time_limit is not None:
        deadline = time.perf_counter() + float(check_scalar(
            time_limit, "time_limit", numbers.Real, min_val=0.0, include_boundaries="neither"))
    return _solve_qp_core(Pm, qv, G, h, A, b, lb, ub, solver, tol, max_iter, deadline)


#: below this many variables + constraints every BLAS runs on one thread: the O(n^3)
#: factorisations are too small to share, and threaded BLAS on busy cores is up to 10x
#: slower (measured on CVXQP1_S, n = 100: 2.7 s threaded, 0.29 s pinned)
_SERIAL_BLAS_BELOW = 2000


@contextlib.contextmanager
def _serial_blas(size):
    """Pin every BLAS library (NumPy's and SciPy's) to one thread for small problems.

    Uses the request counting of :mod:`fastml._threads` without its per-call rescan
    (``fastml.threads(1)`` costs ~6 ms, this ~10 us)."""
    if size >= _SERIAL_BLAS_BELOW:
        yield
        return
    libs = _threads._blas.all_libs()
    _threads._blas.request(1, libs)
    try:
        yield
    finally:
        _threads._blas.release(1, libs)


def _solve_qp_core(P, q, G, h, A, b, lb, ub, solver, tol, max_iter, deadline=np.inf):
    qp = _QP(P, q, A, b, G, h, lb, ub)
    run = {"ipm": _ipm, "admm": _admm, "active_set": _active_set}[solver]
    with _serial_blas(qp.n + qp.K.shape[0]):
        xs, ws, status, nit = run(qp, tol, max_iter, deadline)
    x, w = qp.unscale(xs, ws)
    y, z, z_box = qp.split(w)
    found = status in ("solved", "max_iter", "time_limit") and bool(np.all(np.isfinite(x)))
    result = OptimizeResult(x=x if found else None, y=y, z=z, z_box=z_box, found=found,
                            status=status, success=status == "solved", nit=int(nit),
                            solver=solver)
    result.update(_qp_residuals_core(P, q, G, h, A, b, lb, ub, x, y, z, z_box))
    result.fun = float(0.5 * x @ P @ x + q @ x) if found else np.nan
    return result


def qp_residuals(P, q, G, h, A, b, lb, ub, x, y, z, z_box):
    """qpsolvers' optimality measures of (x, y, z, z_box): primal residual (largest
    constraint violation), dual residual ||P x + q + G^T z + A^T y + z_box||_inf and
    duality gap (see the module docstring).

    The problem as :func:`solve_qp` takes it (G/h, A/b, lb, ub may be None: absent);
    x (n,), multipliers y (p,) of A, z (m,) of G, z_box (n,) of the bounds (None: zero).
    Returns {"primal_residual", "dual_residual", "duality_gap"} (floats).
    """
    P, q, G, h, A, b, lb, ub = _check_problem(P, q, G, h, A, b, lb, ub)
    n = q.size
    checked = []
    for name, value, size in (("x", x, n), ("y", y, b.size), ("z", z, h.size),
                              ("z_box", z_box, n)):
        if value is None and name != "x":
            checked.append(np.zeros(size))
            continue
        checked.append(check_shape(check_array(value, name, ndim=1, dtype=np.float64), name,
                                   (size,), " to match the problem"))
    return _qp_residuals_core(P, q, G, h, A, b, lb, ub, *checked)


def _qp_residuals_core(P, q, G, h, A, b, lb, ub, x, y, z, z_box):
    lo = np.where(lb > -_BIG, lb, -np.inf)
    hi = np.where(ub < _BIG, ub, np.inf)
    pres = max(np.abs(A @ x - b).max(initial=0.0), np.maximum(G @ x - h, 0).max(initial=0.0),
               np.maximum(lo - x, 0).max(initial=0.0), np.maximum(x - hi, 0).max(initial=0.0))
    dres = np.abs(P @ x + q + G.T @ z + A.T @ y + z_box).max(initial=0.0)
    box_term = np.where(z_box < 0, np.where(np.isfinite(lo), lo, 0.0) * z_box, 0.0).sum() + \
        np.where(z_box > 0, np.where(np.isfinite(hi), hi, 0.0) * z_box, 0.0).sum()
    gap = abs(float(x @ P @ x + q @ x + h @ z + b @ y + box_term))
    return {"primal_residual": float(pres), "dual_residual": float(dres),
            "duality_gap": gap}
