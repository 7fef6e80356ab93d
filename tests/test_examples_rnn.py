"""Shortened run of examples/char_lstm_shakespeare.py (the full run trains LSTM 2x256 for
four minutes; see the example's docstring)."""

from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "tinyshakespeare" / "input.txt"


@pytest.mark.skipif(not DATA.is_file(), reason=f"tiny-shakespeare not found at {DATA} "
                    "(../shared/data, see its README)")
def test_char_lstm_shakespeare_reduced(load_example):
    example = load_example("char_lstm_shakespeare")
    val_loss, seconds, text = example.main(DATA, budget=60.0, max_steps=40, batch_size=16,
                                           seq_len=32, hidden=64, lr=1e-2, threads=1,
                                           verbose=False)
    # uniform guessing over the 65 characters costs log 65 = 4.17 nats
    assert val_loss < 3.3
    assert text.startswith("ROMEO:\n") and len(text) == len("ROMEO:\n") + 300
