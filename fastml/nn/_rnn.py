"""Recurrent layers RNN, LSTM, GRU and their cells, with backpropagation through time.

PyTorch's constructors, parameter names, shapes, gate order and initialisation
(every weight and bias ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))), so
``load_state_dict(torch_module.state_dict())`` works both ways. The equations are in
:mod:`fastml.nn.functional._rnn`; ``forward(x, hx=None, lengths=None)`` runs the compiled
kernel and keeps what ``backward(grad_output, grad_h_n=None, grad_c_n=None)`` needs.
"""

import math
import numbers
import warnings

import numpy as np

from fastml._validation import (
    check_array,
    check_bool,
    check_option,
    check_positive_int,
    check_scalar,
)
from fastml.nn import init
from fastml.nn._layers import _dtype, _uniform_parameter
from fastml.nn._module import Module
from fastml.nn.functional import _core
from fastml.nn.functional import _rnn as _F

__all__ = ["GRU", "GRUCell", "LSTM", "LSTMCell", "RNN", "RNNCell"]


class _RNNBase(Module):
    """Stacked (bi)directional recurrent layer; subclasses fix the mode."""

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, proj_size=0, *,
                 dtype=np.float32, random_state=None):
        super().__init__()
        self.mode = mode
        self.input_size = check_positive_int(input_size, "input_size")
        self.hidden_size = check_positive_int(hidden_size, "hidden_size")
        self.num_layers = check_positive_int(num_layers, "num_layers")
        self.bias = check_bool(bias, "bias")
        self.batch_first = check_bool(batch_first, "batch_first")
        self.bidirectional = check_bool(bidirectional, "bidirectional")
        self.dropout = float(check_scalar(dropout, "dropout", numbers.Real, min_val=0,
                                          max_val=1, include_boundaries="left"))
        self.proj_size = check_positive_int(proj_size, "proj_size", min_val=0)
        if self.proj_size >= self.hidden_size:
            raise ValueError(f"proj_size must be smaller than hidden_size "
                             f"({self.hidden_size}), got {self.proj_size}")
        if self.dropout > 0 and self.num_layers == 1:
            warnings.warn("dropout acts between layers: with num_layers=1 it does nothing "
                          f"(dropout={self.dropout})", UserWarning, stacklevel=3)
        dtype = _dtype(dtype)
        rng = init._rng(random_state)
        self._rng = rng
        D = 2 if self.bidirectional else 1
        self._spec = _F._Spec(mode, self.input_size, self.hidden_size, self.num_layers, D,
                              self.bias, self.proj_size, dtype)
        bound = 1 / math.sqrt(self.hidden_size)
        names = ["weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if self.bias else []) + \
            (["weight_hr"] if self.proj_size else [])
        self._param_names = []
        for layer in range(self.num_layers):
            for d in range(D):
                suffix = f"_l{layer}" + ("_reverse" if d else "")
                for name, shape in zip(names, self._spec.weight_shapes(layer)):
                    setattr(self, name + suffix, _uniform_parameter(shape, bound, dtype, rng))
                    self._param_names.append(name + suffix)
        self._cache = None

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        for name, default in (("num_layers", 1), ("bias", True), ("batch_first", False),
                              ("dropout", 0.0), ("bidirectional", False), ("proj_size", 0)):
            if getattr(self, name) != default:
                s += f", {name}={getattr(self, name)}"
        return s

    def _spec_now(self):
        """The spec with the parameters' current dtype (after ``to``)."""
        self._spec.dtype = np.dtype(self.dtype)
        return self._spec

    def _per_direction(self, attr):
        per = len(self._param_names) // (self.num_layers * self._spec.num_directions)
        out = []
        for k in range(self.num_layers * self._spec.num_directions):
            ps = {n.split("_l")[0]: getattr(self._parameters[n], attr)
                  for n in self._param_names[k * per:(k + 1) * per]}
            out.append((ps["weight_ih"], ps["weight_hh"], ps.get("bias_ih"), ps.get("bias_hh"),
                        ps.get("weight_hr")))
        return out

    def forward(self, x, hx=None, lengths=None):
        """(output, h_n) (LSTM: (output, (h_n, c_n))) for x (T, B, I), (B, T, I) with
        ``batch_first``, or unbatched (T, I); ``lengths`` (B,) valid steps per sequence."""
        spec = self._spec_now()
        x = self._check_input(x)
        if x.ndim not in (2, 3) or x.shape[-1] != self.input_size:
            raise ValueError(f"{type(self).__name__} expects x of shape (T, B, "
                             f"{self.input_size}) ({'(B, T, ...)' if self.batch_first else ''}"
                             f"or unbatched (T, {self.input_size})), got {x.shape}")
        weights = [w for k in self._per_direction("data") for w in k if w is not None]
        prob = _F._Problem(x, weights, hx, self.mode, self.num_layers, self.bidirectional,
                           self.batch_first, lengths)
        masks = None
        if self.training and self.dropout > 0 and self.num_layers > 1:
            width = spec.num_directions * spec.state_size
            masks = [_core._dropout_mask((prob.packing.N, width), self.dropout, spec.dtype,
                                         self._rng) for _ in range(self.num_layers - 1)]
        y, h_n, c_n, cache = _F._forward_core(spec, prob.weights, prob.x, prob.packing,
                                              prob.h0, prob.c0, masks)
        out = prob.shape_output(y)
        self._cache = (prob, cache, out.shape, h_n.shape)
        h_n = prob.shape_states(h_n)
        if self.mode == "LSTM":
            return out, (h_n, prob.shape_states(c_n))
        return out, h_n

    def backward(self, grad_output, grad_h_n=None, grad_c_n=None):
        """d loss / d x given d loss / d output (and d loss / d h_n, c_n); adds parameter
        gradients. Returns grad_x, or (grad_x, grad_hx) when forward was given hx."""
        prob, cache, out_shape, state_shape = self._saved()
        g = self._check_grad(grad_output, out_shape, prob.spec.dtype)
        g = prob.packing.pack(_F._batched(g, prob))
        gh = np.zeros(state_shape, prob.spec.dtype) if grad_h_n is None else \
            prob._state(grad_h_n, "grad_h_n", state_shape)
        gc = None
        if self.mode == "LSTM":
            c_shape = state_shape[:2] + (self.hidden_size,)
            gc = np.zeros(c_shape, prob.spec.dtype) if grad_c_n is None else \
                prob._state(grad_c_n, "grad_c_n", c_shape)
        elif grad_c_n is not None:
            raise ValueError(f"grad_c_n is only for LSTM, {type(self).__name__} has no cell")
        grad_x, grad_h0, grad_c0 = _F._backward_core(cache, g, gh, gc,
                                                     self._per_direction("grad"))
        grad_x = prob.shape_output(grad_x)
        if not prob.hx_given:
            return grad_x
        grad_hx = prob.shape_states(grad_h0)
        if self.mode == "LSTM":
            grad_hx = (grad_hx, prob.shape_states(grad_c0))
        return grad_x, grad_hx


class RNN(_RNNBase):
    """Elman RNN: h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), act tanh or relu.

    ``RNN(input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
    batch_first=False, dropout=0.0, bidirectional=False)`` as ``torch.nn.RNN``.
    """

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, *, dtype=np.float32,
                 random_state=None):
        check_option(nonlinearity, "nonlinearity", ("tanh", "relu"))
        super().__init__("RNN_" + nonlinearity.upper(), input_size, hidden_size, num_layers,
                         bias, batch_first, dropout, bidirectional, dtype=dtype,
                         random_state=random_state)
        self.nonlinearity = nonlinearity


