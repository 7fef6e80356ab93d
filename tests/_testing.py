"""Helpers shared by several test modules (imported as ``_testing``; conftest.py puts
the tests folder on ``sys.path``)."""

import numpy as np

from fastml import nn
from fastml.nn._gradcheck import _central_difference

RTOL = {np.float32: 1e-5, np.float64: 1e-10}


def central_difference(f, arr, index, eps=1e-6):
    """:func:`fastml.nn._gradcheck._central_difference` with the tests' default eps."""
    return _central_difference(f, arr, index, eps)


def assert_close_scaled(actual, expected, dtype):
    """allclose at the dtype's tolerance, the absolute part scaled by max |expected|."""
    expected = np.asarray(expected, np.float64)
    scale = max(float(np.max(np.abs(expected), initial=0.0)), 1e-30)
    np.testing.assert_allclose(actual, expected, rtol=RTOL[dtype], atol=RTOL[dtype] * scale)


class AtTime(nn.Module):
    """A diffusion denoiser at fixed (t, y) as a one-input module, for gradcheck."""

    def __init__(self, model, t, y):
        super().__init__()
        self.model, self.t, self.y = model, t, y

    def forward(self, x):
        return self.model._forward(x, self.t, self.y)

    def backward(self, grad_out):
        return self.model.backward(grad_out)
