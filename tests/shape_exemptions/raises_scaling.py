"""Raises in fastml/scaling.py that are not single-argument checks (see __init__.py)."""
RAISES = {
    "fastml/scaling.py": {
        "re-raise: N and D do not broadcast together (NumPy's error, with the names)": 1,
        "data content: model_sizes' entries are (n_layer, n_head, n_embd) triples": 1,
        "cross-argument: tokens' length vs block_size and val_fraction": 1,
    },
}
