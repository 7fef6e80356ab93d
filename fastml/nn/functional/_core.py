"""Activations, Linear, normalisation, dropout and losses, each with its backward.

Every function takes float32 or float64 arrays and returns the input's dtype (integer
input is upcast to float64). Where a layer has parameters (``weight``, ``bias``) they
must have the input's dtype. NaN and infinity propagate as in PyTorch; they are not
rejected. The ``*_backward`` functions are stateless: they recompute what the forward
pass produced (statistics, masks), so they need the forward's inputs. The modules of
:mod:`fastml.nn` call the private ``_*`` helpers below instead, which hand the forward's
intermediate results to the backward and accumulate parameter gradients in place.
"""

import contextlib
import math
import numbers

import numpy as np

from fastml import _kernels
from fastml._validation import (
    check_array,
    check_dtype,
    check_index_array,
    check_min_ndim,
    check_option,
    check_positive_int,
    check_random_state,
    check_scalar,
    check_shape,
)

__all__ = [
    "batch_norm", "batch_norm_backward",
    "binary_cross_entropy_with_logits", "binary_cross_entropy_with_logits_backward",
    "cross_entropy", "cross_entropy_backward",
    "dropout",
    "gelu", "gelu_backward",
    "layer_norm", "layer_norm_backward",
    "leaky_relu", "leaky_relu_backward",
    "linear", "linear_backward",
    "log_softmax",
    "mse_loss", "mse_loss_backward",
    "relu", "relu_backward",
    "sigmoid", "sigmoid_backward",
    "silu", "silu_backward",
    "softmax", "softmax_backward",
    "tanh", "tanh_backward",
]

_REDUCTIONS = ("mean", "sum")
_ELEMENT_GRAIN = 131072  # elements per thread of the row and elementwise kernels
_GEMM_GRAIN = 1 << 23  # multiply-adds per thread of the Linear GEMMs


def _threads(x):
    """OpenMP threads for a row or elementwise kernel over the elements of ``x``."""
    return _kernels.threads_for(x.size, _ELEMENT_GRAIN)


@contextlib.contextmanager
def _gemm_threads(multiply_adds=None):
    """Number of OpenMP threads the Linear kernels split their GEMMs over (all of them
    when ``multiply_adds`` is None).

    The kernels call BLAS once per block, one block per thread, with the BLAS pinned to
    one thread (see :func:`fastml._kernels.blas_single_threaded`), so a training step
    runs in a single thread pool; when the BLAS cannot be pinned they make one call.
    """
    with _kernels.blas_single_threaded() as pinned:
        if not pinned:
            yield 1
        elif multiply_adds is None:
            yield _kernels.get_num_threads()
        else:
            yield _kernels.threads_for(multiply_adds, _GEMM_GRAIN)


def _float(x, name, ndim=None):
    return check_array(x, name, ndim=ndim, finite=False)


def _like(a, name, ref, ref_name, shape=None, detail=""):
    """``a`` as a C-contiguous array of ``ref``'s dtype (which it must already have)."""
    arr = check_dtype(check_array(a, name, dtype=None, finite=False), name, ref.dtype,
                      f"{ref_name} has dtype", "; they must match (cast one of them with "
                      ".astype)")
    return arr if shape is None else check_shape(arr, name, tuple(shape), detail)


def _same_shape(g, x, name="grad_out"):
    return _like(g, name, x, "x", x.shape, " (the forward output's)")


def _reduction(reduction):
    return check_option(reduction, "reduction", _REDUCTIONS)


# ---------------------------------------------------------------- elementwise activations
def _elementwise(kernel, x, *options):
    """out = f(x) by the fused ``_nn`` kernel ``<kernel>_forward`` (one pass, same shape)."""
    x = _float(x, "x")
    out = np.empty_like(x)
    getattr(_kernels.load("_nn"), f"{kernel}_forward")(x.reshape(-1), out.reshape(-1),
                                                        *options, _threads(x))
    return out


def _elementwise_backward(kernel, grad_out, x, *options):
    """grad_out * f'(x) by the fused ``_nn`` kernel ``<kernel>_backward``."""
    x = _float(x, "x")
    g = _same_shape(grad_out, x)
    out = np.empty_like(x)
    getattr(_kernels.load("_nn"), f"{kernel}_backward")(g.reshape(-1), x.reshape(-1),
                                                         out.reshape(-1), *options,
                                                         _threads(x))
    return out


