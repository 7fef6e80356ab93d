"""Numba kernel for :func:`fastml.vi.advi`: the whole ADVI stochastic-optimisation loop.

The log-density and its gradient reach the kernel as C function pointers, exactly as in
:mod:`fastml.kernels._mcmc` (whose callback wrappers and ``_call_logp``/``_call_grad``
intrinsics are reused), so the loop is compiled once and cached. Minibatch densities use
a second pair of signatures with the minibatch indices,

    double logp(const double *x, int64 n, const int64 *idx, int64 m)
    double grad(const double *x, int64 n, const int64 *idx, int64 m, double *out)

Parameters theta (one flat vector, Adam state per entry):

* mean-field: theta = [mu (d), omega (d)], q = N(mu, diag exp(2 omega));
* full-rank: theta = [mu (d), packed lower triangle of L (d (d + 1) / 2, row-major, the
  diagonal stored as log L_ii)], q = N(mu, L L^T).

Per step, for eps_s ~ N(0, I), s = 1..S: z_s = mu + L eps_s, g_s = grad log p(z_s);
grad_mu = mean_s g_s, grad_L_ij = mean_s g_si eps_sj (times L_ii on the log diagonal),
plus the entropy gradient 1 on every log-diagonal entry (H = sum_i log L_ii + d/2 (1 +
log 2 pi)); then one Adam ascent step. ELBO estimate: mean_s log p(z_s) + H.
"""

import ctypes
import math

import numpy as np
from llvmlite import ir
from numba import carray, cfunc, njit, types
from numba.extending import intrinsic

from ._mcmc import _call_grad, _call_logp, is_jitted
from ._mcmc_rng import normal, randint

MEANFIELD, FULLRANK = 0, 1
# stats: number of steps run, converged flag, steps skipped for a non-finite log-density
S_ITER, S_CONVERGED, S_NAN = 0, 1, 2
_BETA1, _BETA2, _ADAM_EPS = 0.9, 0.999, 1e-8
_HALF_LOG_2PI_E = 0.5 * (1.0 + math.log(2.0 * math.pi))

# ------------------------------------------------------------- minibatch callbacks
_I64P = ir.IntType(64).as_pointer()
_LOGPB_FNTY = ir.FunctionType(ir.DoubleType(), [ir.DoubleType().as_pointer(), ir.IntType(64),
                                                _I64P, ir.IntType(64)])
_GRADB_FNTY = ir.FunctionType(ir.DoubleType(), [ir.DoubleType().as_pointer(), ir.IntType(64),
                                                _I64P, ir.IntType(64),
                                                ir.DoubleType().as_pointer()])


@intrinsic
def _call_logp_batch(typingctx, addr, x, idx):
    """logp(x.data, len(x), idx.data, len(idx)) through the function pointer ``addr``."""
    sig = types.float64(types.intp, x, idx)

    def codegen(context, builder, signature, args):
        arr = context.make_array(signature.args[1])(context, builder, value=args[1])
        ind = context.make_array(signature.args[2])(context, builder, value=args[2])
        fptr = builder.inttoptr(args[0], _LOGPB_FNTY.as_pointer())
        return builder.call(fptr, [arr.data, builder.extract_value(arr.shape, 0), ind.data,
                                   builder.extract_value(ind.shape, 0)])

    return sig, codegen


@intrinsic
def _call_grad_batch(typingctx, addr, x, idx, out):
    """grad(x.data, len(x), idx.data, len(idx), out.data) through ``addr``."""
    sig = types.float64(types.intp, x, idx, out)

    def codegen(context, builder, signature, args):
        arr = context.make_array(signature.args[1])(context, builder, value=args[1])
        ind = context.make_array(signature.args[2])(context, builder, value=args[2])
        res = context.make_array(signature.args[3])(context, builder, value=args[3])
        fptr = builder.inttoptr(args[0], _GRADB_FNTY.as_pointer())
        return builder.call(fptr, [arr.data, builder.extract_value(arr.shape, 0), ind.data,
                                   builder.extract_value(ind.shape, 0), res.data])

    return sig, codegen


_F64P, _I64PT = types.CPointer(types.float64), types.CPointer(types.int64)
_LOGPB_SIG = types.float64(_F64P, types.int64, _I64PT, types.int64)
_GRADB_SIG = types.float64(_F64P, types.int64, _I64PT, types.int64, _F64P)
_LOGPB_CT = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.POINTER(ctypes.c_double), ctypes.c_int64,
                             ctypes.POINTER(ctypes.c_int64), ctypes.c_int64)
