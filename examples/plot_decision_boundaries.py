"""
Decision boundaries: logistic regression and support vector machines
=====================================================================

Three linear or kernel classifiers on two 2-D problems, drawn as the regions where each
predicts a class:

* :class:`fastml.linear_model.LogisticRegression`: the boundary is the line
  :math:`w^\\top x + b = 0` where :math:`\\sigma(w^\\top x + b) = 1/2`; the shading is the
  predicted probability.
* :class:`fastml.svm.LinearSVC`: also a line, the one with the widest margin under the
  squared hinge loss.
* :class:`fastml.svm.SVC` with the RBF kernel: the boundary
  :math:`\\sum_i \\alpha_i y_i k(x_i, x) - \\rho = 0` bends around the data; the circled
  points are the support vectors (:math:`\\alpha_i > 0`).
"""

# %%
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from fastml.linear_model import LogisticRegression
from fastml.svm import SVC, LinearSVC

QUICK = os.environ.get("FASTML_EXAMPLE_QUICK") == "1"
rng = np.random.default_rng(0)
n = 150 if QUICK else 400


def two_moons(n, noise, rng):
    """Two interleaved half circles (as scikit-learn's make_moons)."""
    t = rng.uniform(0, np.pi, n)
    label = rng.integers(0, 2, n)
    x = np.where(label == 0, np.cos(t), 1 - np.cos(t))
    y = np.where(label == 0, np.sin(t), 0.5 - np.sin(t))
    return np.column_stack([x, y]) + noise * rng.standard_normal((n, 2)), label


def blobs(n, rng):
    """Two overlapping Gaussian clouds."""
    label = rng.integers(0, 2, n)
    centres = np.array([[-1.0, -0.5], [1.0, 0.7]])
    return centres[label] + 0.9 * rng.standard_normal((n, 2)), label


datasets = {"two moons": two_moons(n, 0.2, rng), "two Gaussians": blobs(n, rng)}
models = {
    "LogisticRegression": lambda: LogisticRegression(C=10.0),
    "LinearSVC": lambda: LinearSVC(C=1.0),
    "SVC (RBF)": lambda: SVC(C=3.0, gamma=2.0),
}

# %%
# Fit every model and shade its decision function
# -----------------------------------------------
fig, axes = plt.subplots(2, 3, figsize=(11, 7), sharex="row", sharey="row")
for row, (dname, (X, y)) in zip(axes, datasets.items()):
    lo, hi = X.min(0) - 0.5, X.max(0) + 0.5
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], 150), np.linspace(lo[1], hi[1], 150))
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    for ax, (mname, make) in zip(row, models.items()):
        model = make().fit(X, y)
        if hasattr(model, "predict_proba"):
            z = model.predict_proba(grid)[:, 1]
            levels, cmap = np.linspace(0, 1, 11), "RdBu_r"
            boundary = 0.5
        else:
            z = model.decision_function(grid)
            bound = np.abs(z).max()
            levels, cmap = np.linspace(-bound, bound, 11), "RdBu_r"
            boundary = 0.0
        z = z.reshape(gx.shape)
        ax.contourf(gx, gy, z, levels=levels, cmap=cmap, alpha=0.5)
        ax.contour(gx, gy, z, levels=[boundary], colors="k", linewidths=1.5)
        ax.scatter(X[:, 0], X[:, 1], c=y, cmap="RdBu_r", s=12, edgecolors="k", linewidths=0.3)
        if hasattr(model, "support_vectors_"):
            sv = model.support_vectors_
            ax.scatter(sv[:, 0], sv[:, 1], s=40, facecolors="none", edgecolors="k",
                       linewidths=0.6)
        accuracy = model.score(X, y)
        ax.set_title(f"{mname}\n{dname}: train accuracy {accuracy:.2f}", fontsize=9)
fig.tight_layout()
