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
        import torch

        if backward:
            def run(grad_out, x, w):
                return torch.ops.aten.convolution_backward(
                    grad_out, x, w, [w.shape[0]], list(self.stride), list(self.padding),
                    [1] * self.nd, False, [0] * self.nd, self.groups, [True, True, True])
            return run
        fn = torch.nn.functional.conv2d if self.nd == 2 else torch.nn.functional.conv1d
        return lambda x, w, b: fn(x, w, b, **self.kw)


def _to_torch(inputs):
    import torch

    torch.set_num_threads(fastml.get_num_threads())
    return {k: torch.from_numpy(v) for k, v in inputs.items()}


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


def _register(name, description, layer, sizes, test_sizes):
    for backward in (False, True):
        register(Case(
            suite="conv", name=f"{name}_{'backward' if backward else 'forward'}",
            description=description + (" Backward: grad_x, grad_w, grad_b." if backward
                                       else " Forward with bias."),
            setup=lambda size, rng, backward=backward: layer.setup(size, rng, backward),
            sizes=sizes, quick_sizes=sizes[:1], test_sizes=test_sizes,
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
          [(1, 2, 5, 4, 3), (2, 3, 6, 6, 2)])
_register("conv2d_5x5_c3", "5x5 no padding, 3 -> 32 channels, 32x32 (first layer).",
          _Conv((5, 5)), [(4, 3, 32, 32, 32), (32, 3, 32, 32, 32)], [(2, 3, 7, 6, 4)])
_register("conv2d_3x3_c256_b1", "3x3 pad 1, 256 -> 256 channels, 14x14, batch 1.",
          _Conv((3, 3), padding=1), [(1, 64, 14, 14, 64), (1, 256, 14, 14, 256)],
          [(1, 5, 4, 4, 3)])
_register("conv2d_3x3_s2", "3x3 stride 2 pad 1, 128 -> 256 channels, 28x28.",
          _Conv((3, 3), stride=2, padding=1), [(1, 32, 28, 28, 64), (8, 128, 28, 28, 256)],
          [(2, 3, 7, 8, 4)])
_register("conv2d_depthwise", "Depthwise 3x3 pad 1 (groups = channels = 256), 28x28.",
          _Conv((3, 3), padding=1, groups=256),
          [(1, 256, 28, 28, 256), (8, 256, 28, 28, 256)], [(2, 256, 3, 4, 256)])
_register("conv1d_k9", "conv1d kernel 9, 64 -> 64 channels, length 4096.",
          _Conv((9,)), [(2, 64, 512, 64), (16, 64, 4096, 64)], [(2, 3, 12, 4)])