def relu(x):
    """max(x, 0); NaN propagates."""
    return _elementwise("relu", x)


def relu_backward(grad_out, x):
    """grad_out * [x > 0] (the subgradient at 0 is 0, as in PyTorch)."""
    return _elementwise_backward("relu", grad_out, x)


def leaky_relu(x, negative_slope=0.01):
    """x if x > 0 else negative_slope * x."""
    x = _float(x, "x")
    return np.where(x > 0, x, x * x.dtype.type(negative_slope))


def leaky_relu_backward(grad_out, x, negative_slope=0.01):
    """grad_out * (1 if x > 0 else negative_slope)."""
    x = _float(x, "x")
    g = _same_shape(grad_out, x)
    return np.where(x > 0, g, g * x.dtype.type(negative_slope))


def _check_approximate(approximate):
    return check_option(approximate, "approximate", ("none", "tanh")) == "tanh"


def gelu(x, approximate="none"):
    """GELU(x) = x Phi(x) = 0.5 x (1 + erf(x / sqrt 2)); ``approximate="tanh"`` uses
    0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))). One fused compiled pass."""
    return _elementwise("gelu", x, _check_approximate(approximate))


def gelu_backward(grad_out, x, approximate="none"):
    """grad_out * GELU'(x), GELU'(x) = Phi(x) + x phi(x) (erf form)."""
    return _elementwise_backward("gelu", grad_out, x, _check_approximate(approximate))


def silu(x):
    """SiLU (swish): x sigmoid(x) = x / (1 + exp(-x)). One fused compiled pass."""
    return _elementwise("silu", x)


def silu_backward(grad_out, x):
    """grad_out * SiLU'(x), SiLU'(x) = s (1 + x (1 - s)), s = sigmoid(x)."""
    return _elementwise_backward("silu", grad_out, x)


def sigmoid(x):
    """1 / (1 + exp(-x)), evaluated without overflow (exp(-|x|) only)."""
    x = _float(x, "x")
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


def sigmoid_backward(grad_out, y):
    """grad_out * y (1 - y), from the forward output y = sigmoid(x)."""
    y = _float(y, "y")
    g = _same_shape(grad_out, y)
    return g * y * (1 - y)


def tanh(x):
    """tanh(x)."""
    return np.tanh(_float(x, "x"))


def tanh_backward(grad_out, y):
    """grad_out * (1 - y^2), from the forward output y = tanh(x)."""
    y = _float(y, "y")
    g = _same_shape(grad_out, y)
    return g * (1 - y * y)


def _check_dim(dim, ndim):
    return check_scalar(dim, "dim", numbers.Integral, min_val=-ndim, max_val=max(ndim, 1) - 1)


def softmax(x, dim=-1):
    """exp(x_i - max x) / sum_j exp(x_j - max x) along ``dim``."""
    x = _float(x, "x")
    dim = _check_dim(dim, x.ndim)
    e = np.exp(x - np.max(x, axis=dim, keepdims=True))
    e /= np.sum(e, axis=dim, keepdims=True)
    return e


def log_softmax(x, dim=-1):
    """x_i - max x - log sum_j exp(x_j - max x) along ``dim``."""
    x = _float(x, "x")
    dim = _check_dim(dim, x.ndim)
    shifted = x - np.max(x, axis=dim, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=dim, keepdims=True))


def softmax_backward(grad_out, y, dim=-1):
    """y (g - sum_j g_j y_j) along ``dim``, from the forward output y = softmax(x)."""
    y = _float(y, "y")
    dim = _check_dim(dim, y.ndim)
    g = _same_shape(grad_out, y)
    return y * (g - np.sum(g * y, axis=dim, keepdims=True))


# ---------------------------------------------------------------- Linear
def _check_linear(x, weight, bias):
    w = check_array(weight, "weight", ndim=2, finite=False)
    x = _float(x, "x")
    check_min_ndim(x, "x", 1, " (..., in_features)")
    check_dtype(x, "x", w.dtype, "weight has dtype", f"; they must match (cast x with "
                f"x.astype(np.{w.dtype}) or the layer with .to)")
    if x.shape[-1] != w.shape[1]:
        raise ValueError(f"x must have {w.shape[1]} features in its last dimension "
                         f"(in_features of weight {w.shape}), got shape {x.shape}")
    b = None if bias is None else _like(bias, "bias", w, "weight", (w.shape[0],))
    return x, w, b


