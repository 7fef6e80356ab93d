"""Per-chain random streams for the Numba MCMC kernels: xoshiro256** (Blackman & Vigna).

Each chain (walker, Gibbs chain) owns one row ``state[c, 0:4]`` of a ``uint64`` array,
seeded from independent ``numpy.random.SeedSequence`` words by the Python layer. A
chain draws only from its own row, so the draws for a given seed do not depend on how
chains are spread over threads. Distributions:

- ``uniform``: the top 53 bits of the next word, u in [0, 1).
- ``normal``: Box–Muller, z = sqrt(-2 log(1 - u1)) cos(2 pi u2).
- ``gamma``: Marsaglia & Tsang (2000), with the shape < 1 boost
  Gamma(a) = Gamma(a + 1) U^(1/a).
"""

import math

import numpy as np
from numba import njit

_U53 = 1.0 / 9007199254740992.0  # 2**-53


@njit(cache=True, inline="always")
def _rotl(x, k):
    return (x << np.uint64(k)) | (x >> np.uint64(64 - k))


@njit(cache=True, nogil=True)
def next_u64(s):
    """Next 64-bit word of the xoshiro256** stream held in ``s`` (4 uint64, updated)."""
    result = _rotl(s[1] * np.uint64(5), 7) * np.uint64(9)
    t = s[1] << np.uint64(17)
    s[2] ^= s[0]
    s[3] ^= s[1]
    s[1] ^= s[2]
    s[0] ^= s[3]
    s[2] ^= t
    s[3] = _rotl(s[3], 45)
    return result


@njit(cache=True, nogil=True)
def uniform(s):
    """U(0, 1) double with 53 random bits, in [0, 1)."""
    return float(next_u64(s) >> np.uint64(11)) * _U53


@njit(cache=True, nogil=True)
def normal(s):
    """Standard normal by Box–Muller (one value per two uniforms)."""
    u1 = 1.0 - uniform(s)  # in (0, 1]
    u2 = uniform(s)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


@njit(cache=True, nogil=True)
def gamma(s, shape):
    """Gamma(shape, scale=1) by Marsaglia–Tsang squeeze-rejection."""
    boost = 1.0
    if shape < 1.0:
        boost = uniform(s) ** (1.0 / shape)
        shape += 1.0
    d = shape - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    while True:
        z = normal(s)
        v = 1.0 + c * z
        if v <= 0.0:
            continue
        v = v * v * v
        u = 1.0 - uniform(s)
        if u < 1.0 - 0.0331 * z ** 4 or math.log(u) < 0.5 * z * z + d * (1.0 - v + math.log(v)):
            return d * v * boost


@njit(cache=True, nogil=True)
def fill_normal(s, out):
    for i in range(out.shape[0]):
        out[i] = normal(s)


@njit(cache=True, nogil=True)
def randint(s, n):
    """Uniform integer in [0, n)."""
    return int(uniform(s) * n)
