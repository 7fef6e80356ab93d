"""Unconstrained and bound-constrained minimisers, written once, run two ways.

This file is loaded twice from the same source. As ``fastml.kernels._optimize`` every
function is compiled by Numba (``cache=True``, compiled once for all objectives): the
objective reaches it as C function pointers (``fg`` = int64 array [value address,
gradient address, combined], the callbacks of :mod:`fastml.kernels._mcmc`), so an
``@njit`` objective runs with no interpreter in the loop. :func:`python_version` loads
the same file as plain Python (``_jit`` = identity, ``fg`` a Python callable) for
objectives written in Python: no compilation, NumPy does the vector work.

Every method has the signature

    method(fg, hess, callback, x0, lo, hi, params, max_iter, tol, counts)
        -> (x, f, g, nit, status)

``fg(x) -> (f, g)`` is the objective and its gradient, ``hess(x) -> H`` (only Newton and
exact-step gradient descent call it), ``callback(x) -> bool`` after every
iteration (True stops), ``lo``/``hi`` bounds (+-inf when absent),
``params`` the method's float options (documented per method), ``counts`` an int64 array
[function evaluations, Hessian evaluations] updated in place. ``status``: one of the
codes below. Convergence: ||g||_inf <= tol (projected gradient when bounded).
"""

import importlib.util

import numpy as np

SUCCESS = 0
MAX_ITER = 1
LINE_SEARCH_FAILED = 2
NOT_FINITE = 3
SMALL_CHANGE = 4
CALLBACK_STOP = 5

PROX_NONE = 0
PROX_L1 = 1
PROX_BOX = 2
PROX_SIMPLEX = 3



PYTHON_MODE = __name__.endswith("_python")

if PYTHON_MODE:
    def _jit(fn):
        return fn

    def evaluate(fg, x):
        """(f(x), grad f(x)) from the Python objective."""
        return fg(x)

    def evaluate_hess(hess, x):
        return hess(x)

    def stop_requested(callback, x):
        return bool(callback(x))
else:
    from numba import njit

    from ._mcmc import _call_grad, _call_logp

    _jit = njit(cache=True)

    @_jit
    def evaluate(fg, x):
        """(f(x), grad f(x)) through the function pointers in ``fg``."""
        g = np.empty(x.size)
        if fg[2]:
            f = _call_grad(fg[1], x, g)
        else:
            f = _call_logp(fg[0], x)
            _call_grad(fg[1], x, g)
        return f, g

    @_jit
    def evaluate_hess(hess, x):  # compiled runs never need the Hessian
        return np.zeros((1, 1))

    @_jit
    def stop_requested(callback, x):  # compiled runs have no callback
        return False


@_jit
def inf_norm(v):
    return np.max(np.abs(v)) if v.size else 0.0


@_jit
def cubic_min(a, fa, da, b, fb, db):
    """Minimiser of the cubic through (a, fa, da), (b, fb, db); NaN if none."""
    d1 = da + db - 3.0 * (fa - fb) / (a - b)
    disc = d1 * d1 - da * db
    if disc < 0.0:
        return np.nan
    d2 = np.sqrt(disc) * (1.0 if b > a else -1.0)
    denom = db - da + 2.0 * d2
    if denom == 0.0:
        return np.nan
    return b - (b - a) * (db + d2 - d1) / denom


@_jit
def zoom(fg, x, d, f0, dg0, lo, f_lo, dg_lo, g_lo, hi, f_hi, dg_hi, c1, c2, max_eval,
         counts):
    """Nocedal & Wright Algorithm 3.6: shrink [lo, hi] to a strong-Wolfe step."""
    for _ in range(max_eval):
        width = abs(hi - lo)
        alpha = cubic_min(lo, f_lo, dg_lo, hi, f_hi, dg_hi)
        left, right = min(lo, hi), max(lo, hi)
        if not (alpha >= left + 0.1 * width and alpha <= right - 0.1 * width):
            alpha = 0.5 * (lo + hi)
        xn = x + alpha * d
        f, g = evaluate(fg, xn)
        counts[0] += 1
        dg = np.dot(g, d)
        if not np.isfinite(f) or f > f0 + c1 * alpha * dg0 or f >= f_lo:
            hi, f_hi, dg_hi = alpha, f if np.isfinite(f) else 1e300, dg
        else:
            if abs(dg) <= -c2 * dg0:
                return alpha, f, g, True
            if dg * (hi - lo) >= 0.0:
                hi, f_hi, dg_hi = lo, f_lo, dg_lo
            lo, f_lo, dg_lo, g_lo = alpha, f, dg, g
        if width <= 1e-14 * max(1.0, right):
            break
    return lo, f_lo, g_lo, lo > 0.0 and f_lo < f0


