"""GPT: a full training step (loss and every gradient) vs the same model in PyTorch, the
KV-cache generation vs a cache-free recomputation, the reference forward, bad input."""

import numpy as np
import pytest
from _testing import central_difference

from fastml.models import GPT, GPTConfig
from fastml.reference import transformer as reference

CONFIG = dict(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=16)


def _model(dtype=np.float64, **overrides):
    model = GPT(GPTConfig(**{**CONFIG, **overrides}), dtype=dtype, random_state=0)
    rng = np.random.default_rng(1)
    for _, p in model.named_parameters():  # non-trivial biases and norm weights
        p.data += rng.normal(0, 0.05, p.shape).astype(p.dtype)
    return model


def _batch(B=3, T=8, seed=0):
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, CONFIG["vocab_size"], (B, T))
    targets = rng.integers(0, CONFIG["vocab_size"], (B, T))
    targets[0, :2] = -1  # ignored positions
    return idx, targets


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-10), (np.float32, 1e-4)])
@pytest.mark.parametrize("bias", [True, False])
def test_training_step_matches_torch(dtype, tol, bias):
    torch = pytest.importorskip("torch")
    from fastml.benchmarks.cases.transformer import torch_gpt

    model = _model(dtype, bias=bias)
    peer = torch_gpt(model.config).to(torch.float64 if dtype == np.float64 else torch.float32)
    peer.load_state_dict({k: torch.from_numpy(v) for k, v in model.state_dict().items()})
    idx, targets = _batch()
    logits, loss = model(idx, targets)
    model.backward()
    t_logits, t_loss = peer(torch.from_numpy(idx), torch.from_numpy(targets))
    t_loss.backward()
    assert abs(loss - t_loss.item()) <= tol * max(1.0, abs(loss))
    np.testing.assert_allclose(logits, t_logits.detach().numpy(), rtol=tol, atol=tol)
    t_params = dict(peer.named_parameters())
    names = [name for name, _ in model.named_parameters()]
    assert sorted(names) == sorted(t_params)
    for name, p in model.named_parameters():
        g = t_params[name].grad.numpy()
        np.testing.assert_allclose(p.grad, g, rtol=tol, atol=tol * np.abs(g).max(),
                                   err_msg=name)

    # The AdamW step of configure_optimizers == torch.optim.AdamW with nanoGPT's groups
    # (in float64: the key bias's gradient is zero up to rounding, which Adam's
    # normalisation would blow up to lr-sized float32 noise).
    if dtype == np.float32:
        return
    opt = model.configure_optimizers(0.1, 1e-2, (0.9, 0.95))
    decay = [p for p in peer.parameters() if p.dim() >= 2]
    no_decay = [p for p in peer.parameters() if p.dim() < 2]
    t_opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                               {"params": no_decay, "weight_decay": 0.0}],
                              lr=1e-2, betas=(0.9, 0.95))
    opt.step()
    t_opt.step()
    for name, p in model.named_parameters():
        np.testing.assert_allclose(p.data, t_params[name].detach().numpy(), rtol=tol,
                                   atol=tol, err_msg=name)


def test_forward_matches_reference_and_inference_logits():
    model = _model()
    idx, targets = _batch()
    logits, loss = model(idx, targets)
    np.testing.assert_allclose(logits, reference.gpt_logits(model.state_dict(), 2, idx),
                               rtol=1e-12, atol=1e-12)
    last, none = model(idx)
    assert none is None and last.shape == (3, 1, CONFIG["vocab_size"])
    np.testing.assert_allclose(last[:, 0], logits[:, -1], rtol=1e-12, atol=1e-12)


def test_finite_differences():
    model = _model()
    idx, targets = _batch(B=2, T=5)
    model.zero_grad()
    model(idx, targets)
    model.backward()
    rng = np.random.default_rng(2)
    for name, p in model.named_parameters():
        for i in rng.choice(p.data.size, 1):
            fd = central_difference(lambda: model(idx, targets)[1], p.data, int(i))
            assert abs(fd - p.grad.reshape(-1)[i]) < 1e-6, name