_GRADB_CT = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.POINTER(ctypes.c_double), ctypes.c_int64,
                             ctypes.POINTER(ctypes.c_int64), ctypes.c_int64,
                             ctypes.POINTER(ctypes.c_double))


def _jit_batch_callbacks(logp, grad, combined):
    @cfunc(_LOGPB_SIG, cache=False)
    def logp_c(ptr, n, iptr, m):
        return logp(carray(ptr, (n,)), carray(iptr, (m,)))

    if combined:
        @cfunc(_GRADB_SIG, cache=False)
        def grad_c(ptr, n, iptr, m, out):
            v, g = grad(carray(ptr, (n,)), carray(iptr, (m,)))
            res = carray(out, (n,))
            for i in range(n):  # a gradient of the wrong length gives NaN, never a bad read
                res[i] = g[i] if g.shape[0] == n else math.nan
            return v
    else:
        @cfunc(_GRADB_SIG, cache=False)
        def grad_c(ptr, n, iptr, m, out):
            g = grad(carray(ptr, (n,)), carray(iptr, (m,)))
            res = carray(out, (n,))
            for i in range(n):
                res[i] = g[i] if g.shape[0] == n else math.nan
            return 0.0

    return [logp_c.address, grad_c.address], [logp_c, grad_c]


def _python_batch_callbacks(logp, grad, combined, errors, stop):
    """ctypes callbacks; an exception is stored in ``errors``, sets ``stop`` and gives NaN."""
    def args(ptr, n, iptr, m):
        return (np.ctypeslib.as_array(ptr, (n,)).copy(),
                np.ctypeslib.as_array(iptr, (m,)).copy())

    def logp_py(ptr, n, iptr, m):
        try:
            return float(logp(*args(ptr, n, iptr, m)))
        except BaseException as exc:  # re-raised by the caller after the kernel returns
            errors.append(exc)
            stop[0] = 1
            return math.nan

    def grad_py(ptr, n, iptr, m, out):
        res = np.ctypeslib.as_array(out, (n,))
        try:
            value = grad(*args(ptr, n, iptr, m))
            v, g = value if combined else (0.0, value)
            res[:] = np.asarray(g, dtype=np.float64).reshape(n)
            return float(v)
        except BaseException as exc:
            errors.append(exc)
            stop[0] = 1
            res[:] = math.nan
            return math.nan

    keep = [_LOGPB_CT(logp_py), _GRADB_CT(grad_py)]
    return [ctypes.cast(k, ctypes.c_void_p).value for k in keep], keep


_JIT_CACHE = {}


def make_batch_callbacks(logp, grad, errors, stop, combined=False):
    """(addresses [logp, grad], objects to keep alive) for minibatch ``logp(x, idx)``."""
    if is_jitted(logp) and is_jitted(grad):
        key = (logp, grad, combined)
        if key not in _JIT_CACHE:
            _JIT_CACHE[key] = _jit_batch_callbacks(logp, grad, combined)
        return _JIT_CACHE[key]
    return _python_batch_callbacks(logp, grad, combined, errors, stop)


# ------------------------------------------------------------------------ the loop
@njit(cache=True, nogil=True)
def _value_grad(lp_addr, gr_addr, batched, z, idx, g):
    """log p(z) with its gradient in g; lp_addr == 0: grad returns the value too."""
    if batched:
        if lp_addr == 0:
            return _call_grad_batch(gr_addr, z, idx, g)
        v = _call_logp_batch(lp_addr, z, idx)
        _call_grad_batch(gr_addr, z, idx, g)
        return v
    if lp_addr == 0:
        return _call_grad(gr_addr, z, g)
    v = _call_logp(lp_addr, z)
    _call_grad(gr_addr, z, g)
    return v


@njit(cache=True, nogil=True)
def _draw_minibatch(rng, perm, m):
    """Partial Fisher-Yates: perm[:m] becomes a uniform draw of m distinct indices."""
    n = perm.shape[0]
    for k in range(m):
        j = k + randint(rng, n - k)
        perm[k], perm[j] = perm[j], perm[k]


