"""Raises in fastml/distributed/ that are not single-argument checks (see __init__.py)."""
RAISES = {
    "fastml/distributed/_kmeans.py": {
        "numerical: a non-finite statistic reduced over the dask blocks (variance, "
        "k-means|| cost) shows X held NaN/inf; found without an extra pass over X": 2,
    },
    "fastml/distributed/_sample.py": {
        "state: the client has no workers": 1,
        "cross-argument: workers vs the client's workers": 1,
    },
}
