"""Raises in fastml/_threads.py that are not single-argument checks (see __init__.py)."""
RAISES = {
    "fastml/_threads.py": {
        "constraint helper: the shared layer's own thread-count rule (set_num_threads and "
        "threads(): an int in [1, _MAX_THREADS]), worded as tests/test_concurrency.py "
        "matches ('n must be'), which check_positive_int does not say": 1,
    },
}
