"""Numba kernels for :mod:`fastml.mcmc`: RWMH, static HMC, NUTS, slice and stretch-move samplers.

One compiled kernel serves every log-density. The user's ``logp`` and ``grad`` reach the
kernel as raw C function pointers (an ``int`` address) with the signatures

    double logp(const double *x, int64 n)
    double grad(const double *x, int64 n, double *out)      # writes d logp / dx to out

and are called through the ``_call_logp`` / ``_call_grad`` intrinsics below, so the
samplers are compiled once (and cached on disk, ``cache=True``), never per density. An
``@njit`` density is wrapped in a tiny ``cfunc`` (``make_callbacks``); a plain Python
callable in a ``ctypes`` callback (slower, same draws).

Every chain owns its random stream (:mod:`fastml.kernels._mcmc_rng`) and its state
arrays; :func:`run_chain` advances one chain over iterations ``[i0, i1)``, so the Python
layer can run chains on any number of threads (the kernels release the GIL) and in
chunks (progress bar) with identical results. NaN log-densities are counted and
treated as -inf.

NUTS follows Stan's ``base_nuts`` (multinomial sampling, biased progressive sampling
between subtrees, generalised U-turn criterion checked across and between subtrees),
with Stan's dual averaging and windowed metric adaptation.
"""

import ctypes
import math
from collections import namedtuple

import numpy as np
from llvmlite import ir
from numba import carray, cfunc, njit, types
from numba.core.registry import CPUDispatcher
from numba.extending import intrinsic

from ._mcmc_rng import normal, randint, uniform

RWMH, HMC, NUTS, SLICE = 0, 1, 2, 3

# Layout of the per-chain adaptation array ``ad``.
EPS, MU, SBAR, XBAR, COUNT, WN = 0, 1, 2, 3, 4, 5
N_AD = 6
# Options: opt_f and opt_i.
TARGET, PATH_LENGTH, MAX_DH, MU_FACTOR = 0, 1, 2, 3
MAX_DEPTH, MAX_STEPS, DENSE, MAX_STEPS_OUT = 0, 1, 2, 3
# Stats: st_f[c, k, draw] and st_i[c, k, draw].
S_ACCEPT, S_EPS, S_ENERGY, S_LP = 0, 1, 2, 3
S_DEPTH, S_NSTEPS, S_DIV, S_NAN = 0, 1, 2, 3
# Plan bits for a tuning iteration: collect a metric sample / close a window.
COLLECT, WINDOW_END = 1, 2
N_OPT_F, N_OPT_I, N_STATS = 4, 4, 4
# A transition's results ``res``: accept stat, energy, divergent, tree depth, leapfrog
# steps (slice sampling: res[0] = log-density evaluations, res[1 + i] = |move_i|).
R_ACCEPT, R_ENERGY, R_DIV, R_DEPTH, R_NSTEPS = 0, 1, 2, 3, 4
N_RESULTS = 5
# Workspace rows of length d: W[0:3] the moving point (q, p, g); W[3:26] the NUTS
# trajectory's ends, proposals, momenta and rho sums (named in _nuts_step); W[W_TMP] scratch.
W_TMP = 26
N_WORK = 27
# Per tree depth: 10 rows of a subtree's saved state (named in _build_tree).
N_SUBTREE = 10
# NUTS scratch scalars: n_leapfrog, sum of Metropolis probabilities, divergent, current
# log-density (the tree's C), then the proposal's log-density.
N_TREE_SCALARS = 5

# The bundles run_chain takes (NamedTuples of arrays, row c = chain c):
Density = namedtuple("Density", ["lp_addr", "gr_addr"])
"""Function pointers of logp and grad (lp_addr 0: grad returns the value too)."""
Chains = namedtuple("Chains", ["rng", "X", "LP", "G", "nanc"])
"""Random streams (chains + 1, 4), points (chains, d), their log-densities and
gradients, and NaN counts: the state every transition reads and writes."""
Adaptation = namedtuple("Adaptation", ["scale", "cov", "chol", "ad", "wmean", "wm2"])
"""Diagonal inverse metric (or slice widths) (chains, d); dense inverse metric and its
Cholesky factor (chains, d, d) or (chains, 1, 1); step-size state (chains, N_AD);
Welford mean and second moments of the window."""
Settings = namedtuple("Settings", ["method", "tune", "plan", "opt_f", "opt_i"])
"""Method code, tuning iterations, per-iteration plan bits, float and int options."""
Draws = namedtuple("Draws", ["out", "st_f", "st_i"])
"""Kept draws (chains, draws, d) and stats (chains, N_STATS, draws), float and int."""


