"""``fastml.mcmc.sample``: validation, per-chain streams and the loop over chains/chunks."""

import dataclasses
import math
import numbers
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from fastml import _kernels
from fastml._validation import (
    check_array,
    check_callable,
    check_log_density_start,
    check_option,
    check_positive_int,
    check_random_state,
    check_scalar,
)
from fastml.mcmc._trace import Trace

# Cores for internal callers (fastml.distributed runs subsets of chains on workers).
__cores__ = ("_prepare_chains", "_sample_chains")

METHODS = ("nuts", "hmc", "rwmh", "ensemble", "slice")
_GRADIENT = ("nuts", "hmc")
_OPTIONS = {
    "nuts": {"target_accept": 0.8, "max_treedepth": 10, "metric": "diag", "step_size": 1.0,
             "max_energy_error": 1000.0},
    "hmc": {"target_accept": 0.8, "path_length": 2.0, "max_steps": 1024, "metric": "diag",
            "step_size": 1.0, "max_energy_error": 1000.0},
    "rwmh": {"target_accept": 0.234, "metric": "unit", "step_size": None},
    "slice": {"width": 1.0, "max_steps_out": 32},
    "ensemble": {"a": 2.0},
}
_N_CHUNKS = 50  # progress-bar updates per run


def adaptation_plan(tune, init_buffer=75, term_buffer=50, base_window=25):
    """Stan's windowed warm-up as flags per tuning iteration (1 collect, 2 window end).

    A fast initial buffer (step size only), slow windows of doubling length ending in a
    metric update (the last stretched to the terminal buffer), then a fast terminal
    buffer. Too short a warm-up scales the buffers to 15% / 10%; under 20 iterations
    the metric is not adapted.
    """
    tune = check_positive_int(tune, "tune", min_val=0)
    init_buffer = check_positive_int(init_buffer, "init_buffer", min_val=0)
    term_buffer = check_positive_int(term_buffer, "term_buffer", min_val=0)
    base_window = check_positive_int(base_window, "base_window")
    plan = np.zeros(tune, dtype=np.int64)
    if tune < 20:
        return plan
    if init_buffer + base_window + term_buffer > tune:
        init_buffer = int(0.15 * tune)
        term_buffer = int(0.1 * tune)
        base_window = tune - (init_buffer + term_buffer)
    last = tune - term_buffer - 1
    size = base_window
    end = init_buffer + size - 1
    for it in range(init_buffer, tune - term_buffer):
        plan[it] |= 1
        if it == end:
            plan[it] |= 2
            if end == last:
                break
            size *= 2
            end = it + size
            if end != last and end + 2 * size >= tune - term_buffer:
                end = last
    return plan


def _options(method, options, dim):
    known = _OPTIONS[method]
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise TypeError(f"method={method!r} got unexpected option(s) {unknown}; "
                        f"valid options: {sorted(known)}")
    opts = {**known, **options}
    if "target_accept" in opts:
        check_scalar(opts["target_accept"], "target_accept", numbers.Real, min_val=0,
                     max_val=1, include_boundaries="neither")
    if "metric" in opts:
        check_option(opts["metric"], "metric", ("diag", "dense", "unit"))
    for name in ("path_length", "width", "max_energy_error"):
        if name in opts:
            check_scalar(opts[name], name, numbers.Real, min_val=0, include_boundaries="neither")
    if opts.get("step_size") is not None:
        check_scalar(opts["step_size"], "step_size", numbers.Real, min_val=0,
                     include_boundaries="neither")
    for name, most in (("max_treedepth", 30), ("max_steps", None), ("max_steps_out", None)):
        if name in opts:
            opts[name] = check_positive_int(opts[name], name,
                                            **({"max_val": most} if most else {}))
    if "a" in opts:
        check_scalar(opts["a"], "a", numbers.Real, min_val=1, include_boundaries="neither")
    if method == "rwmh" and opts["step_size"] is None:
        opts["step_size"] = 2.38 / math.sqrt(dim)
    return opts


