"""minimize: smooth (and composite) minimisation with SciPy's result conventions."""

import numbers

import numpy as np

from fastml import _kernels
from fastml._validation import (
    check_array,
    check_callable,
    check_option,
    check_positive_int,
    check_scalar,
)

__all__ = ["METHODS", "OptimizeResult", "minimize"]

METHODS = ("gd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "newton", "bfgs",
           "lbfgs", "cg", "proximal", "fista")

#: method -> (kernel, option defaults); the order of the options is the kernel's params
_OPTIONS = {
    "gd": ("gd", {"step": "armijo", "lr": 1.0}),
    "momentum": ("first_order", {"lr": 1e-2, "beta": 0.9}),
    "nesterov": ("first_order", {"lr": 1e-2, "beta": 0.9}),
    "adagrad": ("first_order", {"lr": 0.1, "eps": 1e-8}),
    "rmsprop": ("first_order", {"lr": 1e-2, "rho": 0.9, "eps": 1e-8}),
    "adam": ("first_order", {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}),
    "newton": ("newton", {"delta": 1e-8}),
    "bfgs": ("bfgs", {"ftol": 0.0}),
    "lbfgs": ("lbfgs", {"m": 10, "ftol": 2.220446049250313e-09}),
    "cg": ("cg", {"ftol": 0.0}),
    "proximal": ("proximal", {"prox": None, "lam": 1.0, "L0": 1.0}),
    "fista": ("proximal", {"prox": None, "lam": 1.0, "L0": 1.0}),
}
_FIRST_ORDER_KIND = {"momentum": 0, "nesterov": 1, "adagrad": 2, "rmsprop": 3, "adam": 4}
_GD_STEP = {"fixed": 0, "armijo": 1, "exact": 2}
_BOUNDED = ("lbfgs", "proximal", "fista")


