"""fastml.nn against PyTorch: every layer's forward, input and parameter gradients with
weights copied from torch.nn, running statistics, losses, optimizers and schedules."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastml.nn as nn
import fastml.nn.functional as F

torch = pytest.importorskip("torch")

DTYPES = [np.float32, np.float64]
RTOL = {np.float32: 1e-5, np.float64: 1e-10}
TORCH_DTYPE = {np.float32: torch.float32, np.float64: torch.float64}


def assert_close(actual, expected, dtype, what=""):
    """Relative agreement: |a - e| <= rtol (|e| + max|e|) (scale-aware for near-zeros)."""
    expected = np.asarray(expected, dtype=np.float64)
    actual = np.asarray(actual, dtype=np.float64)
    assert actual.shape == expected.shape, what
    scale = np.max(np.abs(expected)) if expected.size else 0.0
    rtol = RTOL[dtype]
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale, err_msg=what)


def to_numpy(t):
    return t.detach().cpu().numpy()


def run_pair(fast, ref, x, dtype, seed=0, train=True):
    """Copy ref's state into fast, run forward and backward with the same upstream
    gradient, and compare output, input gradient and parameter gradients."""
    ref = ref.to(TORCH_DTYPE[dtype])
    fast.to(dtype)
    fast.load_state_dict(ref.state_dict())
    fast.train(train)
    ref.train(train)
    x = np.asarray(x)
    xt = torch.tensor(x, requires_grad=x.dtype.kind == "f")
    out = fast.forward(x)
    out_t = ref(xt)
    assert out.dtype == dtype
    assert_close(out, to_numpy(out_t), dtype, "forward")
    g = np.random.default_rng(seed).standard_normal(out.shape).astype(dtype)
    fast.zero_grad()
    ref.zero_grad()
    grad_x = fast.backward(g)
    out_t.backward(torch.tensor(g))
    if x.dtype.kind == "f":
        assert grad_x.dtype == dtype
        assert_close(grad_x, to_numpy(xt.grad), dtype, "grad input")
    ref_params = dict(ref.named_parameters())
    assert set(ref_params) == {name for name, _ in fast.named_parameters()}
    for name, p in fast.named_parameters():
        assert_close(p.grad, to_numpy(ref_params[name].grad), dtype, f"grad {name}")
    for name, buf in ref.named_buffers():
        assert_close(fast.state_dict()[name], to_numpy(buf), dtype, f"buffer {name}")
    return fast, ref


def rand(shape, dtype, seed=1):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


# ---------------------------------------------------------------- layers vs torch
LAYERS = {
    "linear": (lambda: nn.Linear(7, 5), lambda: torch.nn.Linear(7, 5), (4, 7)),
    "linear_3d_nobias": (lambda: nn.Linear(7, 3, bias=False),
                         lambda: torch.nn.Linear(7, 3, bias=False), (2, 3, 7)),
    "relu": (nn.ReLU, torch.nn.ReLU, (4, 9)),
    "leaky_relu": (lambda: nn.LeakyReLU(0.2), lambda: torch.nn.LeakyReLU(0.2), (4, 9)),
    "gelu": (nn.GELU, torch.nn.GELU, (5, 11)),
    "gelu_tanh": (lambda: nn.GELU("tanh"), lambda: torch.nn.GELU("tanh"), (5, 11)),
    "tanh": (nn.Tanh, torch.nn.Tanh, (4, 6)),
    "sigmoid": (nn.Sigmoid, torch.nn.Sigmoid, (4, 6)),
    "softmax": (lambda: nn.Softmax(dim=1), lambda: torch.nn.Softmax(dim=1), (3, 5, 2)),
    "layer_norm": (lambda: nn.LayerNorm(6), lambda: torch.nn.LayerNorm(6), (4, 5, 6)),
    "layer_norm_2d": (lambda: nn.LayerNorm((5, 6)), lambda: torch.nn.LayerNorm((5, 6)),
                      (3, 5, 6)),
    "layer_norm_plain": (lambda: nn.LayerNorm(33, elementwise_affine=False),
                         lambda: torch.nn.LayerNorm(33, elementwise_affine=False), (7, 33)),
    "batch_norm_1d": (lambda: nn.BatchNorm1d(5), lambda: torch.nn.BatchNorm1d(5), (8, 5)),
    "batch_norm_1d_ncl": (lambda: nn.BatchNorm1d(4), lambda: torch.nn.BatchNorm1d(4),
                          (6, 4, 3)),
    "batch_norm_2d": (lambda: nn.BatchNorm2d(3), lambda: torch.nn.BatchNorm2d(3),
                      (4, 3, 5, 5)),
    "batch_norm_cumulative": (lambda: nn.BatchNorm1d(5, momentum=None),
                              lambda: torch.nn.BatchNorm1d(5, momentum=None), (8, 5)),
    "batch_norm_no_affine": (lambda: nn.BatchNorm2d(2, affine=False),
                             lambda: torch.nn.BatchNorm2d(2, affine=False), (3, 2, 4, 4)),
    "flatten": (nn.Flatten, torch.nn.Flatten, (2, 3, 4, 5)),
}


def _perturb(ref, seed=2):
    """Non-trivial affine parameters (torch initialises norms to ones / zeros)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in ref.parameters():
            p.add_(0.5 * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    return ref


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_matches_torch(name, dtype):
    make_fast, make_ref, shape = LAYERS[name]
    torch.manual_seed(0)
    fast, ref = run_pair(make_fast(), _perturb(make_ref()), 3 * rand(shape, dtype), dtype)
    if "batch_norm" in name:
        # A second training batch (running statistics move again), then eval mode.
        run_pair(fast, ref, rand(shape, dtype, seed=5) + 1, dtype)
        run_pair(fast, ref, rand(shape, dtype, seed=6), dtype, train=False)


@pytest.mark.parametrize("dtype", DTYPES)
def test_embedding_matches_torch(dtype):
    torch.manual_seed(0)
    ref = torch.nn.Embedding(10, 4, padding_idx=0)
    idx = np.array([[1, 0, 3], [3, 9, 0]])
    fast = nn.Embedding(10, 4, padding_idx=0)
    run_pair(fast, ref, idx, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_mlp_with_residual_matches_torch(dtype):
    class TorchResidual(torch.nn.Module):
        def __init__(self, block, projection=None):
            super().__init__()
            self.block = block
            self.projection = projection

        def forward(self, x):
            return self.block(x) + (x if self.projection is None else self.projection(x))

    torch.manual_seed(0)
    ref = torch.nn.Sequential(
        torch.nn.Linear(6, 8, bias=False), torch.nn.BatchNorm1d(8), torch.nn.GELU(),
        TorchResidual(torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.Tanh())),
        TorchResidual(torch.nn.Linear(8, 4), torch.nn.Linear(8, 4, bias=False)),
        torch.nn.LayerNorm(4), torch.nn.Linear(4, 3))
    fast = nn.Sequential(
        nn.Linear(6, 8, bias=False), nn.BatchNorm1d(8), nn.GELU(),
        nn.Residual(nn.Sequential(nn.Linear(8, 8), nn.Tanh())),
        nn.Residual(nn.Linear(8, 4), nn.Linear(8, 4, bias=False)),
        nn.LayerNorm(4), nn.Linear(4, 3))
    assert list(fast.state_dict()) == list(ref.state_dict())
    run_pair(fast, ref, rand((10, 6), dtype), dtype)


# ---------------------------------------------------------------- losses vs torch
def _loss_pair(fast, ref, x, target, dtype, target_t):
    xt = torch.tensor(x, requires_grad=True)
    loss_t = ref(xt, target_t)
    loss_t.backward()
    loss = fast(x, target)
    assert isinstance(loss, float)
    np.testing.assert_allclose(loss, loss_t.item(), rtol=RTOL[dtype])
    assert_close(fast.backward(), to_numpy(xt.grad), dtype, "grad")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kwargs", [{}, {"label_smoothing": 0.2}, {"reduction": "sum"},
                                    {"ignore_index": 2, "label_smoothing": 0.1}])
