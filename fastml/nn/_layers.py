"""Layers: Linear, activations, Dropout, normalisation, Embedding, Flatten, conv/pool.

Each layer's forward stores what its backward needs (the input, a mask, the batch
statistics); backward returns d loss / d input and adds the parameter gradients to
``param.grad``. Weights and buffers use PyTorch's names, shapes and default
initialisation, so ``load_state_dict(torch_module.state_dict())`` works.
"""

import math
import numbers

import numpy as np

from fastml._validation import (
    check_bool,
    check_divisible,
    check_dtype,
    check_float_dtype,
    check_index_array,
    check_int_tuple,
    check_ndim,
    check_option,
    check_positive_int,
    check_scalar,
)
from fastml.nn import functional as F
from fastml.nn import init
from fastml.nn._module import Module, Parameter
from fastml.nn.functional import _core

__all__ = ["AvgPool2d", "BatchNorm1d", "BatchNorm2d", "Conv1d", "Conv2d", "Dropout",
           "Embedding", "Flatten", "GELU", "Identity", "LayerNorm", "LeakyReLU", "Linear",
           "MaxPool2d", "ReLU", "SiLU", "Sigmoid", "Softmax", "Tanh"]

# _Activation: the base of elementwise layers, also subclassed by fastml.models.
__cores__ = ("_Activation",)


def _dtype(dtype):
    """The layers' ``dtype`` argument: float32 or float64, else a TypeError naming it."""
    return check_float_dtype(dtype, "dtype")


def _uniform_parameter(shape, bound, dtype, rng):
    return Parameter(rng.uniform(-bound, bound, shape), dtype)


class Identity(Module):
    """y = x."""

    def forward(self, x):
        return np.asarray(x)

    def backward(self, grad_out):
        return grad_out


class Linear(Module):
    """y = x W^T + b, W of shape (out_features, in_features); x is (..., in_features).

    Forward and backward are BLAS GEMMs (grad_W += g^T x, grad_x = g W). Initialised as
    PyTorch: W and b ~ U(-1/sqrt(in), 1/sqrt(in)).
    """

    def __init__(self, in_features, out_features, bias=True, *, dtype=np.float32,
                 random_state=None):
        super().__init__()
        self.in_features = check_positive_int(in_features, "in_features", min_val=0)
        self.out_features = check_positive_int(out_features, "out_features", min_val=0)
        bias = check_bool(bias, "bias")
        dtype = _dtype(dtype)
        rng = init._rng(random_state)
        bound = 1 / math.sqrt(in_features) if in_features > 0 else 0.0
        self.weight = _uniform_parameter((out_features, in_features), bound, dtype, rng)
        self.bias = _uniform_parameter((out_features,), bound, dtype, rng) if bias else None
        self._cache = None

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")

    def forward(self, x):
        x = self._check_input(x)
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(f"Linear expects input of shape (..., {self.in_features}), "
                             f"got {x.shape}")
        self._cache = x
        return _core._linear_forward(x, self.weight.data,
                                     None if self.bias is None else self.bias.data)

    def backward(self, grad_out):
        x = self._saved()
        g = self._check_grad(grad_out, x.shape[:-1] + (self.out_features,), x.dtype)
        return _core._linear_backward_into(g, x, self.weight.data, self.weight.grad,
                                           None if self.bias is None else self.bias.grad)


class _Activation(Module):
    """An elementwise map; stores its input (or output) for the backward pass."""

    def forward(self, x):
        x = self._check_input(x)
        y = self._f(x)
        self._cache = (x, y)
        return y

    def backward(self, grad_out):
        x, y = self._saved()
        return self._df(self._check_grad(grad_out, x.shape, x.dtype), x, y)


class ReLU(_Activation):
    """max(x, 0); gradient [x > 0]."""

    def _f(self, x):
        return _core.relu(x)

    def _df(self, g, x, y):
        return _core.relu_backward(g, x)


class LeakyReLU(_Activation):
    """x if x > 0 else negative_slope x."""

    def __init__(self, negative_slope=0.01):
        super().__init__()
        self.negative_slope = check_scalar(negative_slope, "negative_slope", numbers.Real)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"

    def _f(self, x):
        return _core.leaky_relu(x, self.negative_slope)

    def _df(self, g, x, y):
        return _core.leaky_relu_backward(g, x, self.negative_slope)


class GELU(_Activation):
    """x Phi(x) (``approximate="none"``, PyTorch's default) or its tanh form; fused kernel."""

    def __init__(self, approximate="none"):
        super().__init__()
        self.approximate = check_option(approximate, "approximate", ("none", "tanh"))

    def extra_repr(self):
        return f"approximate={self.approximate!r}"

    def _f(self, x):
        return _core.gelu(x, self.approximate)

    def _df(self, g, x, y):
        return _core.gelu_backward(g, x, self.approximate)


