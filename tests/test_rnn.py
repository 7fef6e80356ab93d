"""RNN / LSTM / GRU and their cells vs PyTorch (oracle), the NumPy reference and finite
differences; packed variable lengths vs ``pack_padded_sequence``; bad input."""

import numpy as np
import pytest
from _testing import central_difference
from hypothesis import given, settings
from hypothesis import strategies as st

import fastml.nn as nn
from fastml.nn import functional as F
from fastml.reference import rnn as reference

torch = pytest.importorskip("torch")

RTOL = {np.float32: 1e-5, np.float64: 1e-10}
TORCH_DTYPE = {np.float32: torch.float32, np.float64: torch.float64}
MODES = ["RNN_TANH", "RNN_RELU", "LSTM", "GRU"]


def assert_close(actual, expected, dtype, name=""):
    """Agreement relative to the largest entry of the expected array."""
    expected = np.asarray(expected)
    scale = max(float(np.max(np.abs(expected), initial=0.0)), 1e-30)
    assert actual.dtype == dtype, name
    np.testing.assert_allclose(actual, expected, rtol=RTOL[dtype], atol=RTOL[dtype] * scale,
                               err_msg=name)


def make_pair(mode, I, H, dtype, **kw):
    """A torch module and the fastml module with its weights (state_dict)."""
    if mode.startswith("RNN"):
        kw["nonlinearity"] = mode[4:].lower()
        tcls, fcls = torch.nn.RNN, nn.RNN
    else:
        tcls, fcls = (torch.nn.LSTM, nn.LSTM) if mode == "LSTM" else (torch.nn.GRU, nn.GRU)
    tm = tcls(I, H, **kw).to(TORCH_DTYPE[dtype])
    fm = fcls(I, H, dtype=dtype, **kw)
    fm.load_state_dict(tm.state_dict())
    return tm, fm