def test_cross_entropy_matches_torch(dtype, kwargs):
    x = 4 * rand((9, 5), dtype)
    target = np.random.default_rng(0).integers(0, 5, 9)
    target[[1, 4]] = 2
    _loss_pair(nn.CrossEntropyLoss(**kwargs), torch.nn.CrossEntropyLoss(**kwargs), x,
               target, dtype, torch.tensor(target))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_mse_and_bce_match_torch(dtype, reduction):
    x, y = rand((6, 3), dtype), rand((6, 3), dtype, seed=4)
    _loss_pair(nn.MSELoss(reduction), torch.nn.MSELoss(reduction=reduction), x, y, dtype,
               torch.tensor(y))
    p = (y > 0).astype(dtype)
    pw = np.array([0.5, 2.0, 3.0], dtype)
    for fast, ref in [(nn.BCEWithLogitsLoss(reduction),
                       torch.nn.BCEWithLogitsLoss(reduction=reduction)),
                      (nn.BCEWithLogitsLoss(reduction, pos_weight=pw),
                       torch.nn.BCEWithLogitsLoss(reduction=reduction,
                                                  pos_weight=torch.tensor(pw)))]:
        _loss_pair(fast, ref, 5 * x, p, dtype, torch.tensor(p))


def test_cross_entropy_all_ignored_and_errors():
    x = rand((3, 4), np.float64)
    loss = nn.CrossEntropyLoss(ignore_index=1)
    assert np.isnan(loss(x, np.array([1, 1, 1])))
    assert not loss.backward().any()
    with pytest.raises(ValueError, match=r"target must be in \[0, 4\)"):
        loss(x, np.array([0, 4, 1]))
    with pytest.raises(TypeError, match="integer class indices"):
        loss(x, np.array([0.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match="3 entries"):
        loss(x, np.array([0, 1]))


# ---------------------------------------------------------------- optimizers vs torch
OPTIMIZERS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.05, momentum=0.5, dampening=0.3)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.1)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.02, weight_decay=0.3, eps=1e-6)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,kwargs", OPTIMIZERS)
def test_optimizer_matches_torch_after_10_steps(name, kwargs, dtype):
    torch.manual_seed(0)
    ref = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.Tanh(),
                              torch.nn.Linear(4, 2)).to(TORCH_DTYPE[dtype])
    fast = nn.Sequential(nn.Linear(5, 4), nn.Tanh(), nn.Linear(4, 2)).to(dtype)
    fast.load_state_dict(ref.state_dict())
    opt = getattr(nn, name)(fast.parameters(), **kwargs)
    opt_t = getattr(torch.optim, name)(ref.parameters(), **kwargs)
    loss_fn, loss_t = nn.MSELoss(), torch.nn.MSELoss()
    rng = np.random.default_rng(0)
    for _ in range(10):
        x, y = rng.standard_normal((8, 5)).astype(dtype), rng.standard_normal((8, 2)).astype(dtype)
        opt.zero_grad()
        loss_fn(fast(x), y)
        fast.backward(loss_fn.backward())
        opt.step()
        opt_t.zero_grad()
        loss_t(ref(torch.tensor(x)), torch.tensor(y)).backward()
        opt_t.step()
    for key, value in ref.state_dict().items():
        assert_close(fast.state_dict()[key], to_numpy(value), dtype, key)


