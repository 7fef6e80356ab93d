"""DiffusionMLP: a denoiser eps_theta(x_t, t[, y]) for low-dimensional data.

h_0 = W_in [x_t, emb(t)] + b_in (+ E[y] with class conditioning; row ``num_classes`` of E
is the null class of classifier-free guidance),
h_{k+1} = h_k + W2_k SiLU(W1_k LayerNorm(h_k)) (residual blocks),
out = W_out SiLU(LayerNorm(h_K)).
emb(t) = [sin(t w_j), cos(t w_j)], w_j = 10000^(-j / (d/2)), j = 0..d/2-1 (Vaswani et al.).
Forward and backward are written out with fastml.nn layers (no tape).
"""

import math

import numpy as np

from fastml._validation import (
    check_array,
    check_divisible,
    check_index_array,
    check_positive_int,
    check_shape,
)
from fastml.nn import Embedding, LayerNorm, Linear, Module, Residual, Sequential, SiLU
from fastml.nn import init as nn_init

__all__ = ["DiffusionMLP", "sinusoidal_embedding"]


def sinusoidal_embedding(timesteps, dim, dtype=np.float32):
    """emb(t) of shape (batch, dim) (module docstring); ``dim`` even."""
    half = dim // 2
    freqs = np.exp(-math.log(10000.0) * np.arange(half) / half)
    args = np.asarray(timesteps, dtype=np.float64).reshape(-1, 1) * freqs
    return np.concatenate([np.sin(args), np.cos(args)], axis=1).astype(dtype)


def _check_conditioning(n_blocks, time_dim, num_classes):
    """The arguments both denoisers share: ``n_blocks >= 0``, an even ``time_dim >= 2``
    (sines and cosines in pairs) and ``num_classes`` None or >= 1."""
    n_blocks = check_positive_int(n_blocks, "n_blocks", min_val=0)
    time_dim = check_divisible(check_positive_int(time_dim, "time_dim", min_val=2), "time_dim",
                               2, "2 (sines and cosines in pairs)")
    num_classes = None if num_classes is None else check_positive_int(num_classes, "num_classes")
    return n_blocks, time_dim, num_classes


def _check_t_y(num_classes, batch, t, y):
    """The denoisers' forward arguments: t a finite number (a Python int or a 0-d array,
    broadcast to the batch) or of shape (batch,), y None or ``batch`` integers in
    [0, num_classes] (``num_classes`` the null class). Returns (t of shape (batch,), y)."""
    t = check_array(t, "t", ndim=(0, 1), dtype=None, order=None)
    if t.ndim:
        check_shape(t, "t", (batch,), " (or be a number)")
    if y is not None and num_classes is None:
        raise ValueError("y given but the model has no class conditioning (num_classes=None)")
    if y is not None:
        y = check_shape(check_index_array(y, "y", num_classes + 1,
                                          what=f"class labels, {num_classes} the null class"),
                        "y", (batch,))
        y = np.ascontiguousarray(y)
    return np.broadcast_to(t, (batch,)), y


class DiffusionMLP(Module):
    """Residual MLP denoiser with a sinusoidal time embedding and optional classes.

    Parameters
    ----------
    data_dim : int, features of x
    hidden : int, width of the blocks
    n_blocks : int, residual blocks
    time_dim : int (even), size of the time embedding
    num_classes : int or None; with classes, ``forward(x, t, y)`` takes labels in
        [0, num_classes], ``num_classes`` meaning "no label" (the null class)
    dtype : float32 or float64; random_state : seed of the initialisation

    ``forward(x, t, y=None)``: x (batch, data_dim), t (batch,) timesteps or one timestep
    (a Python int or a 0-d array, broadcast to the batch, as in diffusers), y (batch,)
    -> (batch, data_dim). ``backward(grad_out)`` -> d loss / d x, parameter grads added.
    ``sample_shape`` is (data_dim,).
    """

    def __init__(self, data_dim=2, hidden=128, n_blocks=3, time_dim=32, num_classes=None, *,
                 dtype=np.float32, random_state=None):
        super().__init__()
        self.data_dim = check_positive_int(data_dim, "data_dim")
        self.hidden = check_positive_int(hidden, "hidden")
        self.n_blocks, self.time_dim, self.num_classes = _check_conditioning(
            n_blocks, time_dim, num_classes)
        rng = nn_init._rng(random_state)
        self.input = Linear(data_dim + time_dim, hidden, dtype=dtype, random_state=rng)
        self.blocks = Sequential(*[
            Residual(Sequential(LayerNorm(hidden, dtype=dtype),
                                Linear(hidden, hidden, dtype=dtype, random_state=rng),
                                SiLU(), Linear(hidden, hidden, dtype=dtype, random_state=rng)))
            for _ in range(n_blocks)])
        self.head = Sequential(LayerNorm(hidden, dtype=dtype), SiLU(),
                               Linear(hidden, data_dim, dtype=dtype, random_state=rng))
        if self.num_classes is not None:
            self.class_embedding = Embedding(self.num_classes + 1, hidden, dtype=dtype,
                                             random_state=rng)

    @property
    def sample_shape(self):
        return (self.data_dim,)

    def extra_repr(self):
        return (f"data_dim={self.data_dim}, hidden={self.hidden}, n_blocks={self.n_blocks}, "
                f"num_classes={self.num_classes}")

    def forward(self, x, t, y=None):
        x = check_shape(self._check_input(x), "x", ("batch", self.data_dim))
        t, y = _check_t_y(self.num_classes, x.shape[0], t, y)
        return self._forward(x, t, y)

    def _forward(self, x, t, y=None):
        """Forward on checked arrays; y None means the null class when conditioned."""
        emb = sinusoidal_embedding(t, self.time_dim, x.dtype)
        h = self.input(np.concatenate([x, emb], axis=1))
        if self.num_classes is not None:
            if y is None:
                y = np.full(x.shape[0], self.num_classes, dtype=np.int64)
            h = h + self.class_embedding(y)
        return self.head(self.blocks(h))

    def backward(self, grad_out):
        g = self.blocks.backward(self.head.backward(grad_out))
        if self.num_classes is not None:
            self.class_embedding.backward(g)
        return self.input.backward(g)[:, :self.data_dim]
