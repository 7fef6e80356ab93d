"""
The lasso and elastic-net paths
===============================

The lasso minimises :math:`\\frac{1}{2n}\\lVert y - Xw \\rVert^2 + \\alpha \\lVert w \\rVert_1`.
Coordinate descent updates one weight at a time by the soft threshold
:math:`w_j \\leftarrow S(x_j^\\top r_j / n, \\alpha) / (\\lVert x_j \\rVert^2 / n)`, so weights
become exactly zero. :func:`fastml.linear_model.lasso_path` solves the problem for a
decreasing grid of :math:`\\alpha`, each warm-started from the previous solution: the
weights enter one by one as :math:`\\alpha` falls. The data are scikit-learn's bundled
diabetes data (442 patients, 10 standardised features).
"""

# %%
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_diabetes

from fastml.linear_model import ElasticNet, Lasso, LinearRegression, Ridge, lasso_path

data = load_diabetes()
X = data.data - data.data.mean(0)
X /= X.std(0)
y = data.target - data.target.mean()

alphas, coefs, _ = lasso_path(X, y, n_alphas=60)
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
for name, path in zip(data.feature_names, coefs):
    axes[0].plot(alphas, path, label=name)
axes[0].set(xscale="log", xlabel="alpha", ylabel="coefficient", title="lasso path")
axes[0].invert_xaxis()
axes[0].legend(fontsize=7, ncol=2)

# %%
# Four penalties at the same strength
# -----------------------------------
models = {"OLS": LinearRegression(), "ridge": Ridge(alpha=100.0),
          "lasso": Lasso(alpha=2.0), "elastic net": ElasticNet(alpha=2.0, l1_ratio=0.5)}
width = 0.2
for i, (label, model) in enumerate(models.items()):
    model.fit(X, y)
    axes[1].bar(np.arange(10) + (i - 1.5) * width, model.coef_, width, label=label)
    print(f"{label:12s} non-zero weights {np.count_nonzero(model.coef_):2d}  "
          f"R^2 {model.score(X, y):.3f}")
axes[1].set_xticks(np.arange(10), data.feature_names)
axes[1].set(ylabel="coefficient", title="weights by penalty")
axes[1].legend(fontsize=8)
fig.tight_layout()