def test_optimizer_param_groups_and_errors():
    a, b = nn.Linear(2, 2, dtype=np.float64), nn.Linear(2, 2, dtype=np.float64)
    opt = nn.SGD([{"params": a.parameters()}, {"params": b.parameters(), "lr": 0.0}],
                 lr=1.0)
    for p in a.parameters() + b.parameters():
        p.grad[...] = 1.0
    before = b.weight.data.copy()
    wa = a.weight.data.copy()
    opt.step()
    np.testing.assert_array_equal(b.weight.data, before)
    np.testing.assert_allclose(a.weight.data, wa - 1.0)
    with pytest.raises(ValueError, match="empty parameter list"):
        nn.Adam([])
    with pytest.raises(ValueError, match="lr"):
        nn.Adam(a.parameters(), lr=-1.0)
    with pytest.raises(ValueError, match="Nesterov"):
        nn.SGD(a.parameters(), lr=0.1, nesterov=True)
    with pytest.raises(TypeError, match="Parameters"):
        nn.SGD([np.zeros(3)], lr=0.1)


def _lrs(sched, opt, n=25):
    out = []
    for _ in range(n):
        out.append(sched.get_last_lr()[0])
        opt.step()
        sched.step()
    return out


def test_lr_schedules_match_torch():
    import warnings

    def both(make_fast, make_ref):
        p = nn.Parameter(np.zeros(1))
        pt = torch.nn.Parameter(torch.zeros(1))
        opt, opt_t = nn.SGD([p], lr=0.5), torch.optim.SGD([pt], lr=0.5)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fast_lrs = _lrs(make_fast(opt), opt)
            ref_lrs = _lrs(make_ref(opt_t), opt_t)
        np.testing.assert_allclose(fast_lrs, ref_lrs, rtol=1e-12, atol=1e-15)

    sch = torch.optim.lr_scheduler
    both(lambda o: nn.StepLR(o, 7, gamma=0.5), lambda o: sch.StepLR(o, 7, gamma=0.5))
    both(lambda o: nn.CosineAnnealingLR(o, 20, eta_min=0.01),
         lambda o: sch.CosineAnnealingLR(o, 20, eta_min=0.01))
    both(lambda o: nn.LinearLR(o, 0.1, 1.0, 5), lambda o: sch.LinearLR(o, 0.1, 1.0, 5))
    both(lambda o: nn.SequentialLR(o, [nn.LinearLR(o, 0.2, 1.0, 4),
                                       nn.CosineAnnealingLR(o, 15)], [4]),
         lambda o: sch.SequentialLR(o, [sch.LinearLR(o, 0.2, 1.0, 4),
                                        sch.CosineAnnealingLR(o, 15)], [4]))


# ---------------------------------------------------------------- gradcheck (float64)
GRADCHECK = [
    lambda: nn.Linear(4, 3),
    lambda: nn.GELU(),
    lambda: nn.GELU("tanh"),
    lambda: nn.Sigmoid(),
    lambda: nn.Tanh(),
    lambda: nn.Softmax(),
    lambda: nn.LeakyReLU(0.1),
    lambda: nn.LayerNorm(5),
    lambda: nn.BatchNorm1d(5),
    lambda: nn.Residual(nn.Sequential(nn.Linear(5, 5), nn.Tanh()), nn.Linear(5, 5)),
]