# ----------------------------------------------------------------- calling user code
_LOGP_FNTY = ir.FunctionType(ir.DoubleType(), [ir.DoubleType().as_pointer(), ir.IntType(64)])
_GRAD_FNTY = ir.FunctionType(ir.DoubleType(), [ir.DoubleType().as_pointer(), ir.IntType(64),
                                               ir.DoubleType().as_pointer()])


@intrinsic
def _call_logp(typingctx, addr, x):
    """logp(x.data, len(x)) through the function pointer ``addr``."""
    sig = types.float64(types.intp, x)

    def codegen(context, builder, signature, args):
        arr = context.make_array(signature.args[1])(context, builder, value=args[1])
        fptr = builder.inttoptr(args[0], _LOGP_FNTY.as_pointer())
        return builder.call(fptr, [arr.data, builder.extract_value(arr.shape, 0)])

    return sig, codegen


@intrinsic
def _call_grad(typingctx, addr, x, out):
    """grad(x.data, len(x), out.data) through the function pointer ``addr``."""
    sig = types.float64(types.intp, x, out)

    def codegen(context, builder, signature, args):
        arr = context.make_array(signature.args[1])(context, builder, value=args[1])
        res = context.make_array(signature.args[2])(context, builder, value=args[2])
        fptr = builder.inttoptr(args[0], _GRAD_FNTY.as_pointer())
        return builder.call(fptr, [arr.data, builder.extract_value(arr.shape, 0), res.data])

    return sig, codegen


_LOGP_SIG = types.float64(types.CPointer(types.float64), types.int64)
_GRAD_SIG = types.float64(types.CPointer(types.float64), types.int64,
                          types.CPointer(types.float64))
_LOGP_CT = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.POINTER(ctypes.c_double), ctypes.c_int64)
_GRAD_CT = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.POINTER(ctypes.c_double), ctypes.c_int64,
                            ctypes.POINTER(ctypes.c_double))


def is_jitted(fn):
    """True for a Numba ``@njit`` function (compiled fast path)."""
    return isinstance(fn, CPUDispatcher)


def _jit_callbacks(logp, grad, combined):
    @cfunc(_LOGP_SIG, cache=False)
    def logp_c(ptr, n):
        return logp(carray(ptr, (n,)))

    keep = [logp_c]
    addrs = [logp_c.address, 0]
    if grad is not None and combined:
        @cfunc(_GRAD_SIG, cache=False)
        def grad_c(ptr, n, out):
            v, g = grad(carray(ptr, (n,)))
            res = carray(out, (n,))
            for i in range(n):  # a gradient of the wrong length gives NaN, never a bad read
                res[i] = g[i] if g.shape[0] == n else math.nan
            return v
    elif grad is not None:
        @cfunc(_GRAD_SIG, cache=False)
        def grad_c(ptr, n, out):
            g = grad(carray(ptr, (n,)))
            res = carray(out, (n,))
            for i in range(n):
                res[i] = g[i] if g.shape[0] == n else math.nan
            return 0.0
    if grad is not None:
        keep.append(grad_c)
        addrs[1] = grad_c.address
    return addrs, keep


def _python_callbacks(logp, grad, combined, errors, stop):
    """ctypes callbacks; an exception is stored in ``errors``, sets ``stop`` and gives NaN."""
    def logp_py(ptr, n):
        try:
            return float(logp(np.ctypeslib.as_array(ptr, (n,)).copy()))
        except BaseException as exc:  # re-raised by the caller after the kernel returns
            errors.append(exc)
            stop[0] = 1
            return math.nan

    def grad_py(ptr, n, out):
        try:
            res = grad(np.ctypeslib.as_array(ptr, (n,)).copy())
            v, g = res if combined else (0.0, res)
            np.ctypeslib.as_array(out, (n,))[:] = np.asarray(g, dtype=np.float64).reshape(n)
            return float(v)
        except BaseException as exc:
            errors.append(exc)
            stop[0] = 1
            np.ctypeslib.as_array(out, (n,))[:] = math.nan
            return math.nan

    keep = [_LOGP_CT(logp_py)]
    addrs = [ctypes.cast(keep[0], ctypes.c_void_p).value, 0]
    if grad is not None:
        keep.append(_GRAD_CT(grad_py))
        addrs[1] = ctypes.cast(keep[1], ctypes.c_void_p).value
    return addrs, keep


_JIT_CACHE = {}


def make_callbacks(logp, grad, errors, stop, combined=False):
    """(logp address, grad address or 0, objects to keep alive) for ``logp``/``grad``.

    ``combined``: ``grad`` returns ``(logp(x), grad(x))`` and its C wrapper returns the
    value. ``@njit`` functions get compiled ``cfunc`` wrappers (memoised per function
    pair); anything else gets ``ctypes`` callbacks that record exceptions in ``errors``.
    """
    if is_jitted(logp) and (grad is None or is_jitted(grad)):
        key = (logp, grad, combined)
        if key not in _JIT_CACHE:
            _JIT_CACHE[key] = _jit_callbacks(logp, grad, combined)
        return _JIT_CACHE[key]
    return _python_callbacks(logp, grad, combined, errors, stop)


