"""
PCA and kernel PCA
==================

:class:`fastml.decomposition.PCA` projects the centred data on the top right singular
vectors of :math:`X_c = U S V^\\top`: the directions of largest variance. It cannot
separate two concentric rings, whose structure is not linear.
:class:`fastml.decomposition.KernelPCA` with an RBF kernel does PCA in the kernel's
feature space (eigenvectors of the doubly centred Gram matrix), where the rings become
separable along the first component.
"""

# %%
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits

from fastml.decomposition import PCA, KernelPCA

QUICK = os.environ.get("FASTML_EXAMPLE_QUICK") == "1"
rng = np.random.default_rng(0)
n = 300 if QUICK else 800

# two noisy concentric circles
label = rng.integers(0, 2, n)
angle = rng.uniform(0, 2 * np.pi, n)
radius = np.where(label == 0, 1.0, 0.35)
X = np.column_stack([radius * np.cos(angle), radius * np.sin(angle)])
X += 0.05 * rng.standard_normal(X.shape)

# %%
# Linear against kernel PCA on the rings
# --------------------------------------
Z_pca = PCA(n_components=2).fit_transform(X)
kpca = KernelPCA(n_components=2, kernel="rbf", gamma=4.0)
Z_kpca = kpca.fit_transform(X)

fig, axes = plt.subplots(1, 3, figsize=(13, 4))
for ax, Z, title in ((axes[0], X, "input"), (axes[1], Z_pca, "PCA"),
                     (axes[2], Z_kpca, "KernelPCA, RBF, gamma = 4")):
    ax.scatter(Z[:, 0], Z[:, 1], c=label, cmap="coolwarm", s=8)
    ax.set(title=title, xlabel="component 1", ylabel="component 2")
fig.tight_layout()

# %%
# Explained variance of the digits
# --------------------------------
# How many directions hold the variance of the 64-pixel digits: the spectrum
# :math:`\lambda_j = s_j^2 / (n - 1)` and its cumulative share.
digits = load_digits().data
pca = PCA().fit(digits)
share = np.cumsum(pca.explained_variance_ratio_)
print(f"components for 90% of the variance: {np.searchsorted(share, 0.9) + 1} of 64")
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.bar(np.arange(1, 65), pca.explained_variance_ratio_, label="per component")
ax.plot(np.arange(1, 65), share, "k-", label="cumulative")
ax.set(xlabel="component", ylabel="share of the variance", title="PCA spectrum of the digits")
ax.legend()
fig.tight_layout()