@_jit
def wolfe(fg, x, f0, g0, d, alpha, c1, c2, max_eval, counts):
    """Strong-Wolfe line search (Nocedal & Wright Algorithm 3.5).

    Finds alpha with f(x + alpha d) <= f0 + c1 alpha g0^T d and
    |g(x + alpha d)^T d| <= c2 |g0^T d|. Returns (alpha, f, g, ok).
    """
    dg0 = np.dot(g0, d)
    prev, f_prev, dg_prev, g_prev = 0.0, f0, dg0, g0
    for i in range(max_eval):
        xn = x + alpha * d
        f, g = evaluate(fg, xn)
        counts[0] += 1
        if not np.isfinite(f):
            alpha = 0.5 * (prev + alpha)
            continue
        dg = np.dot(g, d)
        if f > f0 + c1 * alpha * dg0 or (i > 0 and f >= f_prev):
            return zoom(fg, x, d, f0, dg0, prev, f_prev, dg_prev, g_prev, alpha, f, dg,
                        c1, c2, max_eval, counts)
        if abs(dg) <= -c2 * dg0:
            return alpha, f, g, True
        if dg >= 0.0:
            return zoom(fg, x, d, f0, dg0, alpha, f, dg, g, prev, f_prev, dg_prev,
                        c1, c2, max_eval, counts)
        prev, f_prev, dg_prev, g_prev = alpha, f, dg, g
        alpha *= 2.0
    return prev, f_prev, g_prev, prev > 0.0


@_jit
def armijo(fg, x, f0, g0, d, alpha, c1, max_eval, counts):
    """Backtracking: halve alpha until f(x + alpha d) <= f0 + c1 alpha g0^T d."""
    dg0 = np.dot(g0, d)
    for _ in range(max_eval):
        f, g = evaluate(fg, x + alpha * d)
        counts[0] += 1
        if np.isfinite(f) and f <= f0 + c1 * alpha * dg0:
            return alpha, f, g, True
        alpha *= 0.5
    return 0.0, f0, g0, False


@_jit
def gd(fg, hess, callback, x0, lo, hi, params, max_iter, tol, counts):
    """Gradient descent x <- x - t g. params: [rule, lr]; rule 0: fixed t = lr;
    1: Armijo backtracking from t = 2 t_prev (first lr); 2: exact for a quadratic,
    t = g^T g / g^T H g."""
    rule, t = int(params[0]), params[1]
    x = x0.copy()
    f, g = evaluate(fg, x)
    counts[0] += 1
    for it in range(max_iter):
        if inf_norm(g) <= tol:
            return x, f, g, it, SUCCESS
        d = -g
        if rule == 1:
            f_old = f
            t, f, g, ok = armijo(fg, x, f, g, d, 2.0 * t, 1e-4, 60, counts)
            if not ok:
                return x, f, g, it, LINE_SEARCH_FAILED
            if f_old - f <= 1e-15 * max(abs(f), 1.0):  # decrease at round-off level
                return x + t * d, f, g, it + 1, SMALL_CHANGE
        else:
            if rule == 2:
                H = evaluate_hess(hess, x)
                counts[1] += 1
                curv = np.dot(g, np.dot(H, g))
                t = np.dot(g, g) / curv if curv > 0 else params[1]
            f, g = evaluate(fg, x + t * d)
            counts[0] += 1
        x = x + t * d
        if stop_requested(callback, x):
            return x, f, g, it + 1, CALLBACK_STOP
        if not np.isfinite(f):
            return x, f, g, it + 1, NOT_FINITE
    return x, f, g, max_iter, SUCCESS if inf_norm(g) <= tol else MAX_ITER