def _initial_points(x0, chains, method, rng):
    x = check_array(x0, "x0", ndim=(1, 2), dtype=np.float64, allow_empty=False, copy=True)
    if x.ndim == 2:
        if x.shape[0] != chains:
            raise ValueError(f"x0 has {x.shape[0]} rows but chains == {chains}: pass x0 of "
                             f"shape ({chains}, dim) or (dim,)")
        return x
    x = np.repeat(x[None, :], chains, axis=0)
    if method == "ensemble":  # walkers must differ: a small ball around x0
        x += 1e-3 * (1.0 + np.abs(x)) * rng.standard_normal(x.shape)
    return x


def _returns_value(grad, x, method):
    """True when ``grad`` returns the pair (logp(x), grad(x)) (checked once at x0)."""
    return method in _GRADIENT and isinstance(grad(x.copy()), tuple)


def _check_start(logp, grad, X, method, combined):
    """logp finite and grad of shape (dim,) at every starting point (in Python, once)."""
    lps = np.empty(X.shape[0])
    G = np.zeros_like(X)
    for c, x in enumerate(X):
        lps[c], g = check_log_density_start(logp, grad if method in _GRADIENT else None,
                                            (x,), combined, where=f" for chain {c}",
                                            same_value=True)
        if g is not None:
            G[c] = g
    return lps, G


class _Progress:
    def __init__(self, enabled, total, method):
        self.bar = None
        if enabled:
            try:
                from tqdm.auto import tqdm

                self.bar = tqdm(total=total, desc=f"sampling ({method})", unit="it",
                                file=sys.stderr, leave=False)
            except ImportError:
                self.bar = None

    def update(self, n):
        if self.bar is not None:
            self.bar.update(n)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def sample(logp, x0, *, grad=None, method="nuts", draws=1000, tune=1000, chains=4, seed=None,
           progress=None, **options):
    """Draw from the density proportional to exp(logp(x)) by MCMC.

    Parameters
    ----------
    logp : callable, float64 ndarray (dim,) -> float
        Log-density up to a constant. A Numba ``@njit`` function runs fully compiled
        (no Python in the loop); any other callable works, slower, with the same draws
        for the same seed. NaN is treated as -inf (rejected) and counted in
        ``stats["n_nan"]``.
    x0 : array_like, shape (dim,) or (chains, dim)
        Starting point(s); logp must be finite there. A single point is used by every
        chain (for ``ensemble`` it is jittered into a small ball).
    grad : callable, ndarray (dim,) -> ndarray (dim,), optional
        Gradient of logp; required by ``nuts`` and ``hmc``. ``@njit`` too for the
        compiled path. It may instead return the pair ``(logp(x), grad(x))``: one call
        per leapfrog step instead of two, for densities whose value and gradient share
        work (detected at x0).
    method : {"nuts", "hmc", "rwmh", "ensemble", "slice"}
        - ``nuts``: multinomial No-U-Turn sampler as in Stan (generalised U-turn
          criterion, biased progressive sampling, ``max_treedepth``).
        - ``hmc``: leapfrog with fixed integration time ``path_length``
          (n = ceil(path_length / eps) steps, at most ``max_steps``); each transition
          jitters eps by a factor U(0.85, 1.15) against resonant (periodic) orbits.
        - ``rwmh``: random-walk Metropolis, x' = x + eps L z: eps adapted, L = I by
          default; ``metric="diag"`` or ``"dense"`` also adapts L L^T to the
          covariance of the tuning draws (worth it when those mix reasonably: in high
          dimension random-walk windows estimate it poorly).
        - ``ensemble``: affine-invariant stretch move (Goodman & Weare 2010; emcee's
          default) with ``chains`` walkers (even, >= 2 dim), scale ``a`` = 2.
        - ``slice``: coordinate-wise slice sampling with stepping out (Neal 2003),
          initial ``width``, at most ``max_steps_out`` steps; widths adapt in tuning.
    draws, tune : int
        Kept draws per chain, and tuning (warm-up) iterations before them, discarded.
        Tuning adapts the step size to ``target_accept`` (NUTS/HMC: 0.8, by dual
        averaging; RWMH: 0.234, by Robbins–Monro on log eps) and the metric (inverse
        mass matrix / proposal covariance) in Stan's windows: 75 fast, doubling slow
        windows from 25, 50 fast (:func:`adaptation_plan`). ``ensemble`` and ``slice``
        just discard the tuning draws (slice widths follow 2 E|move|).
    chains : int
        Independent chains, run in parallel on ``fastml.get_num_threads()`` threads
        (a plain Python density holds the GIL except inside NumPy's large array
        operations); walkers for ``ensemble``.
    seed : None, int or numpy Generator
        Every chain draws from its own stream spawned from the seed, so results do not
        depend on the number of threads.
    progress : bool, optional
        Show a progress bar (tqdm); default: when stderr is a terminal.
    **options
        Method options: ``target_accept``, ``max_treedepth`` (10), ``metric``
        ("diag", "dense" or "unit": identity, not adapted; default "diag", "unit" for
        ``rwmh``), ``step_size`` (initial),
        ``max_energy_error`` (1000: an energy error above it is a divergence),
        ``path_length`` (2.0), ``max_steps`` (1024), ``width`` (1.0),
        ``max_steps_out`` (32), ``a`` (2.0). Unknown options raise ``TypeError``.

    Returns
    -------
    Trace
        ``samples`` (chains, draws, dim) float64 and ``stats``; a
        :class:`SamplingWarning` is issued for divergences or R-hat > 1.01.
    """
    chains_ = _prepare_chains(logp, grad, x0, method, draws, tune, chains, seed, options)
    if progress is None:
        progress = sys.stderr.isatty()
    trace = _sample_chains(chains_, logp, grad, progress, _kernels.get_num_threads())
    trace.check()
    return trace


