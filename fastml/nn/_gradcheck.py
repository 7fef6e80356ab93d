"""Finite-difference check of a module's backward pass."""

import numbers

import numpy as np

from fastml._validation import check_dtype, check_random_state, check_scalar

__all__ = ["GradcheckError", "gradcheck"]


class GradcheckError(AssertionError):
    """An analytic gradient disagrees with its finite-difference estimate."""


def _central_difference(f, arr, index, eps):
    """(f() at arr[index] + eps - f() at arr[index] - eps) / (2 eps), arr restored.

    ``f`` takes no argument and reads ``arr``, perturbed in place; ``index`` is a tuple,
    or an int into ``arr.reshape(-1)`` (which must then be a view)."""
    view = arr.reshape(-1) if np.isscalar(index) else arr
    old = view[index]
    view[index] = old + eps
    up = f()
    view[index] = old - eps
    down = f()
    view[index] = old
    return (up - down) / (2 * eps)


def _numeric(f, arr, eps):
    """Central differences (f(a + eps e_i) - f(a - eps e_i)) / (2 eps) for every entry."""
    out = np.array([_central_difference(f, arr, i, eps) for i in range(arr.size)])
    return out.reshape(arr.shape)


def gradcheck(module, x, *, eps=1e-6, atol=1e-5, rtol=1e-3, random_state=0):
    """Compare ``module.backward`` with central finite differences, in float64.

    With a fixed random projection G (seeded), L(x, theta) = sum(G * module(x)); the
    analytic gradients are ``module.backward(G)`` (input) and the parameters' ``grad``
    after it; the numeric ones are (L(a + eps) - L(a - eps)) / (2 eps) per entry of x
    and of every parameter. The module must be deterministic (``eval()`` for dropout)
    and in float64 (``module.double()``); x must be float64. O(size) forward passes,
    so keep x and the module small. ``x`` may be integer indices (Embedding): then only
    the parameters are checked.

    Returns True, or raises :class:`GradcheckError` naming the worst entry.
    """
    if module.dtype not in (None, np.float64):
        raise TypeError(f"gradcheck needs a float64 module (call .double()), got "
                        f"{module.dtype}")
    for name, value in (("eps", eps), ("atol", atol), ("rtol", rtol)):
        check_scalar(value, name, numbers.Real, min_val=0,
                     include_boundaries="right" if name == "eps" else "both")
    # C order: the finite differences perturb x through a flat view
    x = np.array(x, copy=True, order="C")
    if x.dtype.kind == "f":
        check_dtype(x, "x", np.float64, "gradcheck needs")
    out = module.forward(x)
    G = check_random_state(random_state).standard_normal(np.shape(out))

    def loss():
        return float(np.sum(G * module.forward(x)))

    module.zero_grad()
    grad_x = module.backward(G)
    checks = []
    if x.dtype.kind == "f":
        checks.append(("input", grad_x, x))
    checks += [(name, p.grad.copy(), p.data) for name, p in module.named_parameters()]
    for name, analytic, arr in checks:
        numeric = _numeric(loss, arr, eps)
        err = np.abs(np.asarray(analytic) - numeric)
        bad = err > atol + rtol * np.abs(numeric)
        if bad.any():
            i = np.unravel_index(np.argmax(err - rtol * np.abs(numeric)), err.shape)
            raise GradcheckError(f"gradient of {name} at index {tuple(map(int, i))}: "
                                 f"analytic {np.asarray(analytic)[i]:.10g}, numeric "
                                 f"{numeric[i]:.10g} ({int(bad.sum())} of {bad.size} "
                                 f"entries differ)")
    return True
