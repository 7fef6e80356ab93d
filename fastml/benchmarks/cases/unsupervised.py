"""Cases of the unsupervised modules: suites cluster, mixture, decomposition and manifold.

Peers: scikit-learn for every case, openTSNE for t-SNE. Every implementation starts from
the same initial state where the algorithm allows it (k-means centres, mixture
parameters), so the answers (inertia, lower bound, variances) agree to rounding;
t-SNE answers are KL divergences compared within a tolerance.
"""

import dataclasses

import numpy as np

from fastml import cluster, decomposition, manifold, mixture
from fastml.benchmarks import Case, Impl, register
from fastml.reference import cluster as ref_cluster
from fastml.reference import decomposition as ref_decomposition
from fastml.reference import manifold as ref_manifold
from fastml.reference import mixture as ref_mixture

KMEANS_K, KMEANS_D, KMEANS_ITER = 16, 16, 50


def _peer_threads(n, grain):
    """Peers get fastml's thread policy: one thread for small problems, all above."""
    from threadpoolctl import threadpool_limits

    from fastml._kernels import threads_for as _threads_for

    return threadpool_limits(limits=_threads_for(n, grain))


def _kmeans_setup(n, rng):
    X = rng.standard_normal((n, KMEANS_D))
    return {"X": X, "init": X[:KMEANS_K].copy()}


def _sklearn_kmeans(algorithm):
    def fit(X, init):
        from sklearn.cluster import KMeans

        with _peer_threads(len(X), 2048):
            return KMeans(KMEANS_K, init=init, n_init=1, max_iter=KMEANS_ITER, tol=0,
                          algorithm=algorithm).fit(X).inertia_
    return fit


def _fastml_kmeans(algorithm):
    def fit(X, init):
        return cluster.KMeans(KMEANS_K, init=init, n_init=1, max_iter=KMEANS_ITER, tol=0,
                              algorithm=algorithm).fit(X).inertia_
    return fit


for _algorithm in ("lloyd", "elkan"):
    register(Case(
        suite="cluster", name=f"kmeans_{_algorithm}",
        description=f"KMeans ({_algorithm}) n x 16, k = 16, at most 50 iterations from the "
                    "same initial centres; answer: inertia.",
        setup=_kmeans_setup,
        sizes=[200_000], quick_sizes=[4000], test_sizes=[40, 300],
        flops=lambda n: 3.0 * n * KMEANS_D * KMEANS_K * KMEANS_ITER,
        rtol=1e-8,
        impls=[
            Impl("fastml", _fastml_kmeans(_algorithm)),
            Impl("reference", lambda X, init: ref_cluster.kmeans_lloyd(
                X, init, max_iter=KMEANS_ITER, tol=0)[2], max_size=2000),
            Impl("sklearn", _sklearn_kmeans(_algorithm), requires=("sklearn",)),
        ],
    ))

GMM_K, GMM_D, GMM_ITER = 10, 10, 20


def _gmm_setup(n, rng):
    centres = 4 * rng.standard_normal((GMM_K, GMM_D))
    X = centres[rng.integers(0, GMM_K, n)] + rng.standard_normal((n, GMM_D))
    return {"X": X, "weights": np.full(GMM_K, 1.0 / GMM_K), "means": X[:GMM_K].copy(),
            "precisions": np.stack([np.eye(GMM_D)] * GMM_K)}


def _gmm_kwargs(weights, means, precisions):
    return dict(covariance_type="full", weights_init=weights, means_init=means,
                precisions_init=precisions, max_iter=GMM_ITER, tol=0)


def _sklearn_gmm(X, weights, means, precisions):
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture

    with warnings.catch_warnings(), _peer_threads(len(X), 512):
        warnings.simplefilter("ignore", ConvergenceWarning)
        return GaussianMixture(GMM_K, **_gmm_kwargs(weights, means, precisions)).fit(X) \
            .lower_bound_


def _fastml_gmm(X, weights, means, precisions):
    import warnings

    from fastml import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return mixture.GaussianMixture(GMM_K, **_gmm_kwargs(weights, means, precisions)) \
            .fit(X).lower_bound_