@pytest.mark.parametrize("make", GRADCHECK)
def test_gradcheck_float64(make):
    nn.manual_seed(0)
    module = make().double()
    for p in module.parameters():
        p.data += np.random.default_rng(3).standard_normal(p.shape) * 0.3
    assert nn.gradcheck(module, rand((4, 5), np.float64) if not isinstance(
        module, nn.Linear) else rand((4, 4), np.float64))


def test_gradcheck_catches_a_wrong_backward():
    class Wrong(nn.Tanh):
        def backward(self, grad_out):
            return 1.01 * super().backward(grad_out)

    with pytest.raises(nn.GradcheckError, match="gradient of input"):
        nn.gradcheck(Wrong(), rand((3, 3), np.float64))
    with pytest.raises(TypeError, match="float64 module"):
        nn.gradcheck(nn.Linear(2, 2), rand((3, 2), np.float32))


def test_gradcheck_embedding():
    module = nn.Embedding(6, 3, dtype=np.float64, random_state=0)
    assert nn.gradcheck(module, np.array([[0, 2, 2], [5, 1, 0]]))


# ---------------------------------------------------------------- functional API
@pytest.mark.parametrize("dtype", DTYPES)
def test_functional_backwards_match_torch(dtype):
    x = rand((6, 8), dtype)
    g = rand((6, 8), dtype, seed=7)
    w, b = rand(8, dtype, seed=8), rand(8, dtype, seed=9)
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    torch.nn.functional.layer_norm(xt, (8,), wt, bt).backward(torch.tensor(g))
    for got, want in zip(F.layer_norm_backward(g, x, 8, w, b),
                         (xt.grad, wt.grad, bt.grad)):
        assert_close(got, to_numpy(want), dtype)
    assert F.layer_norm_backward(g, x, 8)[1] is None

    rm, rv = np.zeros(8, dtype), np.ones(8, dtype)
    rmt, rvt = torch.zeros(8, dtype=TORCH_DTYPE[dtype]), torch.ones(8, dtype=TORCH_DTYPE[dtype])
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    torch.nn.functional.batch_norm(xt, rmt, rvt, wt, bt, training=True).backward(
        torch.tensor(g))
    assert_close(F.batch_norm(x, rm, rv, w, b, training=True),
                 to_numpy(torch.nn.functional.batch_norm(
                     torch.tensor(x), None, None, torch.tensor(w), torch.tensor(b),
                     training=True)), dtype)
    assert_close(rm, to_numpy(rmt), dtype)
    assert_close(rv, to_numpy(rvt), dtype)
    for got, want in zip(F.batch_norm_backward(g, x, None, None, w, b, training=True),
                         (xt.grad, wt.grad, bt.grad)):
        assert_close(got, to_numpy(want), dtype)

    lin_w = rand((3, 8), dtype, seed=10)
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(lin_w, requires_grad=True)
    gy = rand((6, 3), dtype, seed=11)
    torch.nn.functional.linear(xt, wt).backward(torch.tensor(gy))
    gx, gw, gb = F.linear_backward(gy, x, lin_w, has_bias=False)
    assert gb is None
    assert_close(gx, to_numpy(xt.grad), dtype)
    assert_close(gw, to_numpy(wt.grad), dtype)
    assert_close(F.log_softmax(x, dim=0),
                 to_numpy(torch.log_softmax(torch.tensor(x), dim=0)), dtype)


def test_functional_validation_and_edge_cases():
    w = rand((3, 4), np.float32)
    with pytest.raises(ValueError, match="4 features"):
        F.linear(rand((2, 5), np.float32), w)
    with pytest.raises(TypeError, match="dtype float64 but weight has dtype float32"):
        F.linear(rand((2, 4), np.float64), w)
    with pytest.raises(ValueError, match="approximate"):
        F.gelu(np.zeros(3), approximate="fast")
    with pytest.raises(ValueError, match="normalized shape"):
        F.layer_norm(np.zeros((2, 3)), 4)
    with pytest.raises(ValueError, match="more than one value per channel"):
        F.batch_norm(np.zeros((1, 3)), None, None, training=True)
    with pytest.raises(ValueError, match="reduction"):
        F.mse_loss(np.zeros(2), np.zeros(2), reduction="none")
    # Empty batches and integer input (upcast to float64).
    assert F.linear(np.zeros((0, 4), np.float32), w, np.ones(3, np.float32)).shape == (0, 3)
    gx, gw, gb = F.linear_backward(np.zeros((0, 3), np.float32), np.zeros((0, 4), np.float32), w)
    assert gx.shape == (0, 4) and not gw.any() and not gb.any()
    assert F.layer_norm(np.zeros((0, 5)), 5).shape == (0, 5)
    assert F.gelu(np.arange(3)).dtype == np.float64
    assert F.relu(np.array([], np.float32)).dtype == np.float32
    # NaN propagates (as torch) instead of being rejected.
    assert np.isnan(F.gelu(np.array([np.nan, 1.0]))[0])
    assert np.isnan(F.cross_entropy(np.array([[np.nan, 0.0]]), np.array([1])))


