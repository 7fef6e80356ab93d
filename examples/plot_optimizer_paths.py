"""
Optimiser paths on the Rosenbrock function
==========================================

The Rosenbrock function :math:`f(x, y) = (1 - x)^2 + 100 (y - x^2)^2` has its minimum at
:math:`(1, 1)` at the bottom of a long, curved, flat valley: the Hessian's condition
number there is about 2500. First-order methods zig-zag across the valley or crawl along
it; Newton's method and the quasi-Newton methods (BFGS, L-BFGS) build a model of the
curvature and follow the valley in a few dozen steps.

Every path below comes from :func:`fastml.optimize.minimize` with a ``callback`` that
records the iterates, from the same start :math:`(-1.2, 1)`.
"""

# %%
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from fastml import optimize

QUICK = os.environ.get("FASTML_EXAMPLE_QUICK") == "1"


def rosenbrock(v):
    x, y = v
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2


def rosenbrock_grad(v):
    x, y = v
    return np.array([-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)])


def rosenbrock_hess(v):
    x, y = v
    return np.array([[2 - 400 * y + 1200 * x * x, -400 * x], [-400 * x, 200.0]])


# %%
# Run each method and keep its path
# ---------------------------------
# The first-order methods get a fixed budget of iterations; the curvature-aware ones stop
# at the gradient tolerance.
x0 = np.array([-1.2, 1.0])
budget = 2000 if QUICK else 20000
methods = {
    "gd (Armijo)": ("gd", {}),
    "momentum": ("momentum", {"lr": 1e-3, "beta": 0.9}),
    "adam": ("adam", {"lr": 2e-2}),
    "newton": ("newton", {}),
    "bfgs": ("bfgs", {}),
    "lbfgs": ("lbfgs", {}),
}
paths, results = {}, {}
for label, (method, options) in methods.items():
    path = [x0.copy()]

    def record(x, path=path):
        path.append(np.array(x, copy=True))
        return False

    res = optimize.minimize(rosenbrock, x0, jac=rosenbrock_grad, hess=rosenbrock_hess,
                            method=method, options=options, max_iter=budget,
                            tol=1e-8, callback=record)
    paths[label] = np.array(path)
    results[label] = res
    print(f"{label:12s} iterations {res.nit:6d}  f = {res.fun:.2e}  "
          f"x = ({res.x[0]:.4f}, {res.x[1]:.4f})")

# %%
# The paths over the contours of log f
# ------------------------------------
gx, gy = np.meshgrid(np.linspace(-1.6, 1.6, 300), np.linspace(-0.6, 1.6, 300))
fz = (1 - gx) ** 2 + 100 * (gy - gx ** 2) ** 2
fig, ax = plt.subplots(figsize=(7, 5))
ax.contour(gx, gy, np.log10(fz + 1e-3), levels=25, cmap="Greys", linewidths=0.6)
for label, path in paths.items():
    ax.plot(path[:, 0], path[:, 1], ".-", ms=2, lw=1, label=f"{label} ({len(path) - 1})")
ax.plot(1, 1, "k*", ms=12)
ax.set(xlabel="x", ylabel="y", title="minimize on Rosenbrock from (-1.2, 1)")
ax.legend(fontsize=8, loc="lower right")
fig.tight_layout()

# %%
# Convergence: f(x_k) - f* against the iteration
# ----------------------------------------------
fig, ax = plt.subplots(figsize=(7, 4))
for label, path in paths.items():
    values = np.array([rosenbrock(p) for p in path])
    ax.semilogy(np.arange(len(values)), np.maximum(values, 1e-16), label=label)
ax.set(xscale="log", xlabel="iteration", ylabel="f(x_k)", title="convergence")
ax.legend(fontsize=8)
fig.tight_layout()
