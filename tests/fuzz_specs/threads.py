"""Fuzz specs of the thread settings exported at the top of fastml."""

import fastml
from fuzz_specs import HUGE, Spec

_BAD = [0, -1, 1.5, "2", True, HUGE]


def _set_and_reset(n):
    fastml.set_num_threads(n)
    fastml.set_num_threads(None)
    return fastml.get_num_threads()


def _block(n):
    with fastml.threads(n):
        return fastml.get_num_threads()


SPECS = [
    Spec("fastml.set_num_threads", lambda rng, dtype: {"n": 1}, _set_and_reset,
         also=("fastml.get_num_threads",), dtypes=("float64",), bad_params={"n": _BAD}),
    Spec("fastml.threads", lambda rng, dtype: {"n": 1}, _block, dtypes=("float64",),
         bad_params={"n": _BAD}),
]