@njit(cache=True, nogil=True)
def _mc_gradient(lp_addr, gr_addr, batched, kind, d, rng, theta, idx, n_mc, z, eps, g, grad):
    """grad <- Monte-Carlo gradient of the ELBO in theta; returns the ELBO estimate
    (NaN when a draw gives a non-finite log-density or gradient)."""
    n_par = theta.shape[0]
    for k in range(n_par):
        grad[k] = 0.0
    total = 0.0
    inv = 1.0 / n_mc
    for _ in range(n_mc):
        for i in range(d):
            eps[i] = normal(rng)
        if kind == MEANFIELD:
            for i in range(d):
                z[i] = theta[i] + math.exp(theta[d + i]) * eps[i]
        else:
            p = d
            for i in range(d):
                acc = theta[i]
                for j in range(i):
                    acc += theta[p + j] * eps[j]
                z[i] = acc + math.exp(theta[p + i]) * eps[i]
                p += i + 1
        v = _value_grad(lp_addr, gr_addr, batched, z, idx, g)
        if not math.isfinite(v):
            return math.nan
        for i in range(d):
            if not math.isfinite(g[i]):
                return math.nan
        total += v
        for i in range(d):
            grad[i] += inv * g[i]
        if kind == MEANFIELD:
            for i in range(d):
                grad[d + i] += inv * g[i] * eps[i] * math.exp(theta[d + i])
        else:
            p = d
            for i in range(d):
                gi = inv * g[i]
                for j in range(i):
                    grad[p + j] += gi * eps[j]
                grad[p + i] += gi * eps[i] * math.exp(theta[p + i])
                p += i + 1
    entropy = d * _HALF_LOG_2PI_E
    if kind == MEANFIELD:
        for i in range(d):
            grad[d + i] += 1.0
            entropy += theta[d + i]
    else:
        p = d
        for i in range(d):
            grad[p + i] += 1.0
            entropy += theta[p + i]
            p += i + 1
    return total * inv + entropy


@njit(cache=True, nogil=True)
def run_advi(lp_addr, gr_addr, batched, kind, d, rng, theta, n_mc, lr, tol, window, perm,
             batch_size, elbo, theta_avg, stats, stop):
    """Adam ascent on the ELBO for up to ``elbo.shape[0]`` steps (theta updated in place).

    Every ``window`` steps the mean ELBO of the window is compared with the previous
    window's: a relative change below ``tol`` stops the loop (tol <= 0: never).
    ``theta_avg`` receives the mean iterate of the last complete window (of all steps
    when none completed). Steps with a non-finite log-density are skipped (NaN in
    ``elbo``, counted in stats[S_NAN]). ``perm`` (arange(n_data)) is the minibatch
    workspace; ``batched`` == 0 ignores it.
    """
    n_par = theta.shape[0]
    m = np.zeros(n_par)
    v = np.zeros(n_par)
    grad = np.empty(n_par)
    win_sum = np.zeros(n_par)
    z = np.empty(d)
    eps = np.empty(d)
    g = np.empty(d)
    idx = perm[:batch_size]
    b1t, b2t = 1.0, 1.0
    previous = math.nan
    win_elbo, win_count, win_steps, n_done = 0.0, 0, 0, 0
    have_avg = False
    stats[S_CONVERGED] = 0
    stats[S_NAN] = 0
    for t in range(elbo.shape[0]):
        if stop[0] != 0:
            break
        if batched:
            _draw_minibatch(rng, perm, batch_size)
        value = _mc_gradient(lp_addr, gr_addr, batched, kind, d, rng, theta, idx, n_mc, z,
                             eps, g, grad)
        elbo[t] = value
        if math.isfinite(value):
            b1t *= _BETA1
            b2t *= _BETA2
            step = lr * math.sqrt(1.0 - b2t) / (1.0 - b1t)
            for k in range(n_par):
                m[k] = _BETA1 * m[k] + (1.0 - _BETA1) * grad[k]
                v[k] = _BETA2 * v[k] + (1.0 - _BETA2) * grad[k] * grad[k]
                theta[k] += step * m[k] / (math.sqrt(v[k]) + _ADAM_EPS)
            win_elbo += value
            win_count += 1
        else:
            stats[S_NAN] += 1
        for k in range(n_par):
            win_sum[k] += theta[k]
        win_steps += 1
        n_done += 1
        if win_steps == window:
            for k in range(n_par):
                theta_avg[k] = win_sum[k] / window
                win_sum[k] = 0.0
            have_avg = True
            current = win_elbo / win_count if win_count > 0 else math.nan
            if tol > 0 and math.isfinite(previous) and math.isfinite(current) and \
                    abs(current - previous) <= tol * abs(current):
                stats[S_CONVERGED] = 1
                break
            previous = current
            win_elbo, win_count, win_steps = 0.0, 0, 0
    if not have_avg:
        for k in range(n_par):
            theta_avg[k] = win_sum[k] / max(win_steps, 1)
    stats[S_ITER] = n_done
