"""Raises in fastml/linear_model/ that are not single-argument checks (see __init__.py)."""
RAISES = {
    "fastml/linear_model/_coordinate_descent.py": {
        "data content: the solver's coefficients became non-finite (X with huge values; "
        "scikit-learn's words)": 1,
        "cross-argument: a precompute Gram matrix that does not match X (scikit-learn's "
        "spot check of one element and its words)": 1,
    },
    "fastml/linear_model/_least_squares.py": {
        "cross-argument: alpha has one value per target of y": 1,
        "cross-argument: positive=True with a solver other than 'auto'/'lbfgs', or "
        "solver='lbfgs' without positive (scikit-learn's rule and words)": 1,
    },
    "fastml/linear_model/_logistic.py": {
        "cross-argument: solver with penalty/dual/number of classes, liblinear with "
        "max(X) > 1e30, 64-bit sparse indices for liblinear/sag/saga (scikit-learn's "
        "rules and words, one raise site for all)": 1,
    },
}
