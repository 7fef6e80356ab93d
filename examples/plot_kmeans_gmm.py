"""
Clusters: k-means against a Gaussian mixture
============================================

k-means (:class:`fastml.cluster.KMeans`) minimises the inertia
:math:`\\sum_i \\min_j \\lVert x_i - c_j \\rVert^2`: every cluster is a Voronoi cell, so
elongated or unequal clusters are cut straight through. A Gaussian mixture
(:class:`fastml.mixture.GaussianMixture`, fitted by EM) gives each component its own
covariance and soft responsibilities :math:`r_{ik}`; the ellipses are its
two-standard-deviation contours. :class:`fastml.mixture.BayesianGaussianMixture` starts
with more components than needed and its Dirichlet-process prior empties the spare ones.
"""

# %%
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from fastml.cluster import KMeans, MiniBatchKMeans
from fastml.mixture import BayesianGaussianMixture, GaussianMixture

QUICK = os.environ.get("FASTML_EXAMPLE_QUICK") == "1"
rng = np.random.default_rng(0)
n = 300 if QUICK else 1000

# three anisotropic clusters of different sizes
shears = [np.array([[2.0, 0.0], [1.2, 0.3]]), np.array([[0.4, 0.0], [0.0, 0.4]]),
          np.array([[0.3, -0.9], [0.2, 0.3]])]
centres = np.array([[0.0, 0.0], [3.5, 3.0], [4.5, -1.0]])
sizes = [n // 2, n // 4, n // 4]
X = np.vstack([rng.standard_normal((m, 2)) @ S.T + c
               for m, S, c in zip(sizes, shears, centres)])


def ellipse(ax, mean, cov, colour):
    """The 2-sd contour of N(mean, cov)."""
    w, V = np.linalg.eigh(cov)
    t = np.linspace(0, 2 * np.pi, 100)
    pts = mean[:, None] + (V * (2 * np.sqrt(w))) @ np.vstack([np.cos(t), np.sin(t)])
    ax.plot(pts[0], pts[1], color=colour, lw=1.5)


# %%
# Fit the four models
# -------------------
km = KMeans(n_clusters=3, n_init=4, random_state=0).fit(X)
mbk = MiniBatchKMeans(n_clusters=3, batch_size=64, random_state=0).fit(X)
gmm = GaussianMixture(n_components=3, covariance_type="full", random_state=0).fit(X)
bgm = BayesianGaussianMixture(n_components=8, weight_concentration_prior=0.01,
                              max_iter=300, random_state=0).fit(X)
print(f"k-means inertia {km.inertia_:.1f} ({km.n_iter_} iterations), "
      f"mini-batch {mbk.inertia_:.1f}")
print(f"GMM mean log-likelihood {gmm.lower_bound_:.3f} after {gmm.n_iter_} EM iterations")
print("Bayesian GMM weights:", np.round(bgm.weights_, 3))

fig, axes = plt.subplots(1, 4, figsize=(15, 4), sharex=True, sharey=True)
for ax, model, title in ((axes[0], km, "KMeans (Lloyd, k-means++)"),
                         (axes[1], mbk, "MiniBatchKMeans")):
    ax.scatter(X[:, 0], X[:, 1], c=model.labels_, cmap="viridis", s=6)
    ax.plot(*model.cluster_centers_.T, "rx", ms=10, mew=2)
    ax.set_title(title)
for ax, model, title in ((axes[2], gmm, "GaussianMixture (EM)"),
                         (axes[3], bgm, "BayesianGaussianMixture, K = 8")):
    ax.scatter(X[:, 0], X[:, 1], c=model.predict(X), cmap="viridis", s=6)
    for k in range(model.n_components):
        if model.weights_[k] > 0.01:
            ellipse(ax, model.means_[k], model.covariances_[k], "r")
    ax.set_title(title)
fig.tight_layout()
