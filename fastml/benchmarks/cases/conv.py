"""conv suite: conv1d / conv2d forward and backward (float32) vs PyTorch and the reference.

A size is (N, C_in, H, W, C_out) for conv2d and (N, C_in, L, C_out) for conv1d; the
kernel, stride, padding and groups are fixed per case. The first size of each case is
a reduced one at which the (slow) reference also runs; the last is the shape named in
the issue. Backward cases time grad_x, grad_w and grad_b together; the torch peer calls
``aten.convolution_backward`` (what autograd runs) so only the backward is timed.
FLOPs: 2 N C_out OH OW (C_in / groups) K_h K_w forward, twice that backward.
"""

import numpy as np

import fastml
from fastml.benchmarks import Case, Impl, register
from fastml.nn import functional as F
from fastml.reference import conv as reference


def _out_size(size, kernel, stride, padding):
    return tuple((n + 2 * p - k) // s + 1
                 for n, k, s, p in zip(size, kernel, stride, padding))


class _Conv:
    """One convolution layer shape: builds inputs, counts FLOPs, wraps every implementation."""

    def __init__(self, kernel, stride=1, padding=0, groups=1):
        self.nd = len(kernel)
        self.kernel = kernel
        self.stride = (stride,) * self.nd
        self.padding = (padding,) * self.nd
        self.groups = groups
        self.kw = dict(stride=stride, padding=padding, dilation=1, groups=groups)

    def shapes(self, size):
        n, c, *spatial, co = size
        out = _out_size(spatial, self.kernel, self.stride, self.padding)
        return (n, c, *spatial), (co, c // self.groups, *self.kernel), (n, co, *out)

    def flops(self, size):
        _, w, y = self.shapes(size)
        return 2.0 * np.prod(y) * np.prod(w[1:])

    def setup(self, size, rng, backward):
        xs, ws, ys = self.shapes(size)
        x = rng.standard_normal(xs, dtype=np.float32)
        w = (rng.standard_normal(ws, dtype=np.float32) / np.sqrt(np.prod(ws[1:]))).astype(
            np.float32)
        if backward:
            return {"grad_out": rng.standard_normal(ys, dtype=np.float32), "x": x, "w": w}
        return {"x": x, "w": w, "b": rng.standard_normal(ws[0], dtype=np.float32)}

    # -- implementations
    def fastml(self, backward):
        if backward:
            fn = F.conv2d_backward if self.nd == 2 else F.conv1d_backward
            return lambda grad_out, x, w: fn(grad_out, x, w, **self.kw)
        fn = F.conv2d if self.nd == 2 else F.conv1d
        return lambda x, w, b: fn(x, w, b, **self.kw)

    def reference(self, backward):
        if backward:
            return lambda grad_out, x, w: reference.conv2d_backward(grad_out, x, w, **self.kw)
        return lambda x, w, b: reference.conv2d(x, w, b, **self.kw)

    def torch(self, backward):
        if backward:
            def run(grad_out, x, w):
                import torch

                return torch.ops.aten.convolution_backward(
                    grad_out, x, w, [w.shape[0]], list(self.stride), list(self.padding),
                    [1] * self.nd, False, [0] * self.nd, self.groups, [True, True, True])
            return run

        def forward(x, w, b):
            import torch

            fn = torch.nn.functional.conv2d if self.nd == 2 else torch.nn.functional.conv1d
            return fn(x, w, b, **self.kw)
        return forward


def _to_torch(inputs):
    import torch

    torch.set_num_threads(fastml.get_num_threads())
    return {k: torch.from_numpy(v) for k, v in inputs.items() if v is not None}


def _to_numpy(answer):
    if isinstance(answer, (tuple, list)):
        return tuple(a.numpy() for a in answer)
    return answer.numpy()


def _check(expected, actual, size):
    """float32 agreement to 1e-4 of each array's largest entry (sums of many terms cancel)."""
    pairs = zip(expected, actual) if isinstance(expected, tuple) else [(expected, actual)]
    for e, a in pairs:
        e, a = np.asarray(e), np.asarray(a)
        scale = max(float(np.max(np.abs(e), initial=0.0)), 1e-30)
        np.testing.assert_allclose(a, e, rtol=1e-4, atol=1e-4 * scale)


def _label(size):
    return "x".join(map(str, size[:-1])) + f"->{size[-1]}"


def _register(name, description, layer, sizes, quick, test_sizes):
    """sizes: [reduced size where the reference runs too, the issue's size]; quick: one
    size just above the reduced one (the reference is skipped, to keep --quick short)."""
    assert layer.flops(quick) > layer.flops(sizes[0])
    for backward in (False, True):
        register(Case(
            suite="conv", name=f"{name}_{'backward' if backward else 'forward'}",
            description=description + (" Backward: grad_x, grad_w, grad_b." if backward
                                       else " Forward with bias."),
            setup=lambda size, rng, backward=backward: layer.setup(size, rng, backward),
            sizes=sizes, quick_sizes=[quick], test_sizes=test_sizes,
            flops=lambda size, backward=backward: layer.flops(size) * (2 if backward else 1),
            size_key=layer.flops, size_label=_label, check=_check,
            impls=[
                Impl("fastml", layer.fastml(backward)),
                Impl("reference", layer.reference(backward), max_size=layer.flops(sizes[0])),
                Impl("torch", layer.torch(backward), requires=("torch",), prepare=_to_torch,
                     to_numpy=_to_numpy),
            ],
        ))


_register("conv2d_3x3_c64", "3x3 pad 1, 64 -> 64 channels, 56x56 (ResNet stage 1).",
          _Conv((3, 3), padding=1), [(1, 16, 28, 28, 16), (8, 64, 56, 56, 64)],
          (1, 32, 28, 28, 32), [(1, 2, 5, 4, 3), (2, 3, 6, 6, 2)])
_register("conv2d_5x5_c3", "5x5 no padding, 3 -> 32 channels, 32x32 (first layer).",
          _Conv((5, 5)), [(4, 3, 32, 32, 32), (32, 3, 32, 32, 32)], (8, 3, 32, 32, 32),
          [(2, 3, 7, 6, 4)])
_register("conv2d_3x3_c256_b1", "3x3 pad 1, 256 -> 256 channels, 14x14, batch 1.",
          _Conv((3, 3), padding=1), [(1, 64, 14, 14, 64), (1, 256, 14, 14, 256)],
          (1, 128, 14, 14, 128), [(1, 5, 4, 4, 3)])
_register("conv2d_3x3_s2", "3x3 stride 2 pad 1, 128 -> 256 channels, 28x28.",
          _Conv((3, 3), stride=2, padding=1), [(1, 32, 28, 28, 64), (8, 128, 28, 28, 256)],
          (1, 64, 28, 28, 128), [(2, 3, 7, 8, 4)])
_register("conv2d_depthwise", "Depthwise 3x3 pad 1 (groups = channels = 256), 28x28.",
          _Conv((3, 3), padding=1, groups=256),
          [(1, 256, 28, 28, 256), (8, 256, 28, 28, 256)], (2, 256, 28, 28, 256),
          [(2, 256, 3, 4, 256)])
_register("conv1d_k9", "conv1d kernel 9, 64 -> 64 channels, length 4096.",
          _Conv((9,)), [(2, 64, 512, 64), (16, 64, 4096, 64)], (2, 64, 1024, 64),
          [(2, 3, 12, 4)])


# ---------------------------------------------------------------- pooling
# A size is (N, C, H, W); window 3x3 stride 2 padding 1 (ResNet's stem max pool) for max,
# 2x2 stride 2 for average. "FLOPs" count one operation per window element.

_POOL = {"max": ((3, 3), (2, 2), (1, 1)), "avg": ((2, 2), (2, 2), (0, 0))}


def _pool_setup(kind, backward):
    def setup(size, rng):
        x = rng.standard_normal(size, dtype=np.float32)
        if not backward:
            return {"x": x}
        y, idx = F.max_pool2d(x, *_POOL["max"], return_indices=True) if kind == "max" else \
            (F.avg_pool2d(x, *_POOL["avg"]), None)
        inputs = {"grad_out": rng.standard_normal(y.shape, dtype=np.float32), "x": x}
        return {**inputs, "indices": idx} if kind == "max" else inputs
    return setup


def _pool_flops(kind):
    kernel, stride, padding = _POOL[kind]

    def flops(size):
        out = _out_size(size[2:], kernel, stride, padding)
        return float(size[0] * size[1] * np.prod(out) * np.prod(kernel))
    return flops


def _torch_pool(kind, backward):
    """The torch call for a pooling case (torch imported on first use, not at load)."""
    kernel, stride, padding = (list(v) for v in _POOL[kind])

    def run(x, grad_out=None, indices=None):
        import torch

        aten = torch.ops.aten
        if kind == "max" and backward:
            return aten.max_pool2d_with_indices_backward(grad_out, x, kernel, stride, padding,
                                                         [1, 1], False, indices)
        if backward:
            return aten.avg_pool2d_backward(grad_out, x, kernel, stride, padding, False,
                                            True, None)
        fn = torch.nn.functional.max_pool2d if kind == "max" else \
            torch.nn.functional.avg_pool2d
        return fn(x, kernel, stride, padding)
    return run


def _register_pool(kind, sizes, quick, test_sizes):
    args = _POOL[kind]
    fast = {("max", False): lambda x: F.max_pool2d(x, *args),
            ("max", True): lambda grad_out, x, indices: F.max_pool2d_backward(
                grad_out, x, *args, indices=indices),
            ("avg", False): lambda x: F.avg_pool2d(x, *args),
            ("avg", True): lambda grad_out, x: F.avg_pool2d_backward(grad_out, x, *args)}
    ref = {("max", False): lambda x: reference.max_pool2d(x, *args),
           ("max", True): lambda grad_out, x, indices: reference.max_pool2d_backward(
               grad_out, x, *args, indices=indices),
           ("avg", False): lambda x: reference.avg_pool2d(x, *args),
           ("avg", True): lambda grad_out, x: reference.avg_pool2d_backward(grad_out, x, *args)}
    for backward in (False, True):
        register(Case(
            suite="conv", name=f"{kind}_pool2d_{'backward' if backward else 'forward'}",
            description=f"{kind}_pool2d kernel {args[0]} stride {args[1]} padding {args[2]}"
                        + (", backward (max: from the forward's indices)." if backward
                           else "."),
            setup=_pool_setup(kind, backward),
            sizes=sizes, quick_sizes=[quick], test_sizes=test_sizes,
            flops=_pool_flops(kind), size_key=_pool_flops(kind), check=_check,
            impls=[
                Impl("fastml", fast[kind, backward]),
                Impl("reference", ref[kind, backward], max_size=_pool_flops(kind)(sizes[0])),
                Impl("torch", _torch_pool(kind, backward), requires=("torch",),
                     prepare=_to_torch, to_numpy=_to_numpy),
            ],
        ))


_register_pool("max", [(1, 8, 32, 32), (8, 64, 112, 112)], (1, 64, 56, 56),
               [(1, 2, 5, 6), (2, 3, 8, 7)])
_register_pool("avg", [(1, 8, 32, 32), (8, 256, 14, 14)], (1, 64, 28, 28),
               [(1, 2, 5, 6), (2, 3, 8, 7)])
