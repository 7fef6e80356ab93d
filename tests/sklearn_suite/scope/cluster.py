"""Out-of-scope tests of scikit-learn's cluster suite (see ``out_of_scope.py``).

None today: KMeans and MiniBatchKMeans print scikit-learn's verbose lines, so its
verbose tests are counted too.
"""

OUT_OF_SCOPE = {
    "cluster/tests/test_k_means.py": {},
}
