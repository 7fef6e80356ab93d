"""Convolution and pooling over NCW / NCHW arrays, forward and backward (PyTorch semantics).

Definitions (``s`` stride, ``p`` padding before the input, ``d`` dilation, ``G`` groups,
``C_g = C_in / G`` input channels per group, output channel ``o`` in group
``g = o // (C_out / G)``; x is zero outside its bounds)::

    conv2d:   y[n, o, i, j] = b[o] + sum_{c < C_g, u, v} w[o, c, u, v]
                              * x[n, g C_g + c, i s_h - p_h + u d_h, j s_w - p_w + v d_w]
    output:   OH = floor((H + p_top + p_bottom - d_h (K_h - 1) - 1) / s_h) + 1
    backward: grad_b[o] = sum_{n,i,j} go[n, o, i, j]
              grad_w[o, c, u, v] = sum_{n,i,j} go[n, o, i, j]
                                   * x[n, g C_g + c, i s_h - p_h + u d_h, j s_w - p_w + v d_w]
              grad_x[n, g C_g + c, a, e] = sum over (o, i, j, u, v) reaching (a, e) of
                                           go[n, o, i, j] w[o, c, u, v]

``conv1d`` is the same with H = 1. ``padding`` is an int, a tuple (one value per spatial
axis), ``"valid"`` (0) or ``"same"`` (stride 1 only; output size = input size, total
padding d (K - 1), the odd extra element on the bottom/right, as PyTorch).

Algorithm (kernel ``fastml.kernels._conv``), chosen per shape:

* one input channel per group (depthwise, any channel multiplier): a direct kernel,
  parallel over (image, channel) planes; it is memory-bound and as a GEMM it would be
  1 x K_h K_w. grad_w and grad_b share one pass over grad_out.
* every other shape: im2col + GEMM (BLAS ``gemm``) over tiles of output pixels,
  parallel over (image, group, tile) with one BLAS thread per OpenMP thread; a 1x1
  stride-1 kernel multiplies x directly. Backward: grad_w += go col^T per thread,
  grad_x = col2im(W^T go); each thread owns whole images, or, when the batch is smaller
  than the thread count, tiles run in parallel into per-thread copies of grad_x.
* forward of a 3x3, stride 1, dilation 1, ungrouped layer, padding <= 2, with >= 64
  input and output channels and >= 1024 2x2 output tiles in the batch: Winograd
  F(2x2, 3x3). 4x4 input tiles are transformed (B^T d B), multiplied by the
  transformed kernels (G g G^T) in 16 GEMMs of C_out x C_in x tiles and transformed
  back (A^T m A): 2.25x fewer multiplications (the conv bench suite times it against
  im2col). With fewer channels or tiles the transforms and the small GEMMs cost more
  than they save. The backward stays im2col (Winograd grad_x and F(3x3, 2x2) grad_w
  gain nothing over it). Rounding: float32 errors stay ~1e-6 relative.

Extra memory: two column tiles of about 1 MiB (at least 64 pixels; all of them under
64 MiB) and one weight-sized gradient accumulator per thread; Winograd: 16 transformed
kernels (16 C_out C_in) plus about 2 MiB of transformed tiles per thread. It does not
grow with the batch (the per-thread grad_x copies exist only when batch x groups <
threads).

Dtypes: float32 or float64 (integers are upcast to float64); the result has the common
float dtype of the inputs (float64 unless all are float32). NaN and infinity propagate
as in PyTorch. Inputs of any strides are accepted (copied to C order once).
"""

import math

import numpy as np

from fastml import _kernels
from fastml._validation import (
    check_array,
    check_index_array,
    check_int_tuple,
    check_nonempty_axes,
    check_option,
    check_positive_int,
    check_shape,
    common_float_dtype,
)

__all__ = ["avg_pool2d", "avg_pool2d_backward", "conv1d", "conv1d_backward", "conv2d",
           "conv2d_backward", "max_pool2d", "max_pool2d_backward"]


# Work per thread below which extra OpenMP threads cost more (fork/join) than they save,
# as PyTorch's grain size: multiply-adds for convolutions, window reads for pooling.
_CONV_GRAIN = 1 << 18
_POOL_GRAIN = 1 << 15




def _shape(a):
    return "(" + ", ".join(map(str, a)) + ")"