@_jit
def first_order(fg, hess, callback, x0, lo, hi, params, max_iter, tol, counts):
    """Momentum-type methods. params: [kind, lr, beta1, beta2, eps].

    kind 0 heavy ball: v <- beta1 v - lr g(x), x <- x + v;
    1 Nesterov: v <- beta1 v - lr g(x + beta1 v), x <- x + v;
    2 Adagrad: G <- G + g^2, x <- x - lr g / (sqrt(G) + eps);
    3 RMSProp: G <- beta2 G + (1 - beta2) g^2, same step;
    4 Adam: m <- beta1 m + (1 - beta1) g, G as RMSProp,
      x <- x - lr (m / (1 - beta1^t)) / (sqrt(G / (1 - beta2^t)) + eps).
    """
    kind, lr, b1, b2, eps = int(params[0]), params[1], params[2], params[3], params[4]
    x = x0.copy()
    v = np.zeros_like(x)
    G = np.zeros_like(x)
    f, g = evaluate(fg, x)
    counts[0] += 1
    for it in range(max_iter):
        if inf_norm(g) <= tol:
            return x, f, g, it, SUCCESS
        if kind == 0:
            v = b1 * v - lr * g
        elif kind == 1:
            fa, ga = evaluate(fg, x + b1 * v)
            counts[0] += 1
            v = b1 * v - lr * ga
        elif kind == 2:
            G += g * g
            v = -lr * g / (np.sqrt(G) + eps)
        elif kind == 3:
            G = b2 * G + (1.0 - b2) * g * g
            v = -lr * g / (np.sqrt(G) + eps)
        else:
            G = b2 * G + (1.0 - b2) * g * g
            v = b1 * v + (1.0 - b1) * g  # first moment
            step = v / (1.0 - b1 ** (it + 1))
            x = x - lr * step / (np.sqrt(G / (1.0 - b2 ** (it + 1))) + eps)
        if kind != 4:
            x = x + v
        f, g = evaluate(fg, x)
        counts[0] += 1
        if not np.isfinite(f):
            return x, f, g, it + 1, NOT_FINITE
        if stop_requested(callback, x):
            return x, f, g, it + 1, CALLBACK_STOP
    return x, f, g, max_iter, SUCCESS if inf_norm(g) <= tol else MAX_ITER


@_jit
def newton(fg, hess, callback, x0, lo, hi, params, max_iter, tol, counts):
    """Newton with eigenvalue modification: H = Q diag(l) Q^T is replaced by
    Q diag(max(|l|, delta)) Q^T (delta = params[0] * max(1, max |l|)), so the step
    d = -H^-1 g is a descent direction; strong-Wolfe line search from alpha = 1."""
    x = x0.copy()
    f, g = evaluate(fg, x)
    counts[0] += 1
    for it in range(max_iter):
        if inf_norm(g) <= tol:
            return x, f, g, it, SUCCESS
        H = evaluate_hess(hess, x)
        counts[1] += 1
        lam, Q = np.linalg.eigh(0.5 * (H + H.T))
        delta = params[0] * max(1.0, np.max(np.abs(lam)))
        lam = np.maximum(np.abs(lam), delta)
        d = -np.dot(Q, np.dot(Q.T, g) / lam)
        alpha, f_new, g_new, ok = wolfe(fg, x, f, g, d, 1.0, 1e-4, 0.9, 50, counts)
        if not ok:
            return x, f, g, it, LINE_SEARCH_FAILED
        x = x + alpha * d
        f, g = f_new, g_new
        if stop_requested(callback, x):
            return x, f, g, it + 1, CALLBACK_STOP
    return x, f, g, max_iter, SUCCESS if inf_norm(g) <= tol else MAX_ITER