# ------------------------------------------------------------------------- helpers
@njit(cache=True, nogil=True)
def _logp(addr, x, nanc, c):
    v = _call_logp(addr, x)
    if math.isnan(v):
        nanc[c] += 1
        return -math.inf
    return v


@njit(cache=True, nogil=True)
def _logp_grad(lp_addr, gr_addr, x, g, nanc, c):
    """logp(x), with grad(x) written to g; lp_addr == 0: grad returns the value too."""
    if lp_addr == 0:
        v = _call_grad(gr_addr, x, g)
        if math.isnan(v):
            nanc[c] += 1
            return -math.inf
        return v
    v = _logp(lp_addr, x, nanc, c)
    _call_grad(gr_addr, x, g)
    return v


@njit(cache=True, nogil=True)
def _metric_times(p, out, scale, cov, dense):
    """out = M^-1 p (the velocity p#): diagonal ``scale`` or dense ``cov``."""
    n = p.shape[0]
    if dense:
        for i in range(n):
            s = 0.0
            for j in range(n):
                s += cov[i, j] * p[j]
            out[i] = s
    else:
        for i in range(n):
            out[i] = scale[i] * p[i]


@njit(cache=True, nogil=True)
def _kinetic(p, tmp, scale, cov, dense):
    _metric_times(p, tmp, scale, cov, dense)
    s = 0.0
    for i in range(p.shape[0]):
        s += p[i] * tmp[i]
    return 0.5 * s


@njit(cache=True, nogil=True)
def _sample_momentum(rng, p, scale, chol, dense):
    """p ~ N(0, M) with M = (inverse metric)^-1: diag p_i = z_i / sqrt(s_i), dense L^T p = z."""
    n = p.shape[0]
    for i in range(n):
        p[i] = normal(rng)
    if dense:
        for i in range(n - 1, -1, -1):
            s = p[i]
            for j in range(i + 1, n):
                s -= chol[j, i] * p[j]
            p[i] = s / chol[i, i]
    else:
        for i in range(n):
            p[i] /= math.sqrt(scale[i])


@njit(cache=True, nogil=True)
def _leapfrog(lp_addr, gr_addr, q, p, g, eps, tmp, scale, cov, dense, nanc, c):
    """One leapfrog step of size ``eps`` (may be negative); returns the new log-density."""
    n = q.shape[0]
    for i in range(n):
        p[i] += 0.5 * eps * g[i]
    _metric_times(p, tmp, scale, cov, dense)
    for i in range(n):
        q[i] += eps * tmp[i]
    lp = _logp_grad(lp_addr, gr_addr, q, g, nanc, c)
    for i in range(n):
        p[i] += 0.5 * eps * g[i]
    return lp


@njit(cache=True, nogil=True)
def _hamiltonian(lp, p, tmp, scale, cov, dense):
    h = _kinetic(p, tmp, scale, cov, dense) - lp
    return math.inf if math.isnan(h) else h


@njit(cache=True, nogil=True)
def _log_sum_exp(a, b):
    if a == -math.inf:
        return b
    if b == -math.inf:
        return a
    m = max(a, b)
    return m + math.log(math.exp(a - m) + math.exp(b - m))


@njit(cache=True, nogil=True)
def _copy(dst, src):
    for i in range(src.shape[0]):
        dst[i] = src[i]


@njit(cache=True, nogil=True)
def _dot(a, b):
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i] * b[i]
    return s


@njit(cache=True, nogil=True)
def _uturn_ok(ps_minus, ps_plus, rho):
    """Generalised no-U-turn criterion: both ends still move along rho."""
    return _dot(ps_plus, rho) > 0.0 and _dot(ps_minus, rho) > 0.0


@njit(cache=True, nogil=True)
def _sum_into(out, a, b):
    for i in range(a.shape[0]):
        out[i] = a[i] + b[i]


# ------------------------------------------------------------ step-size adaptation
@njit(cache=True, nogil=True)
def _dual_average(ad, accept_stat, target):
    """Nesterov dual averaging of log step size (Hoffman & Gelman 2014; Stan's constants)."""
    ad[COUNT] += 1.0
    t = ad[COUNT]
    a = min(1.0, accept_stat)
    eta = 1.0 / (t + 10.0)
    ad[SBAR] = (1.0 - eta) * ad[SBAR] + eta * (target - a)
    x = ad[MU] - ad[SBAR] * math.sqrt(t) / 0.05
    x_eta = t ** -0.75
    ad[XBAR] = (1.0 - x_eta) * ad[XBAR] + x_eta * x
    ad[EPS] = math.exp(x)


