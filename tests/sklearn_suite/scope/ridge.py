"""Out-of-scope tests of scikit-learn's Ridge suite (see ``out_of_scope.py``)."""

OUT_OF_SCOPE = {
    "linear_model/tests/test_ridge.py": {
        r"test_n_iter$": "asserts the iteration counts of scikit-learn's sag/lsqr solvers; "
                         "fastml runs the closed form for them (n_iter_ is None)",
        r"test_lbfgs_solver_error$": "asserts L-BFGS-B's non-convergence warning; fastml "
                                     "solves positive=True exactly by active-set NNLS",
    },
}
