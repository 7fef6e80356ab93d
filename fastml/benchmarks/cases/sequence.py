"""sequence suite: RNN (tanh), LSTM and GRU layers, forward and forward + backward, vs PyTorch.

A size is (T, B, I, H): sequence length, batch, input and hidden size; float32,
time-major, zero initial state. Both libraries get the same weights (fastml loads the
torch module's ``state_dict``). Forward cases time torch under ``no_grad`` (its fastest
path: oneDNN for LSTM); forward + backward cases time the forward pass with autograd and
``backward`` of sum(output * grad) in torch, ``forward`` + ``backward`` in fastml, both
starting from zeroed parameter gradients. The packed cases draw lengths uniformly in
[T/10, T] and run torch on ``pack_padded_sequence(enforce_sorted=False)``.

FLOPs (multiply-adds x 2, the GEMMs only): forward 2 N G H (I + H) per layer and
direction, N = sum of the lengths and G = 1, 4, 3 gates; forward + backward 3x that.
The NumPy reference loops over sequences and steps in Python, so it runs only at the
test sizes.
"""

import numpy as np

import fastml
from fastml import nn
from fastml.benchmarks import Case, Impl, register
from fastml.reference import rnn as reference

_GATES = {"RNN_TANH": 1, "LSTM": 4, "GRU": 3}
_REFERENCE_MAX_FLOPS = 1e6


def _torch():
    import torch

    torch.set_num_threads(fastml.get_num_threads())
    return torch


