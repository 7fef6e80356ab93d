"""The gallery form of the neural-network, sequence and advanced examples (docs chapters
of H3): run as ``__main__`` with ``FASTML_EXAMPLE_QUICK=1``, as the docs build does, they
leave their figures open for sphinx-gallery; and the attention map that
examples/gpt_shakespeare.py recomputes from a GPT's parameters is the attention the model
runs."""

import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture
def run_quick(monkeypatch, tmp_path):
    """``run_quick("name")`` executes examples/name.py as the docs build does (quick mode,
    no command-line arguments, in an empty folder) and returns the figures it left open."""
    monkeypatch.setenv("FASTML_EXAMPLE_QUICK", "1")
    monkeypatch.syspath_prepend(str(EXAMPLES))
    monkeypatch.chdir(tmp_path)
    plt.close("all")

    def run(name):
        monkeypatch.setattr(sys, "argv", [str(EXAMPLES / f"{name}.py")])
        runpy.run_path(str(EXAMPLES / f"{name}.py"), run_name="__main__")
        figures = [plt.figure(n) for n in plt.get_fignums()]
        assert not list(tmp_path.iterdir()), "quick mode must not write files"
        return figures

    yield run
    plt.close("all")


def test_frozenlake_quick_draws_the_value_map(run_quick):
    (fig,) = run_quick("rl_frozenlake_dp")
    image = fig.axes[0].images[0].get_array()
    assert image.shape == (8, 8) and 0.4 < image[0, 0] < 0.45


def test_mlp_digits_quick_draws_its_training_curve(run_quick):
    pytest.importorskip("sklearn")
    (fig,) = run_quick("mlp_digits")
    loss = fig.axes[0].lines[0].get_ydata()
    assert len(loss) == 5 and loss[-1] < loss[0]


def test_gpt_example_attention_map_is_the_models_attention(load_example):
    """P V with the example's recomputed P equals the causal SDPA of the same q, k, v (the
    fused kernel never stores P); rows of P sum to 1 and no query sees a later key."""
    from fastml.models import GPT, GPTConfig
    from fastml.nn import functional as F

    example = load_example("gpt_shakespeare")
    model = GPT(GPTConfig(block_size=16, vocab_size=11, n_layer=1, n_head=2, n_embd=8),
                dtype=np.float64, random_state=0)
    ids = np.random.default_rng(0).integers(0, 11, size=12)
    P = example.attention_weights(model, ids)
    assert P.shape == (2, 12, 12)
    np.testing.assert_allclose(P.sum(axis=-1), 1.0, rtol=1e-12)
    assert np.all(np.triu(P, 1) == 0)

    s = model.state_dict()
    x = s["transformer.wte.weight"][ids] + s["transformer.wpe.weight"][:12]
    h = F.layer_norm(x, (8,), s["transformer.h.0.ln_1.weight"], s["transformer.h.0.ln_1.bias"])
    qkv = F.linear(h, s["transformer.h.0.attn.c_attn.weight"],
                   s["transformer.h.0.attn.c_attn.bias"])
    q, k, v = (a.reshape(12, 2, 4).transpose(1, 0, 2) for a in np.split(qkv, 3, axis=-1))
    expected = F.scaled_dot_product_attention(q[None], k[None], v[None], causal=True)[0]
    np.testing.assert_allclose(P @ v, expected, rtol=1e-10, atol=1e-12)