@njit(cache=True, nogil=True)
def _restart_dual_average(ad, mu_factor):
    ad[MU] = math.log(mu_factor * ad[EPS])
    ad[SBAR] = 0.0
    ad[XBAR] = 0.0
    ad[COUNT] = 0.0


@njit(cache=True, nogil=True)
def _welford_add(ad, mean, m2, x, dense):
    ad[WN] += 1.0
    n = ad[WN]
    d = x.shape[0]
    # mean and m2 updated with the pre- and post-update deviations (Welford 1962)
    if dense:
        delta = np.empty(d)
        for i in range(d):
            delta[i] = x[i] - mean[i]
            mean[i] += delta[i] / n
        for i in range(d):
            for j in range(d):
                m2[i, j] += delta[i] * (x[j] - mean[j])
    else:
        for i in range(d):
            delta = x[i] - mean[i]
            mean[i] += delta / n
            m2[0, i] += delta * (x[i] - mean[i])


@njit(cache=True, nogil=True)
def _metric_update(ad, mean, m2, scale, cov, chol, dense):
    """Regularised (co)variance estimate becomes the inverse metric (Stan's shrinkage)."""
    n = ad[WN]
    d = mean.shape[0]
    w = n / (n + 5.0)
    shrink = 1e-3 * 5.0 / (n + 5.0)
    if dense:
        for i in range(d):
            for j in range(d):
                cov[i, j] = w * m2[i, j] / (n - 1.0) + (shrink if i == j else 0.0)
                m2[i, j] = 0.0
        _cholesky(cov, chol)
    else:
        for i in range(d):
            scale[i] = w * m2[0, i] / (n - 1.0) + shrink
            m2[0, i] = 0.0
    for i in range(d):
        mean[i] = 0.0
    ad[WN] = 0.0


@njit(cache=True, nogil=True)
def _cholesky(a, out):
    """Lower Cholesky factor of the SPD ``a`` (small, once per adaptation window)."""
    d = a.shape[0]
    for i in range(d):
        for j in range(d):
            out[i, j] = 0.0
    for j in range(d):
        s = a[j, j]
        for k in range(j):
            s -= out[j, k] * out[j, k]
        out[j, j] = math.sqrt(max(s, 1e-300))
        for i in range(j + 1, d):
            s = a[i, j]
            for k in range(j):
                s -= out[i, k] * out[j, k]
            out[i, j] = s / out[j, j]


@njit(cache=True, nogil=True)
def _init_stepsize(lp_addr, gr_addr, rng, q, lp, g, ad, W, scale, cov, chol, dense, nanc, c):
    """Stan's heuristic: double or halve eps until one leapfrog step crosses 80% acceptance."""
    qq, pp, gg, tmp = W[0], W[1], W[2], W[W_TMP]
    direction = 0
    for _ in range(100):
        _copy(qq, q)
        _copy(gg, g)
        _sample_momentum(rng, pp, scale, chol, dense)
        h0 = _hamiltonian(lp, pp, tmp, scale, cov, dense)
        lp1 = _leapfrog(lp_addr, gr_addr, qq, pp, gg, ad[EPS], tmp, scale, cov, dense, nanc, c)
        dh = h0 - _hamiltonian(lp1, pp, tmp, scale, cov, dense)
        up = dh > math.log(0.8)
        if direction == 0:
            direction = 1 if up else -1
        elif (direction == 1 and not up) or (direction == -1 and up):
            break
        ad[EPS] = ad[EPS] * 2.0 if direction == 1 else ad[EPS] * 0.5
        if ad[EPS] > 1e7 or ad[EPS] < 1e-12:
            break


# ---------------------------------------------------------------------- transitions
@njit(cache=True, nogil=True)
def _rwmh_step(lp_addr, rng, q, lp, eps, W, scale, chol, dense, nanc, c):
    """x' = x + eps * L z (L = chol of the adapted covariance, or its diagonal sqrt)."""
    n = q.shape[0]
    z, prop = W[1], W[0]
    for i in range(n):
        z[i] = normal(rng)
    for i in range(n):
        if dense:
            s = 0.0
            for j in range(i + 1):
                s += chol[i, j] * z[j]
        else:
            s = math.sqrt(scale[i]) * z[i]
        prop[i] = q[i] + eps * s
    lp_new = _logp(lp_addr, prop, nanc, c)
    log_a = lp_new - lp
    accept = 1.0 if log_a >= 0.0 else math.exp(log_a)
    if math.log(1.0 - uniform(rng)) < log_a:
        _copy(q, prop)
        return lp_new, accept
    return lp, accept