class SiLU(_Activation):
    """x sigmoid(x) (swish); gradient s (1 + x (1 - s)), s = sigmoid(x); fused kernel."""

    def _f(self, x):
        return _core.silu(x)

    def _df(self, g, x, y):
        return _core.silu_backward(g, x)


class Tanh(_Activation):
    """tanh(x); gradient 1 - y^2."""

    def _f(self, x):
        return _core.tanh(x)

    def _df(self, g, x, y):
        return _core.tanh_backward(g, y)


class Sigmoid(_Activation):
    """1 / (1 + exp(-x)); gradient y (1 - y)."""

    def _f(self, x):
        return _core.sigmoid(x)

    def _df(self, g, x, y):
        return _core.sigmoid_backward(g, y)


class Softmax(_Activation):
    """exp(x_i) / sum_j exp(x_j) along ``dim``; gradient y (g - sum g y)."""

    def __init__(self, dim=-1):
        super().__init__()
        self.dim = check_scalar(dim, "dim", numbers.Integral)

    def extra_repr(self):
        return f"dim={self.dim}"

    def _f(self, x):
        return _core.softmax(x, self.dim)

    def _df(self, g, x, y):
        return _core.softmax_backward(g, y, self.dim)


class Dropout(Module):
    """Inverted dropout: in training, zero each element with probability p and scale
    the others by 1 / (1 - p); identity in eval mode. The mask is drawn from the
    layer's own seeded generator and reused by backward."""

    def __init__(self, p=0.5, *, random_state=None):
        super().__init__()
        self.p = _core._check_p(p)
        self._rng = init._rng(random_state)
        self._cache = None

    def extra_repr(self):
        return f"p={self.p}"

    def forward(self, x):
        x = self._check_input(x)
        if not self.training or self.p == 0:
            self._cache = (x.shape, x.dtype, None)
            return x.copy()
        mask = _core._dropout_mask(x.shape, self.p, x.dtype, self._rng)
        self._cache = (x.shape, x.dtype, mask)
        return x * mask

    def backward(self, grad_out):
        shape, dtype, mask = self._saved()
        g = self._check_grad(grad_out, shape, dtype)
        return g.copy() if mask is None else g * mask


class _BatchNorm(Module):
    """Per-channel normalisation over the batch (and spatial) axes; see
    :func:`fastml.nn.functional.batch_norm`. ``momentum=None`` keeps a cumulative
    average of the batch statistics, as PyTorch."""

    _ndims = ()

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, *, dtype=np.float32):
        super().__init__()
        self.num_features = check_positive_int(num_features, "num_features")
        self.eps = check_scalar(eps, "eps", numbers.Real, min_val=0)
        if momentum is not None:
            check_scalar(momentum, "momentum", numbers.Real, min_val=0, max_val=1)
        self.momentum = momentum
        self.affine = check_bool(affine, "affine")
        self.track_running_stats = check_bool(track_running_stats, "track_running_stats")
        dtype = _dtype(dtype)
        c = self.num_features
        self.weight = Parameter(np.ones(c), dtype) if self.affine else None
        self.bias = Parameter(np.zeros(c), dtype) if self.affine else None
        if self.track_running_stats:
            self.register_buffer("running_mean", np.zeros(c, dtype))
            self.register_buffer("running_var", np.ones(c, dtype))
            self.register_buffer("num_batches_tracked", np.array(0, dtype=np.int64))
        else:
            self.running_mean = self.running_var = None
        self._cache = None

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")

    def _stats_dtype(self, x):
        if self.running_mean is not None:
            check_dtype(x, "x", self.running_mean.dtype,
                        f"the running statistics of {type(self).__name__} are", "; use .to()")

    def forward(self, x):
        x = self._check_input(x)
        if x.ndim not in self._ndims or x.shape[1] != self.num_features:
            want = " or ".join(f"{d}-D" for d in self._ndims)
            raise ValueError(f"{type(self).__name__} expects {want} input with "
                             f"{self.num_features} channels on axis 1, got {x.shape}")
        self._stats_dtype(x)
        batch_stats = self.training or self.running_mean is None
        momentum = self.momentum
        if self.training and self.running_mean is not None:
            self.num_batches_tracked += 1
            if momentum is None:
                momentum = 1.0 / int(self.num_batches_tracked)
        # Batch statistics update the running ones only when they are tracked.
        out, mean, invstd = _core._batch_norm_forward(
            x, None if self.weight is None else self.weight.data,
            None if self.bias is None else self.bias.data, self.running_mean,
            self.running_var, batch_stats, momentum or 0.0, self.eps)
        self._cache = (x, mean, invstd, batch_stats)
        return out

    def backward(self, grad_out):
        x, mean, invstd, batch_stats = self._saved()
        g = self._check_grad(grad_out, x.shape, x.dtype)
        return _core._batch_norm_backward_into(
            g, x, None if self.weight is None else self.weight.data, mean, invstd,
            batch_stats, None if self.weight is None else self.weight.grad,
            None if self.bias is None else self.bias.grad)


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) input over N (and L)."""

    _ndims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) input over N, H and W."""

    _ndims = (4,)


