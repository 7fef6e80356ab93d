"""Out-of-scope tests of scikit-learn's cluster suite (see ``out_of_scope.py``)."""

OUT_OF_SCOPE = {
    "cluster/tests/test_k_means.py": {
        r"test_kmeans_verbose\[.*": "asserts scikit-learn's verbose log lines word for word",
        r"test_minibatch_kmeans_verbose": "asserts scikit-learn's verbose log lines",
    },
}