@njit(cache=True, nogil=True)
def _hmc_step(lp_addr, gr_addr, rng, q, lp, g, eps, n_steps, max_dh, W, scale, cov, chol,
              dense, nanc, c, res):
    """Static HMC: ``n_steps`` leapfrogs, Metropolis accept; res = (accept, energy, div)."""
    qq, pp, gg, tmp = W[0], W[1], W[2], W[W_TMP]
    _copy(qq, q)
    _copy(gg, g)
    _sample_momentum(rng, pp, scale, chol, dense)
    h0 = _hamiltonian(lp, pp, tmp, scale, cov, dense)
    lp1 = lp
    diverged = False
    for _ in range(n_steps):
        lp1 = _leapfrog(lp_addr, gr_addr, qq, pp, gg, eps, tmp, scale, cov, dense, nanc, c)
        if _hamiltonian(lp1, pp, tmp, scale, cov, dense) - h0 > max_dh:
            diverged = True
            break
    h1 = _hamiltonian(lp1, pp, tmp, scale, cov, dense)
    accept = 0.0 if diverged else min(1.0, math.exp(h0 - h1))
    res[R_DIV] = 1.0 if diverged else 0.0
    if not diverged and uniform(rng) < accept:
        _copy(q, qq)
        _copy(g, gg)
        res[R_ACCEPT] = accept
        res[R_ENERGY] = h1
        return lp1
    res[R_ACCEPT] = accept
    res[R_ENERGY] = h0
    return lp


@njit(cache=True, nogil=True)
def _build_tree(depth, zq, zp, zg, zlp, ps_beg, ps_end, rho, p_beg, p_end, h0, eps,
                lp_addr, gr_addr, rng, W, T, Ts, C, max_dh, scale, cov, dense, nanc, c):
    """Stan's recursive subtree (2^depth leapfrogs from the current point W[0:3], C[3]).

    Returns (valid, log sum of weights of the subtree); the subtree's multinomial
    proposal lands in (zq, zp, zg, zlp[0]). C = [n_leapfrog, sum_metro_prob, divergent, lp].
    """
    q, p, g, tmp = W[0], W[1], W[2], W[W_TMP]
    if depth == 0:
        C[3] = _leapfrog(lp_addr, gr_addr, q, p, g, eps, tmp, scale, cov, dense, nanc, c)
        C[0] += 1.0
        h = _hamiltonian(C[3], p, tmp, scale, cov, dense)
        if h - h0 > max_dh:
            C[2] = 1.0
        C[1] += 1.0 if h0 - h > 0.0 else math.exp(h0 - h)
        _copy(zq, q)
        _copy(zp, p)
        _copy(zg, g)
        zlp[0] = C[3]
        _metric_times(p, ps_beg, scale, cov, dense)
        _copy(ps_end, ps_beg)
        for i in range(rho.shape[0]):
            rho[i] += p[i]
        _copy(p_beg, p)
        _copy(p_end, p)
        return C[2] == 0.0, h0 - h
    L = T[depth]
    p_init_end, ps_init_end, rho_init = L[0], L[1], L[2]
    fq, fp, fg = L[3], L[4], L[5]
    p_final_beg, ps_final_beg, rho_final, rho_ext = L[6], L[7], L[8], L[9]
    flp = Ts[depth:depth + 1]
    rho_init[:] = 0.0
    valid, lsw_init = _build_tree(depth - 1, zq, zp, zg, zlp, ps_beg, ps_init_end, rho_init,
                                  p_beg, p_init_end, h0, eps, lp_addr, gr_addr, rng, W, T, Ts,
                                  C, max_dh, scale, cov, dense, nanc, c)
    if not valid:
        return False, -math.inf
    rho_final[:] = 0.0
    valid, lsw_final = _build_tree(depth - 1, fq, fp, fg, flp, ps_final_beg, ps_end, rho_final,
                                   p_final_beg, p_end, h0, eps, lp_addr, gr_addr, rng, W, T,
                                   Ts, C, max_dh, scale, cov, dense, nanc, c)
    if not valid:
        return False, -math.inf
    lsw = _log_sum_exp(lsw_init, lsw_final)
    if lsw_final > lsw or uniform(rng) < math.exp(lsw_final - lsw):
        _copy(zq, fq)
        _copy(zp, fp)
        _copy(zg, fg)
        zlp[0] = flp[0]
    _sum_into(rho_ext, rho_init, rho_final)  # rho of the subtree
    for i in range(rho.shape[0]):
        rho[i] += rho_ext[i]
    ok = _uturn_ok(ps_beg, ps_end, rho_ext)
    _sum_into(rho_ext, rho_init, p_final_beg)
    ok = ok and _uturn_ok(ps_beg, ps_final_beg, rho_ext)
    _sum_into(rho_ext, rho_final, p_init_end)
    ok = ok and _uturn_ok(ps_init_end, ps_end, rho_ext)
    return ok, lsw


