"""Textbook Lloyd's algorithm for k-means."""

import numpy as np


def kmeans_lloyd(X, init, *, max_iter=300, tol=1e-4, sample_weight=None):
    """Lloyd's loop from the centres ``init``; returns (centers, labels, inertia, n_iter).

    Repeat: label every sample with its nearest centre, argmin_j ||x_i - c_j||^2; move
    every centre to the weighted mean of its samples (an empty cluster keeps its centre).
    Stop when the labels no longer change or when sum_j ||c_j^new - c_j||^2 <= tol times
    the mean feature variance. The inertia is sum_i w_i ||x_i - c_{label i}||^2 for the
    final centres and the labels they induce.
    """
    X = np.asarray(X, dtype=float)
    centers = np.array(init, dtype=float)
    n, k = X.shape[0], centers.shape[0]
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    tol = np.mean(np.var(X, axis=0)) * tol

    def assign(centers):
        labels = np.empty(n, dtype=int)
        for i in range(n):
            labels[i] = np.argmin(((X[i] - centers) ** 2).sum(axis=1))
        return labels

    labels_old = None
    n_iter = 0
    for n_iter in range(1, max_iter + 1):  # noqa: B007 (read after the loop)
        labels = assign(centers)
        new = centers.copy()
        for j in range(k):
            members = labels == j
            if w[members].sum() > 0:
                new[j] = (w[members, None] * X[members]).sum(axis=0) / w[members].sum()
        shift = ((new - centers) ** 2).sum()
        centers = new
        if labels_old is not None and np.array_equal(labels, labels_old):
            break
        if shift <= tol:
            break
        labels_old = labels
    labels = assign(centers)
    inertia = sum(w[i] * ((X[i] - centers[labels[i]]) ** 2).sum() for i in range(n))
    return centers, labels, float(inertia), n_iter