# ---------------------------------------------------------------- modules: API and errors
def test_module_errors():
    lin = nn.Linear(4, 2)
    with pytest.raises(RuntimeError, match="backward called before forward"):
        lin.backward(np.zeros((1, 2), np.float32))
    with pytest.raises(ValueError, match=r"input of shape \(\.\.\., 4\)"):
        lin(np.zeros((3, 5), np.float32))
    with pytest.raises(TypeError, match="parameters are float32"):
        lin(np.zeros((3, 4)))
    lin(np.zeros((3, 4), np.float32))
    with pytest.raises(ValueError, match="forward output's shape"):
        lin.backward(np.zeros((3, 3), np.float32))
    for module in (nn.ReLU(), nn.LayerNorm(3), nn.BatchNorm1d(3), nn.Dropout(),
                   nn.CrossEntropyLoss(), nn.Embedding(3, 2)):
        with pytest.raises(RuntimeError, match="before forward"):
            module.backward(np.zeros(3, np.float32))
    with pytest.raises(ValueError, match="3 channels"):
        nn.BatchNorm2d(3)(np.zeros((2, 4, 2, 2), np.float32))
    with pytest.raises(ValueError, match=r"idx must be in \[0, 3\)"):
        nn.Embedding(3, 2)(np.array([3]))
    with pytest.raises(TypeError, match="integer indices"):
        nn.Embedding(3, 2)(np.array([1.0]))
    with pytest.raises(ValueError, match="projection"):
        nn.Residual(nn.Linear(4, 3))(np.zeros((2, 4), np.float32))
    with pytest.raises(TypeError, match="Modules"):
        nn.Sequential(nn.ReLU(), np.zeros(2))


def test_state_dict_round_trip_and_errors():
    nn.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    names = list(model.state_dict())
    assert names == ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean",
                     "1.running_var", "1.num_batches_tracked", "2.weight", "2.bias"]
    other = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    weight = other[0].weight.data
    other.load_state_dict(model.state_dict())
    assert other[0].weight.data is weight   # written in place: optimizer views survive
    x = rand((5, 3), np.float32)
    np.testing.assert_array_equal(other.eval()(x), model.eval()(x))
    state = model.state_dict()
    state["0.weight"] = np.zeros((4, 4))
    with pytest.raises(ValueError, match=r"'0.weight'\] has shape \(4, 4\)"):
        other.load_state_dict(state)
    del state["0.weight"]
    with pytest.raises(KeyError, match="missing keys"):
        other.load_state_dict(state)
    other.load_state_dict(state, strict=False)
    assert set(model.grads()) == {name for name, _ in model.named_parameters()}
    assert model.to(np.float64).dtype == np.float64
    assert model[1].running_mean.dtype == np.float64
    assert "Linear(in_features=3, out_features=4, bias=True)" in repr(model)


def test_dropout_statistics_and_mask_reuse():
    x = np.ones((200, 100), np.float32)
    drop = nn.Dropout(0.3, random_state=0)
    y = drop(x)
    kept = y != 0
    # Fraction kept ~ Binomial(20000, 0.7): 5 standard errors.
    assert abs(kept.mean() - 0.7) < 5 * np.sqrt(0.7 * 0.3 / x.size)
    np.testing.assert_allclose(y[kept], 1 / 0.7, rtol=1e-6)
    g = rand(x.shape, np.float32)
    np.testing.assert_array_equal(drop.backward(g), g * y)   # x = 1: y is the mask
    np.testing.assert_array_equal(nn.Dropout(0.3, random_state=0)(x), y)
    drop.eval()
    np.testing.assert_array_equal(drop(x), x)
    assert not F.dropout(x, p=1.0).any()
    with pytest.raises(ValueError, match="p == 1.5"):
        nn.Dropout(1.5)


def test_init_matches_torch_formulas():
    for args in [("relu",), ("tanh",), ("leaky_relu", 0.2), ("sigmoid",), ("selu",)]:
        assert nn.init.calculate_gain(*args) == pytest.approx(
            torch.nn.init.calculate_gain(*args))
    w = np.empty((300, 200, 3))   # fan_in 600, fan_out 900
    n = w.size
    cases = [
        (lambda a: nn.init.xavier_uniform_(a, random_state=0), np.sqrt(2 / 1500), True),
        (lambda a: nn.init.xavier_normal_(a, gain=2.0, random_state=0),
         2 * np.sqrt(2 / 1500), False),
        (lambda a: nn.init.kaiming_uniform_(a, nonlinearity="relu", random_state=0),
         np.sqrt(2 / 600), True),
        (lambda a: nn.init.kaiming_normal_(a, mode="fan_out", random_state=0),
         np.sqrt(2 / (1 + 0.01**2)) / np.sqrt(900), False),
    ]
    for fill, std, uniform in cases:
        fill(w)
        # The sample variance has relative standard error sqrt(2/n) (normal) or
        # sqrt(0.8/n) (uniform): allow 5 of them.
        assert abs(w.var() / std**2 - 1) < 5 * np.sqrt(2 / n)
        if uniform:
            assert np.abs(w).max() <= np.sqrt(3) * std
    p = nn.Parameter(np.zeros((2, 3)))
    assert nn.init.ones_(p) is p and (p.data == 1).all()
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        nn.init.xavier_uniform_(np.zeros(3))


