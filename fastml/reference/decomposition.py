"""PCA by eigendecomposition of the covariance, kernel PCA by a dense eigensolver."""

import numpy as np


def pca(X, n_components):
    """(components, explained_variance, explained_variance_ratio, mean) of X.

    C = (X - mu)^T (X - mu) / (n - 1); its eigenvectors sorted by decreasing eigenvalue
    are the principal axes, with the sign making the largest-|.| entry positive.
    """
    X = np.asarray(X, dtype=float)
    mean = X.mean(axis=0)
    Xc = X - mean
    C = Xc.T @ Xc / (X.shape[0] - 1)
    values, vectors = np.linalg.eigh(C)
    order = np.argsort(values)[::-1]
    values, vectors = np.maximum(values[order], 0), vectors[:, order].T
    for v in vectors:
        if v[np.argmax(np.abs(v))] < 0:
            v *= -1
    return (vectors[:n_components], values[:n_components],
            values[:n_components] / values.sum(), mean)


def rbf_kernel(X, Y, gamma):
    """exp(-gamma ||x - y||^2) by explicit differences."""
    return np.exp(-gamma * ((X[:, None, :] - Y[None, :, :]) ** 2).sum(axis=2))


def kernel_pca(X, n_components, *, gamma=None):
    """(eigenvalues, eigenvectors) of the centred RBF Gram matrix H K H, H = I - 1/n.

    Eigenvectors are sorted by decreasing eigenvalue, signs as in :func:`pca`; the
    projections of the training points are eigenvectors * sqrt(eigenvalues).
    """
    X = np.asarray(X, dtype=float)
    n = X.shape[0]
    gamma = 1.0 / X.shape[1] if gamma is None else gamma
    H = np.eye(n) - np.full((n, n), 1.0 / n)
    Kc = H @ rbf_kernel(X, X, gamma) @ H
    values, vectors = np.linalg.eigh(Kc)
    order = np.argsort(values)[::-1][:n_components]
    values, vectors = np.maximum(values[order], 0), vectors[:, order]
    for j in range(vectors.shape[1]):
        if vectors[np.argmax(np.abs(vectors[:, j])), j] < 0:
            vectors[:, j] *= -1
    return values, vectors
