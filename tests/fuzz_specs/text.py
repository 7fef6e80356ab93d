"""Fuzz specs of fastml.text."""

import numpy as np

from fastml import text
from fuzz_specs import HUGE, Spec

_CORPUS = "low lower lowest newer newest wider widest " * 4


def _train_encode_decode(vocab_size, sample="lowest newer"):
    tok = text.BPETokenizer()
    tok.train(_CORPUS, vocab_size)
    ids = tok.encode(sample)
    return np.asarray(ids), tok.decode(ids) == sample


SPECS = [
    Spec("fastml.text.BPETokenizer", lambda rng, dtype: {"vocab_size": 270},
         lambda **kw: _train_encode_decode(**kw), dtypes=("float64",),
         aliases={"sample": ("text",)},  # encode's argument
         bad_params={"vocab_size": [0, -1, 100, 2.5, "300", HUGE],
                     "sample": [None, 3, b"bytes"]}),
]
