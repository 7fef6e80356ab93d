"""Raises in fastml/manifold.py that are not single-argument checks (see __init__.py)."""
RAISES = {
    "fastml/manifold.py": {
        "cross-argument: n_components vs method='barnes_hut'": 1,
        "cross-argument: perplexity vs n_samples": 1,
        "cross-argument: init='pca' with metric='precomputed'": 1,
        "cross-argument: metric='mahalanobis' needs V or VI in metric_params": 1,
        "data content: a sparse precomputed graph stores fewer than k + 1 neighbours in a "
        "row (scikit-learn's wording)": 1,
    },
}
