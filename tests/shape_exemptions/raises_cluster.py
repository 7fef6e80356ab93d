"""Raises in fastml/cluster.py that are not single-argument checks (see __init__.py)."""
RAISES = {
    "fastml/cluster.py": {
        "cross-argument: init's shape vs n_clusters and X's features (scikit-learn's "
        "words, matched by its checks)": 1,
        "cross-argument: the length of kmeans_plusplus' x_squared_norms vs X's rows "
        "(scikit-learn's words, matched by its test)": 1,
    },
}