@_jit
def bfgs(fg, hess, callback, x0, lo, hi, params, max_iter, tol, counts):
    """BFGS on the inverse Hessian B: d = -B g, strong-Wolfe step s, y = g+ - g,
    B <- (I - rho s y^T) B (I - rho y s^T) + rho s s^T, rho = 1 / y^T s (skipped when
    y^T s <= 0); B_0 = (y^T s / y^T y) I after the first step."""
    n = x0.size
    x = x0.copy()
    f, g = evaluate(fg, x)
    counts[0] += 1
    B = np.eye(n)
    first = True
    for it in range(max_iter):
        if inf_norm(g) <= tol:
            return x, f, g, it, SUCCESS
        d = -np.dot(B, g)
        if np.dot(d, g) >= 0.0:
            B = np.eye(n)
            d = -g
        alpha0 = min(1.0, 1.0 / max(inf_norm(g), 1e-300)) if first else 1.0
        alpha, f_new, g_new, ok = wolfe(fg, x, f, g, d, alpha0, 1e-4, 0.9, 50, counts)
        if not ok:
            return x, f, g, it, LINE_SEARCH_FAILED
        s = alpha * d
        y = g_new - g
        x = x + s
        f_old = f
        f, g = f_new, g_new
        sy = np.dot(s, y)
        if sy > 1e-16 * np.sqrt(np.dot(s, s) * np.dot(y, y)):
            if first:
                B = np.eye(n) * (sy / np.dot(y, y))
                first = False
            rho = 1.0 / sy
            By = np.dot(B, y)
            B = B - rho * (np.outer(s, By) + np.outer(By, s)) \
                + (rho * rho * np.dot(y, By) + rho) * np.outer(s, s)
        if abs(f_old - f) <= params[0] * max(abs(f), abs(f_old), 1.0):
            return x, f, g, it + 1, SMALL_CHANGE
        if stop_requested(callback, x):
            return x, f, g, it + 1, CALLBACK_STOP
    return x, f, g, max_iter, SUCCESS if inf_norm(g) <= tol else MAX_ITER


@_jit
def two_loop(q, S, Y, rho, count, head, m, gamma):
    """L-BFGS two-loop recursion: H q for the last ``count`` pairs (newest at head-1)."""
    a = np.zeros(m)
    for i in range(count):
        j = (head - 1 - i) % m
        a[j] = rho[j] * np.dot(S[j], q)
        q = q - a[j] * Y[j]
    r = gamma * q
    for i in range(count - 1, -1, -1):
        j = (head - 1 - i) % m
        b = rho[j] * np.dot(Y[j], r)
        r = r + (a[j] - b) * S[j]
    return r


