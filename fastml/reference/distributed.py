"""Reference for :mod:`fastml.distributed`: Lloyd's k-means over a list of row blocks.

Written from the algorithm, one block at a time in plain NumPy: what every Dask task
computes (the nearest centre of each row, per-cluster sums and counts) and what the
client does with the summaries (add them, divide, test the shift). The distributed
estimator must give the same centres from the same initial centres.
"""

import numpy as np


def block_summary(X, centers):
    """(sums (k, d), counts (k,), inertia) of one block: the task of one Lloyd pass."""
    d2 = ((X[:, None, :] - centers[None, :, :]) ** 2).sum(axis=2)
    labels = d2.argmin(axis=1)
    k = centers.shape[0]
    sums = np.zeros((k, X.shape[1]))
    np.add.at(sums, labels, X)
    counts = np.bincount(labels, minlength=k).astype(float)
    return sums, counts, float(d2[np.arange(X.shape[0]), labels].sum())


def kmeans_blocks(blocks, centers, max_iter=300, tol=1e-4):
    """Lloyd's iterations from ``centers`` over ``blocks``; returns (centres, inertia, n_iter).

    Stops when sum_j ||c_j^new - c_j||^2 <= tol * mean feature variance of all rows
    (clusters never become empty on the data this reference is used with).
    """
    X = np.concatenate(blocks)
    tol_abs = tol * X.var(axis=0).mean()
    centers = np.array(centers, dtype=float)
    n_iter = 0
    for n_iter in range(1, max_iter + 1):  # noqa: B007 (read after the loop)
        parts = [block_summary(b, centers) for b in blocks]
        sums = sum(p[0] for p in parts)
        counts = sum(p[1] for p in parts)
        new = sums / counts[:, None]
        shift = ((new - centers) ** 2).sum()
        centers = new
        if shift <= tol_abs:
            break
    inertia = sum(block_summary(b, centers)[2] for b in blocks)
    return centers, inertia, n_iter