@dataclasses.dataclass
class _Chains:
    """What every chain starts from, checked once: the core's input.

    ``X``, ``LP``, ``G`` (chains, dim) / (chains,): starting points, log-densities and
    gradients; ``rstate`` (chains + 1, 4) uint64: one random stream per chain (the last
    row is the ensemble's shared stream). Chain ``c``'s draws depend only on row ``c``,
    so any subset of chains (:meth:`subset`) runs anywhere with the same draws.
    """

    method: str
    X: np.ndarray
    LP: np.ndarray
    G: np.ndarray
    rstate: np.ndarray
    opts: dict
    tune: int
    draws: int
    combined: bool

    def subset(self, ids):
        """The chains ``ids`` alone (not for ``ensemble``, whose walkers interact)."""
        ids = np.asarray(ids, dtype=np.intp)
        rows = np.concatenate([self.rstate[ids], self.rstate[-1:]])
        return dataclasses.replace(self, X=self.X[ids].copy(), LP=self.LP[ids].copy(),
                                   G=self.G[ids].copy(), rstate=rows)


def _prepare_chains(logp, grad, x0, method, draws, tune, chains, seed, options):
    """Check :func:`sample`'s arguments once; the starting state of every chain."""
    check_callable(logp, "logp")
    check_option(method, "method", METHODS)
    check_callable(grad, "grad", allow_none=True)
    if method in _GRADIENT and grad is None:
        raise ValueError(f"method={method!r} needs grad, the gradient of logp "
                         "(use method='rwmh', 'slice' or 'ensemble' without one)")
    draws = check_positive_int(draws, "draws")
    tune = check_positive_int(tune, "tune", min_val=0)
    chains = check_positive_int(chains, "chains")
    rng = check_random_state(seed)
    X = _initial_points(x0, chains, method, rng)
    dim = X.shape[1]
    opts = _options(method, options, dim)
    if method == "ensemble" and (chains % 2 or chains < 2 * dim):
        raise ValueError(f"ensemble needs an even number of walkers >= 2 * dim = {2 * dim}, "
                         f"got chains == {chains}")
    combined = _returns_value(grad, X[0], method)
    LP, G = _check_start(logp, grad, X, method, combined)
    streams = np.random.SeedSequence(rng.integers(0, 2**63, size=4))
    rstate = streams.generate_state((chains + 1) * 4, dtype=np.uint64).reshape(chains + 1, 4)
    return _Chains(method, X, LP, G, rstate, opts, tune, draws, combined)


