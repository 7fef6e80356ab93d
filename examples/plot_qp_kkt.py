"""
A quadratic program and its KKT conditions
==========================================

Minimise :math:`f(x) = \\tfrac12 x^\\top P x + q^\\top x` over the polygon
:math:`G x \\le h`. At the solution :math:`x^\\star` the Karush–Kuhn–Tucker conditions
hold with multipliers :math:`z \\ge 0`:

.. math::

    P x^\\star + q + G^\\top z = 0, \\qquad z_i (G x^\\star - h)_i = 0.

So the negative gradient :math:`-\\nabla f(x^\\star)` is a non-negative combination of
the normals :math:`g_i` of the *active* constraints (those with :math:`z_i > 0`), and
inactive constraints have :math:`z_i = 0`. :func:`fastml.optimize.solve_qp` returns
:math:`x^\\star`, :math:`z` and the residuals; the three solvers (interior point, active
set, ADMM) agree. The second panel follows the central path of the interior-point
method: the solutions of the barrier problems with the barrier weight going to 0.
"""

# %%
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from fastml import optimize

P = np.array([[2.0, 0.5], [0.5, 1.0]])
q = np.array([-4.0, -4.0])
G = np.array([[1.0, 1.0], [-1.0, 2.0], [1.0, -1.5], [-1.0, 0.0], [0.0, -1.0]])
h = np.array([2.0, 2.0, 1.5, 0.5, 0.5])

for solver in optimize.SOLVERS:
    res = optimize.solve_qp(P, q, G, h, solver=solver)
    print(f"{solver:10s} x = {np.round(res.x, 6)}  z = {np.round(res.z, 6)}  "
          f"dual residual {res.dual_residual:.1e}")
res = optimize.solve_qp(P, q, G, h)
x_star, z = res.x, res.z
active = z > 1e-8
unconstrained = np.linalg.solve(P, -q)

# %%
# Contours, feasible set and the KKT picture
# ------------------------------------------
gx, gy = np.meshgrid(np.linspace(-1, 3, 300), np.linspace(-1, 3.8, 300))
pts = np.stack([gx, gy], axis=-1)
fval = 0.5 * np.einsum("...i,ij,...j->...", pts, P, pts) + pts @ q
feasible = np.all(pts @ G.T <= h, axis=-1)

fig, axes = plt.subplots(1, 2, figsize=(11, 5))
ax = axes[0]
ax.contour(gx, gy, fval, levels=20, cmap="Greys", linewidths=0.7)
ax.contourf(gx, gy, feasible, levels=[0.5, 1.5], colors=["C0"], alpha=0.2)
ax.plot(*unconstrained, "kx", ms=9, label="unconstrained minimum")
ax.plot(*x_star, "r*", ms=14, label="solve_qp solution")
grad = P @ x_star + q
scale = 0.5                      # arrow length per unit of force
ax.annotate("", x_star - scale * grad, x_star,
            arrowprops={"color": "r", "width": 1.5, "headwidth": 7})
ax.text(*(x_star - scale * grad + [-0.9, 0.05]), "-∇f(x*)", color="r")
tail = x_star.copy()             # the active normals z_i g_i, tip to tail: they add up to -∇f
for i in np.flatnonzero(active):
    head = tail + scale * z[i] * G[i]
    ax.annotate("", head, tail, arrowprops={"color": "C2", "width": 1.0, "headwidth": 6})
    ax.text(*(head + [0.1, -0.25 if i == 0 else 0.1]), f"z{i} g{i}  (z{i} = {z[i]:.2f})",
            color="C2", fontsize=8)
    tail = head
    xs = np.linspace(-1, 3, 2)                 # the active constraint's boundary line
    ax.plot(xs, (h[i] - G[i, 0] * xs) / G[i, 1], "C2--", lw=0.8)
ax.set(xlim=(-1, 3), ylim=(-1, 3.8), aspect="equal", title="KKT: -∇f = Σ z_i g_i over active rows")
ax.legend(loc="lower right", fontsize=8)

# %%
# The central path
# ----------------
# The barrier problems :math:`\min f(x) - \mu \sum_i \log(h - G x)_i`, each solved by
# :func:`fastml.optimize.minimize`, trace a path to :math:`x^\star` as :math:`\mu \to 0`.
ax = axes[1]
ax.contour(gx, gy, fval, levels=20, cmap="Greys", linewidths=0.7)
ax.contourf(gx, gy, feasible, levels=[0.5, 1.5], colors=["C0"], alpha=0.2)
x = np.array([0.0, 0.0])
path = []
for mu in np.logspace(1, -4, 20):
    def barrier(v, mu=mu):
        slack = h - G @ v
        if np.any(slack <= 0):
            return np.inf
        return 0.5 * v @ P @ v + q @ v - mu * np.log(slack).sum()

    def barrier_grad(v, mu=mu):
        return P @ v + q + mu * G.T @ (1.0 / (h - G @ v))

    x = optimize.minimize(barrier, x, jac=barrier_grad, method="bfgs").x
    path.append(x)
path = np.array(path)
ax.plot(path[:, 0], path[:, 1], "o-", ms=3, color="C1", label="barrier minimisers")
ax.plot(*x_star, "r*", ms=14)
ax.set(xlim=(-1, 3), ylim=(-1, 3.8), aspect="equal", title="central path, μ from 10 to 1e-4")
ax.legend(loc="upper right", fontsize=8)
fig.tight_layout()
