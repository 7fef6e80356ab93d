"""Raises in fastml/svm.py that are not single-argument checks (see __init__.py)."""
RAISES = {
    "fastml/svm.py": {
        "cross-argument: X's columns vs the training samples (kernel='precomputed')": 1,
        "cross-argument: loss='hinge' with dual=False": 1,
    },
}
