"""A shortened run of examples/gpt_shakespeare.py (a smaller model, 100 iterations, one
thread); the full recipe reaches a validation loss of about 1.88."""

from pathlib import Path

import pytest

import fastml

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "tinyshakespeare" / "input.txt"


@pytest.mark.skipif(not DATA.exists(), reason=f"tiny Shakespeare not found at {DATA}")
def test_gpt_shakespeare_reduced(load_example):
    example = load_example("gpt_shakespeare")
    with fastml.threads(1):
        result = example.main(str(DATA), max_iters=100, n_layer=1, n_head=2, n_embd=32,
                              block_size=32, eval_iters=4, eval_interval=100,
                              warmup_iters=10, learning_rate=3e-3, sample_chars=40,
                              verbose=False)
    first, last = result["curve"][0], result["curve"][-1]
    assert first[2] > 3.9  # ~ log(65) at initialisation
    assert last[2] < 3.3   # learning: well below the uniform log(65) = 4.17
    assert len(result["sample"]) == 41 and result["wall_time"] > 0