@_jit
def lbfgs(fg, hess, callback, x0, lo, hi, params, max_iter, tol, counts):
    """Limited-memory BFGS. params: [m, ftol].

    Unbounded: d = -H g by the two-loop recursion over the last m pairs (s, y),
    H_0 = (s^T y / y^T y) I, strong-Wolfe step. With bounds (L-BFGS-B semantics:
    the same KKT point, projected-gradient test ||P(x - g) - x||_inf <= tol and the
    relative reduction test (f_k - f_k+1) / max(|f_k|, |f_k+1|, 1) <= ftol): the
    variables at a bound whose gradient pushes outwards are fixed, the direction is
    the two-loop on the free ones, and the step backtracks along the projected path
    x(t) = P(x + t d) until f(x(t)) <= f + 1e-4 g^T (x(t) - x).
    """
    m, ftol = int(params[0]), params[1]
    n = x0.size
    bounded = np.any(np.isfinite(lo)) or np.any(np.isfinite(hi))
    x = np.minimum(np.maximum(x0, lo), hi)
    f, g = evaluate(fg, x)
    counts[0] += 1
    S = np.zeros((m, n))
    Y = np.zeros((m, n))
    rho = np.zeros(m)
    count, head, gamma = 0, 0, 1.0
    for it in range(max_iter):
        if bounded:
            pg = np.minimum(np.maximum(x - g, lo), hi) - x
        else:
            pg = g
        if inf_norm(pg) <= tol:
            return x, f, g, it, SUCCESS
        if bounded:
            free = ~(((x <= lo) & (g > 0)) | ((x >= hi) & (g < 0)))
            d = -two_loop(np.where(free, g, 0.0), S, Y, rho, count, head, m, gamma)
            d = np.where(free, d, 0.0)
            if np.dot(d, g) >= 0.0:
                d = np.where(free, -g, 0.0)
                count = 0
            t = 1.0 if count > 0 else min(1.0, 1.0 / max(inf_norm(g), 1e-300))
            ok = False
            for _ in range(60):
                xn = np.minimum(np.maximum(x + t * d, lo), hi)
                f_new, g_new = evaluate(fg, xn)
                counts[0] += 1
                if np.isfinite(f_new) and f_new <= f + 1e-4 * np.dot(g, xn - x):
                    ok = True
                    break
                t *= 0.5
            if not ok:
                return x, f, g, it, LINE_SEARCH_FAILED
            s = xn - x
        else:
            d = -two_loop(g, S, Y, rho, count, head, m, gamma)
            if np.dot(d, g) >= 0.0:
                d = -g
                count = 0
            alpha0 = 1.0 if count > 0 else min(1.0, 1.0 / max(inf_norm(g), 1e-300))
            alpha, f_new, g_new, ok = wolfe(fg, x, f, g, d, alpha0, 1e-4, 0.9, 50, counts)
            if not ok:
                return x, f, g, it, LINE_SEARCH_FAILED
            s = alpha * d
        y = g_new - g
        x = x + s
        f_old = f
        f, g = f_new, g_new
        sy = np.dot(s, y)
        if sy > 2.2e-16 * np.dot(y, y):
            S[head] = s
            Y[head] = y
            rho[head] = 1.0 / sy
            head = (head + 1) % m
            count = min(count + 1, m)
            gamma = sy / np.dot(y, y)
        if f_old - f <= ftol * max(abs(f), abs(f_old), 1.0):
            return x, f, g, it + 1, SMALL_CHANGE
        if stop_requested(callback, x):
            return x, f, g, it + 1, CALLBACK_STOP
    return x, f, g, max_iter, MAX_ITER


@_jit
def cg(fg, hess, callback, x0, lo, hi, params, max_iter, tol, counts):
    """Nonlinear conjugate gradients (Polak-Ribiere+): d <- -g + beta d with
    beta = max(0, g+^T (g+ - g) / g^T g), strong-Wolfe step with c2 = 0.1; restart
    with d = -g when d is not a descent direction."""
    x = x0.copy()
    f, g = evaluate(fg, x)
    counts[0] += 1
    d = -g
    alpha = min(1.0, 1.0 / max(inf_norm(g), 1e-300))
    for it in range(max_iter):
        if inf_norm(g) <= tol:
            return x, f, g, it, SUCCESS
        if np.dot(d, g) >= 0.0:
            d = -g
        dg_old = np.dot(g, d)
        alpha, f_new, g_new, ok = wolfe(fg, x, f, g, d, alpha, 1e-4, 0.1, 50, counts)
        if not ok:
            return x, f, g, it, LINE_SEARCH_FAILED
        x = x + alpha * d
        beta = max(0.0, np.dot(g_new, g_new - g) / np.dot(g, g))
        f_old = f
        f, g = f_new, g_new
        d = -g + beta * d
        # next initial step from the change of the directional derivative
        alpha = min(1.0, alpha * dg_old / min(np.dot(g, d), -1e-300)) \
            if np.dot(g, d) < 0 else 1.0
        if abs(f_old - f) <= params[0] * max(abs(f), abs(f_old), 1.0):
            return x, f, g, it + 1, SMALL_CHANGE
        if stop_requested(callback, x):
            return x, f, g, it + 1, CALLBACK_STOP
    return x, f, g, max_iter, SUCCESS if inf_norm(g) <= tol else MAX_ITER