class _ConvSpec:
    """Validated operands of a convolution, as 4-D C-contiguous arrays of one dtype."""

    def __init__(self, x, w, b, stride, padding, dilation, groups, nd, extra=()):
        name = f"conv{nd}d"
        x = check_array(x, "x", ndim=(nd + 1, nd + 2), finite=False)
        w = check_array(w, "w", ndim=nd + 2, finite=False)
        if b is not None:
            b = check_array(b, "b", ndim=1, finite=False)
        extra = [check_array(a, n, ndim=x.ndim, finite=False) for n, a in extra]
        self.batched = x.ndim == nd + 2
        if not self.batched:
            x = x[None]
            extra = [a[None] for a in extra]
        self.dtype = common_float_dtype(x, w, *([b] if b is not None else []), *extra)
        groups = check_positive_int(groups, "groups")
        stride = check_int_tuple(stride, "stride", nd, 1)
        dilation = check_int_tuple(dilation, "dilation", nd, 1)
        n, c = x.shape[:2]
        co, cg = w.shape[:2]
        kernel = w.shape[2:]
        if c == 0 or cg == 0:
            raise ValueError(f"{name}: x and w need at least one input channel, got x of "
                             f"shape {_shape(x.shape)} and w of shape {_shape(w.shape)}")
        if c % groups or co % groups:
            raise ValueError(f"{name}: groups={groups} must divide the input channels "
                             f"({c}) and the output channels ({co})")
        if cg * groups != c:
            raise ValueError(f"{name}: x has {c} channels but w of shape {_shape(w.shape)} "
                             f"expects {cg} x groups={groups} = {cg * groups}")
        if b is not None:
            check_shape(b, "b", (co,), f" to match w of shape {_shape(w.shape)}")
        check_nonempty_axes(w, "w", range(2, w.ndim), "kernel axes")
        span = tuple(d * (k - 1) + 1 for d, k in zip(dilation, kernel))
        if isinstance(padding, str):
            check_option(padding, "padding", ("same", "valid"))
            if padding == "same" and any(s != 1 for s in stride):
                raise ValueError(f"{name}: padding='same' needs stride 1, got {stride}")
            before = tuple((sp - 1) // 2 if padding == "same" else 0 for sp in span)
            after = tuple(sp - 1 - bf if padding == "same" else 0
                          for sp, bf in zip(span, before))
        else:
            before = after = check_int_tuple(padding, "padding", nd, 0)
        size = x.shape[2:]
        out = []
        for ax in range(nd):
            padded = size[ax] + before[ax] + after[ax]
            if span[ax] > padded:
                raise ValueError(
                    f"{name}: kernel of size {kernel[ax]} with dilation {dilation[ax]} spans "
                    f"{span[ax]} > padded input size {padded} (x of shape "
                    f"{_shape(x.shape)}, w of shape {_shape(w.shape)}, padding {padding})")
            out.append((padded - span[ax]) // stride[ax] + 1)
        # 1-D runs as 2-D with a unit height.
        lift = (1,) if nd == 1 else ()
        self.x = x.astype(self.dtype, copy=False).reshape(n, c, *lift, *size)
        self.w = w.astype(self.dtype, copy=False).reshape(co, cg, *lift, *kernel)
        self.b = None if b is None else b.astype(self.dtype, copy=False)
        self.extra = [a.astype(self.dtype, copy=False) for a in extra]
        self.out_shape = (n, co, *out)
        self.out4 = (n, co, *lift, *out)
        self.w_shape = w.shape
        pad0 = (0,) * (2 - nd)
        self.args = ((1,) * (2 - nd) + stride) + (pad0 + before) + \
            ((1,) * (2 - nd) + dilation) + (groups,)
        self.nd = nd

    def result(self, a):
        """``a`` (4-D) in the caller's layout: (N, C, L) for 1-D, no batch axis if unbatched."""
        a = a.reshape(a.shape[0], a.shape[1], *a.shape[4 - self.nd:])
        return a if self.batched else a[0]

    def run(self, fn, *arrays):
        """Call kernel ``fn``; BLAS is pinned to one thread on the GEMM path, where the
        OpenMP threads (``_kernels.get_num_threads()``, fewer for tiny problems) each run their
        own GEMMs."""
        macs = math.prod(self.out4) * math.prod(self.w.shape[1:])
        args = (*arrays, *self.args, _kernels.threads_for(macs, _CONV_GRAIN))
        if self.w.shape[1] == 1:      # direct kernel, no BLAS
            return fn(*args)
        with _kernels.blas_single_threaded():
            return fn(*args)


def _forward(spec):
    y = np.empty(spec.out4, dtype=spec.dtype)
    has_bias = spec.b is not None
    b = spec.b if has_bias else np.empty(0, dtype=spec.dtype)
    if y.size:
        spec.run(_kernels.load("_conv").conv2d_forward, spec.x, spec.w, b, has_bias, y)
    return spec.result(y)


def _backward(spec):
    go = spec.extra[0]
    if go.shape != spec.out_shape:
        drop = 0 if spec.batched else 1
        raise ValueError(f"conv{spec.nd}d_backward: grad_out must have the output shape "
                         f"{_shape(spec.out_shape[drop:])}, got {_shape(go.shape[drop:])}")
    if spec.w.size == 0:      # no output channels: nothing flows back
        gx, gw, gb = np.zeros_like(spec.x), np.zeros_like(spec.w), np.zeros(0, spec.dtype)
    else:                     # the kernel writes every element
        gx, gw = np.empty_like(spec.x), np.empty_like(spec.w)
        gb = np.empty(spec.w.shape[0], dtype=spec.dtype)
        spec.run(_kernels.load("_conv").conv2d_backward, go.reshape(spec.out4), spec.x, spec.w,
                 gx, gw, gb)
    return spec.result(gx), gw.reshape(spec.w_shape), gb


def conv2d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D cross-correlation of x (N, C_in, H, W) with w (C_out, C_in / groups, K_h, K_w).

    y[n, o, i, j] = b[o] + sum_{c, u, v} w[o, c, u, v] x[n, g C_g + c, i s_h - p_h + u d_h,
    j s_w - p_w + v d_w] (see the module docstring), exactly ``torch.nn.functional.conv2d``.

    Parameters
    ----------
    x : array_like, shape (N, C_in, H, W), or (C_in, H, W) unbatched
    w : array_like, shape (C_out, C_in / groups, K_h, K_w)
    b : array_like, shape (C_out,), optional
    stride, dilation : int or (int, int), >= 1
    padding : int or (int, int) >= 0, "valid" or "same" (stride 1)
    groups : int, divides C_in and C_out

    Returns
    -------
    y : ndarray, shape (N, C_out, OH, OW) (no N for unbatched x), common float dtype.
    """
    return _forward(_ConvSpec(x, w, b, stride, padding, dilation, groups, 2))


def conv1d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D cross-correlation of x (N, C_in, L) or (C_in, L) with w (C_out, C_in/groups, K).

    y[n, o, i] = b[o] + sum_{c, u} w[o, c, u] x[n, g C_g + c, i s - p + u d], exactly
    ``torch.nn.functional.conv1d``; arguments as :func:`conv2d` with one spatial axis.
    """
    return _forward(_ConvSpec(x, w, b, stride, padding, dilation, groups, 1))


def conv2d_backward(grad_out, x, w, *, stride=1, padding=0, dilation=1, groups=1):
    """Gradients of sum(grad_out * conv2d(x, w, b, ...)) with respect to x, w and b.

    grad_b[o] = sum_{n,i,j} go[n, o, i, j];
    grad_w[o, c, u, v] = sum_{n,i,j} go[n, o, i, j] x[n, g C_g + c, i s_h - p_h + u d_h, ...];
    grad_x = the transposed convolution of go with w (adjoint of the forward map).

    Returns
    -------
    (grad_x, grad_w, grad_b) with the shapes of x, w and (C_out,).
    """
    return _backward(_ConvSpec(x, w, None, stride, padding, dilation, groups, 2,
                               extra=(("grad_out", grad_out),)))


def conv1d_backward(grad_out, x, w, *, stride=1, padding=0, dilation=1, groups=1):
    """Gradients (grad_x, grad_w, grad_b) of :func:`conv1d`; see :func:`conv2d_backward`."""
    return _backward(_ConvSpec(x, w, None, stride, padding, dilation, groups, 1,
                               extra=(("grad_out", grad_out),)))


class _PoolSpec:
    """Validated pooling input (4-D, C order) and window geometry."""

    def __init__(self, name, x, kernel_size, stride, padding, grad_out=None):
        x = check_array(x, "x", ndim=(3, 4), finite=False)
        self.batched = x.ndim == 4
        self.x = x if self.batched else x[None]
        self.kernel = check_int_tuple(kernel_size, "kernel_size", 2, 1)
        self.stride = self.kernel if stride is None else check_int_tuple(stride, "stride", 2, 1)
        self.padding = check_int_tuple(padding, "padding", 2, 0)
        check_nonempty_axes(x, "x", (-2, -1), "spatial axes")
        out = []
        for ax in range(2):
            k, p, size = self.kernel[ax], self.padding[ax], self.x.shape[2 + ax]
            if 2 * p > k:
                raise ValueError(f"{name}: padding {self.padding} must be at most half the "
                                 f"kernel size {self.kernel}")
            if size + 2 * p < k:
                raise ValueError(f"{name}: kernel size {self.kernel} is larger than the padded "
                                 f"input (x of shape {_shape(x.shape)}, padding {self.padding})")
            out.append((size + 2 * p - k) // self.stride[ax] + 1)
        self.out_shape = self.x.shape[:2] + tuple(out)
        self.grad_out = None
        if grad_out is not None:
            go = check_array(grad_out, "grad_out", ndim=x.ndim, finite=False)
            go = go if self.batched else go[None]
            if go.shape != self.out_shape:
                drop = 0 if self.batched else 1
                raise ValueError(f"{name}: grad_out must have the output shape "
                                 f"{_shape(self.out_shape[drop:])}, got {_shape(go.shape[drop:])}")
            dtype = common_float_dtype(self.x, go)
            self.x = self.x.astype(dtype, copy=False)
            self.grad_out = go.astype(dtype, copy=False)
        self.geometry = self.kernel + self.stride + self.padding
        reads = math.prod(self.out_shape) * math.prod(self.kernel)
        self.n_threads = _kernels.threads_for(reads, _POOL_GRAIN)

    def result(self, a):
        return a if self.batched else a[0]


def max_pool2d(x, kernel_size, stride=None, padding=0, return_indices=False):
    """Window maxima: y[n, c, i, j] = max_{u, v} x[n, c, i s_h - p_h + u, j s_w - p_w + v].

    Padding never wins (it acts as -inf) and must be at most half the kernel size;
    ``stride`` defaults to ``kernel_size``; OH = floor((H + 2 p_h - K_h) / s_h) + 1.
    Ties go to the first maximum in row-major window order; a NaN in the window
    is the maximum (the last NaN's index is returned), as PyTorch's CPU kernel.

    Returns y, shape (N, C, OH, OW), and with ``return_indices`` also int64 indices
    of the maxima, flattened over (H, W) per plane, as ``torch.nn.functional.max_pool2d``.
    """
    spec = _PoolSpec("max_pool2d", x, kernel_size, stride, padding)
    y = np.empty(spec.out_shape, dtype=spec.x.dtype)
    idx = np.empty(spec.out_shape, dtype=np.int64)
    if y.size:
        _kernels.load("_pool").max_pool2d_forward(spec.x, y, idx, *spec.geometry, spec.n_threads)
    if return_indices:
        return spec.result(y), spec.result(idx)
    return spec.result(y)


def max_pool2d_backward(grad_out, x, kernel_size, stride=None, padding=0, indices=None):
    """grad_x of :func:`max_pool2d`: each grad_out element goes to its window's argmax.

    grad_x[n, c, a] = sum_{(i, j): indices[n, c, i, j] = a} grad_out[n, c, i, j].
    ``indices`` (from ``max_pool2d(..., return_indices=True)``) skips recomputing the
    argmax from ``x``; they must lie in [0, H W).
    """
    spec = _PoolSpec("max_pool2d_backward", x, kernel_size, stride, padding, grad_out)
    kern = _kernels.load("_pool")
    n_threads = spec.n_threads
    if indices is None:
        idx = np.empty(spec.out_shape, dtype=np.int64)
        if idx.size:
            kern.max_pool2d_forward(spec.x, np.empty(spec.out_shape, dtype=spec.x.dtype),
                                    idx, *spec.geometry, n_threads)
    else:
        idx = check_array(indices, "indices", dtype=np.int64, ndim=(3, 4))
        idx = idx if spec.batched else idx[None]
        if idx.shape != spec.out_shape:
            raise ValueError(f"max_pool2d_backward: indices must have grad_out's shape "
                             f"{_shape(spec.out_shape)}, got {_shape(idx.shape)}")
        check_index_array(idx, "indices", spec.x.shape[2] * spec.x.shape[3],
                          what="positions in the flattened H * W plane")
    gx = np.zeros_like(spec.x)
    if gx.size and idx.size:
        kern.max_pool2d_backward(spec.grad_out, idx, gx, n_threads)
    return spec.result(gx)


def avg_pool2d(x, kernel_size, stride=None, padding=0, count_include_pad=True):
    """Mean over K_h x K_w windows: y[n, c, i, j] = sum_{window} x / divisor.

    The divisor is K_h K_w (clipped to the padded input) when ``count_include_pad``
    (PyTorch's default), else the number of input elements inside the window.
    Padding adds zeros, must be at most half the kernel size; ``stride`` defaults to
    ``kernel_size``. Same as ``torch.nn.functional.avg_pool2d`` (ceil_mode=False).
    """
    spec = _PoolSpec("avg_pool2d", x, kernel_size, stride, padding)
    y = np.empty(spec.out_shape, dtype=spec.x.dtype)
    if y.size:
        _kernels.load("_pool").avg_pool2d_forward(spec.x, y, *spec.geometry,
                                                  bool(count_include_pad), spec.n_threads)
    return spec.result(y)


def avg_pool2d_backward(grad_out, x, kernel_size, stride=None, padding=0,
                        count_include_pad=True):
    """grad_x of :func:`avg_pool2d`: grad_x[window(i, j)] += grad_out[i, j] / divisor(i, j)."""
    spec = _PoolSpec("avg_pool2d_backward", x, kernel_size, stride, padding, grad_out)
    gx = np.zeros_like(spec.x)
    if gx.size:
        _kernels.load("_pool").avg_pool2d_backward(spec.grad_out, gx, *spec.geometry,
                                                   bool(count_include_pad), spec.n_threads)
    return spec.result(gx)