class LSTM(_RNNBase):
    """Long short-term memory, PyTorch's ``torch.nn.LSTM`` (gates i, f, g, o; proj_size).

    c_t = f c_{t-1} + i g, h_t = o tanh(c_t) (times W_hr with ``proj_size > 0``);
    forward returns (output, (h_n, c_n)).
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, *, dtype=np.float32,
                 random_state=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, proj_size, dtype=dtype,
                         random_state=random_state)


class GRU(_RNNBase):
    """Gated recurrent unit, PyTorch's ``torch.nn.GRU`` (gates r, z, n; the reset gate
    multiplies W_hn h + b_hn)."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, *, dtype=np.float32, random_state=None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, dtype=dtype, random_state=random_state)


class _CellBase(Module):
    """One step of a recurrent cell for x (B, I) or unbatched (I,)."""

    def __init__(self, mode, input_size, hidden_size, bias, dtype, random_state):
        super().__init__()
        self.mode = mode
        self.input_size = check_positive_int(input_size, "input_size")
        self.hidden_size = check_positive_int(hidden_size, "hidden_size")
        self.bias = check_bool(bias, "bias")
        dtype = _dtype(dtype)
        rng = init._rng(random_state)
        self._spec = _F._Spec(mode, self.input_size, self.hidden_size, 1, 1, self.bias, 0,
                              dtype)
        bound = 1 / math.sqrt(self.hidden_size)
        shapes = self._spec.weight_shapes(0)
        self.weight_ih = _uniform_parameter(shapes[0], bound, dtype, rng)
        self.weight_hh = _uniform_parameter(shapes[1], bound, dtype, rng)
        if self.bias:
            self.bias_ih = _uniform_parameter(shapes[2], bound, dtype, rng)
            self.bias_hh = _uniform_parameter(shapes[3], bound, dtype, rng)
        self._cache = None

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")

    def _params(self, attr):
        b = (getattr(self.bias_ih, attr), getattr(self.bias_hh, attr)) if self.bias \
            else (None, None)
        return [(getattr(self.weight_ih, attr), getattr(self.weight_hh, attr), *b, None)]

    def forward(self, x, hx=None):
        """h' (LSTMCell: (h', c')) from x (B, I) or (I,) and hx (zeros when None)."""
        spec = self._spec
        spec.dtype = np.dtype(self.dtype)
        x = self._check_input(x)
        if x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise ValueError(f"{type(self).__name__} expects x of shape (B, {self.input_size})"
                             f" or ({self.input_size},), got {x.shape}")
        if hx is not None:
            hx = tuple(check_array(h, "hx", dtype=None, finite=False)[None] for h in hx) \
                if self.mode == "LSTM" and isinstance(hx, (tuple, list)) else \
                check_array(hx, "hx", dtype=None, finite=False)[None]
        weights = [w for w in self._params("data")[0] if w is not None]
        prob = _F._Problem(x[None], weights, hx, self.mode, 1, False, False, None)
        y, h_n, c_n, cache = _F._forward_core(spec, prob.weights, prob.x, prob.packing,
                                              prob.h0, prob.c0)
        self._cache = (prob, cache, h_n.shape)
        h = prob.shape_states(h_n)[0]
        return (h, prob.shape_states(c_n)[0]) if self.mode == "LSTM" else h

    def backward(self, grad_h, grad_c=None):
        """d loss / d x given d loss / d h' (LSTMCell: and d loss / d c'); adds parameter
        gradients. Returns grad_x, or (grad_x, grad_hx) when forward was given hx."""
        prob, cache, state_shape = self._saved()
        dt = prob.spec.dtype
        shape = state_shape[1:] if not prob.unbatched else state_shape[2:]
        g = self._check_grad(grad_h, shape, dt).reshape(state_shape)
        if self.mode == "LSTM":
            gc = np.zeros(state_shape, dt) if grad_c is None else \
                check_array(grad_c, "grad_c", dtype=dt, finite=False).reshape(state_shape)
        elif grad_c is not None:
            raise ValueError(f"grad_c is only for LSTMCell, not {type(self).__name__}")
        else:
            gc = None
        zeros = np.zeros((prob.packing.N, self.hidden_size), dt)
        grad_x, grad_h0, grad_c0 = _F._backward_core(cache, zeros, g, gc, self._params("grad"))
        grad_x = grad_x.reshape(prob.x.shape)
        if prob.unbatched:
            grad_x = grad_x[0]
        if not prob.hx_given:
            return grad_x
        grad_hx = grad_h0.reshape(shape)
        if self.mode == "LSTM":
            grad_hx = (grad_hx, grad_c0.reshape(shape))
        return grad_x, grad_hx


class RNNCell(_CellBase):
    """h' = act(W_ih x + b_ih + W_hh h + b_hh), as ``torch.nn.RNNCell``."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", *,
                 dtype=np.float32, random_state=None):
        check_option(nonlinearity, "nonlinearity", ("tanh", "relu"))
        super().__init__("RNN_" + nonlinearity.upper(), input_size, hidden_size, bias, dtype,
                         random_state)
        self.nonlinearity = nonlinearity


class LSTMCell(_CellBase):
    """One LSTM step, as ``torch.nn.LSTMCell``: forward(x, (h, c)) -> (h', c')."""

    def __init__(self, input_size, hidden_size, bias=True, *, dtype=np.float32,
                 random_state=None):
        super().__init__("LSTM", input_size, hidden_size, bias, dtype, random_state)


class GRUCell(_CellBase):
    """One GRU step, as ``torch.nn.GRUCell``: forward(x, h) -> h'."""

    def __init__(self, input_size, hidden_size, bias=True, *, dtype=np.float32,
                 random_state=None):
        super().__init__("GRU", input_size, hidden_size, bias, dtype, random_state)