def compare(mode, T=4, B=3, I=3, H=4, dtype=np.float64, lengths=None, with_hx=True,
            seed=0, **kw):
    """Forward and every gradient of fastml vs torch for one configuration."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    tm, fm = make_pair(mode, I, H, dtype, **kw)
    tm.eval()
    fm.eval()
    D = 2 if kw.get("bidirectional") else 1
    K, Hr = kw.get("num_layers", 1) * D, kw.get("proj_size", 0) or H
    bf = kw.get("batch_first", False)
    x = rng.standard_normal((B, T, I) if bf else (T, B, I)).astype(dtype)
    h0 = rng.standard_normal((K, B, Hr)).astype(dtype)
    c0 = rng.standard_normal((K, B, H)).astype(dtype)
    tx = torch.from_numpy(x).requires_grad_()
    th0 = torch.from_numpy(h0).requires_grad_()
    tc0 = torch.from_numpy(c0).requires_grad_()
    thx = ((th0, tc0) if mode == "LSTM" else th0) if with_hx else None
    fhx = ((h0, c0) if mode == "LSTM" else h0) if with_hx else None
    if lengths is not None:
        packed = torch.nn.utils.rnn.pack_padded_sequence(tx, torch.tensor(lengths),
                                                         batch_first=bf, enforce_sorted=False)
        tout, tstate = tm(packed, thx)
        tout = torch.nn.utils.rnn.pad_packed_sequence(tout, batch_first=bf, total_length=T)[0]
    else:
        tout, tstate = tm(tx, thx)
    out, state = fm(x, fhx, lengths=lengths)
    assert_close(out, tout.detach().numpy(), dtype, "output")
    tstates = tstate if mode == "LSTM" else (tstate,)
    fstates = state if mode == "LSTM" else (state,)
    for a, e in zip(fstates, tstates):
        assert_close(a, e.detach().numpy(), dtype, "final state")
    g = rng.standard_normal(out.shape).astype(dtype)
    if lengths is not None:
        g = g * (out != 0)  # torch's padded positions carry no gradient
    gs = [rng.standard_normal(s.shape).astype(dtype) for s in fstates]
    loss = (tout * torch.from_numpy(g)).sum() + sum(
        (s * torch.from_numpy(gi)).sum() for s, gi in zip(tstates, gs))
    loss.backward()
    grads = fm.backward(g, *gs)
    grad_x = grads[0] if with_hx else grads
    assert_close(grad_x, tx.grad.numpy(), dtype, "grad x")
    if with_hx:
        grad_hx = grads[1] if mode == "LSTM" else (grads[1],)
        assert_close(grad_hx[0], th0.grad.numpy(), dtype, "grad h0")
        if mode == "LSTM":
            assert_close(grad_hx[1], tc0.grad.numpy(), dtype, "grad c0")
    tparams = dict(tm.named_parameters())
    assert [n for n, _ in fm.named_parameters()] == list(tparams)
    for name, p in fm.named_parameters():
        assert_close(p.grad, tparams[name].grad.numpy(), dtype, name)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kw", [{}, {"num_layers": 2, "bidirectional": True},
                                {"num_layers": 3, "batch_first": True},
                                {"bias": False, "bidirectional": True, "batch_first": True}])
def test_against_torch(mode, kw, dtype):
    compare(mode, dtype=dtype, **kw)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kw", [{}, {"num_layers": 2, "bidirectional": True},
                                {"batch_first": True, "bidirectional": True}])
def test_lengths_against_packed_torch(mode, kw, dtype):
    compare(mode, T=6, B=4, dtype=dtype, lengths=[3, 6, 1, 4], **kw)


@pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kw", [{"proj_size": 2}, {"proj_size": 3, "num_layers": 2,
                                                   "bidirectional": True}])
def test_proj_size_against_torch(kw, dtype):
    compare("LSTM", dtype=dtype, **kw)
    compare("LSTM", T=5, dtype=dtype, lengths=[5, 2, 4], **kw)


@pytest.mark.parametrize("mode", MODES)
def test_without_hx_and_dropout_in_eval(mode):
    compare(mode, with_hx=False, num_layers=2, dropout=0.5)


@settings(max_examples=15, deadline=None)
@given(mode=st.sampled_from(MODES), T=st.integers(1, 4), B=st.integers(1, 3),
       I=st.integers(1, 4), H=st.integers(1, 4), layers=st.integers(1, 2),
       bidirectional=st.booleans(), packed=st.booleans(), seed=st.integers(0, 99))
def test_sizes_hypothesis(mode, T, B, I, H, layers, bidirectional, packed, seed):
    lengths = list(np.random.default_rng(seed).integers(1, T + 1, B)) if packed else None
    compare(mode, T=T, B=B, I=I, H=H, lengths=lengths, seed=seed, num_layers=layers,
            bidirectional=bidirectional)


@pytest.mark.parametrize("mode", MODES)
def test_unbatched_against_torch(mode):
    torch.manual_seed(1)
    tm, fm = make_pair(mode, 3, 4, np.float64, num_layers=2)
    x = np.random.default_rng(1).standard_normal((5, 3))
    tout, tstate = tm(torch.from_numpy(x))
    out, state = fm(x)
    assert out.shape == (5, 4)
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-10, atol=1e-12)
    h = state[0] if mode == "LSTM" else state
    th = tstate[0] if mode == "LSTM" else tstate
    np.testing.assert_allclose(h, th.detach().numpy(), rtol=1e-10, atol=1e-12)
    assert fm.backward(np.ones_like(out)).shape == x.shape


# ---------------------------------------------------------------- cells
CELLS = [("RNN_TANH", torch.nn.RNNCell, nn.RNNCell, {}),
         ("RNN_RELU", torch.nn.RNNCell, nn.RNNCell, {"nonlinearity": "relu"}),
         ("LSTM", torch.nn.LSTMCell, nn.LSTMCell, {}),
         ("GRU", torch.nn.GRUCell, nn.GRUCell, {})]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("mode, tcls, fcls, kw", CELLS)
def test_cells_against_torch(mode, tcls, fcls, kw, batched, dtype):
    torch.manual_seed(2)
    rng = np.random.default_rng(2)
    tm = tcls(3, 5, **kw).to(TORCH_DTYPE[dtype])
    fm = fcls(3, 5, dtype=dtype, **kw)
    fm.load_state_dict(tm.state_dict())
    shape = (4,) if batched else ()
    x = rng.standard_normal(shape + (3,)).astype(dtype)
    hs = [rng.standard_normal(shape + (5,)).astype(dtype) for _ in range(2)]
    tx = torch.from_numpy(x).requires_grad_()
    ths = [torch.from_numpy(h).requires_grad_() for h in hs]
    if mode == "LSTM":
        tout = tm(tx, tuple(ths))
        out = fm(x, tuple(hs))
    else:
        tout, out = (tm(tx, ths[0]),), (fm(x, hs[0]),)
    gs = [rng.standard_normal(o.shape).astype(dtype) for o in out]
    sum((t * torch.from_numpy(g)).sum() for t, g in zip(tout, gs)).backward()
    for a, e in zip(out, tout):
        assert_close(a, e.detach().numpy(), dtype)
    grad_x, grad_hx = fm.backward(*gs)
    assert_close(grad_x, tx.grad.numpy(), dtype, "grad x")
    grad_hx = grad_hx if mode == "LSTM" else (grad_hx,)
    for a, t in zip(grad_hx, ths):
        assert_close(a, t.grad.numpy(), dtype, "grad hx")
    tparams = dict(tm.named_parameters())
    for name, p in fm.named_parameters():
        assert_close(p.grad, tparams[name].grad.numpy(), dtype, name)


def test_cell_functional_forms():
    rng = np.random.default_rng(3)
    cell = nn.LSTMCell(3, 4, dtype=np.float64, random_state=0)
    x, h, c = rng.standard_normal((2, 3)), rng.standard_normal((2, 4)), rng.standard_normal((2, 4))
    weights = [p.data for p in cell.parameters()]
    for a, e in zip(F.lstm_cell(x, (h, c), *weights), cell(x, (h, c))):
        np.testing.assert_array_equal(a, e)
    for fcell, f in ((nn.GRUCell, F.gru_cell), (nn.RNNCell, F.rnn_tanh_cell)):
        m = fcell(3, 4, dtype=np.float64, random_state=0)
        np.testing.assert_array_equal(f(x, h, *[p.data for p in m.parameters()]), m(x, h))
    m = nn.RNNCell(3, 4, nonlinearity="relu", bias=False, dtype=np.float64, random_state=0)
    np.testing.assert_array_equal(F.rnn_relu_cell(x, h, *[p.data for p in m.parameters()]),
                                  m(x, h))


# ---------------------------------------------------------------- reference, FD
CONFIGS = [dict(num_layers=2, bidirectional=True, lengths=[4, 1, 3]),
           dict(batch_first=True, lengths=[2, 4, 4]), dict(num_layers=1)]


def random_weights(mode, I, H, num_layers, D, proj, rng):
    G = {"LSTM": 4, "GRU": 3}.get(mode, 1)
    Hr = proj or H
    weights = []
    for layer in range(num_layers):
        for _ in range(D):
            weights += [rng.uniform(-0.6, 0.6, (G * H, I if layer == 0 else D * Hr)),
                        rng.uniform(-0.6, 0.6, (G * H, Hr)), rng.uniform(-0.3, 0.3, G * H),
                        rng.uniform(-0.3, 0.3, G * H)]
            if proj:
                weights.append(rng.uniform(-0.6, 0.6, (proj, H)))
    return weights


def functional_case(mode, cfg, proj=0, seed=0):
    rng = np.random.default_rng(seed)
    T, B, I, H = 4, 3, 2, 3
    D = 2 if cfg.get("bidirectional") else 1
    K, Hr = cfg.get("num_layers", 1) * D, proj or H
    weights = random_weights(mode, I, H, cfg.get("num_layers", 1), D, proj, rng)
    x = rng.standard_normal((B, T, I) if cfg.get("batch_first") else (T, B, I))
    h0, c0 = rng.standard_normal((K, B, Hr)), rng.standard_normal((K, B, H))
    hx = (h0, c0) if mode == "LSTM" else h0
    return x, weights, hx, dict(mode=mode, **cfg)


def loss_parts(out, state, rng):
    states = state if isinstance(state, tuple) else (state,)
    gs = [rng.standard_normal(a.shape) for a in (out, *states)]
    return gs, lambda o, s: sum(float(np.sum(g * a)) for g, a in
                                zip(gs, (o, *(s if isinstance(s, tuple) else (s,)))))


@pytest.mark.parametrize("cfg", CONFIGS)
@pytest.mark.parametrize("mode", MODES)
def test_against_reference(mode, cfg):
    x, weights, hx, kw = functional_case(mode, cfg, proj=2 if mode == "LSTM" else 0)
    out, state = F.rnn(x, weights, hx, **kw)
    rout, rstate = reference.rnn(x, weights, hx, **kw)
    np.testing.assert_allclose(out, rout, rtol=1e-12, atol=1e-13)
    gs, _ = loss_parts(out, state, np.random.default_rng(1))
    got = F.rnn_backward(gs[0], x, weights, hx, *gs[1:], **kw)
    want = reference.rnn_backward(gs[0], x, weights, hx, *gs[1:], **kw)
    flat = lambda a: [a] if isinstance(a, np.ndarray) else [b for c in a for b in flat(c)]  # noqa: E731
    for a, e in zip(flat(got), flat(want)):
        np.testing.assert_allclose(a, e, rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("mode", MODES)
def test_gradients_finite_differences(mode):
    cfg = dict(num_layers=2, bidirectional=True, lengths=[4, 2, 3])
    x, weights, hx, kw = functional_case(mode, cfg, proj=2 if mode == "LSTM" else 0, seed=4)
    out, state = F.rnn(x, weights, hx, **kw)
    gs, loss = loss_parts(out, state, np.random.default_rng(5))
    grad_x, grad_hx, grad_w = F.rnn_backward(gs[0], x, weights, hx, *gs[1:], **kw)
    arrays = [x] + list(hx if mode == "LSTM" else (hx,)) + weights
    analytic = [grad_x] + list(grad_hx if mode == "LSTM" else (grad_hx,)) + grad_w
    rng = np.random.default_rng(6)
    eps = 1e-6
    for arr, grad in zip(arrays, analytic):
        for idx in rng.choice(arr.size, size=min(arr.size, 4), replace=False):
            fd = central_difference(lambda: loss(*F.rnn(x, weights, hx, **kw)), arr, int(idx),
                                    eps)
            np.testing.assert_allclose(grad.reshape(-1)[idx], fd, rtol=1e-5, atol=1e-7)


def test_dropout_training_gradient_matches_finite_differences():
    m = nn.GRU(2, 3, num_layers=3, dropout=0.4, dtype=np.float64, random_state=0)
    x = np.random.default_rng(7).standard_normal((4, 2, 2))
    G = np.random.default_rng(8).standard_normal((4, 2, 3))

    def loss():
        m._rng = np.random.default_rng(9)  # the same dropout masks every time
        return float(np.sum(G * m(x)[0]))

    loss()
    m.zero_grad()
    grad_x = m.backward(G)
    eps = 1e-6
    for idx in [(0, 0, 0), (2, 1, 1), (3, 0, 1)]:
        np.testing.assert_allclose(grad_x[idx], central_difference(loss, x, idx, eps),
                                   rtol=1e-5, atol=1e-8)
    m._rng = np.random.default_rng(9)
    out_train = m(x)[0]
    m.eval()
    assert not np.allclose(out_train, m(x)[0])


# ---------------------------------------------------------------- module behaviour
def test_state_dict_both_ways_and_init():
    tm = torch.nn.LSTM(5, 8, num_layers=2, bidirectional=True, proj_size=3)
    fm = nn.LSTM(5, 8, num_layers=2, bidirectional=True, proj_size=3, random_state=0)
    ts, fs = tm.state_dict(), fm.state_dict()
    assert list(ts) == list(fs)
    assert all(tuple(ts[k].shape) == fs[k].shape for k in ts)
    assert all(np.abs(v).max() <= 1 / np.sqrt(8) for v in fs.values())
    tm.load_state_dict({k: torch.from_numpy(v) for k, v in fs.items()})
    fm2 = nn.LSTM(5, 8, num_layers=2, bidirectional=True, proj_size=3)
    fm2.load_state_dict(tm.state_dict())
    for k, v in fm2.state_dict().items():
        np.testing.assert_array_equal(v, fs[k])
    assert repr(fm) == "LSTM(5, 8, num_layers=2, bidirectional=True, proj_size=3)"


def test_dtype_follows_module():
    m = nn.GRU(3, 4, random_state=0)
    x = np.ones((2, 1, 3), np.float32)
    assert m(x)[0].dtype == np.float32
    with pytest.raises(TypeError, match="dtype"):
        m(x.astype(np.float64))
    m.double()
    out, h = m(x.astype(np.float64))
    assert out.dtype == h.dtype == np.float64


def test_backward_returns_hx_grad_only_when_given():
    m = nn.LSTM(3, 4, random_state=0)
    x = np.ones((2, 1, 3), np.float32)
    out, _ = m(x)
    assert isinstance(m.backward(np.ones_like(out)), np.ndarray)
    out, _ = m(x, (np.zeros((1, 1, 4), np.float32), np.zeros((1, 1, 4), np.float32)))
    grad_x, (grad_h, grad_c) = m.backward(np.ones_like(out))
    assert grad_h.shape == grad_c.shape == (1, 1, 4)


def test_lengths_outputs_zero_past_length():
    m = nn.RNN(2, 3, bidirectional=True, batch_first=True, random_state=0)
    x = np.random.default_rng(0).standard_normal((3, 5, 2)).astype(np.float32)
    out, h = m(x, lengths=np.array([5, 2, 4]))
    assert np.all(out[1, 2:] == 0) and np.all(out[2, 4:] == 0)
    # padding never influences the result
    x[1, 2:] = 1e3
    np.testing.assert_array_equal(m(x, lengths=np.array([5, 2, 4]))[0], out)


# ---------------------------------------------------------------- bad input
def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="dropout"):
        nn.LSTM(3, 4, dropout=1.0)
    with pytest.raises(ValueError, match="dropout"):
        nn.GRU(3, 4, dropout=-0.1)
    with pytest.raises(ValueError, match="proj_size"):
        nn.LSTM(3, 4, proj_size=4)
    with pytest.raises(ValueError, match="proj_size"):
        nn.LSTM(3, 4, proj_size=-1)
    with pytest.raises(ValueError, match="nonlinearity"):
        nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="hidden_size"):
        nn.GRU(3, 0)
    with pytest.warns(UserWarning, match="dropout"):
        nn.LSTM(3, 4, dropout=0.5)


def test_bad_forward_arguments():
    m = nn.LSTM(3, 4, num_layers=2)
    x = np.zeros((5, 2, 3), np.float32)
    h = np.zeros((2, 2, 4), np.float32)
    with pytest.raises(ValueError, match="x"):
        m(np.zeros((5, 2, 4), np.float32))
    with pytest.raises(ValueError, match="h0"):
        m(x, (np.zeros((1, 2, 4), np.float32), h))
    with pytest.raises(ValueError, match="c0"):
        m(x, (h, np.zeros((2, 3, 4), np.float32)))
    with pytest.raises(ValueError, match="hx"):
        nn.GRU(3, 4)(x, np.zeros((1, 3, 4), np.float32))
    for bad in ([6, 1], [0, 2], [[1, 2]], [1.0, 2.0], [1, 2, 3]):
        with pytest.raises(ValueError, match="lengths"):
            m(x, lengths=bad)
    with pytest.raises(ValueError, match="grad_out"):
        m(x)
        m.backward(np.zeros((5, 2, 5), np.float32))
    with pytest.raises(ValueError, match="mode"):
        F.rnn(x, [p.data for p in m.parameters()], mode="lstm", num_layers=2)


@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
def test_threaded_time_loop_against_torch(mode):
    """Batches large enough to split the time loop over threads (row ranges per task)."""
    import fastml

    lengths = list(np.random.default_rng(3).integers(1, 6, 40))
    with fastml.threads(2):
        compare(mode, T=5, B=40, I=3, H=24, lengths=lengths, bidirectional=True)
