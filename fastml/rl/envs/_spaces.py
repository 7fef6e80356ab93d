"""Minimal Gymnasium-compatible spaces: :class:`Discrete`, :class:`MultiDiscrete`, :class:`Box`.

Same constructors, ``sample()``, ``contains()``, ``seed()`` and sampling algorithms as
``gymnasium.spaces`` (a space seeded with the same integer draws the same samples), so
code written for Gymnasium runs unchanged and the spaces do not need Gymnasium installed.
"""

import numbers

import numpy as np

from fastml._validation import check_array, check_bounds, check_positive_int, check_scalar

__all__ = ["Box", "Discrete", "MultiDiscrete", "Space"]


class Space:
    """Base class: ``shape``, ``dtype`` and a lazily seeded ``np_random`` generator."""

    def __init__(self, shape, dtype, seed=None):
        self.shape = None if shape is None else tuple(shape)
        self.dtype = None if dtype is None else np.dtype(dtype)
        self._np_random = None
        if seed is not None:
            self.seed(seed)

    @property
    def np_random(self):
        if self._np_random is None:
            self.seed()
        return self._np_random

    def seed(self, seed=None):
        """Seed the sampler as ``gymnasium.utils.seeding.np_random``: PCG64(SeedSequence(seed))."""
        seed_seq = np.random.SeedSequence(seed)
        self._np_random = np.random.Generator(np.random.PCG64(seed_seq))
        return [seed_seq.entropy]

    def __contains__(self, x):
        return self.contains(x)


class Discrete(Space):
    """Integers ``start, ..., start + n - 1``."""

    def __init__(self, n, seed=None, start=0):
        self.n = np.int64(check_positive_int(n, "n"))
        self.start = np.int64(check_scalar(start, "start", numbers.Integral))
        super().__init__((), np.int64, seed)

    def sample(self):
        return self.start + self.np_random.integers(self.n)

    def contains(self, x):
        if isinstance(x, (int, np.integer)):
            value = int(x)
        elif isinstance(x, np.ndarray) and x.shape == () and x.dtype.kind in "iu":
            value = int(x)
        else:
            return False
        return bool(self.start <= value < self.start + self.n)

    def __repr__(self):
        start = "" if self.start == 0 else f", start={self.start}"
        return f"Discrete({self.n}{start})"

    def __eq__(self, other):
        return isinstance(other, Discrete) and self.n == other.n and self.start == other.start


class MultiDiscrete(Space):
    """An array of independent discrete values, ``0 <= x[i] < nvec[i]`` (plus ``start``)."""

    def __init__(self, nvec, dtype=np.int64, seed=None, start=None):
        self.nvec = np.array(nvec, dtype=dtype, copy=True)
        self.start = np.zeros_like(self.nvec) if start is None else \
            np.array(start, dtype=dtype, copy=True)
        super().__init__(self.nvec.shape, dtype, seed)

    def sample(self):
        return (self.np_random.random(self.nvec.shape) * self.nvec).astype(self.dtype) + \
            self.start

    def contains(self, x):
        x = np.asarray(x)
        return bool(x.shape == self.shape and x.dtype.kind in "iu"
                    and np.all(self.start <= x) and np.all(x - self.start < self.nvec))

    def __repr__(self):
        return f"MultiDiscrete({self.nvec})"


def _bound(x, name):
    """A Box bound as a real array (infinite entries allowed, NaN not)."""
    x = check_array(x, name, dtype=None, finite=False, order=None)
    return check_bounds(x, name, low=-np.inf, high=np.inf, detail=" (NaN is no bound)")


class Box(Space):
    """A (possibly unbounded) box in R^n: ``low <= x <= high`` elementwise."""

    def __init__(self, low, high, shape=None, dtype=np.float32, seed=None):
        dtype = np.dtype(dtype)
        low, high = (_bound(x, name) for name, x in (("low", low), ("high", high)))
        if shape is None:
            shape = low.shape if low.ndim else high.shape
        shape = tuple(check_positive_int(k, "shape", min_val=0) for k in shape)
        for name, x in (("low", low), ("high", high)):
            if x.ndim and x.shape != shape:
                raise ValueError(f"{name} must be a scalar or have shape {shape}, got "
                                 f"{x.shape}")
        self.low = np.full(shape, low, dtype=dtype) if low.ndim == 0 else low.astype(dtype)
        self.high = np.full(shape, high, dtype=dtype) if high.ndim == 0 else \
            high.astype(dtype)
        if (self.low > self.high).any():
            raise ValueError("low must not exceed high")
        self.bounded_below = -np.inf < self.low
        self.bounded_above = np.inf > self.high
        super().__init__(shape, dtype, seed)

    def sample(self):
        """Gymnasium's Box.sample: uniform on bounded coordinates, (shifted) exponential on
        half-bounded ones, normal on unbounded ones."""
        high = self.high if self.dtype.kind == "f" else self.high.astype("int64") + 1
        sample = np.empty(self.shape)
        unbounded = ~self.bounded_below & ~self.bounded_above
        upp_bounded = ~self.bounded_below & self.bounded_above
        low_bounded = self.bounded_below & ~self.bounded_above
        bounded = self.bounded_below & self.bounded_above
        rng = self.np_random
        sample[unbounded] = rng.normal(size=unbounded[unbounded].shape)
        sample[low_bounded] = rng.exponential(size=low_bounded[low_bounded].shape) + \
            self.low[low_bounded]
        sample[upp_bounded] = -rng.exponential(size=upp_bounded[upp_bounded].shape) + \
            high[upp_bounded]
        sample[bounded] = rng.uniform(low=self.low[bounded], high=high[bounded],
                                      size=bounded[bounded].shape)
        if self.dtype.kind in "iub":
            sample = np.floor(sample)
        return sample.astype(self.dtype)

    def contains(self, x):
        if not isinstance(x, np.ndarray):
            try:
                x = np.asarray(x, dtype=self.dtype)
            except (ValueError, TypeError):
                return False
        return bool(np.can_cast(x.dtype, self.dtype) and x.shape == self.shape
                    and np.all(x >= self.low) and np.all(x <= self.high))

    def __repr__(self):
        return f"Box({self.low.min()}, {self.high.max()}, {self.shape}, {self.dtype})"
