"""nn suite: training steps (forward + backward + Adam) of an MLP and a small CNN, and
the fused kernels (LayerNorm, softmax cross-entropy, GELU, Adam) alone, float32,
vs PyTorch CPU (same thread count) and the NumPy reference."""

import numpy as np

import fastml
from fastml import nn
from fastml.benchmarks import Case, Impl, register
from fastml.nn.functional import _core
from fastml.reference import nn as reference


def _torch():
    import torch

    torch.set_num_threads(fastml.get_num_threads())
    return torch


def _to_torch(inputs, keys):
    torch = _torch()
    return {k: (torch.from_numpy(v) if k in keys else v) for k, v in inputs.items()}


def _close_scalar(rtol):
    def check(expected, actual, size):
        np.testing.assert_allclose(float(actual), float(expected), rtol=rtol)
    return check


# ---------------------------------------------------------------- MLP training step
def _mlp_sizes(size):
    batch, n_in, hidden = size
    return [n_in, hidden, hidden, 10], batch


def _mlp_setup(size, rng):
    sizes, batch = _mlp_sizes(size)
    return {"x": rng.standard_normal((batch, sizes[0])).astype(np.float32),
            "t": rng.integers(0, 10, batch),
            "params": reference.mlp_init(sizes, rng)}


def _mlp_flops(size):
    sizes, batch = _mlp_sizes(size)
    return 6 * batch * sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))


def _mlp_state(params):
    return {f"{2 * (i // 2)}.{'weight' if i % 2 == 0 else 'bias'}": p
            for i, p in enumerate(params)}


def _fastml_mlp_prepare(inputs):
    sizes = [p.shape[1] for p in inputs["params"][::2]] + [10]
    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(n_in, n_out), nn.ReLU()]
    model = nn.Sequential(*layers[:-1])
    model.load_state_dict(_mlp_state(inputs["params"]))
    return {"x": inputs["x"], "t": inputs["t"], "model": model,
            "loss_fn": nn.CrossEntropyLoss(), "opt": nn.Adam(model.parameters(), lr=1e-3)}


def _fastml_step(x, t, model, loss_fn, opt):
    loss = loss_fn(model(x), t)
    opt.zero_grad()
    model.backward(loss_fn.backward())
    opt.step()
    return loss


def _torch_mlp_prepare(inputs):
    torch = _torch()
    sizes = [p.shape[1] for p in inputs["params"][::2]] + [10]
    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layers += [torch.nn.Linear(n_in, n_out), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1])
    model.load_state_dict({k: torch.from_numpy(v) for k, v in
                           _mlp_state(inputs["params"]).items()})
    return {"x": torch.from_numpy(inputs["x"]), "t": torch.from_numpy(inputs["t"]),
            "model": model, "loss_fn": torch.nn.CrossEntropyLoss(),
            "opt": torch.optim.Adam(model.parameters(), lr=1e-3)}


def _torch_step(x, t, model, loss_fn, opt):
    opt.zero_grad()
    loss = loss_fn(model(x), t)
    loss.backward()
    opt.step()
    return loss.item()


def _reference_mlp_prepare(inputs):
    return {**inputs, "params": [p.copy() for p in inputs["params"]], "state": {}}


register(Case(
    suite="nn", name="mlp_train_step",
    description="One training step (forward, backward, Adam) of an MLP in-H-H-10 with "
                "ReLU and softmax cross-entropy, float32; size = (batch, in, H). Compares "
                "the loss of the first step.",
    setup=_mlp_setup,
    sizes=[(256, 784, 512)], quick_sizes=[(32, 196, 128)], test_sizes=[(4, 16, 8)],
    flops=_mlp_flops, check=_close_scalar(1e-4),
    size_key=lambda s: s[0],
    impls=[
        Impl("fastml", _fastml_step, prepare=_fastml_mlp_prepare),
        Impl("reference", lambda x, t, params, state: reference.mlp_train_step(
            params, x, t, state), prepare=_reference_mlp_prepare),
        Impl("torch", _torch_step, prepare=_torch_mlp_prepare, requires=("torch",)),
    ],
))


