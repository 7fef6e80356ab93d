"""
t-SNE embedding of the digits
=============================

:class:`fastml.manifold.TSNE` places the 1797 8x8 digit images of scikit-learn's
bundled data set in the plane so that Student-t similarities
:math:`q_{ij} \\propto (1 + \\lVert y_i - y_j \\rVert^2)^{-1}` match Gaussian affinities
:math:`p_{ij}` of the 64-dimensional images at perplexity 30, by gradient descent on
:math:`\\mathrm{KL}(P \\,\\|\\, Q)` (Barnes–Hut approximation of the repulsive forces).
The labels are not used; they only colour the points.
"""

# %%
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits

from fastml.decomposition import PCA
from fastml.manifold import TSNE

QUICK = os.environ.get("FASTML_EXAMPLE_QUICK") == "1"
X, y = load_digits(return_X_y=True)
if QUICK:
    X, y = X[::2], y[::2]
X = X / 16.0

# %%
# PCA (linear) against t-SNE (non-linear)
# ---------------------------------------
pca = PCA(n_components=2).fit_transform(X)
tsne = TSNE(perplexity=30, max_iter=500 if QUICK else 1000, random_state=0)
embedding = tsne.fit_transform(X)
print(f"n = {len(X)}, KL divergence after {tsne.n_iter_} iterations: "
      f"{tsne.kl_divergence_:.3f}")

fig, axes = plt.subplots(1, 2, figsize=(11, 5))
for ax, Y, title in ((axes[0], pca, "PCA, first two components"),
                     (axes[1], embedding, "t-SNE, perplexity 30")):
    scatter = ax.scatter(Y[:, 0], Y[:, 1], c=y, cmap="tab10", s=5)
    for digit in range(10):
        cx, cy = np.median(Y[y == digit], axis=0)
        ax.text(cx, cy, str(digit), fontsize=14, weight="bold", ha="center", va="center")
    ax.set(title=title, xticks=[], yticks=[])
fig.colorbar(scatter, ax=axes, ticks=range(10), shrink=0.8, label="digit")