def test_dropout_gradient_is_the_derivative_with_the_masks_fixed():
    """With dropout (embeddings, attention output, MLP output) the backward is the
    derivative of the loss for the masks the forward drew: a directional difference
    quotient of copies of the model (same generator states, so the same masks)."""
    import copy

    model = _model(dropout=0.3)
    idx, targets = _batch(B=2, T=6)
    start = copy.deepcopy(model)
    model.zero_grad()
    model(idx, targets)
    model.backward()
    rng = np.random.default_rng(3)
    direction = [rng.standard_normal(p.shape) for p in model.parameters()]
    slope = sum(float(np.sum(p.grad * v)) for p, v in zip(model.parameters(), direction))
    losses = []
    for eps in (1e-6, -1e-6):
        shifted = copy.deepcopy(start)
        for p, v in zip(shifted.parameters(), direction):
            p.data += eps * v
        losses.append(shifted(idx, targets)[1])
    assert abs((losses[0] - losses[1]) / 2e-6 - slope) < 1e-6 * max(1.0, abs(slope))
    # the masks are live: without dropout the loss differs
    assert abs(start.eval()(idx, targets)[1] - losses[0]) > 1e-3


@pytest.mark.parametrize("options", [dict(top_k=3), dict(top_k=4, top_p=0.9, temperature=1.3)])
def test_generate_with_cache_equals_recomputation(options):
    model = _model()
    prompt = np.random.default_rng(3).integers(0, CONFIG["vocab_size"], (2, 5))
    # 12 new tokens: the window of 8 fills and restarts twice.
    out = model.generate(prompt, 12, seed=7, **options)
    expected = reference.gpt_generate(model, prompt, 12, seed=7, **options)
    np.testing.assert_array_equal(out, expected)
    assert out.shape == (2, 17) and (out[:, :5] == prompt).all()
    np.testing.assert_array_equal(model.generate(prompt[0], 4, seed=7, **options)[0],
                                  reference.gpt_generate(model, prompt[:1], 4, seed=7,
                                                         **options)[0])


def test_generate_float32_and_top_k_one_is_greedy():
    model = _model(np.float32)
    prompt = np.array([[1, 2, 3]])
    a = model.generate(prompt, 6, top_k=1, seed=0)
    b = model.generate(prompt, 6, top_k=1, seed=99)
    np.testing.assert_array_equal(a, b)
    assert model.generate(prompt, 0).shape == (1, 3)


def test_nanogpt_names_tying_and_parameter_count():
    model = _model()
    state = model.state_dict()
    assert "lm_head.weight" in state and "transformer.h.1.attn.c_attn.weight" in state
    np.testing.assert_array_equal(state["lm_head.weight"], state["transformer.wte.weight"])
    other = GPT(model.config, dtype=np.float64, random_state=5)
    other.load_state_dict(state)
    np.testing.assert_array_equal(other(*_batch())[0], model(*_batch())[0])
    d, L = CONFIG["n_embd"], CONFIG["n_layer"]
    per_block = 12 * d * d + 13 * d
    assert model.get_num_params() == L * per_block + 11 * d + 2 * d
    groups = model.configure_optimizers(0.1, 1e-3, (0.9, 0.95)).param_groups
    assert all(p.ndim >= 2 for p in groups[0]["params"])
    assert all(p.ndim == 1 for p in groups[1]["params"])


def test_bad_input():
    model = _model()
    idx, targets = _batch()
    with pytest.raises(ValueError, match="n_embd"):
        GPTConfig(n_embd=10, n_head=3)
    with pytest.raises(ValueError, match="idx"):
        model(idx + 100)
    with pytest.raises(ValueError, match="idx"):
        model(-idx - 1)
    with pytest.raises(ValueError, match="block_size"):
        model(np.zeros((1, 9), int))
    with pytest.raises(ValueError, match="targets"):
        model(idx, targets + 100)
    with pytest.raises(TypeError, match="idx"):
        model(idx.astype(float))
    with pytest.raises(ValueError, match="top_p"):
        model.generate(idx, 2, top_p=0.0)
    with pytest.raises(ValueError, match="top_p"):
        model.generate(idx, 2, top_p=1.5)
    with pytest.raises(ValueError, match="temperature"):
        model.generate(idx, 2, temperature=0.0)
    with pytest.raises(ValueError, match="top_k"):
        model.generate(idx, 2, top_k=0)
    with pytest.raises(ValueError, match="idx"):
        model.generate(idx + 100, 2)
    with pytest.raises(RuntimeError, match="before forward"):
        GPT(model.config).backward()