def test_linear_default_init_is_torch_like():
    lin = nn.Linear(100, 50, random_state=0)
    bound = 1 / np.sqrt(100)
    assert lin.weight.dtype == np.float32 and lin.weight.shape == (50, 100)
    assert np.abs(lin.weight.data).max() <= bound
    assert np.abs(lin.weight.data).max() > 0.95 * bound
    np.testing.assert_array_equal(nn.Linear(100, 50, random_state=0).weight.data,
                                  lin.weight.data)


def test_perceptron_converges_on_separable_data():
    Perceptron = getattr(pytest.importorskip("fastml.linear_model"), "Perceptron", None)
    if Perceptron is None:
        pytest.skip("fastml.linear_model.Perceptron is not available yet")
    assert nn.Perceptron is Perceptron
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 2))
    y = (X @ np.array([1.0, -2.0]) + 0.3 > 0).astype(int)
    X += 0.2 * np.where(y[:, None] == 1, 1, -1) * np.array([1.0, -2.0]) / np.sqrt(5)
    clf = Perceptron(max_iter=1000, tol=None, random_state=0).fit(X, y)
    assert clf.score(X, y) == 1.0


# ---------------------------------------------------------------- convolution modules
def _require(*names):
    missing = [n for n in names if not hasattr(F, n)]
    if missing:
        pytest.skip(f"fastml.nn.functional lacks {missing} (convolution issue)")