@njit(cache=True, nogil=True)
def _nuts_step(lp_addr, gr_addr, rng, q, lp, g, eps, max_depth, max_dh, W, T, Ts, scr, scale,
               cov, chol, dense, nanc, c, res):
    """One multinomial NUTS transition (Stan's base_nuts::transition).

    res = (accept stat, energy, divergent, depth, n_leapfrog); returns the new log-density
    and leaves the new point in q, g.
    """
    cq, cp, cg, tmp = W[0], W[1], W[2], W[W_TMP]
    fq, fp, fg, bq, bp, bg = W[3], W[4], W[5], W[6], W[7], W[8]
    sq, sp, sg, pq, pp, pg = W[9], W[10], W[11], W[12], W[13], W[14]
    p_ff, ps_ff, p_fb, ps_fb = W[15], W[16], W[17], W[18]
    p_bf, ps_bf, p_bb, ps_bb = W[19], W[20], W[21], W[22]
    rho, rho_f, rho_b = W[23], W[24], W[25]
    C = scr[0:4]  # n_leapfrog, sum of Metropolis probabilities, divergent, lp
    C[:] = 0.0
    prop_lp = scr[4:5]
    _copy(cq, q)
    _copy(cg, g)
    _sample_momentum(rng, cp, scale, chol, dense)
    h0 = _hamiltonian(lp, cp, tmp, scale, cov, dense)
    for v in (fq, bq, sq):
        _copy(v, cq)
    for v in (fp, bp, sp, p_ff, p_fb, p_bf, p_bb, rho):
        _copy(v, cp)
    for v in (fg, bg, sg):
        _copy(v, cg)
    _metric_times(cp, ps_ff, scale, cov, dense)
    for v in (ps_fb, ps_bf, ps_bb):
        _copy(v, ps_ff)
    lp_f = lp
    lp_b = lp
    lp_s = lp
    log_sum_w = 0.0
    depth = 0
    while depth < max_depth:
        rho_f[:] = 0.0
        rho_b[:] = 0.0
        if uniform(rng) > 0.5:
            _copy(cq, fq)
            _copy(cp, fp)
            _copy(cg, fg)
            C[3] = lp_f
            _copy(rho_b, rho)
            _copy(p_bf, p_fb)
            _copy(ps_bf, ps_fb)
            valid, lsw_sub = _build_tree(depth, pq, pp, pg, prop_lp, ps_fb, ps_ff, rho_f, p_fb,
                                         p_ff, h0, eps, lp_addr, gr_addr, rng, W, T, Ts, C,
                                         max_dh, scale, cov, dense, nanc, c)
            _copy(fq, cq)
            _copy(fp, cp)
            _copy(fg, cg)
            lp_f = C[3]
        else:
            _copy(cq, bq)
            _copy(cp, bp)
            _copy(cg, bg)
            C[3] = lp_b
            _copy(rho_f, rho)
            _copy(p_fb, p_bf)
            _copy(ps_fb, ps_bf)
            valid, lsw_sub = _build_tree(depth, pq, pp, pg, prop_lp, ps_bf, ps_bb, rho_b, p_bf,
                                         p_bb, h0, -eps, lp_addr, gr_addr, rng, W, T, Ts, C,
                                         max_dh, scale, cov, dense, nanc, c)
            _copy(bq, cq)
            _copy(bp, cp)
            _copy(bg, cg)
            lp_b = C[3]
        if not valid:
            break
        depth += 1
        if lsw_sub > log_sum_w or uniform(rng) < math.exp(lsw_sub - log_sum_w):
            _copy(sq, pq)
            _copy(sp, pp)
            _copy(sg, pg)
            lp_s = prop_lp[0]
        log_sum_w = _log_sum_exp(log_sum_w, lsw_sub)
        _sum_into(rho, rho_b, rho_f)
        ok = _uturn_ok(ps_bb, ps_ff, rho)
        _sum_into(tmp, rho_b, p_fb)
        ok = ok and _uturn_ok(ps_bb, ps_fb, tmp)
        _sum_into(tmp, rho_f, p_bf)
        ok = ok and _uturn_ok(ps_bf, ps_ff, tmp)
        if not ok:
            break
    _copy(q, sq)
    _copy(g, sg)
    res[R_ACCEPT] = C[1] / max(C[0], 1.0)
    res[R_ENERGY] = _hamiltonian(lp_s, sp, tmp, scale, cov, dense)
    res[R_DIV] = C[2]
    res[R_DEPTH] = depth
    res[R_NSTEPS] = C[0]
    return lp_s