def _rows(x):
    """Number of rows when the trailing axis is the feature axis (1 for a 1-D x)."""
    return math.prod(x.shape[:-1])


def _linear_forward(x, w, b):
    n, k = w.shape
    out = np.empty(x.shape[:-1] + (n,), dtype=w.dtype)
    has_bias = b is not None
    with _gemm_threads(_rows(x) * n * k) as n_threads:
        _kernels.load("_nn").linear_forward(x.reshape(_rows(x), k), w,
                                            b if has_bias else np.empty(0, w.dtype), has_bias,
                                            out.reshape(_rows(x), n), n_threads)
    return out


def _linear_backward_into(g, x, w, grad_w, grad_b):
    """grad_x; accumulates g^T x into grad_w and the column sums of g into grad_b."""
    n, k = w.shape
    m = _rows(x)
    gx = np.empty(x.shape, dtype=w.dtype)
    has_bias = grad_b is not None
    with _gemm_threads(m * n * k) as n_threads:
        _kernels.load("_nn").linear_backward(
            g.reshape(m, n), x.reshape(m, k), w, gx.reshape(m, k), grad_w,
            grad_b if has_bias else np.empty(0, w.dtype), has_bias, n_threads)
    return gx


def linear(x, weight, bias=None):
    """y = x W^T + b for x of shape (..., in), W (out, in), b (out,): one BLAS GEMM."""
    x, w, b = _check_linear(x, weight, bias)
    return _linear_forward(x, w, b)


def linear_backward(grad_out, x, weight, has_bias=True):
    """(grad_x, grad_weight, grad_bias) = (g W, g^T x, sum_rows g); grad_bias is None
    when ``has_bias`` is False. ``g`` has shape (..., out)."""
    x, w, _ = _check_linear(x, weight, None)
    g = _like(grad_out, "grad_out", w, "weight", x.shape[:-1] + (w.shape[0],))
    grad_w = np.zeros_like(w)
    grad_b = np.zeros(w.shape[0], dtype=w.dtype) if has_bias else None
    grad_x = _linear_backward_into(g, x, w, grad_w, grad_b)
    return grad_x, grad_w, grad_b


# ---------------------------------------------------------------- LayerNorm
def _normalized_shape(normalized_shape):
    if isinstance(normalized_shape, numbers.Integral):
        normalized_shape = (normalized_shape,)
    shape = tuple(check_positive_int(s, "normalized_shape") for s in normalized_shape)
    return shape


def _check_layer_norm(x, normalized_shape, weight, bias, eps):
    x = _float(x, "x")
    shape = _normalized_shape(normalized_shape)
    check_scalar(eps, "eps", numbers.Real, min_val=0)
    k = len(shape)
    if x.shape[x.ndim - k:] != shape or x.ndim < k:
        raise ValueError(f"x must end with the normalized shape {shape}, got shape {x.shape}")
    w = None if weight is None else _like(weight, "weight", x, "x", shape)
    b = None if bias is None else _like(bias, "bias", x, "x", shape)
    return x, shape, w, b


def _layer_norm_forward(x, shape, w, b, eps):
    """(out, mean, rstd) with mean/rstd per normalised row."""
    d = int(np.prod(shape))
    x2 = x.reshape(-1, d)
    m = x2.shape[0]
    w = np.ones(d, x.dtype) if w is None else w.reshape(-1)
    b = np.zeros(d, x.dtype) if b is None else b.reshape(-1)
    out = np.empty_like(x)
    mean = np.empty(m, x.dtype)
    rstd = np.empty(m, x.dtype)
    _kernels.load("_nn").layer_norm_forward(x2, w, b, float(eps), out.reshape(-1, d), mean,
                                            rstd, _threads(x))
    return out, mean, rstd


def _layer_norm_backward_into(g, x, shape, w, mean, rstd, grad_w, grad_b):
    d = int(np.prod(shape))
    gx = np.empty_like(x)
    scratch = None
    if grad_w is None:
        scratch = np.zeros(d, x.dtype)
    w = np.ones(d, x.dtype) if w is None else w.reshape(-1)
    _kernels.load("_nn").layer_norm_backward(
        g.reshape(-1, d), x.reshape(-1, d), w, mean, rstd, gx.reshape(-1, d),
        scratch if grad_w is None else grad_w.reshape(-1),
        np.zeros(d, x.dtype) if grad_b is None else grad_b.reshape(-1), _threads(x))
    return gx


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """(x - mean) / sqrt(var + eps) * weight + bias over the trailing ``normalized_shape``
    axes (biased variance, as PyTorch). One fused compiled pass per row."""
    x, shape, w, b = _check_layer_norm(x, normalized_shape, weight, bias, eps)
    return _layer_norm_forward(x, shape, w, b, eps)[0]