class OptimizeResult(dict):
    """The answer of an optimiser, as ``scipy.optimize.OptimizeResult``: a dict whose keys
    are also attributes (x, fun, jac, nit, nfev, njev, nhev, status, success, message, and
    solver-specific fields)."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    __setattr__ = dict.__setitem__
    __delattr__ = dict.__delitem__

    def __repr__(self):
        width = max(map(len, self), default=0)
        return "\n".join(f"{k:>{width}}: {v!r}" for k, v in self.items())

    def __dir__(self):
        return list(self)


def _messages():
    k = _kernels.load("_optimize")
    return {k.SUCCESS: "Optimization terminated successfully (gradient tolerance).",
            k.SMALL_CHANGE: "Optimization terminated: relative reduction of f <= ftol.",
            k.MAX_ITER: "Maximum number of iterations reached.",
            k.LINE_SEARCH_FAILED: "Line search could not find a decrease (precision loss).",
            k.NOT_FINITE: "The objective became NaN or infinite.",
            k.CALLBACK_STOP: "Stopped by the callback."}


def _is_njit(fn):
    return type(fn).__module__.startswith("numba") and hasattr(fn, "py_func")


def _fd_gradient(fun):
    """Central differences, h_i = eps^(1/3) max(1, |x_i|): error O(h^2)."""
    def grad(x):
        h = np.cbrt(np.finfo(float).eps) * np.maximum(1.0, np.abs(x))
        g = np.empty_like(x)
        for i in range(x.size):
            e = np.zeros_like(x)
            e[i] = h[i]
            g[i] = (fun(x + e) - fun(x - e)) / (2 * h[i])
        return g
    return grad


def _fd_hessian(grad):
    def hess(x):
        h = np.cbrt(np.finfo(float).eps) * np.maximum(1.0, np.abs(x))
        H = np.empty((x.size, x.size))
        for i in range(x.size):
            e = np.zeros_like(x)
            e[i] = h[i]
            H[i] = (grad(x + e) - grad(x - e)) / (2 * h[i])
        return 0.5 * (H + H.T)
    return hess


def _python_fg(fun, jac):
    if jac is True:
        def fg(x):
            f, g = fun(x)
            return float(f), np.asarray(g, dtype=np.float64)
        return fg
    grad = _fd_gradient(fun) if jac is None else jac

    def fg(x):
        return float(fun(x)), np.asarray(grad(x), dtype=np.float64)
    return fg


_VALUE_OF = {}


def _compiled_fg(fun, jac, errors, stop):
    """(int64 [value address, gradient address, combined], objects to keep alive)."""
    mcmc = _kernels.load("_mcmc")
    if jac is True:
        value = _VALUE_OF.get(fun)
        if value is None:
            from numba import njit

            @njit
            def value(x):
                return fun(x)[0]
            _VALUE_OF[fun] = value
        (f_addr, g_addr), keep = mcmc.make_callbacks(value, fun, errors, stop, combined=True)
    else:
        (f_addr, g_addr), keep = mcmc.make_callbacks(fun, jac, errors, stop)
    return np.array([f_addr, g_addr, int(jac is True)], np.int64), keep


def _parse_bounds(bounds, n):
    lo = np.full(n, -np.inf)
    hi = np.full(n, np.inf)
    if bounds is None:
        return lo, hi
    if hasattr(bounds, "lb") and hasattr(bounds, "ub"):  # scipy.optimize.Bounds
        lo[:] = np.broadcast_to(np.asarray(bounds.lb, float), n)
        hi[:] = np.broadcast_to(np.asarray(bounds.ub, float), n)
    else:
        pairs = list(bounds)
        if len(pairs) != n:
            raise ValueError(f"bounds must have one (lo, hi) pair per variable ({n}), "
                             f"got {len(pairs)}")
        for i, pair in enumerate(pairs):
            if len(pair) != 2:
                raise ValueError(f"bounds[{i}] must be a (lo, hi) pair, got {pair!r}")
            if pair[0] is not None:
                lo[i] = pair[0]
            if pair[1] is not None:
                hi[i] = pair[1]
    if np.isnan(lo).any() or np.isnan(hi).any():
        raise ValueError("bounds must not contain NaN")
    bad = np.flatnonzero(lo > hi)
    if bad.size:
        i = bad[0]
        raise ValueError(f"bounds: lb > ub for variable {i} ({lo[i]} > {hi[i]})")
    return lo, hi


def _params(method, options, lo, hi):
    kernel, defaults = _OPTIONS[method]
    opts = dict(defaults)
    unknown = set(options or {}) - set(defaults)
    if unknown:
        raise ValueError(f"options: unknown option(s) {sorted(unknown)} for method "
                         f"{method!r}; valid: {sorted(defaults)}")
    opts.update(options or {})
    if method == "gd":
        check_option(opts["step"], "options['step']", tuple(_GD_STEP))
        lr = check_scalar(opts["lr"], "options['lr']", numbers.Real, min_val=0.0,
                          include_boundaries="neither")
        return kernel, [_GD_STEP[opts["step"]], lr]
    if method in _FIRST_ORDER_KIND:
        values = {k: float(check_scalar(v, f"options[{k!r}]", numbers.Real, min_val=0.0))
                  for k, v in opts.items()}
        b1 = values.get("beta", values.get("beta1", 0.0))
        b2 = values.get("rho", values.get("beta2", 0.0))
        return kernel, [_FIRST_ORDER_KIND[method], values["lr"], b1, b2,
                        values.get("eps", 0.0)]
    if method in ("proximal", "fista"):
        k = _kernels.load("_optimize")
        kinds = {None: k.PROX_NONE, "l1": k.PROX_L1, "box": k.PROX_BOX,
                 "simplex": k.PROX_SIMPLEX}
        check_option(opts["prox"], "options['prox']", tuple(kinds))
        if opts["prox"] != "box" and (np.isfinite(lo).any() or np.isfinite(hi).any()):
            raise ValueError("bounds need options['prox'] = 'box' with method "
                             f"{method!r}")
        lam = check_scalar(opts["lam"], "options['lam']", numbers.Real, min_val=0.0)
        L0 = check_scalar(opts["L0"], "options['L0']", numbers.Real, min_val=0.0,
                          include_boundaries="neither")
        return kernel, [1.0 if method == "fista" else 0.0, kinds[opts["prox"]], lam, L0]
    if method == "lbfgs":
        return kernel, [check_positive_int(opts["m"], "options['m']"),
                        check_scalar(opts["ftol"], "options['ftol']", numbers.Real,
                                     min_val=0.0)]
    key = next(iter(opts))
    return kernel, [check_scalar(opts[key], f"options[{key!r}]", numbers.Real, min_val=0.0)]


def minimize(fun, x0, *, jac=None, hess=None, method="lbfgs", bounds=None, tol=1e-6,
             max_iter=None, callback=None, options=None):
    """Minimise a scalar function f(x), x in R^n (float64).

    Parameters
    ----------
    fun : callable ``fun(x) -> float`` (or ``-> (f, g)`` with ``jac=True``). A Numba
        ``@njit`` function (with ``@njit`` jac/hess, or jac=True) runs fully compiled:
        the whole iteration, line search included, without the interpreter.
    x0 : array_like (n,)
    jac : callable ``jac(x) -> (n,)``, True, or None (central finite differences).
    hess : callable ``hess(x) -> (n, n)`` for "newton" (default: finite differences of
        the gradient) and gd with ``step="exact"``.
    method :
        "gd" (options step = "armijo" | "fixed" | "exact" (t = g^T g / g^T H g, exact for
        quadratics), lr); "momentum", "nesterov" (lr, beta); "adagrad" (lr, eps);
        "rmsprop" (lr, rho, eps); "adam" (lr, beta1, beta2, eps); "newton" (delta:
        eigenvalue floor of the modified Hessian); "bfgs", "cg" (ftol); "lbfgs" (m,
        ftol; with ``bounds``: L-BFGS-B semantics); "proximal", "fista" for
        f(x) + h(x) with options prox = "l1" (h = lam ||x||_1), "box" (h = indicator of
        ``bounds``) or "simplex" (h = indicator of {x >= 0, sum x = lam}), L0 (initial
        Lipschitz estimate). BFGS/L-BFGS/CG/Newton use a strong-Wolfe line search.
    bounds : sequence of (lo, hi) (None = unbounded) or ``scipy.optimize.Bounds``;
        only "lbfgs", and "proximal"/"fista" with prox="box".
    tol : float
        Stop when ||grad f||_inf <= tol (projected gradient with bounds; gradient
        mapping for proximal methods).
    max_iter : int, default 1000 (10000 for the first-order methods).
    callback : ``callback(x)`` after every iteration; returning True stops.
    options : dict of method options (above).

    Returns
    -------
    OptimizeResult with x, fun, jac, nit, nfev, njev, nhev, status, success, message.
    """
    check_option(method, "method", METHODS)
    check_callable(fun, "fun")
    if jac is not True:
        check_callable(jac, "jac", allow_none=True)
    check_callable(hess, "hess", allow_none=True)
    check_callable(callback, "callback", allow_none=True)
    x = check_array(x0, "x0", ndim=1, dtype=np.float64, copy=True, allow_empty=False)
    tol = float(check_scalar(tol, "tol", numbers.Real, min_val=0.0))
    if max_iter is None:
        max_iter = 10_000 if method in _FIRST_ORDER_KIND else 1000
    max_iter = check_positive_int(max_iter, "max_iter", min_val=0)
    lo, hi = _parse_bounds(bounds, x.size)
    bounded = np.isfinite(lo).any() or np.isfinite(hi).any()
    if bounded and method not in _BOUNDED:
        raise ValueError(f"bounds are supported by methods {_BOUNDED}, not {method!r}")
    kernel, params = _params(method, options, lo, hi)
    if method == "gd" and params[0] == _GD_STEP["exact"] and hess is None:
        raise ValueError("options['step'] = 'exact' needs hess")
    if method == "lbfgs":
        x = np.clip(x, lo, hi)
    return _minimize_core(fun, x, jac, hess, method, kernel, np.array(params, float), lo, hi,
                          tol, max_iter, callback)

# the unchecked driver, for fastml.stats' MLE fits
__cores__ = ("_minimize_core",)


def _minimize_core(fun, x, jac, hess, method, kernel, params, lo, hi, tol, max_iter,
                   callback):
    k = _kernels.load("_optimize")
    compiled = (_is_njit(fun) and (jac is True or _is_njit(jac)) and hess is None
                and callback is None and method != "newton")
    counts = np.zeros(2, np.int64)
    python_fg = _python_fg(fun, jac)
    f0 = python_fg(x)[0]
    if not np.isfinite(f0):
        raise ValueError(f"fun(x0) is not finite ({f0}); choose a starting point x0 where "
                         "the objective is defined")
    if compiled:
        errors, stop = [], np.zeros(1, np.int64)
        fg, _keep = _compiled_fg(fun, jac, errors, stop)
        x, f, g, nit, status = k.METHODS[kernel](fg, 0, 0, x, lo, hi, params, max_iter, tol,
                                                 counts)
        if errors:
            raise errors[0]
    else:
        if hess is None and method == "newton":
            hess = _fd_hessian(lambda v: python_fg(v)[1])
        hess_fn = None
        if hess is not None:
            def hess_fn(v):
                return np.asarray(hess(v), dtype=np.float64)
        cb = callback if callback is not None else (lambda v: False)
        x, f, g, nit, status = k.python_version().METHODS[kernel](
            python_fg, hess_fn, cb, x, lo, hi, params, max_iter, tol, counts)
    return OptimizeResult(
        x=x, fun=float(f), jac=g, nit=int(nit), nfev=int(counts[0]), njev=int(counts[0]),
        nhev=int(counts[1]), status=int(status),
        success=int(status) in (k.SUCCESS, k.SMALL_CHANGE),
        message=_messages()[int(status)], method=method)