class _Norm(Module):
    """Shared by the normalisation layers over the trailing ``normalized_shape`` axes
    (LayerNorm, RMSNorm): the dtype is kept without a weight, and the repr."""

    @property
    def dtype(self):
        return self.weight.dtype if self.weight is not None else self._dtype

    def to(self, dtype):
        super().to(dtype)
        self._dtype = np.dtype(dtype)
        return self

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}"


class LayerNorm(_Norm):
    """(x - mean) / sqrt(var + eps) * weight + bias over the trailing
    ``normalized_shape`` axes of each sample; fused compiled forward and backward."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, *,
                 dtype=np.float32):
        super().__init__()
        self.normalized_shape = _core._normalized_shape(normalized_shape)
        self.eps = check_scalar(eps, "eps", numbers.Real, min_val=0)
        elementwise_affine = check_bool(elementwise_affine, "elementwise_affine")
        bias = check_bool(bias, "bias")
        dtype = _dtype(dtype)
        shape = self.normalized_shape
        self.weight = Parameter(np.ones(shape), dtype) if elementwise_affine else None
        self.bias = Parameter(np.zeros(shape), dtype) if elementwise_affine and bias else None
        self._dtype = dtype
        self._cache = None

    def forward(self, x):
        x = self._check_input(x)
        x, shape, w, b = _core._check_layer_norm(
            x, self.normalized_shape, None if self.weight is None else self.weight.data,
            None if self.bias is None else self.bias.data, self.eps)
        out, mean, rstd = _core._layer_norm_forward(x, shape, w, b, self.eps)
        self._cache = (x, mean, rstd)
        return out

    def backward(self, grad_out):
        x, mean, rstd = self._saved()
        g = self._check_grad(grad_out, x.shape, x.dtype)
        return _core._layer_norm_backward_into(
            g, x, self.normalized_shape, None if self.weight is None else self.weight.data,
            mean, rstd, None if self.weight is None else self.weight.grad,
            None if self.bias is None else self.bias.grad)


class Embedding(Module):
    """Row lookup: y[...] = weight[idx[...]], weight ~ N(0, 1) of shape (num, dim).

    backward scatters-adds g into the looked-up rows of weight.grad (the row
    ``padding_idx`` gets no gradient) and returns None: indices have no gradient.
    """

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, *,
                 dtype=np.float32, random_state=None):
        super().__init__()
        self.num_embeddings = check_positive_int(num_embeddings, "num_embeddings")
        self.embedding_dim = check_positive_int(embedding_dim, "embedding_dim")
        if padding_idx is not None:
            check_scalar(padding_idx, "padding_idx", numbers.Integral,
                         min_val=-num_embeddings, max_val=num_embeddings - 1)
            padding_idx = int(padding_idx) % num_embeddings
        self.padding_idx = padding_idx
        w = init._rng(random_state).standard_normal((num_embeddings, embedding_dim))
        if padding_idx is not None:
            w[padding_idx] = 0
        self.weight = Parameter(w, _dtype(dtype))
        self._cache = None

    def extra_repr(self):
        return f"{self.num_embeddings}, {self.embedding_dim}"

    def forward(self, idx):
        idx = check_index_array(idx, "idx", self.num_embeddings)
        self._cache = idx
        return self.weight.data[idx]

    def backward(self, grad_out):
        idx = self._saved()
        g = self._check_grad(grad_out, idx.shape + (self.embedding_dim,), self.weight.dtype)
        flat = idx.reshape(-1)
        rows = g.reshape(-1, self.embedding_dim)
        if self.padding_idx is not None:
            keep = flat != self.padding_idx
            flat, rows = flat[keep], rows[keep]
        np.add.at(self.weight.grad, flat, rows)


class Flatten(Module):
    """Merge axes ``start_dim`` .. ``end_dim`` into one (default: all but the batch)."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim = check_scalar(start_dim, "start_dim", numbers.Integral)
        self.end_dim = check_scalar(end_dim, "end_dim", numbers.Integral)
        self._cache = None

    def forward(self, x):
        x = self._check_input(x)
        nd = max(x.ndim, 1)
        for name, dim in (("start_dim", self.start_dim), ("end_dim", self.end_dim)):
            if not -nd <= dim < nd:
                raise ValueError(f"Flatten: {name} {dim} is out of range for a {x.ndim}-D "
                                 f"input")
        start, end = self.start_dim % nd, self.end_dim % nd
        if start > end:
            raise ValueError(f"Flatten: start_dim {self.start_dim} comes after end_dim "
                             f"{self.end_dim} for a {x.ndim}-D input")
        self._cache = x.shape
        merged = math.prod(x.shape[start:end + 1])  # not -1: x may be empty
        return x.reshape(x.shape[:start] + (merged,) + x.shape[end + 1:])

    def backward(self, grad_out):
        return np.asarray(grad_out).reshape(self._saved())