@njit(cache=True, nogil=True)
def _slice_step(lp_addr, rng, q, lp, width, max_out, nanc, c, res):
    """Coordinate-wise slice sampling with stepping out and shrinkage (Neal 2003).

    res = (logp evaluations, sum of |moves|/width) ; returns the new log-density.
    """
    evals = 0
    for i in range(q.shape[0]):
        x0 = q[i]
        w = width[i]
        log_y = lp + math.log(1.0 - uniform(rng))  # log(y), y ~ U(0, p(x))
        left = x0 - w * uniform(rng)
        right = left + w
        j = randint(rng, max_out)
        k = max_out - 1 - j
        while j > 0:
            q[i] = left
            evals += 1
            if _logp(lp_addr, q, nanc, c) <= log_y:
                break
            left -= w
            j -= 1
        while k > 0:
            q[i] = right
            evals += 1
            if _logp(lp_addr, q, nanc, c) <= log_y:
                break
            right += w
            k -= 1
        new_lp = lp
        x1 = x0
        found = False
        for _ in range(200):  # shrinkage always ends at x0, whose density is above y
            x1 = left + uniform(rng) * (right - left)
            q[i] = x1
            evals += 1
            new_lp = _logp(lp_addr, q, nanc, c)
            if new_lp > log_y:
                found = True
                break
            if x1 < x0:
                left = x1
            else:
                right = x1
        if not found:
            x1 = x0
            new_lp = lp
        q[i] = x1
        lp = new_lp
        res[1 + i] = abs(x1 - x0)
    res[0] = evals
    return lp


# ---------------------------------------------------------------------- chain driver
@njit(cache=True, nogil=True)
def run_chain(c, density, chains, adapt, settings, draws, i0, i1, stop):
    """Advance chain ``c`` over iterations [i0, i1) (tuning while i < settings.tune).

    Reads and writes row ``c`` of every array of ``chains`` and ``adapt`` (the bundles
    above); draws i >= tune go to draws.out[c, i - tune] and their statistics to
    draws.st_f / draws.st_i[c, :, i - tune]. ``stop[0] != 0`` (a Python callback failed)
    ends the loop.
    """
    lp_addr, gr_addr = density.lp_addr, density.gr_addr
    method, tune, plan = settings.method, settings.tune, settings.plan
    opt_f, opt_i = settings.opt_f, settings.opt_i
    nanc = chains.nanc
    d = chains.X.shape[1]
    dense = opt_i[DENSE] != 0
    max_depth = opt_i[MAX_DEPTH]
    r = chains.rng[c]
    q = chains.X[c]
    g = chains.G[c]
    sc = adapt.scale[c]
    cv = adapt.cov[c]
    ch = adapt.chol[c]
    a = adapt.ad[c]
    wmean = adapt.wmean[c]
    wm2 = adapt.wm2[c]
    W = np.empty((N_WORK, d))
    T = np.empty((max_depth + 1 if method == NUTS else 1, N_SUBTREE, d))
    Ts = np.zeros(max_depth + 1)
    scr = np.zeros(N_TREE_SCALARS)
    res = np.zeros(max(N_RESULTS, d + 1))
    lp = chains.LP[c]
    for it in range(i0, i1):
        if stop[0] != 0:
            break
        nan0 = nanc[c]
        if method == NUTS or method == HMC:
            if it == 0 and tune > 0:
                _init_stepsize(lp_addr, gr_addr, r, q, lp, g, a, W, sc, cv, ch, dense, nanc, c)
                _restart_dual_average(a, opt_f[MU_FACTOR])
            if method == NUTS:
                lp = _nuts_step(lp_addr, gr_addr, r, q, lp, g, a[EPS], max_depth,
                                opt_f[MAX_DH], W, T, Ts, scr, sc, cv, ch, dense, nanc, c, res)
            else:
                n_steps = max(1, min(opt_i[MAX_STEPS],
                                     int(math.ceil(opt_f[PATH_LENGTH] / a[EPS]))))
                # step size jittered by U(0.85, 1.15) (as PyMC) against resonant orbits
                eps_j = a[EPS] * (0.85 + 0.3 * uniform(r))
                lp = _hmc_step(lp_addr, gr_addr, r, q, lp, g, eps_j, n_steps, opt_f[MAX_DH],
                               W, sc, cv, ch, dense, nanc, c, res)
                res[R_DEPTH] = 0.0
                res[R_NSTEPS] = n_steps
        elif method == RWMH:
            lp, acc = _rwmh_step(lp_addr, r, q, lp, a[EPS], W, sc, ch, dense, nanc, c)
            res[R_ACCEPT] = acc
            res[R_ENERGY] = 0.0
            res[R_DIV] = 0.0
            res[R_DEPTH] = 0.0
            res[R_NSTEPS] = 1.0
        else:
            lp = _slice_step(lp_addr, r, q, lp, sc, opt_i[MAX_STEPS_OUT], nanc, c, res)
            n_evals = res[0]
            if it < tune:  # widths track 2 E|move| per coordinate
                a[COUNT] += 1.0
                for i in range(d):
                    sc[i] += (2.0 * res[1 + i] - sc[i]) / (a[COUNT] + 1.0)
                    sc[i] = max(sc[i], 1e-8)
            res[R_ACCEPT] = 1.0
            res[R_ENERGY] = 0.0
            res[R_DIV] = 0.0
            res[R_DEPTH] = 0.0
            res[R_NSTEPS] = n_evals
        eps_used = a[EPS]
        if it < tune and method != SLICE:
            if method == RWMH:  # Robbins–Monro on log scale: noisy 0/1-like accept stats
                a[COUNT] += 1.0
                a[EPS] *= math.exp((res[R_ACCEPT] - opt_f[TARGET]) / a[COUNT] ** 0.6)
            else:
                _dual_average(a, res[R_ACCEPT], opt_f[TARGET])
            if plan[it] & COLLECT:
                _welford_add(a, wmean, wm2, q, dense)
            if plan[it] & WINDOW_END:
                _metric_update(a, wmean, wm2, sc, cv, ch, dense)
                if method != RWMH:
                    _init_stepsize(lp_addr, gr_addr, r, q, lp, g, a, W, sc, cv, ch, dense,
                                   nanc, c)
                _restart_dual_average(a, opt_f[MU_FACTOR])
            if it == tune - 1 and method != RWMH:
                a[EPS] = math.exp(a[XBAR])
        if it >= tune:
            j = it - tune
            for i in range(d):
                draws.out[c, j, i] = q[i]
            draws.st_f[c, S_ACCEPT, j] = res[R_ACCEPT]
            draws.st_f[c, S_EPS, j] = eps_used
            draws.st_f[c, S_ENERGY, j] = res[R_ENERGY] if method != SLICE else -lp
            draws.st_f[c, S_LP, j] = lp
            draws.st_i[c, S_DEPTH, j] = int(res[R_DEPTH])
            draws.st_i[c, S_NSTEPS, j] = int(res[R_NSTEPS])
            draws.st_i[c, S_DIV, j] = int(res[R_DIV])
            draws.st_i[c, S_NAN, j] = nanc[c] - nan0
    chains.LP[c] = lp


