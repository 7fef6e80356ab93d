"""Explicit exemption tables read by ``tests/test_shape.py``.

``raises_<area>.py``: the ``raise ValueError/TypeError`` statements outside
``fastml/_validation.py`` that are NOT single-argument checks, counted per file with a
reason. ``<area>`` is the first path component under ``fastml/`` without ``.py`` and
leading underscores (``fastml/nn/functional/_core.py`` -> ``raises_nn.py``,
``fastml/stats.py`` -> ``raises_stats.py``, ``fastml/_kernels.py`` ->
``raises_kernels.py``), so each owner edits only their own table. Each file defines::

    RAISES = {
        "fastml/nn/_module.py": {            # one entry per source file, sorted
            "state: parameters are registered before use": 2,   # reason -> count
        },
    }

A reason starts with one of ``tests/test_shape.py``'s ``RAISE_CATEGORIES`` and a colon.
"""