def _sample_chains(chains_, logp, grad, progress, n_threads):
    """Run checked chains to the end on ``n_threads`` threads; the unchecked Trace."""
    method, X, tune, draws = chains_.method, chains_.X, chains_.tune, chains_.draws
    _mcmc = _kernels.load("_mcmc")
    errors = []
    stop = np.zeros(1, dtype=np.int64)
    (lp_addr, gr_addr), _keep = _mcmc.make_callbacks(
        logp, grad if method in _GRADIENT else None, errors, stop, chains_.combined)
    if chains_.combined:  # the kernel takes logp from grad's return value
        lp_addr = 0
    n_chains = X.shape[0]
    nanc = np.zeros(n_chains, dtype=np.int64)
    total = tune + draws
    n_chunks = min(_N_CHUNKS, total) if progress else 1
    bounds = np.linspace(0, total, n_chunks + 1).astype(np.int64)
    bar = _Progress(progress, total * (1 if method == "ensemble" else n_chains), method)
    try:
        if method == "ensemble":
            trace = _run_ensemble(_mcmc, lp_addr, chains_.rstate, X, chains_.LP, chains_.opts,
                                  tune, draws, bounds, nanc, stop, bar)
        else:
            # Python callables take the GIL in their callbacks; NumPy releases it inside
            # large array operations, so their chains still overlap on several threads.
            trace = _run_chains(_mcmc, method, lp_addr, gr_addr, chains_.rstate, X, chains_.LP,
                                chains_.G, chains_.opts, tune, draws, bounds, nanc, stop, bar,
                                n_threads)
    finally:
        bar.close()
    if errors:
        raise errors[0]
    return trace