# ---------------------------------------------------------------- convolution and pooling
class _ConvNd(Module):
    _n = 2
    _fn = "conv2d"

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, *, dtype=np.float32, random_state=None):
        super().__init__()
        n = self._n
        self.in_channels = check_positive_int(in_channels, "in_channels")
        self.out_channels = check_positive_int(out_channels, "out_channels")
        self.kernel_size = check_int_tuple(kernel_size, "kernel_size", n)
        self.stride = check_int_tuple(stride, "stride", n)
        self.padding = check_int_tuple(padding, "padding", n, min_val=0)
        self.dilation = check_int_tuple(dilation, "dilation", n)
        self.groups = check_positive_int(groups, "groups")
        check_divisible(self.in_channels, "in_channels", self.groups, "groups")
        check_divisible(self.out_channels, "out_channels", self.groups, "groups")
        bias = check_bool(bias, "bias")
        dtype = _dtype(dtype)
        rng = init._rng(random_state)
        shape = (out_channels, in_channels // groups) + self.kernel_size
        bound = 1 / math.sqrt(int(np.prod(shape[1:])))
        self.weight = _uniform_parameter(shape, bound, dtype, rng)
        self.bias = _uniform_parameter((out_channels,), bound, dtype, rng) if bias else None
        self._cache = None

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}")

    def _args(self):
        if self._n == 1:
            return dict(stride=self.stride[0], padding=self.padding[0],
                        dilation=self.dilation[0], groups=self.groups)
        return dict(stride=self.stride, padding=self.padding, dilation=self.dilation,
                    groups=self.groups)

    def forward(self, x):
        x = self._check_input(x)
        if x.ndim != self._n + 2 or x.shape[1] != self.in_channels:
            raise ValueError(f"{type(self).__name__} expects input of shape (N, "
                             f"{self.in_channels}, ...) with {self._n} spatial axes, "
                             f"got {x.shape}")
        self._cache = x
        conv = getattr(F, self._fn)
        return conv(x, self.weight.data, None if self.bias is None else self.bias.data,
                    **self._args())

    def backward(self, grad_out):
        x = self._saved()
        conv_backward = getattr(F, self._fn + "_backward")
        gx, gw, gb = conv_backward(grad_out, x, self.weight.data, **self._args())
        self.weight.grad += gw
        if self.bias is not None:
            self.bias.grad += gb
        return gx


class Conv1d(_ConvNd):
    """1-D cross-correlation over (N, C_in, L): weight (C_out, C_in / groups, k)."""

    _n = 1
    _fn = "conv1d"


class Conv2d(_ConvNd):
    """2-D cross-correlation over (N, C_in, H, W): weight (C_out, C_in / groups, kh, kw)."""

    _n = 2
    _fn = "conv2d"


class _Pool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = check_int_tuple(kernel_size, "kernel_size", 2)
        self.stride = self.kernel_size if stride is None else \
            check_int_tuple(stride, "stride", 2)
        self.padding = check_int_tuple(padding, "padding", 2, min_val=0)
        self._cache = None

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"

    def _check_images(self, x):
        return check_ndim(self._check_input(x), "x", 4)

    def _geometry(self):
        return self.kernel_size, self.stride, self.padding


class MaxPool2d(_Pool2d):
    """Maximum over each window; backward routes the gradient to the arg-max (the
    indices found by the forward pass are kept for it)."""

    def forward(self, x):
        x = self._check_images(x)
        y, idx = F.max_pool2d(x, *self._geometry(), return_indices=True)
        self._cache = (x, idx)
        return y

    def backward(self, grad_out):
        x, idx = self._saved()
        return F.max_pool2d_backward(grad_out, x, *self._geometry(), indices=idx)


class AvgPool2d(_Pool2d):
    """Mean over each window (padding counted, as PyTorch's default)."""

    def forward(self, x):
        x = self._check_images(x)
        self._cache = x
        return F.avg_pool2d(x, *self._geometry())

    def backward(self, grad_out):
        return F.avg_pool2d_backward(grad_out, self._saved(), *self._geometry())
