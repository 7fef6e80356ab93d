"""Parameter initialisation (PyTorch's ``torch.nn.init`` formulas), in place.

Each function takes a :class:`fastml.nn.Parameter` or a float ndarray, fills it and
returns it. Randomness comes from ``random_state`` (None: the module-level generator,
reseeded by :func:`manual_seed`), so a seeded script builds the same network twice.

fan_in / fan_out of a weight of shape ``(out, in, *kernel)`` are ``in * prod(kernel)`` and
``out * prod(kernel)``.

- Xavier / Glorot (keeps the variance of activations and gradients for tanh-like
  units): U(-a, a) with a = gain sqrt(6 / (fan_in + fan_out)), or
  N(0, gain^2 2 / (fan_in + fan_out)).
- Kaiming / He (for ReLU-like units): std = gain / sqrt(fan), gain = sqrt(2 / (1 + a^2))
  for leaky_relu with slope a; U(-sqrt 3 std, sqrt 3 std) or N(0, std^2).
"""

import math
import numbers

import numpy as np

from fastml._validation import (
    check_dtype_kind,
    check_instance,
    check_min_ndim,
    check_nonempty_axes,
    check_option,
    check_random_state,
    check_scalar,
)

__all__ = ["calculate_gain", "constant_", "kaiming_normal_", "kaiming_uniform_",
           "manual_seed", "normal_", "ones_", "uniform_", "xavier_normal_",
           "xavier_uniform_", "zeros_"]

_GLOBAL_RNG = [np.random.default_rng()]


def manual_seed(seed):
    """Reseed the generator that layers and init functions use by default (``seed``: an
    int >= 0, as ``torch.manual_seed``)."""
    seed = int(check_scalar(seed, "seed", numbers.Integral, min_val=0))
    _GLOBAL_RNG[0] = np.random.default_rng(seed)


def _rng(random_state):
    return _GLOBAL_RNG[0] if random_state is None else check_random_state(random_state)


def _array(tensor):
    arr = getattr(tensor, "data", tensor) if not isinstance(tensor, np.ndarray) else tensor
    what = "a Parameter or a float ndarray"
    return check_dtype_kind(check_instance(arr, "tensor", np.ndarray, what), "tensor", "f", what)


def _fill(tensor, values):
    arr = _array(tensor)
    arr[...] = values
    return tensor


def calculate_gain(nonlinearity, param=None):
    """Recommended gain: 1 (linear, sigmoid, conv), 5/3 (tanh), sqrt 2 (relu),
    sqrt(2 / (1 + a^2)) (leaky_relu with slope a, default 0.01), 3/4 (selu)."""
    check_option(nonlinearity, "nonlinearity",
                 ("linear", "identity", "conv1d", "conv2d", "sigmoid", "tanh", "relu",
                  "leaky_relu", "selu"))
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else check_scalar(param, "param", numbers.Real)
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    return 1.0


def _fans(arr):
    check_min_ndim(arr, "tensor", 2, " (for a fan in and fan out)")
    receptive = int(np.prod(arr.shape[2:])) if arr.ndim > 2 else 1
    return arr.shape[1] * receptive, arr.shape[0] * receptive


def uniform_(tensor, a=0.0, b=1.0, random_state=None):
    """U(a, b)."""
    arr = _array(tensor)
    return _fill(tensor, _rng(random_state).uniform(a, b, arr.shape))


def normal_(tensor, mean=0.0, std=1.0, random_state=None):
    """N(mean, std^2)."""
    arr = _array(tensor)
    return _fill(tensor, _rng(random_state).normal(mean, std, arr.shape))


def constant_(tensor, val):
    """Fill with ``val``."""
    return _fill(tensor, val)


def zeros_(tensor):
    """Fill with 0."""
    return _fill(tensor, 0)


def ones_(tensor):
    """Fill with 1."""
    return _fill(tensor, 1)


def xavier_uniform_(tensor, gain=1.0, random_state=None):
    """U(-a, a), a = gain sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(_array(tensor))
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -a, a, random_state)


def xavier_normal_(tensor, gain=1.0, random_state=None):
    """N(0, std^2), std = gain sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(_array(tensor))
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), random_state)


def _kaiming_std(tensor, a, mode, nonlinearity):
    arr = _array(tensor)
    fan_in, fan_out = _fans(arr)
    fan = fan_in if check_option(mode, "mode", ("fan_in", "fan_out")) == "fan_in" else fan_out
    check_nonempty_axes(arr, "tensor", (int(mode == "fan_in"), *range(2, arr.ndim)),
                        f"{mode} axes (axis 0 out, 1 in, then the receptive field)")
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu",
                     random_state=None):
    """U(-b, b), b = sqrt(3) gain / sqrt(fan). PyTorch's Linear/Conv default is
    a = sqrt(5), which gives b = 1 / sqrt(fan_in)."""
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound, random_state)


def kaiming_normal_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu",
                    random_state=None):
    """N(0, std^2), std = gain / sqrt(fan)."""
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity), random_state)
