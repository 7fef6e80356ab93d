"""Transformer layers vs torch (copied weights, forward and every gradient), RMSNorm,
positional encodings vs their references (RoPE vs complex multiplication), bad input."""

import numpy as np
import pytest
from _testing import central_difference

import fastml.nn as nn
from fastml.nn import functional as F
from fastml.reference import transformer as reference

TOL = {np.float64: 1e-10, np.float32: 1e-4}


def _torch():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    return torch


def _tt(torch, a, grad=False):
    t = torch.from_numpy(np.ascontiguousarray(a))
    return t.requires_grad_(grad)


def _compare_grads(ours, theirs, tol):
    t_params = dict(theirs.named_parameters())
    assert sorted(name for name, _ in ours.named_parameters()) == sorted(t_params)
    for name, p in ours.named_parameters():
        g = t_params[name].grad.numpy()
        np.testing.assert_allclose(p.grad, g, rtol=tol, atol=tol * max(np.abs(g).max(), 1),
                                   err_msg=name)


def _copy(torch, ours, theirs, dtype):
    theirs.to(torch.float64 if dtype == np.float64 else torch.float32)
    rng = np.random.default_rng(5)
    state = {k: v + rng.normal(0, 0.1, v.shape).astype(v.dtype)  # non-trivial biases/norms
             for k, v in ours.state_dict().items()}
    ours.load_state_dict(state)
    theirs.load_state_dict({k: _tt(torch, v) for k, v in state.items()})
    theirs.eval()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("norm_first, batch_first, activation, masks", [
    (False, True, "relu", "none"),
    (True, False, "gelu", "padding"),
    (False, True, "gelu", "causal"),
    (True, True, "relu", "float"),
])
def test_encoder_layer_matches_torch(dtype, norm_first, batch_first, activation, masks):
    torch = _torch()
    B, S, E, H = 3, 5, 8, 2
    kw = dict(dim_feedforward=12, dropout=0.0, activation=activation,
              batch_first=batch_first, norm_first=norm_first)
    ours = nn.TransformerEncoderLayer(E, H, dtype=dtype, random_state=0, **kw)
    theirs = torch.nn.TransformerEncoderLayer(E, H, **kw)
    _copy(torch, ours, theirs, dtype)
    rng = np.random.default_rng(0)
    shape = (B, S, E) if batch_first else (S, B, E)
    x = rng.standard_normal(shape).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    args, t_args = {}, {}
    if masks == "padding":
        pad = np.zeros((B, S), bool)
        pad[1, -2:] = True
        args["src_key_padding_mask"] = pad
        t_args["src_key_padding_mask"] = _tt(torch, pad)
    elif masks == "causal":
        causal = np.triu(np.ones((S, S), bool), 1)
        args.update(src_mask=causal, is_causal=True)
        t_args.update(src_mask=_tt(torch, causal), is_causal=True)
    elif masks == "float":
        bias = rng.standard_normal((B * H, S, S)).astype(dtype)
        args["src_mask"] = bias
        t_args["src_mask"] = _tt(torch, bias)
    y = ours(x, **args)
    tx = _tt(torch, x, grad=True)
    ty = theirs(tx, **t_args)
    tol = TOL[dtype]
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=tol, atol=tol)
    gx = ours.backward(g)
    ty.backward(_tt(torch, g))
    np.testing.assert_allclose(gx, tx.grad.numpy(), rtol=tol, atol=tol)
    _compare_grads(ours, theirs, tol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_matches_torch(dtype, norm_first):
    torch = _torch()
    B, T, S, E, H = 2, 4, 6, 8, 2
    kw = dict(dim_feedforward=10, dropout=0.0, batch_first=True, norm_first=norm_first)
    ours = nn.TransformerDecoderLayer(E, H, dtype=dtype, random_state=0, **kw)
    theirs = torch.nn.TransformerDecoderLayer(E, H, **kw)
    _copy(torch, ours, theirs, dtype)
    rng = np.random.default_rng(1)
    tgt = rng.standard_normal((B, T, E)).astype(dtype)
    mem = rng.standard_normal((B, S, E)).astype(dtype)
    g = rng.standard_normal((B, T, E)).astype(dtype)
    causal = np.triu(np.ones((T, T), bool), 1)
    pad = np.zeros((B, S), bool)
    pad[0, -1] = True
    y = ours(tgt, mem, tgt_mask=causal, memory_key_padding_mask=pad)
    t_tgt, t_mem = _tt(torch, tgt, True), _tt(torch, mem, True)
    ty = theirs(t_tgt, t_mem, tgt_mask=_tt(torch, causal),
                memory_key_padding_mask=_tt(torch, pad))
    tol = TOL[dtype]
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=tol, atol=tol)
    g_tgt, g_mem = ours.backward(g)
    ty.backward(_tt(torch, g))
    np.testing.assert_allclose(g_tgt, t_tgt.grad.numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(g_mem, t_mem.grad.numpy(), rtol=tol, atol=tol)
    _compare_grads(ours, theirs, tol)


def test_encoder_stack_matches_torch():
    torch = _torch()
    B, S, E, H = 2, 5, 8, 2
    layer = nn.TransformerEncoderLayer(E, H, 16, dropout=0.0, batch_first=True,
                                       dtype=np.float64, random_state=0)
    ours = nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(E, dtype=np.float64))
    t_layer = torch.nn.TransformerEncoderLayer(E, H, 16, dropout=0.0, batch_first=True)
    theirs = torch.nn.TransformerEncoder(t_layer, 2, norm=torch.nn.LayerNorm(E),
                                         enable_nested_tensor=False)
    _copy(torch, ours, theirs, np.float64)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((B, S, E))
    g = rng.standard_normal((B, S, E))
    tx = _tt(torch, x, True)
    ty = theirs(tx)
    np.testing.assert_allclose(ours(x), ty.detach().numpy(), rtol=1e-10, atol=1e-10)
    ty.backward(_tt(torch, g))
    np.testing.assert_allclose(ours.backward(g), tx.grad.numpy(), rtol=1e-10, atol=1e-10)
    _compare_grads(ours, theirs, 1e-10)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("eps", [None, 1e-3])