# ---------------------------------------------------------------- small CNN training step
def _cnn_fastml(width, hw):
    def conv_bn(c_in, c_out, relu=True):
        layers = [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out)]
        return layers + [nn.ReLU()] if relu else layers

    return nn.Sequential(
        *conv_bn(1, width),
        nn.Residual(nn.Sequential(*conv_bn(width, width), *conv_bn(width, width, False))),
        nn.ReLU(), nn.MaxPool2d(2), *conv_bn(width, 2 * width), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(2 * width * (hw // 4) ** 2, 10))


def _cnn_torch(width, hw):
    torch = _torch()
    tnn = torch.nn

    class Residual(tnn.Module):
        def __init__(self, block):
            super().__init__()
            self.block = block

        def forward(self, x):
            return self.block(x) + x

    def conv_bn(c_in, c_out, relu=True):
        layers = [tnn.Conv2d(c_in, c_out, 3, padding=1, bias=False), tnn.BatchNorm2d(c_out)]
        return layers + [tnn.ReLU()] if relu else layers

    return tnn.Sequential(
        *conv_bn(1, width),
        Residual(tnn.Sequential(*conv_bn(width, width), *conv_bn(width, width, False))),
        tnn.ReLU(), tnn.MaxPool2d(2), *conv_bn(width, 2 * width), tnn.MaxPool2d(2),
        tnn.Flatten(), tnn.Linear(2 * width * (hw // 4) ** 2, 10))


def _cnn_setup(size, rng):
    batch, width, hw = size
    model = _cnn_fastml(width, hw)
    for _, p in model.named_parameters():   # seeded weights shared by every implementation
        p.data[...] = rng.uniform(-0.3, 0.3, p.shape)
    return {"x": rng.standard_normal((batch, 1, hw, hw)).astype(np.float32),
            "t": rng.integers(0, 10, batch), "state": model.state_dict(),
            "width": width}


def _fastml_cnn_prepare(inputs):
    hw = inputs["x"].shape[-1]
    model = _cnn_fastml(inputs["width"], hw).load_state_dict(inputs["state"])
    return {"x": inputs["x"], "t": inputs["t"], "model": model,
            "loss_fn": nn.CrossEntropyLoss(), "opt": nn.Adam(model.parameters(), lr=1e-3)}


def _torch_cnn_prepare(inputs):
    torch = _torch()
    hw = inputs["x"].shape[-1]
    model = _cnn_torch(inputs["width"], hw)
    model.load_state_dict({k: torch.from_numpy(np.asarray(v))
                           for k, v in inputs["state"].items()})
    return {"x": torch.from_numpy(inputs["x"]), "t": torch.from_numpy(inputs["t"]),
            "model": model, "loss_fn": torch.nn.CrossEntropyLoss(),
            "opt": torch.optim.Adam(model.parameters(), lr=1e-3)}


def _reference_cnn_prepare(inputs):
    params = {k: np.array(v, dtype=np.float64) for k, v in inputs["state"].items()
              if k.endswith(("weight", "bias"))}
    return {"x": inputs["x"].astype(np.float64), "t": inputs["t"], "params": params,
            "state": {}}


def _cnn_flops(size):
    batch, w, hw = size
    convs = hw * hw * (w * 9 + 2 * w * w * 9) + (hw // 2) ** 2 * 2 * w * w * 9
    return 6 * batch * convs


register(Case(
    suite="nn", name="cnn_train_step",
    description="One training step (forward, backward, Adam) of a small CNN: conv-BN-ReLU,"
                " residual block, max-pool, conv-BN-ReLU, max-pool, linear; input "
                "(batch, 1, hw, hw), float32; size = (batch, width, hw). Compares the loss.",
    setup=_cnn_setup,
    sizes=[(8, 16, 28), (64, 16, 28)], quick_sizes=[(8, 8, 14)], test_sizes=[(3, 4, 8)],
    flops=_cnn_flops, check=_close_scalar(1e-4), size_key=lambda s: s[0],
    impls=[
        Impl("fastml", _fastml_step, prepare=_fastml_cnn_prepare),
        Impl("reference", lambda x, t, params, state: reference.small_cnn_train_step(
            params, x, t, state), prepare=_reference_cnn_prepare, max_size=8),
        Impl("torch", _torch_step, prepare=_torch_cnn_prepare, requires=("torch",)),
    ],
))


# ---------------------------------------------------------------- fused kernels alone
def _rows_setup(size, rng):
    n, d = size
    return {"x": rng.standard_normal((n, d)).astype(np.float32),
            "w": (1 + 0.1 * rng.standard_normal(d)).astype(np.float32),
            "b": (0.1 * rng.standard_normal(d)).astype(np.float32)}


def _torch_layer_norm(x, w, b):
    return _torch().nn.functional.layer_norm(x, (x.shape[1],), w, b)


register(Case(
    suite="nn", name="layer_norm",
    description="LayerNorm forward over the last axis, float32; size = (rows, features).",
    setup=_rows_setup,
    sizes=[(8192, 1024)], quick_sizes=[(512, 256)], test_sizes=[(1, 1), (5, 33)],
    flops=lambda s: 8 * s[0] * s[1], rtol=1e-4, atol=1e-5,
    impls=[
        Impl("fastml", lambda x, w, b: nn.functional.layer_norm(x, x.shape[1], w, b)),
        Impl("reference", lambda x, w, b: reference.layer_norm_forward(x, w, b)[0]),
        Impl("torch", _torch_layer_norm, requires=("torch",),
             prepare=lambda inp: _to_torch(inp, ("x", "w", "b")),
             to_numpy=lambda t: t.numpy()),
    ],
))


def _ln_backward_setup(size, rng):
    inputs = _rows_setup(size, rng)
    inputs["g"] = rng.standard_normal(inputs["x"].shape).astype(np.float32)
    return inputs


def _fastml_ln_backward_prepare(inputs):
    x, w, b = inputs["x"], inputs["w"], inputs["b"]
    _, mean, rstd = _core._layer_norm_forward(x, (x.shape[1],), w, b, 1e-5)
    return {**inputs, "mean": mean, "rstd": rstd}


def _fastml_ln_backward(g, x, w, b, mean, rstd):
    grad_w, grad_b = np.zeros_like(w), np.zeros_like(b)
    gx = _core._layer_norm_backward_into(g, x, (x.shape[1],), w, mean, rstd, grad_w, grad_b)
    return gx, grad_w, grad_b


def _torch_ln_backward_prepare(inputs):
    torch = _torch()
    t = _to_torch(inputs, ("x", "w", "b", "g"))
    _, mean, rstd = torch.native_layer_norm(t["x"], (t["x"].shape[1],), t["w"], t["b"], 1e-5)
    return {**t, "mean": mean, "rstd": rstd}


def _torch_ln_backward(g, x, w, b, mean, rstd):
    torch = _torch()
    return torch.ops.aten.native_layer_norm_backward(g, x, (x.shape[1],), mean, rstd, w, b,
                                                     [True, True, True])


def _ln_reference_backward(g, x, w, b):
    return reference.layer_norm_backward(g, reference.layer_norm_forward(x, w, b)[1])


register(Case(
    suite="nn", name="layer_norm_backward",
    description="LayerNorm backward (input, weight and bias gradients) from saved "
                "statistics, float32; torch via aten.native_layer_norm_backward.",
    setup=_ln_backward_setup,
    sizes=[(8192, 1024)], quick_sizes=[(512, 256)], test_sizes=[(2, 3), (7, 65)],
    flops=lambda s: 12 * s[0] * s[1], rtol=1e-3, atol=1e-4,
    impls=[
        Impl("fastml", _fastml_ln_backward, prepare=_fastml_ln_backward_prepare),
        Impl("reference", _ln_reference_backward),
        Impl("torch", _torch_ln_backward, prepare=_torch_ln_backward_prepare,
             requires=("torch",), to_numpy=lambda ts: [t.numpy() for t in ts]),
    ],
))


def _ce_setup(size, rng):
    n, c = size
    return {"z": (3 * rng.standard_normal((n, c))).astype(np.float32),
            "t": rng.integers(0, c, n)}


def _fastml_ce(z, t, loss_fn):
    return loss_fn(z, t), loss_fn.backward()


def _torch_ce_prepare(inputs):
    torch = _torch()
    return {"z": torch.from_numpy(inputs["z"]).requires_grad_(),
            "t": torch.from_numpy(inputs["t"])}


def _torch_ce(z, t):
    torch = _torch()
    z.grad = None
    loss = torch.nn.functional.cross_entropy(z, t)
    loss.backward()
    return loss.item(), z.grad


def _reference_ce(z, t):
    loss, cache = reference.cross_entropy_forward(z, t)
    return loss, reference.cross_entropy_backward(cache)


def _check_ce(expected, actual, size):
    np.testing.assert_allclose(actual[0], expected[0], rtol=1e-5)
    np.testing.assert_allclose(np.asarray(actual[1]), np.asarray(expected[1]), rtol=1e-4,
                               atol=1e-7)


register(Case(
    suite="nn", name="softmax_cross_entropy",
    description="Softmax cross-entropy forward + backward (loss and d loss / d logits), "
                "float32; size = (rows, classes).",
    setup=_ce_setup,
    sizes=[(4096, 1000)], quick_sizes=[(256, 100)], test_sizes=[(1, 2), (9, 17)],
    flops=lambda s: 6 * s[0] * s[1], check=_check_ce,
    impls=[
        Impl("fastml", _fastml_ce,
             prepare=lambda inp: {**inp, "loss_fn": nn.CrossEntropyLoss()}),
        Impl("reference", _reference_ce),
        Impl("torch", _torch_ce, prepare=_torch_ce_prepare, requires=("torch",),
             to_numpy=lambda out: (out[0], out[1].numpy())),
    ],
))


register(Case(
    suite="nn", name="gelu",
    description="GELU (erf form) forward, float32; size = number of elements.",
    setup=lambda n, rng: {"x": rng.standard_normal(n).astype(np.float32)},
    sizes=[1 << 22], quick_sizes=[1 << 16], test_sizes=[1, 1000],
    flops=lambda n: 20 * n, rtol=1e-5, atol=1e-6,
    impls=[
        Impl("fastml", lambda x: nn.functional.gelu(x)),
        Impl("reference", lambda x: reference.gelu_forward(x)[0], max_size=1 << 12),
        Impl("torch", lambda x: _torch().nn.functional.gelu(x), requires=("torch",),
             prepare=lambda inp: _to_torch(inp, ("x",)), to_numpy=lambda t: t.numpy()),
    ],
))


def _adam_setup(n, rng):
    shapes = [(n // 4, 3), (n // 4,)]
    return {"params": [rng.standard_normal(s).astype(np.float32) for s in shapes],
            "grads": [rng.standard_normal(s).astype(np.float32) for s in shapes]}


def _fastml_adam_prepare(inputs):
    params = [nn.Parameter(p) for p in inputs["params"]]
    for p, g in zip(params, inputs["grads"]):
        p.grad[...] = g
    return {"params": params, "opt": nn.Adam(params, lr=1e-3)}


def _fastml_adam(params, opt):
    opt.step()
    return [p.data for p in params]


def _torch_adam_prepare(inputs):
    torch = _torch()
    params = [torch.nn.Parameter(torch.from_numpy(p.copy())) for p in inputs["params"]]
    for p, g in zip(params, inputs["grads"]):
        p.grad = torch.from_numpy(g)
    return {"params": params, "opt": torch.optim.Adam(params, lr=1e-3)}


def _torch_adam(params, opt):
    with _torch().no_grad():
        opt.step()
    return params


def _reference_adam_prepare(inputs):
    return {"params": [p.copy() for p in inputs["params"]], "grads": inputs["grads"],
            "state": {}}


def _reference_adam(params, grads, state):
    reference.adam_step(params, grads, state)
    return params


register(Case(
    suite="nn", name="adam_step",
    description="One Adam update of n parameters in two tensors (fused single pass), "
                "float32; compares the parameters after the first step.",
    setup=_adam_setup,
    sizes=[1 << 22], quick_sizes=[1 << 16], test_sizes=[8, 1000],
    rates=lambda n, out: {"params": n}, rtol=1e-5, atol=1e-6,
    impls=[
        Impl("fastml", _fastml_adam, prepare=_fastml_adam_prepare),
        Impl("reference", _reference_adam, prepare=_reference_adam_prepare),
        Impl("torch", _torch_adam, prepare=_torch_adam_prepare, requires=("torch",),
             to_numpy=lambda ps: [p.detach().numpy() for p in ps]),
    ],
))
