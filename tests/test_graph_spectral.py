"""Laplacian eigenmaps and spectral clustering vs scikit-learn and planted partitions."""

import numpy as np
import pytest
import scipy.sparse as sp

from fastml import graph as G

sk_manifold = pytest.importorskip("sklearn.manifold")
sk_cluster = pytest.importorskip("sklearn.cluster")
sk_metrics = pytest.importorskip("sklearn.metrics")


def planted(sizes, p_in, p_out, seed):
    """A symmetric stochastic block model adjacency and its block labels."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(sizes)), sizes)
    prob = np.where(labels[:, None] == labels[None, :], p_in, p_out)
    upper = np.triu(rng.random(prob.shape) < prob, 1)
    A = (upper | upper.T).astype(float)
    return A, labels


def test_spectral_embedding_vs_sklearn():
    A, _ = planted([40, 40, 40], 0.3, 0.02, 0)
    ours = G.spectral_embedding(sp.csr_matrix(A), 3, random_state=0)
    theirs = sk_manifold.spectral_embedding(A, n_components=3, random_state=0)
    # same vectors up to sklearn's scaling and per-column sign
    for j in range(3):
        corr = np.corrcoef(ours[:, j], theirs[:, j])[0, 1]
        assert abs(corr) > 1 - 1e-6, (j, corr)


def test_eigenmap_solves_the_generalised_problem():
    A, _ = planted([30, 25], 0.3, 0.05, 1)
    Y = G.spectral_embedding(A, 2, drop_first=False)
    D = np.diag(A.sum(1))
    L = D - A
    np.testing.assert_allclose(Y.T @ D @ Y, np.eye(2), atol=1e-8)  # Y^T D Y = I
    lam = np.diag(Y.T @ L @ Y)
    np.testing.assert_allclose(L @ Y, D @ Y * lam, atol=1e-8)  # L y = l D y
    assert lam[0] < 1e-10


def test_spectral_clustering_recovers_blocks_and_matches_sklearn():
    A, labels = planted([50, 40, 30], 0.3, 0.01, 2)
    g = G.from_scipy(sp.csr_matrix(A))
    ours = G.SpectralClustering(3, random_state=0).fit(g)
    theirs = sk_cluster.SpectralClustering(3, affinity="precomputed",
                                           random_state=0).fit(A)
    assert sk_metrics.adjusted_rand_score(labels, ours.labels_) == 1.0
    assert sk_metrics.adjusted_rand_score(theirs.labels_, ours.labels_) == 1.0
    np.testing.assert_allclose(ours.eigenvalues_[0], 0.0, atol=1e-10)
    np.testing.assert_array_equal(G.SpectralClustering(3, random_state=0).fit_predict(A),
                                  ours.labels_)


def test_spectral_bad_input():
    with pytest.raises(ValueError, match="symmetric"):
        G.spectral_embedding(np.triu(np.ones((5, 5)), 1))
    with pytest.raises(ValueError, match="non-negative"):
        G.spectral_embedding(-np.ones((5, 5)))
    with pytest.raises(ValueError, match="n_components"):
        G.spectral_embedding(np.ones((4, 4)), 4)