def test_rms_norm_matches_torch(dtype, eps):
    torch = _torch()
    ours = nn.RMSNorm(6, eps=eps, dtype=dtype)
    theirs = torch.nn.RMSNorm(6, eps=eps)
    _copy(torch, ours, theirs, dtype)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 3, 6)).astype(dtype)
    g = rng.standard_normal((4, 3, 6)).astype(dtype)
    tx = _tt(torch, x, True)
    ty = theirs(tx)
    tol = TOL[dtype]
    np.testing.assert_allclose(ours(x), ty.detach().numpy(), rtol=tol, atol=tol)
    ty.backward(_tt(torch, g))
    np.testing.assert_allclose(ours.backward(g), tx.grad.numpy(), rtol=tol, atol=tol)
    _compare_grads(ours, theirs, tol)


def test_positional_encodings_match_references():
    np.testing.assert_allclose(F.sinusoidal_positional_encoding(7, 6, dtype=np.float64),
                               reference.sinusoidal_positional_encoding(7, 6, dtype=np.float64),
                               rtol=1e-12, atol=1e-12)
    assert F.sinusoidal_positional_encoding(3, 5).shape == (3, 5)
    np.testing.assert_allclose(F.alibi_bias(4, 3, 5), reference.alibi_bias(4, 3, 5))
    np.testing.assert_allclose(F.alibi_slopes(8), 2.0 ** (-np.arange(1, 9)))
    assert F.alibi_slopes(6).shape == (6,)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 3, 7, 8))
    cos, sin = F.rotary_frequencies(7, 8, dtype=np.float64)
    np.testing.assert_allclose(F.apply_rotary(x, cos, sin), reference.apply_rotary(x),
                               rtol=1e-12, atol=1e-12)
    cos5, sin5 = F.rotary_frequencies(7, 8, offset=5, dtype=np.float64)
    np.testing.assert_allclose(F.apply_rotary(x, cos5, sin5),
                               reference.apply_rotary(x, np.arange(5, 12)), atol=1e-12)
    # Rotations: the backward is the transpose, and q.k depends on the offset only.
    g = rng.standard_normal(x.shape)
    np.testing.assert_allclose(np.sum(g * F.apply_rotary(x, cos, sin)),
                               np.sum(F.apply_rotary_backward(g, cos, sin) * x), rtol=1e-12)
    q, k = x[0, 0], x[0, 1]
    dots = np.einsum("td,td->t", F.apply_rotary(q, cos, sin), F.apply_rotary(k, cos, sin))
    dots5 = np.einsum("td,td->t", F.apply_rotary(q, cos5, sin5), F.apply_rotary(k, cos5, sin5))
    np.testing.assert_allclose(dots, dots5, rtol=1e-10)