@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d_and_pools_match_torch(dtype):
    _require("conv2d", "conv2d_backward", "max_pool2d", "max_pool2d_backward",
             "avg_pool2d", "avg_pool2d_backward")
    torch.manual_seed(0)
    x = rand((2, 4, 9, 9), dtype)
    run_pair(nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2),
             torch.nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2), x, dtype)
    run_pair(nn.Conv2d(4, 3, (3, 2), dilation=2, bias=False),
             torch.nn.Conv2d(4, 3, (3, 2), dilation=2, bias=False), x, dtype)
    run_pair(nn.MaxPool2d(2), torch.nn.MaxPool2d(2), x, dtype)
    run_pair(nn.AvgPool2d(3, stride=2, padding=1), torch.nn.AvgPool2d(3, 2, 1), x, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_conv1d_matches_torch(dtype):
    _require("conv1d", "conv1d_backward")
    torch.manual_seed(0)
    run_pair(nn.Conv1d(3, 5, 3, padding=2, dilation=2), torch.nn.Conv1d(3, 5, 3, padding=2,
                                                                        dilation=2),
             rand((2, 3, 11), dtype), dtype)


# ---------------------------------------------------------------- float32 accuracy, reference
@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_float32_accuracy_over_a_wide_range(approximate):
    """The vectorised float32 exp / normal-CDF keep relative accuracy in both tails."""
    x = np.linspace(-5, 12, 20001).astype(np.float32)
    exact = to_numpy(torch.nn.functional.gelu(torch.tensor(x, dtype=torch.float64),
                                              approximate=approximate))
    got = F.gelu(x, approximate).astype(np.float64)
    np.testing.assert_allclose(got, exact, rtol=1e-5, atol=1e-30)
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    torch.nn.functional.gelu(xt, approximate=approximate).sum().backward()
    grad = F.gelu_backward(np.ones_like(x), x, approximate)
    np.testing.assert_allclose(grad, to_numpy(xt.grad), rtol=1e-4, atol=1e-6)


def test_nan_propagates_through_kernels():
    x = np.array([[np.nan, 1.0, -2.0], [0.5, 0.0, 3.0]], np.float32)
    assert np.isnan(F.relu(x)[0, 0]) and F.relu(x)[0, 2] == 0
    assert np.isnan(F.layer_norm(x, 3)[0]).all() and not np.isnan(F.layer_norm(x, 3)[1]).any()
    assert np.isnan(F.cross_entropy(x, np.array([1, 2]), reduction="sum"))
    # -inf logits are a probability of zero, not an error.
    z = np.array([[0.0, -np.inf, 1.0]], np.float32)
    expected = np.log1p(np.exp(-1.0))
    np.testing.assert_allclose(F.cross_entropy(z, np.array([2])), expected, rtol=1e-6)


@pytest.mark.parametrize("shape", [(7, 4), (5, 3, 2, 2)])
def test_reference_matches_fastml(shape):
    from fastml.reference import nn as ref

    x = rand(shape, np.float64)
    g = rand(shape, np.float64, seed=3)
    c = shape[1]
    w, b = rand(c, np.float64, seed=4), rand(c, np.float64, seed=5)
    y, cache = ref.batch_norm_forward(x, w, b)
    np.testing.assert_allclose(y, F.batch_norm(x, None, None, w, b, training=True),
                               rtol=1e-12, atol=1e-12)
    for got, want in zip(ref.batch_norm_backward(g, cache),
                         F.batch_norm_backward(g, x, None, None, w, b, training=True)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    W = rand((3, shape[-1]), np.float64, seed=6)
    out, cache = ref.linear_forward(x, W, np.zeros(3))
    gy = rand(out.shape, np.float64, seed=7)
    for got, want in zip(ref.linear_backward(gy.reshape(-1, 3), (x.reshape(-1, shape[-1]), W)),
                         F.linear_backward(gy.reshape(-1, 3), x.reshape(-1, shape[-1]), W)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_gradcheck_conv_block_float64():
    _require("conv2d", "conv2d_backward", "max_pool2d", "max_pool2d_backward")
    nn.manual_seed(0)
    block = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.BatchNorm2d(3), nn.Tanh(),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(12, 2)).double()
    assert nn.gradcheck(block, rand((2, 2, 4, 4), np.float64))


def test_adam_rejects_parameters_changed_after_creation():
    model = nn.Linear(3, 2)
    opt = nn.Adam(model.parameters())
    opt.step()
    model.to(np.float64)
    with pytest.raises(TypeError, match="after the optimizer was created"):
        opt.step()


def test_threaded_kernels_match_single_thread():
    """Sizes above the kernels' parallel thresholds: per-thread partial sums and GEMM
    blocks give the single-thread answer (float64, so only summation order differs)."""
    import fastml

    rng = np.random.default_rng(0)
    x = rng.standard_normal((600, 256))
    g = rng.standard_normal((600, 256))
    w, b = rng.standard_normal(256), rng.standard_normal(256)
    x3 = rng.standard_normal((64, 8, 300))
    g3 = rng.standard_normal((64, 8, 300))
    W = rng.standard_normal((192, 256))
    t = rng.integers(0, 256, 600)

    def run():
        out = [*F.layer_norm_backward(g, x, 256, w, b),
               *F.batch_norm_backward(g, x, None, None, w, b, training=True),
               *F.batch_norm_backward(g3, x3, None, None, training=True)[:1],
               F.gelu_backward(g, x), F.relu(x), F.cross_entropy_backward(x, t),
               *F.linear_backward(rng2.standard_normal((600, 192)), x, W)]
        p = nn.Parameter(x)
        p.grad[...] = g
        nn.Adam([p], lr=0.1).step()
        return out + [p.data]

    rng2 = np.random.default_rng(1)
    with fastml.threads(1):
        single = run()
    rng2 = np.random.default_rng(1)
    with fastml.threads(2):
        threaded = run()
    for a, e in zip(threaded, single):
        np.testing.assert_allclose(a, e, rtol=1e-10, atol=1e-10)


@pytest.mark.filterwarnings("ignore:Initializing zero-element tensors")
@pytest.mark.parametrize("n_in,n_out,batch", [(0, 3, 2), (4, 0, 2), (4, 3, 0), (4, 2, None)])
def test_linear_degenerate_shapes_match_torch(n_in, n_out, batch):
    shape = (n_in,) if batch is None else (batch, n_in)
    torch.manual_seed(0)
    run_pair(nn.Linear(n_in, n_out), torch.nn.Linear(n_in, n_out),
             rand(shape, np.float64), np.float64)


# ---------------------------------------------------------------- property tests (shapes)
@settings(max_examples=20, deadline=None)
@given(rows=st.integers(1, 40), d=st.integers(1, 70), seed=st.integers(0, 2**16))
def test_layer_norm_and_cross_entropy_any_shape(rows, d, seed):
    from fastml.reference import nn as ref

    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, d)) * rng.uniform(0.1, 10)
    g = rng.standard_normal((rows, d))
    w, b = rng.standard_normal(d), rng.standard_normal(d)
    y, cache = ref.layer_norm_forward(x, w, b)
    np.testing.assert_allclose(F.layer_norm(x, d, w, b), y, rtol=1e-9, atol=1e-9)
    for got, want in zip(F.layer_norm_backward(g, x, d, w, b), ref.layer_norm_backward(g, cache)):
        np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-8)
    t = rng.integers(0, d, rows)
    loss, ce_cache = ref.cross_entropy_forward(x, t)
    np.testing.assert_allclose(F.cross_entropy(x, t), loss, rtol=1e-10)
    np.testing.assert_allclose(F.cross_entropy_backward(x, t), ref.cross_entropy_backward(ce_cache),
                               rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf")])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal(s) for s in [(3, 4), (5,)]]
    params = [nn.Parameter(np.zeros(g.shape)) for g in grads]
    tparams = [torch.nn.Parameter(torch.zeros(g.shape, dtype=torch.float64)) for g in grads]
    for p, tp, g in zip(params, tparams, grads):
        p.grad[...] = g
        tp.grad = torch.tensor(g)
    total = nn.clip_grad_norm_(params, max_norm, norm_type)
    total_t = torch.nn.utils.clip_grad_norm_(tparams, max_norm, norm_type)
    np.testing.assert_allclose(total, total_t.item(), rtol=1e-12)
    for p, tp in zip(params, tparams):
        np.testing.assert_allclose(p.grad, to_numpy(tp.grad), rtol=1e-12)


def test_linear_without_blas_pinning_falls_back_to_one_blas_call(monkeypatch):
    """If the kernels' BLAS cannot be pinned to one thread, GEMMs are not split."""
    from fastml import _threads
    from fastml.nn.functional import _core

    monkeypatch.setattr(_threads, "_SCIPY_BLAS", [None])
    with _core._gemm_threads() as n_threads:
        assert n_threads == 1
    x, w = rand((300, 64), np.float64), rand((40, 64), np.float64, seed=2)
    np.testing.assert_allclose(F.linear(x, w), x @ w.T, rtol=1e-12)


@pytest.mark.parametrize("name,kwargs", [("Adam", dict(lr=0.01, weight_decay=0.1)),
                                         ("AdamW", dict(lr=0.02)),
                                         ("SGD", dict(lr=0.05, momentum=0.9))])
def test_optimizer_state_dict_resumes_torch_training(name, kwargs):
    """Train 3 steps in torch, hand weights and optimizer state to fastml, train 3 more
    steps in both: same parameters (and a fastml round trip gives the same state)."""
    torch.manual_seed(0)
    ref = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.Tanh(),
                              torch.nn.Linear(4, 2)).double()
    fast = nn.Sequential(nn.Linear(5, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    opt_t = getattr(torch.optim, name)(ref.parameters(), **kwargs)
    rng = np.random.default_rng(0)
    batches = [(rng.standard_normal((8, 5)), rng.standard_normal((8, 2))) for _ in range(6)]
    loss_t = torch.nn.MSELoss()
    for i, (x, y) in enumerate(batches):
        if i == 3:
            fast.load_state_dict(ref.state_dict())
            opt = getattr(nn, name)(fast.parameters(), lr=1.0)
            opt.load_state_dict(opt_t.state_dict())
            assert opt.param_groups[0]["lr"] == kwargs["lr"]
        if i >= 3:
            loss_fn = nn.MSELoss()
            opt.zero_grad()
            loss_fn(fast(x), y)
            fast.backward(loss_fn.backward())
            opt.step()
        opt_t.zero_grad()
        loss_t(ref(torch.tensor(x)), torch.tensor(y)).backward()
        opt_t.step()
    for key, value in ref.state_dict().items():
        assert_close(fast.state_dict()[key], to_numpy(value), np.float64, key)
    copy = getattr(nn, name)(fast.parameters())
    copy.load_state_dict(opt.state_dict())
    for (i, a), (j, b) in zip(copy.state_dict()["state"].items(),
                              opt.state_dict()["state"].items()):
        assert i == j and a.keys() == b.keys()
        for k in a:
            np.testing.assert_array_equal(a[k], b[k])


@pytest.mark.parametrize("dtype", DTYPES)
def test_multihead_attention_matches_torch(dtype):
    _require("multi_head_attention", "multi_head_attention_backward")

    class TorchSelf(torch.nn.MultiheadAttention):
        def forward(self, x):
            return super().forward(x, x, x, need_weights=False)[0]

    torch.manual_seed(0)
    ref = TorchSelf(8, 2, batch_first=True)
    run_pair(nn.MultiheadAttention(8, 2), _perturb(ref), rand((3, 5, 8), dtype), dtype)


def test_multihead_attention_cross_and_causal_float64():
    _require("multi_head_attention", "multi_head_attention_backward")
    torch.manual_seed(0)
    ref = torch.nn.MultiheadAttention(6, 3, batch_first=True).double()
    fast = nn.MultiheadAttention(6, 3, causal=True).double()
    fast.load_state_dict(_perturb(ref).state_dict())
    x, kv = rand((2, 4, 6), np.float64), rand((2, 4, 6), np.float64, seed=3)
    xt, kvt = torch.tensor(x, requires_grad=True), torch.tensor(kv, requires_grad=True)
    causal = torch.triu(torch.ones(4, 4, dtype=torch.bool), 1)
    out_t = ref(xt, kvt, kvt, need_weights=False, attn_mask=causal)[0]
    out = fast(x, kv)
    assert_close(out, to_numpy(out_t), np.float64)
    g = rand(out.shape, np.float64, seed=4)
    out_t.backward(torch.tensor(g))
    gx, gkv = fast.backward(g)
    assert_close(gx, to_numpy(xt.grad), np.float64)
    assert_close(gkv, to_numpy(kvt.grad), np.float64)
    grads = dict(ref.named_parameters())
    for name, p in fast.named_parameters():
        assert_close(p.grad, to_numpy(grads[name].grad), np.float64, name)
    with pytest.raises(ValueError, match="divisible"):
        nn.MultiheadAttention(6, 4)