# ------------------------------------------------------------------ ensemble sampler
@njit(cache=True, nogil=True)
def run_ensemble(lp_addr, rng, X, LP, a, tune, i0, i1, out, accept, lps, nanc, nans, stop):
    """Affine-invariant stretch move (Goodman & Weare 2010) over iterations [i0, i1).

    emcee's default move: each iteration shuffles the walkers into two halves (stream
    ``rng[n_walkers]``); every walker k of one half picks a partner c_k from the other
    half, proposes y = c_k + z (x_k - c_k) with z ~ g(z) ∝ 1/sqrt(z) on [1/a, a], and
    accepts with probability min(1, z^(d-1) p(y) / p(x_k)). Draws i >= tune go to
    out[k, i - tune]; accept, lps and nans (NaN evaluations) are per walker and draw.
    """
    n, d = X.shape
    half = n // 2
    perm = np.arange(n)
    y = np.empty(d)
    shared = rng[n]
    seen = nanc.copy()
    for it in range(i0, i1):
        if stop[0] != 0:
            break
        for i in range(n):
            perm[i] = i
        for i in range(n - 1, 0, -1):  # Fisher–Yates
            j = randint(shared, i + 1)
            perm[i], perm[j] = perm[j], perm[i]
        for part in range(2):
            lo = part * half
            olo = (1 - part) * half
            for kk in range(lo, lo + half):
                k = perm[kk]
                r = rng[k]
                u = uniform(r)
                z = ((a - 1.0) * u + 1.0) ** 2 / a
                partner = perm[olo + randint(r, half)]
                for i in range(d):
                    y[i] = X[partner, i] + z * (X[k, i] - X[partner, i])
                lp_new = _logp(lp_addr, y, nanc, k)
                log_r = (d - 1.0) * math.log(z) + lp_new - LP[k]
                ok = math.log(1.0 - uniform(r)) < log_r
                if ok:
                    for i in range(d):
                        X[k, i] = y[i]
                    LP[k] = lp_new
                if it >= tune:
                    accept[k, it - tune] = 1.0 if ok else 0.0
        if it >= tune:
            j = it - tune
            for k in range(n):
                for i in range(d):
                    out[k, j, i] = X[k, i]
                lps[k, j] = LP[k]
                nans[k, j] = nanc[k] - seen[k]
                seen[k] = nanc[k]