@pytest.mark.parametrize("bias", ["rotary", "alibi"])
def test_packed_attention_rotary_and_alibi_gradients(bias):
    rng = np.random.default_rng(6)
    B, T, E, H = 2, 5, 8, 2
    attn = nn.PackedSelfAttention(E, H, dtype=np.float64, random_state=0)
    x = rng.standard_normal((B, T, E))
    g = rng.standard_normal((B, T, E))
    kw = {"rotary": F.rotary_frequencies(T, E // H, dtype=np.float64)} if bias == "rotary" \
        else {"mask": F.alibi_bias(H, T, dtype=np.float64)}

    def loss():
        return np.sum(g * attn(x, **kw))

    loss()
    attn.zero_grad()
    gx = attn.backward(g)
    # Oracle: the same computation written with the reference pieces.
    W, b = attn.c_attn.weight.data, attn.c_attn.bias.data
    q, k, v = (t.reshape(B, T, H, -1).transpose(0, 2, 1, 3)
               for t in np.split(x @ W.T + b, 3, axis=-1))
    mask = None
    if bias == "rotary":
        q, k = reference.apply_rotary(q), reference.apply_rotary(k)
    else:
        mask = reference.alibi_bias(H, T, dtype=np.float64)
    from fastml.reference.attention import scaled_dot_product_attention

    y = scaled_dot_product_attention(q, k, v, mask=mask, causal=True)
    y = y.transpose(0, 2, 1, 3).reshape(B, T, E) @ attn.c_proj.weight.data.T \
        + attn.c_proj.bias.data
    np.testing.assert_allclose(attn(x, **kw), y, rtol=1e-10, atol=1e-12)
    for i in [(0, 0, 0), (1, 3, 5), (0, 4, 7)]:
        assert abs(central_difference(loss, x, i) - gx[i]) < 1e-6
    grad_w = attn.c_attn.weight.grad
    for i in [(0, 0), (9, 3), (20, 7)]:
        assert abs(central_difference(loss, W, i) - grad_w[i]) < 1e-6


def test_bad_input():
    with pytest.raises(ValueError, match="d_model"):
        nn.TransformerEncoderLayer(10, 3)
    with pytest.raises(ValueError, match="activation"):
        nn.TransformerEncoderLayer(8, 2, activation="swish")
    layer = nn.TransformerEncoderLayer(8, 2, dropout=0.0, batch_first=True)
    x = np.zeros((2, 3, 8), np.float32)
    with pytest.raises(ValueError, match="src_key_padding_mask"):
        layer(x, src_key_padding_mask=np.zeros((2, 4), bool))
    with pytest.raises(ValueError, match="src_mask"):
        layer(x, src_mask=np.zeros((4, 4), bool))
    with pytest.raises(ValueError, match="src"):
        layer(np.zeros((2, 3, 7), np.float32))
    with pytest.raises(ValueError, match="head_dim"):
        F.rotary_frequencies(4, 5)
    with pytest.raises(ValueError, match="cos"):
        F.apply_rotary(np.zeros((4, 6)), *F.rotary_frequencies(3, 6))
    with pytest.raises(ValueError, match="n_embd"):
        nn.PackedSelfAttention(10, 3)


# ---------------------------------------------------------------- BERT
def _bert_config(**kw):
    from fastml.models import BERTConfig

    return BERTConfig(**{**dict(vocab_size=20, hidden_size=8, num_hidden_layers=2,
                                num_attention_heads=2, intermediate_size=12,
                                hidden_dropout_prob=0.0, max_position_embeddings=10,
                                num_labels=3), **kw})


def _check_fd(model, loss, rng, n_params=10):
    """Central differences of one entry in each of ``n_params`` random parameters."""
    model.zero_grad()
    loss()
    model.backward()
    params = list(model.named_parameters())
    for k in rng.choice(len(params), n_params, replace=False):
        name, p = params[k]
        i = int(rng.integers(p.data.size))
        assert abs(central_difference(loss, p.data, i) - p.grad.reshape(-1)[i]) < 1e-6, name


def test_bert_masked_lm_and_classifier_gradients():
    from fastml.models import BERT, BERTForSequenceClassification, mask_tokens

    rng = np.random.default_rng(7)
    model = BERT(_bert_config(), dtype=np.float64, random_state=0)
    ids = rng.integers(5, 20, (3, 6))
    types = rng.integers(0, 2, (3, 6))
    attention = np.ones((3, 6), int)
    attention[1, -2:] = 0
    inputs, labels = mask_tokens(ids, 20, 4, mlm_probability=0.5, seed=0)
    logits, _ = model(inputs, types, attention, labels)
    assert logits.shape == (3, 6, 20)
    # Tied decoder: the logits are the transformed states times the word embeddings.
    assert "cls.bias" in model.state_dict()
    _check_fd(model, lambda: model(inputs, types, attention, labels)[1], rng)

    clf = BERTForSequenceClassification.from_pretrained(model, random_state=1)
    np.testing.assert_array_equal(clf.bert.encoder.layers[0].linear1.weight.data,
                                  model.bert.encoder.layers[0].linear1.weight.data)
    y = np.array([0, 2, 1])
    logits, _ = clf(ids, types, attention, y)
    assert logits.shape == (3, 3)
    _check_fd(clf, lambda: clf(ids, types, attention, y)[1], rng)
    # Padding is invisible: changing a padded token changes no other position.
    changed = ids.copy()
    changed[1, -1] = 7
    h1 = model.bert(ids, types, attention)
    h2 = model.bert(changed, types, attention)
    np.testing.assert_allclose(h1[1, :-2], h2[1, :-2], rtol=1e-12, atol=1e-12)


def test_mask_tokens_proportions():
    from fastml.models import mask_tokens

    V, mask_id = 1000, 3
    rng = np.random.default_rng(8)
    ids = rng.integers(10, V, (400, 500))
    special = np.zeros(ids.shape, bool)
    special[:, 0] = special[:, -1] = True
    inputs, labels = mask_tokens(ids, V, mask_id, special_tokens_mask=special, seed=1)
    selected = labels != -100
    assert not selected[special].any()
    np.testing.assert_array_equal(labels[selected], ids[selected])
    np.testing.assert_array_equal(inputs[~selected], ids[~selected])
    n = int(np.count_nonzero(~special))
    k = int(np.count_nonzero(selected))
    assert abs(k / n - 0.15) < 5 * np.sqrt(0.15 * 0.85 / n)
    # Among selected tokens (a random id equals the mask or the original w.p. 1/V each):
    expected = {"mask": 0.8 + 0.1 / V, "same": 0.1 + 0.1 / V, "other": 0.1 * (V - 2) / V}
    got = {"mask": inputs[selected] == mask_id, "same": inputs[selected] == ids[selected]}
    got["other"] = ~(got["mask"] | got["same"])
    for key, p in expected.items():
        assert abs(got[key].mean() - p) < 5 * np.sqrt(p * (1 - p) / k), key
    again = mask_tokens(ids, V, mask_id, special_tokens_mask=special, seed=1)
    np.testing.assert_array_equal(again[0], inputs)


def test_bert_bad_input():
    from fastml.models import BERT, BERTConfig, mask_tokens

    with pytest.raises(ValueError, match="hidden_size"):
        BERTConfig(hidden_size=10, num_attention_heads=3)
    model = BERT(_bert_config(), random_state=0)
    with pytest.raises(ValueError, match="input_ids"):
        model(np.full((1, 4), 20))
    with pytest.raises(ValueError, match="max_position_embeddings"):
        model(np.zeros((1, 11), int))
    with pytest.raises(ValueError, match="token_type_ids"):
        model(np.zeros((1, 4), int), np.full((1, 4), 2))
    with pytest.raises(ValueError, match="labels"):
        model(np.zeros((1, 4), int), labels=np.full((1, 4), 25))
    with pytest.raises(ValueError, match="input_ids"):
        mask_tokens(np.array([[1, 30]]), 20, 4)
    with pytest.raises(ValueError, match="mask_token_id"):
        mask_tokens(np.array([[1, 3]]), 20, 20)


def test_embedding_padding_idx_matches_torch():
    torch = _torch()
    ours = nn.Embedding(10, 4, padding_idx=2, dtype=np.float64, random_state=0)
    theirs = torch.nn.Embedding(10, 4, padding_idx=2).double()
    theirs.load_state_dict({k: _tt(torch, v) for k, v in ours.state_dict().items()})
    np.testing.assert_array_equal(ours.weight.data[2], 0)
    idx = np.array([[1, 2, 3, 1], [2, 2, 9, 0]])
    g = np.random.default_rng(9).standard_normal((2, 4, 4))
    np.testing.assert_array_equal(ours(idx), theirs(_tt(torch, idx)).detach().numpy())
    theirs(_tt(torch, idx)).backward(_tt(torch, g))
    ours.backward(g)
    np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad.numpy(), rtol=1e-12)
    with pytest.raises(ValueError, match="idx"):
        ours(np.array([10]))