def _lengths(size, rng, packed):
    T, B = size[:2]
    return rng.integers(max(1, T // 10), T + 1, B) if packed else np.full(B, T)


def _flops_fn(mode, num_layers=1, bidirectional=False, backward=False, packed=False):
    D = 2 if bidirectional else 1

    def flops(size):
        T, B, I, H = size
        N = B * (T + max(1, T // 10)) / 2 if packed else T * B
        G = _GATES[mode]
        per = 2 * N * G * H * (I + H) + (num_layers - 1) * 2 * N * G * H * (D * H + H)
        return D * per * (3 if backward else 1)
    return flops


def _label(size):
    return "T{}xB{}xI{}xH{}".format(*size)


def _setup_fn(mode, num_layers, bidirectional, backward, packed):
    def setup(size, rng):
        T, B, I, H = size
        module = _fastml_module(mode, I, H, num_layers, bidirectional, random_state=rng)
        lengths = _lengths(size, rng, packed)
        x = rng.standard_normal((T, B, I)).astype(np.float32)
        x[np.arange(T)[:, None] >= lengths[None, :]] = 0
        inputs = {"x": x, "state": module.state_dict(), "lengths": lengths if packed else None}
        if backward:
            D = 2 if bidirectional else 1
            g = rng.standard_normal((T, B, D * H)).astype(np.float32)
            g[np.arange(T)[:, None] >= lengths[None, :]] = 0
            inputs["grad"] = g
        return inputs
    return setup


def _torch_module(torch, mode, I, H, num_layers, bidirectional):
    kw = {"num_layers": num_layers, "bidirectional": bidirectional}
    if mode == "LSTM":
        return torch.nn.LSTM(I, H, **kw)
    if mode == "GRU":
        return torch.nn.GRU(I, H, **kw)
    return torch.nn.RNN(I, H, nonlinearity="tanh", **kw)


def _fastml_module(mode, I, H, num_layers, bidirectional, random_state=None):
    kw = {"num_layers": num_layers, "bidirectional": bidirectional,
          "random_state": random_state}
    if mode == "LSTM":
        return nn.LSTM(I, H, **kw)
    if mode == "GRU":
        return nn.GRU(I, H, **kw)
    return nn.RNN(I, H, nonlinearity="tanh", **kw)


def _sizes_of(state):
    """(input size, hidden size) of a state dict."""
    return state["weight_ih_l0"].shape[1], state["weight_hh_l0"].shape[1]


# ---------------------------------------------------------------- implementations
def _fastml_prepare(mode, num_layers, bidirectional):
    def prepare(inputs):
        I, H = _sizes_of(inputs["state"])
        model = _fastml_module(mode, I, H, num_layers, bidirectional)
        model.load_state_dict(inputs["state"])
        return {**{k: v for k, v in inputs.items() if k != "state"}, "model": model}
    return prepare


def _fastml_forward(x, lengths, model):
    return model(x, lengths=lengths)[0]


def _fastml_forward_backward(x, lengths, grad, model):
    model.zero_grad()
    out = model(x, lengths=lengths)[0]
    grad_x = model.backward(grad)
    return out, grad_x, model.weight_ih_l0.grad, model.weight_hh_l0.grad


def _torch_prepare(mode, num_layers, bidirectional, backward):
    def prepare(inputs):
        torch = _torch()
        I, H = _sizes_of(inputs["state"])
        model = _torch_module(torch, mode, I, H, num_layers, bidirectional)
        model.load_state_dict({k: torch.from_numpy(v) for k, v in inputs["state"].items()})
        out = {"model": model, "x": torch.from_numpy(inputs["x"]),
               "lengths": None if inputs["lengths"] is None
               else torch.from_numpy(inputs["lengths"])}
        if backward:
            out["grad"] = torch.from_numpy(inputs["grad"])
        return out
    return prepare


def _torch_run(model, x, lengths):
    import torch

    if lengths is None:
        return model(x)[0]
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, enforce_sorted=False)
    return torch.nn.utils.rnn.pad_packed_sequence(model(packed)[0],
                                                  total_length=x.shape[0])[0]


def _torch_forward(model, x, lengths):
    import torch

    with torch.no_grad():
        return _torch_run(model, x, lengths)


def _torch_forward_backward(model, x, lengths, grad):
    model.zero_grad(set_to_none=True)
    x = x.detach().requires_grad_()
    out = _torch_run(model, x, lengths)
    out.backward(grad)
    return out, x.grad, model.weight_ih_l0.grad, model.weight_hh_l0.grad


def _torch_numpy(answer):
    if isinstance(answer, tuple):
        return tuple(a.detach().numpy() for a in answer)
    return answer.detach().numpy()


def _reference_prepare(mode, num_layers, bidirectional, backward):
    def prepare(inputs):
        weights = list(inputs["state"].values())
        return {**{k: v for k, v in inputs.items() if k != "state"}, "weights": weights}
    return prepare


def _reference_fn(mode, num_layers, bidirectional, backward):
    kw = {"mode": mode, "num_layers": num_layers, "bidirectional": bidirectional}

    def forward(x, lengths, weights):
        return reference.rnn(x, weights, lengths=lengths, **kw)[0]

    def forward_backward(x, lengths, weights, grad):
        out = reference.rnn(x, weights, lengths=lengths, **kw)[0]
        grad_x, _, grad_w = reference.rnn_backward(grad, x, weights, lengths=lengths, **kw)
        per = len(weights) // (num_layers * (2 if bidirectional else 1))
        return out, grad_x, grad_w[0], grad_w[1 % per]
    return forward_backward if backward else forward


def _check(expected, actual, size):
    """Agreement to 1e-4 of each array's largest entry (float32, long recurrences)."""
    pairs = list(zip(expected, actual)) if isinstance(expected, tuple) else \
        [(expected, actual)]
    for e, a in pairs:
        e, a = np.asarray(e), np.asarray(a)
        scale = max(float(np.max(np.abs(e), initial=0.0)), 1e-30)
        np.testing.assert_allclose(a, e, rtol=1e-4, atol=1e-4 * scale)


def _register(name, mode, sizes, quick_sizes, test_sizes, num_layers=1, bidirectional=False,
              packed=False, description=""):
    for backward in (False, True):
        register(Case(
            suite="sequence", name=name + ("_forward_backward" if backward else "_forward"),
            description=description + (" Forward + backward." if backward else " Forward."),
            setup=_setup_fn(mode, num_layers, bidirectional, backward, packed),
            sizes=sizes, quick_sizes=quick_sizes, test_sizes=test_sizes,
            flops=_flops_fn(mode, num_layers, bidirectional, backward, packed),
            size_key=_flops_fn(mode, num_layers, bidirectional, backward, packed),
            size_label=_label, check=_check,
            impls=[
                Impl("fastml", _fastml_forward_backward if backward else _fastml_forward,
                     prepare=_fastml_prepare(mode, num_layers, bidirectional)),
                Impl("reference", _reference_fn(mode, num_layers, bidirectional, backward),
                     prepare=_reference_prepare(mode, num_layers, bidirectional, backward),
                     max_size=_REFERENCE_MAX_FLOPS * (3 if backward else 1)),
                Impl("torch", _torch_forward_backward if backward else _torch_forward,
                     requires=("torch",), to_numpy=_torch_numpy,
                     prepare=_torch_prepare(mode, num_layers, bidirectional, backward)),
            ],
        ))


_DEFAULT = [(100, 64, 512, 512)]  # PyTorch's fastrnns benchmark shape
_QUICK = [(20, 16, 128, 128)]
_TEST = [(3, 2, 4, 5), (1, 1, 3, 1)]

for _mode, _name in (("LSTM", "lstm"), ("GRU", "gru"), ("RNN_TANH", "rnn_tanh")):
    _register(_name, _mode, _DEFAULT, _QUICK, _TEST,
              description=f"{_name} layer, seq 100, batch 64, input 512, hidden 512.")
_register("lstm_2layer_bidirectional", "LSTM", [(100, 64, 512, 256)], [(20, 16, 128, 64)],
          [(3, 2, 4, 5)], num_layers=2, bidirectional=True,
          description="LSTM, 2 layers, bidirectional, hidden 256.")
_register("lstm_packed", "LSTM", _DEFAULT, _QUICK, [(5, 3, 4, 5)], packed=True,
          description="LSTM on variable lengths (uniform 10 ... 100 in a batch of 64; torch: "
                      "pack_padded_sequence).")
_register("gru_packed", "GRU", _DEFAULT, _QUICK, [(5, 3, 4, 5)], packed=True,
          description="GRU on variable lengths (uniform 10 ... 100 in a batch of 64; torch: "
                      "pack_padded_sequence).")
_register("lstm_small", "LSTM", [(32, 8, 64, 64)], [(32, 8, 64, 64)], [(4, 2, 3, 4)],
          description="small LSTM: seq 32, batch 8, input 64, hidden 64.")