@_jit
def project_simplex(v, radius):
    """Euclidean projection on {x >= 0, sum x = radius} (sort-based, Held et al.)."""
    u = np.sort(v)[::-1]
    css = np.cumsum(u) - radius
    k = 0
    for i in range(v.size):
        if u[i] - css[i] / (i + 1) > 0:
            k = i
    theta = css[k] / (k + 1)
    return np.maximum(v - theta, 0.0)


@_jit
def prox(kind, v, t, lam, lo, hi):
    """prox_{t h}(v) for h = lam ||x||_1 (soft threshold), the box indicator
    (clip to [lo, hi]) or the simplex indicator (projection, radius lam)."""
    if kind == PROX_L1:
        return np.sign(v) * np.maximum(np.abs(v) - t * lam, 0.0)
    if kind == PROX_BOX:
        return np.minimum(np.maximum(v, lo), hi)
    if kind == PROX_SIMPLEX:
        return project_simplex(v, lam)
    return v


@_jit
def penalty(kind, x, lam):
    return lam * np.sum(np.abs(x)) if kind == PROX_L1 else 0.0


@_jit
def proximal(fg, hess, callback, x0, lo, hi, params, max_iter, tol, counts):
    """Proximal gradient / FISTA for f(x) + h(x). params: [accelerated, kind, lam, L0].

    x+ = prox_{h/L}(y - g(y) / L) with backtracking on L (double until
    f(x+) <= f(y) + g^T (x+ - y) + L/2 ||x+ - y||^2); FISTA's extrapolation
    y = x+ + (t_k - 1) / t_k+1 (x+ - x), t_k+1 = (1 + sqrt(1 + 4 t_k^2)) / 2.
    Stops when L ||x+ - y||_inf <= tol (the gradient mapping)."""
    accel, kind, lam, L = params[0] > 0, int(params[1]), params[2], params[3]
    x = prox(kind, x0.copy(), 0.0, lam, lo, hi)
    y = x.copy()
    tk = 1.0
    fy, gy = evaluate(fg, y)
    counts[0] += 1
    for it in range(max_iter):
        while True:
            xn = prox(kind, y - gy / L, 1.0 / L, lam, lo, hi)
            diff = xn - y
            fx, gx = evaluate(fg, xn)
            counts[0] += 1
            # (the slack keeps round-off in f near the optimum from inflating L)
            if np.isfinite(fx) and fx <= fy + np.dot(gy, diff) + 0.5 * L * np.dot(diff, diff) \
                    + 1e-14 * abs(fy):
                break
            L *= 2.0
            if L > 1e300:
                return x, fx + penalty(kind, x, lam), gx, it, LINE_SEARCH_FAILED
        step = inf_norm(xn - y) * L  # the gradient mapping at y
        if accel:
            tn = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * tk * tk))
            y = xn + ((tk - 1.0) / tn) * (xn - x)
            tk = tn
            fy, gy = evaluate(fg, y)
            counts[0] += 1
        else:
            y = xn
            fy, gy = fx, gx
        x = xn
        if stop_requested(callback, x):
            f, g = evaluate(fg, x)
            counts[0] += 1
            return x, f + penalty(kind, x, lam), g, it + 1, CALLBACK_STOP
        if step <= tol:
            f, g = evaluate(fg, x)
            counts[0] += 1
            return x, f + penalty(kind, x, lam), g, it + 1, SUCCESS
    f, g = evaluate(fg, x)
    counts[0] += 1
    return x, f + penalty(kind, x, lam), g, max_iter, MAX_ITER


METHODS = {"gd": gd, "first_order": first_order, "newton": newton, "bfgs": bfgs,
           "lbfgs": lbfgs, "cg": cg, "proximal": proximal, "wolfe": wolfe}


_PYTHON_VERSION = []


def python_version():
    """This file loaded as plain Python (module ``fastml.kernels._optimize_python``), once."""
    if not _PYTHON_VERSION:
        spec = importlib.util.spec_from_file_location(__name__ + "_python", __file__)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _PYTHON_VERSION.append(module)
    return _PYTHON_VERSION[0]