def layer_norm_backward(grad_out, x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """(grad_x, grad_weight, grad_bias); the weight/bias gradients are None without them.

    With xhat = (x - mean) r, r = 1 / sqrt(var + eps), gw = g * weight (per row):
    grad_x = r (gw - mean(gw) - xhat mean(gw xhat)), grad_weight = sum g xhat,
    grad_bias = sum g over the leading axes.
    """
    x, shape, w, b = _check_layer_norm(x, normalized_shape, weight, bias, eps)
    g = _same_shape(grad_out, x)
    _, mean, rstd = _layer_norm_forward(x, shape, w, b, eps)
    grad_w = None if w is None else np.zeros(shape, x.dtype)
    grad_b = None if b is None else np.zeros(shape, x.dtype)
    gx = _layer_norm_backward_into(g, x, shape, w, mean, rstd, grad_w, grad_b)
    return gx, grad_w, grad_b


# ---------------------------------------------------------------- BatchNorm
def _check_batch_norm(x, weight, bias, running_mean, running_var, eps):
    x = _float(x, "x")
    check_min_ndim(x, "x", 2, " (N, C) or (N, C, ...)")
    check_scalar(eps, "eps", numbers.Real, min_val=0)
    c = x.shape[1]
    w = None if weight is None else _like(weight, "weight", x, "x", (c,))
    b = None if bias is None else _like(bias, "bias", x, "x", (c,))
    for name, arr in (("running_mean", running_mean), ("running_var", running_var)):
        if arr is not None:
            if not isinstance(arr, np.ndarray) or arr.dtype != x.dtype or arr.shape != (c,) \
                    or not arr.flags.c_contiguous:
                raise TypeError(f"{name} must be a C-contiguous {x.dtype} ndarray of shape "
                                f"({c},) (it is updated in place)")
    return x, w, b


def _bn_layout(x):
    """(kernel suffix, shape): (N, C) rows when each channel has one value per sample,
    else (N, C, L) with L the flattened spatial axes."""
    c = x.shape[1]
    if x.ndim == 2 or x.size == x.shape[0] * c:
        return "_rows", (x.shape[0], c)
    return "", (x.shape[0], c, -1)


def _running_invstd(running_var, eps, dtype):
    return (1 / np.sqrt(running_var + dtype.type(eps))).astype(dtype)


def _batch_norm_forward(x, w, b, running_mean, running_var, training, momentum, eps):
    """(out, mean, invstd): batch statistics when training (updating the running
    statistics with ``momentum``, unbiased variance as PyTorch), else the running ones."""
    c = x.shape[1]
    count = x.size // c if c else 0
    if training and count <= 1:
        raise ValueError(f"batch norm in training mode needs more than one value per "
                         f"channel, got input of shape {x.shape}")
    w = np.ones(c, x.dtype) if w is None else w
    b = np.zeros(c, x.dtype) if b is None else b
    out = np.empty_like(x)
    var = np.empty(c, x.dtype)
    if training:
        mean = np.empty(c, x.dtype)
        invstd = np.empty(c, x.dtype)
    else:
        mean = running_mean
        invstd = _running_invstd(running_var, eps, x.dtype)
    suffix, shape = _bn_layout(x)
    getattr(_kernels.load("_nn"), "batch_norm_forward" + suffix)(
        x.reshape(shape), w, b, mean, invstd, training, float(eps), out.reshape(shape), var,
        _threads(x))
    if training and running_mean is not None:
        mom = x.dtype.type(momentum)
        running_mean *= 1 - mom
        running_mean += mom * mean
        running_var *= 1 - mom
        running_var += mom * var * x.dtype.type(count / (count - 1))
    return out, mean, invstd


def _batch_norm_backward_into(g, x, w, mean, invstd, training, grad_w, grad_b):
    c = x.shape[1]
    gx = np.empty_like(x)
    suffix, shape = _bn_layout(x)
    getattr(_kernels.load("_nn"), "batch_norm_backward" + suffix)(
        g.reshape(shape), x.reshape(shape), np.ones(c, x.dtype) if w is None else w, mean,
        invstd, training, gx.reshape(shape),
        np.zeros(c, x.dtype) if grad_w is None else grad_w,
        np.zeros(c, x.dtype) if grad_b is None else grad_b, _threads(x))
    return gx


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """y = (x - mean_c) / sqrt(var_c + eps) * weight_c + bias_c per channel (axis 1).

    Training: batch mean and biased variance over all axes but 1; the running
    statistics (if given) become (1 - momentum) running + momentum batch, with the
    unbiased variance. Eval: the running statistics are used.
    """
    x, w, b = _check_batch_norm(x, weight, bias, running_mean, running_var, eps)
    check_scalar(momentum, "momentum", numbers.Real)
    if not training and (running_mean is None or running_var is None):
        raise ValueError("running_mean and running_var are required when training=False")
    return _batch_norm_forward(x, w, b, running_mean, running_var, training, momentum,
                               eps)[0]


def batch_norm_backward(grad_out, x, running_mean, running_var, weight=None, bias=None,
                        training=False, eps=1e-5):
    """(grad_x, grad_weight, grad_bias) of :func:`batch_norm` (None without weight/bias).

    Training, per channel with M values, xhat = (x - mean) invstd:
    grad_x = weight invstd (g - sum g / M - xhat sum(g xhat) / M); eval:
    grad_x = weight invstd g. grad_weight = sum g xhat, grad_bias = sum g.
    """
    x, w, b = _check_batch_norm(x, weight, bias, running_mean, running_var, eps)
    g = _same_shape(grad_out, x)
    if training:
        _, mean, invstd = _batch_norm_forward(x, w, b, None, None, True, 0.0, eps)
    else:
        mean = running_mean
        invstd = _running_invstd(running_var, eps, x.dtype)
    grad_w = None if w is None else np.zeros_like(w)
    grad_b = None if b is None else np.zeros_like(b)
    gx = _batch_norm_backward_into(g, x, w, mean, invstd, training, grad_w, grad_b)
    return gx, grad_w, grad_b


# ---------------------------------------------------------------- dropout
def _dropout_mask(shape, p, dtype, rng):
    """Inverted-dropout multiplier: 0 with probability p, else 1 / (1 - p)."""
    keep = rng.random(shape, dtype=np.float32 if dtype == np.float32 else np.float64) >= p
    return keep * dtype.type(1 / (1 - p)) if p < 1 else np.zeros(shape, dtype)


def _check_p(p):
    return check_scalar(p, "p", numbers.Real, min_val=0, max_val=1)


def dropout(x, p=0.5, training=True, random_state=None):
    """Zero each element with probability ``p`` and scale the rest by 1 / (1 - p), so
    the expectation is unchanged; identity when not ``training``. The backward of the
    same mask is ``grad_out * mask`` (see :class:`fastml.nn.Dropout`)."""
    x = _float(x, "x")
    p = _check_p(p)
    if not training or p == 0:
        return x.copy()
    return x * _dropout_mask(x.shape, p, x.dtype, check_random_state(random_state))


# ---------------------------------------------------------------- losses
def _check_ce(x, target, ignore_index, label_smoothing, reduction):
    x = _float(x, "input", ndim=2)
    t = check_index_array(target, "target", None, what="class indices", ndim=1)
    if t.shape[0] != x.shape[0]:
        raise ValueError(f"target must have {x.shape[0]} entries (one per row of input), "
                         f"got {t.shape[0]}")
    check_scalar(ignore_index, "ignore_index", numbers.Integral)
    check_scalar(label_smoothing, "label_smoothing", numbers.Real, min_val=0, max_val=1)
    _reduction(reduction)
    t = t.astype(np.int64, copy=False)
    valid = t != ignore_index
    bad = valid & ((t < 0) | (t >= x.shape[1]))
    if bad.any():
        raise ValueError(f"target must be in [0, {x.shape[1]}) or ignore_index, got "
                         f"{t[bad][0]}")
    return x, np.ascontiguousarray(t), int(np.count_nonzero(valid))


def _cross_entropy_forward(x, t, count, ignore_index, label_smoothing, reduction):
    """(loss, lse): the reduced loss and each row's log-sum-exp."""
    lse = np.empty(x.shape[0], x.dtype)
    total = _kernels.load("_nn").cross_entropy_forward(x, t, float(label_smoothing),
                                                       int(ignore_index), lse, _threads(x))
    if reduction == "sum":
        return total, lse
    return (total / count if count else float("nan")), lse


def _cross_entropy_backward(x, t, count, lse, ignore_index, label_smoothing, reduction,
                            grad=1.0):
    gx = np.empty_like(x)
    scale = grad if reduction == "sum" else (grad / count if count else 0.0)
    _kernels.load("_nn").cross_entropy_backward(x, t, lse, float(label_smoothing),
                                                int(ignore_index), float(scale), gx, _threads(x))
    return gx


def cross_entropy(input, target, *, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0):
    """Softmax cross-entropy of logits ``input`` (N, C) and class indices ``target`` (N,).

    loss_i = (1 - eps) (lse_i - z_{i,t_i}) + eps (lse_i - mean_c z_ic), with
    lse_i = log sum_c exp z_ic and eps = ``label_smoothing``; rows whose target is
    ``ignore_index`` are left out, "mean" divides by the number of the others (NaN
    when there are none). One fused compiled pass (log-softmax + NLL).
    """
    x, t, count = _check_ce(input, target, ignore_index, label_smoothing, reduction)
    return _cross_entropy_forward(x, t, count, ignore_index, label_smoothing, reduction)[0]


def cross_entropy_backward(input, target, *, ignore_index=-100, reduction="mean",
                           label_smoothing=0.0, grad=1.0):
    """d loss / d input = grad * (softmax(z) - eps / C - (1 - eps) onehot(t)) (/ count for
    "mean"); zero rows for ignored targets."""
    x, t, count = _check_ce(input, target, ignore_index, label_smoothing, reduction)
    _, lse = _cross_entropy_forward(x, t, count, ignore_index, label_smoothing, reduction)
    return _cross_entropy_backward(x, t, count, lse, ignore_index, label_smoothing,
                                   reduction, grad)


def _check_pair(input, target):
    x = _float(input, "input")
    return x, _like(target, "target", x, "input", x.shape, " (that of input)")


def _scale(x, reduction, grad):
    check_scalar(grad, "grad", numbers.Real)
    return grad / x.size if reduction == "mean" and x.size else grad


def mse_loss(input, target, reduction="mean"):
    """mean (or sum) of (input - target)^2."""
    x, y = _check_pair(input, target)
    d = x - y
    total = float(np.vdot(d, d))
    return total / x.size if _reduction(reduction) == "mean" and x.size else total


def mse_loss_backward(input, target, reduction="mean", grad=1.0):
    """2 (input - target) grad (/ numel for "mean")."""
    x, y = _check_pair(input, target)
    return (x - y) * x.dtype.type(2 * _scale(x, _reduction(reduction), grad))


def _check_pos_weight(pos_weight, x):
    if pos_weight is None:
        return None
    pw = _like(pos_weight, "pos_weight", x, "input")
    try:
        np.broadcast_shapes(pw.shape, x.shape)
    except ValueError:
        raise ValueError(f"pos_weight of shape {pw.shape} does not broadcast to input "
                         f"{x.shape}") from None
    return pw


def binary_cross_entropy_with_logits(input, target, pos_weight=None, reduction="mean"):
    """loss = (1 - y) z + (1 + (pw - 1) y) log(1 + exp(-z)), the stable form of
    -[pw y log sigma(z) + (1 - y) log(1 - sigma(z))]; mean or sum over elements."""
    x, y = _check_pair(input, target)
    pw = _check_pos_weight(pos_weight, x)
    softplus_neg = np.logaddexp(0, -x)
    weight = 1 if pw is None else 1 + (pw - 1) * y
    total = float(np.sum((1 - y) * x + weight * softplus_neg, dtype=np.float64))
    return total / x.size if _reduction(reduction) == "mean" and x.size else total


def binary_cross_entropy_with_logits_backward(input, target, pos_weight=None,
                                              reduction="mean", grad=1.0):
    """grad * ((1 - y) + (1 + (pw - 1) y)(sigma(z) - 1)) (/ numel for "mean");
    sigma(z) - y without ``pos_weight``."""
    x, y = _check_pair(input, target)
    pw = _check_pos_weight(pos_weight, x)
    s = sigmoid(x)
    d = s - y if pw is None else (1 - y) + (1 + (pw - 1) * y) * (s - 1)
    return (d * x.dtype.type(_scale(x, _reduction(reduction), grad))).astype(x.dtype,
                                                                            copy=False)