def _run_chains(_mcmc, method, lp_addr, gr_addr, rstate, X, LP, G, opts, tune, draws, bounds,
                nanc, stop, bar, n_threads):
    chains, dim = X.shape
    dense = opts.get("metric") == "dense"
    scale = np.full((chains, dim), float(opts.get("width", 1.0)))
    cov = np.zeros((chains, dim, dim) if dense else (chains, 1, 1))
    chol = np.zeros_like(cov)
    if dense:
        cov[:] = np.eye(dim)
        chol[:] = np.eye(dim)
    ad = np.zeros((chains, _mcmc.N_AD))
    ad[:, _mcmc.EPS] = opts.get("step_size") or 1.0
    # Dual averaging shrinks log(eps) towards mu = log(f eps): f = 10 favours long HMC
    # steps early on (Stan); random-walk proposals are anchored at their start, f = 1.
    mu_factor = 1.0 if method == "rwmh" else 10.0
    ad[:, _mcmc.MU] = np.log(mu_factor * ad[:, _mcmc.EPS])
    wmean = np.zeros((chains, dim))
    wm2 = np.zeros((chains, dim, dim) if dense else (chains, 1, dim))
    adapt_metric = method != "slice" and opts.get("metric") != "unit"
    plan = adaptation_plan(tune) if adapt_metric else np.zeros(tune, dtype=np.int64)
    opt_f = np.empty(_mcmc.N_OPT_F)
    opt_f[_mcmc.TARGET] = opts.get("target_accept", 0.8)
    opt_f[_mcmc.PATH_LENGTH] = opts.get("path_length", 1.0)
    opt_f[_mcmc.MAX_DH] = opts.get("max_energy_error", 1000.0)
    opt_f[_mcmc.MU_FACTOR] = mu_factor
    opt_i = np.empty(_mcmc.N_OPT_I, dtype=np.int64)
    opt_i[_mcmc.MAX_DEPTH] = opts.get("max_treedepth", 10)
    opt_i[_mcmc.MAX_STEPS] = opts.get("max_steps", 1)
    opt_i[_mcmc.DENSE] = int(dense)
    opt_i[_mcmc.MAX_STEPS_OUT] = opts.get("max_steps_out", 1)
    st_f = np.zeros((chains, _mcmc.N_STATS, draws))
    st_i = np.zeros((chains, _mcmc.N_STATS, draws), dtype=np.int64)
    density = _mcmc.Density(lp_addr, gr_addr)
    state = _mcmc.Chains(rstate, X, LP, G, nanc)
    adapt = _mcmc.Adaptation(scale, cov, chol, ad, wmean, wm2)
    # the kernel's method codes: RWMH, HMC, NUTS, SLICE
    settings = _mcmc.Settings(getattr(_mcmc, method.upper()), tune, plan, opt_f, opt_i)
    out = _mcmc.Draws(np.empty((chains, draws, dim)), st_f, st_i)

    def advance(c, i0, i1):
        _mcmc.run_chain(c, density, state, adapt, settings, out, i0, i1, stop)

    workers = min(n_threads, chains)
    pool = ThreadPoolExecutor(workers) if workers > 1 else None
    try:
        for i0, i1 in zip(bounds[:-1], bounds[1:]):
            if pool is None:
                for c in range(chains):
                    advance(c, i0, i1)
            else:
                list(pool.map(lambda c, i0=i0, i1=i1: advance(c, i0, i1), range(chains)))
            bar.update(int(i1 - i0) * chains)
    finally:
        if pool is not None:
            pool.shutdown()
    stats = {"lp": st_f[:, _mcmc.S_LP].copy(), "n_nan": st_i[:, _mcmc.S_NAN].copy()}
    if method != "slice":
        stats["acceptance_rate"] = st_f[:, _mcmc.S_ACCEPT].copy()
        stats["step_size"] = st_f[:, _mcmc.S_EPS].copy()
    if method in _GRADIENT or method == "slice":  # slice: log-density evaluations
        stats["n_steps"] = st_i[:, _mcmc.S_NSTEPS].copy()
    if method in _GRADIENT:
        stats["diverging"] = st_i[:, _mcmc.S_DIV].copy()
        stats["energy"] = st_f[:, _mcmc.S_ENERGY].copy()
    if method == "nuts":
        stats["tree_depth"] = st_i[:, _mcmc.S_DEPTH].copy()
    metric = cov.copy() if dense else scale.copy()
    step_size = None if method == "slice" else ad[:, _mcmc.EPS].copy()
    return Trace(out.out, stats, method, step_size=step_size, inv_metric=metric)


def _run_ensemble(_mcmc, lp_addr, rstate, X, LP, opts, tune, draws, bounds, nanc, stop, bar):
    walkers, dim = X.shape
    out = np.empty((walkers, draws, dim))
    accept = np.zeros((walkers, draws))
    lps = np.zeros((walkers, draws))
    nans = np.zeros((walkers, draws), dtype=np.int64)
    for i0, i1 in zip(bounds[:-1], bounds[1:]):
        _mcmc.run_ensemble(lp_addr, rstate, X, LP, float(opts["a"]), tune, i0, i1, out, accept,
                           lps, nanc, nans, stop)
        bar.update(int(i1 - i0))
    return Trace(out, {"acceptance_rate": accept, "lp": lps, "n_nan": nans}, "ensemble")