register(Case(
    suite="mixture", name="gmm_full",
    description="GaussianMixture n x 10, 10 full components, 20 EM iterations from the "
                "same parameters; answer: final lower bound (mean log-likelihood).",
    setup=_gmm_setup,
    sizes=[100_000], quick_sizes=[1000], test_sizes=[30, 400],
    flops=lambda n: GMM_ITER * 4.0 * n * GMM_K * GMM_D * GMM_D,
    rtol=1e-6,
    impls=[
        Impl("fastml", _fastml_gmm),
        Impl("reference", lambda X, weights, means, precisions: ref_mixture.gaussian_mixture_em(
            X, weights, means, np.linalg.inv(precisions), max_iter=GMM_ITER, tol=0)[3],
            max_size=20_000),
        Impl("sklearn", _sklearn_gmm, requires=("sklearn",)),
    ],
))

PCA_D, PCA_K = 100, 10


def _pca_setup(n, rng):
    mixing = rng.standard_normal((PCA_D, PCA_D)) * np.linspace(1, 0.01, PCA_D)[:, None]
    return {"X": rng.standard_normal((n, PCA_D)) @ mixing}


def _sklearn_pca(X):
    from sklearn.decomposition import PCA

    return PCA(PCA_K).fit(X).explained_variance_


register(Case(
    suite="decomposition", name="pca",
    description="PCA n x 100 -> 10 (fit; covariance eigh for n >= 10 d); answer: the "
                "explained variances.",
    setup=_pca_setup,
    sizes=[100_000], quick_sizes=[2000], test_sizes=[50, 300],
    flops=lambda n: n * PCA_D * PCA_D,
    rtol=1e-8,
    impls=[
        Impl("fastml", lambda X: decomposition.PCA(PCA_K).fit(X).explained_variance_),
        Impl("reference", lambda X: ref_decomposition.pca(X, PCA_K)[1]),
        Impl("sklearn", _sklearn_pca, requires=("sklearn",)),
    ],
))

KPCA_D, KPCA_K = 20, 5


def _kpca_setup(n, rng):
    return {"X": rng.standard_normal((n, KPCA_D))}


def _sklearn_kpca(X):
    from sklearn.decomposition import KernelPCA

    return KernelPCA(KPCA_K, kernel="rbf", random_state=0).fit(X).eigenvalues_


register(Case(
    suite="decomposition", name="kernel_pca",
    description="KernelPCA rbf n x 20 -> 5 (ARPACK for n > 200); answer: eigenvalues.",
    setup=_kpca_setup,
    sizes=[5000], quick_sizes=[150], test_sizes=[30, 250],
    flops=lambda n: 2.0 * n * n * KPCA_D,
    rtol=1e-8,
    impls=[
        Impl("fastml", lambda X: decomposition.KernelPCA(
            KPCA_K, kernel="rbf", random_state=0).fit(X).eigenvalues_),
        Impl("reference", lambda X: ref_decomposition.kernel_pca(X, KPCA_K)[0],
             max_size=500),
        Impl("sklearn", _sklearn_kpca, requires=("sklearn",)),
    ],
))


# Below this size a case runs every implementation from several random starts and
# compares the KL divergences as distributions; at and above it, one PCA-initialised run.
_TSNE_SEEDED_BELOW = 1000
_TSNE_SEEDS = 5


def _kl_close(expected, actual, size):
    """fastml's KL divergences (``actual``) are no worse than the other implementation's
    (``expected``); lower is better.

    Several seeds (small sizes, runs to convergence from random starts): t-SNE is chaotic,
    so one seeded run of each says little (their spread over seeds is 5-10 % at 120
    digits). The medians are compared with a margin of three standard errors of their
    difference, SE = 1.2533 * sqrt(s_a^2 / n_a + s_e^2 / n_e) (the asymptotic standard
    error of a median is 1.2533 sigma / sqrt(n)), floored at 1 % of the peer's median.
    One run (large sizes): within 15 %, the spread of a converged run at >= 1000 points.
    """
    actual, expected = np.atleast_1d(actual), np.atleast_1d(expected)
    assert np.all(np.isfinite(actual)) and np.all(actual > 0), \
        f"fastml KL divergences are {actual}"
    if len(actual) > 1 and len(expected) > 1:
        se = 1.2533 * np.sqrt(actual.var(ddof=1) / len(actual)
                              + expected.var(ddof=1) / len(expected))
        margin = max(3 * se, 0.01 * np.median(expected))
        assert np.median(actual) <= np.median(expected) + margin, (
            f"fastml median KL divergence {np.median(actual):.4f} (runs {actual.round(4)}) "
            f"is worse than {np.median(expected):.4f} (runs {expected.round(4)}) by more "
            f"than three standard errors ({margin:.4f})")
        return
    assert actual.max() <= 1.15 * expected.min(), \
        f"fastml KL divergence {actual} is worse than {expected} by more than 15%"


def _tsne_inputs(X):
    """One PCA start and 1000 iterations (250 exaggerated) from ``_TSNE_SEEDED_BELOW``
    points up; below, random starts from several seeds and 500 iterations (the KL is
    within a few % of its converged value there)."""
    seeded = len(X) < _TSNE_SEEDED_BELOW
    return {"X": X, "max_iter": 500 if seeded else 1000, "init": "random" if seeded else "pca",
            "seeds": tuple(range(_TSNE_SEEDS)) if seeded else (0,)}


def _digits_setup(n, rng):
    from sklearn.datasets import load_digits

    return _tsne_inputs(load_digits().data[:n].astype(np.float64))


def _blobs_setup(n, rng):
    centres = 6 * rng.standard_normal((10, 50))
    return _tsne_inputs(centres[rng.integers(0, 10, n)] + rng.standard_normal((n, 50)))


def _fastml_tsne(X, max_iter, init, seeds):
    return np.array([manifold.TSNE(random_state=s, max_iter=max_iter, init=init)
                     .fit(X).kl_divergence_ for s in seeds])


def _sklearn_tsne(X, max_iter, init, seeds):
    from sklearn.manifold import TSNE

    with _peer_threads(len(X), 256):
        return np.array([TSNE(random_state=s, max_iter=max_iter, init=init)
                         .fit(X).kl_divergence_ for s in seeds])


def _opentsne(X, max_iter, init, seeds):
    import openTSNE

    from fastml._kernels import threads_for as _threads_for

    # same small-problem thread policy as fastml (one thread below 512 points)
    return np.array([openTSNE.TSNE(initialization=init, early_exaggeration=12,
                                   n_iter=max_iter - 250, n_jobs=_threads_for(len(X), 256),
                                   random_state=s).fit(X).kl_divergence for s in seeds])


def _reference_tsne(X, max_iter, init, seeds):
    kls = []
    for s in seeds:
        if init == "pca":
            Y0 = decomposition.PCA(2).fit_transform(X)
            Y0 = Y0 / np.std(Y0[:, 0]) * 1e-4
        else:
            Y0 = 1e-4 * np.random.default_rng(s).standard_normal((len(X), 2))
        kls.append(ref_manifold.tsne_exact(X, Y0, max_iter=max_iter)[1])
    return np.array(kls)


_TSNE_IMPLS = [
    Impl("fastml", _fastml_tsne),
    Impl("reference", _reference_tsne, max_size=100),
    Impl("sklearn", _sklearn_tsne, requires=("sklearn",)),
    Impl("openTSNE", _opentsne, requires=("openTSNE",)),
]

register(Case(
    suite="manifold", name="tsne_digits",
    description="t-SNE (Barnes-Hut, perplexity 30, 1000 iterations of which 250 "
                "exaggerated) on the digits (1797 x 64); openTSNE uses Barnes-Hut below "
                "10,000 points. Below 1000 points each implementation runs from 5 random "
                "starts. Answer: KL divergences.",
    setup=_digits_setup,
    sizes=[1797], quick_sizes=[100], test_sizes=[120],
    check=_kl_close,
    impls=_TSNE_IMPLS,
))

register(Case(
    suite="manifold", name="tsne_blobs",
    description="t-SNE on 10 Gaussian blobs in 50-D: fastml's default method interpolates "
                "the repulsion by FFT from 10,000 points (FIt-SNE), as openTSNE's; exact "
                "k-NN by GEMM blocks for P (openTSNE: Annoy). scikit-learn (Barnes-Hut) up "
                "to 20,000 points. Below 1000 points, 5 random starts. One timed repeat "
                "(each call takes a minute or more). Answer: KL divergences.",
    setup=_blobs_setup,
    sizes=[20_000, 70_000], quick_sizes=[100], test_sizes=[100],
    check=_kl_close,
    impls=[dataclasses.replace(impl, max_size=20_000) if impl.name == "sklearn" else impl
           for impl in _TSNE_IMPLS],
    min_repeats=1,
    metrics=lambda size, kl: {"KL": float(np.median(kl))},
))
