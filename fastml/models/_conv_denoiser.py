"""DiffusionCNN: a small convolutional denoiser eps_theta(x_t, t[, y]) for little images.

Conditioning vector (one per sample, ``channels`` wide):
c = SiLU(W_t emb(t) + b_t (+ E[y])), emb the sinusoidal time embedding of
:func:`fastml.models._diffusion.sinusoidal_embedding`; row ``num_classes`` of E is the
null class of classifier-free guidance.
Body (every convolution 3x3, stride 1, padding 1, so the image size is kept):
h_0 = conv_in(x_t),
a_k = conv_k1(SiLU(h_k)) + (W_k c + b_k)[:, :, None, None]   (per-channel shift),
h_{k+1} = h_k + conv_k2(SiLU(a_k))                            (residual blocks),
out = conv_out(SiLU(h_K)).
Forward and backward are written out with fastml.nn layers (no tape).
"""

import numpy as np

from fastml._validation import MAX_AXIS_LENGTH, check_positive_int, check_shape
from fastml.models._diffusion import _check_conditioning, _check_t_y, sinusoidal_embedding
from fastml.nn import Conv2d, Embedding, Linear, Module, Sequential, SiLU
from fastml.nn import init as nn_init

__all__ = ["DiffusionCNN"]


class _Block(Module):
    """h + conv2(SiLU(conv1(SiLU(h)) + shift(c))), shift(c) = W c + b per channel."""

    def __init__(self, channels, dtype, rng):
        super().__init__()
        self.act1 = SiLU()
        self.conv1 = Conv2d(channels, channels, 3, padding=1, dtype=dtype, random_state=rng)
        self.shift = Linear(channels, channels, dtype=dtype, random_state=rng)
        self.act2 = SiLU()
        self.conv2 = Conv2d(channels, channels, 3, padding=1, dtype=dtype, random_state=rng)

    def forward(self, h, c):
        a = self.conv1(self.act1(h)) + self.shift(c)[:, :, None, None]
        return h + self.conv2(self.act2(a))

    def backward(self, grad_out):
        """d/dh (the residual path plus the body) and d/dc."""
        g_a = self.act2.backward(self.conv2.backward(grad_out))
        g_c = self.shift.backward(g_a.sum(axis=(2, 3)))
        return grad_out + self.act1.backward(self.conv1.backward(g_a)), g_c


class DiffusionCNN(Module):
    """Convolutional denoiser for small images (e.g. 8x8 digits), optional classes.

    Parameters
    ----------
    in_channels : int, channels of the images
    image_size : int or (int, int), height and width
    channels : int, width of the body
    n_blocks : int, residual blocks
    time_dim : int (even), size of the time embedding
    num_classes : int or None; with classes, ``forward(x, t, y)`` takes labels in
        [0, num_classes], ``num_classes`` meaning "no label" (the null class)
    dtype : float32 or float64; random_state : seed of the initialisation

    ``forward(x, t, y=None)``: x (batch, in_channels, H, W), t (batch,) or a scalar
    integer timestep, y (batch,) -> (batch, in_channels, H, W). ``backward(grad_out)``
    -> d loss / d x, parameter grads added. ``sample_shape`` is (in_channels, H, W).
    NaN and infinity in x propagate (as in the fastml.nn layers).
    """

    def __init__(self, in_channels=1, image_size=8, channels=32, n_blocks=2, time_dim=32,
                 num_classes=None, *, dtype=np.float32, random_state=None):
        super().__init__()
        self.in_channels = check_positive_int(in_channels, "in_channels")
        if isinstance(image_size, (tuple, list)):
            check_shape(np.asarray(image_size), "image_size", (2,), " (or be an int)")
            size = tuple(check_positive_int(s, "image_size") for s in image_size)
        else:
            size = (check_positive_int(image_size, "image_size"),) * 2
        self.image_size = size
        self.channels = check_positive_int(channels, "channels")
        self.n_blocks, self.time_dim, self.num_classes = _check_conditioning(
            n_blocks, time_dim, num_classes)
        rng = nn_init._rng(random_state)
        self.time = Linear(time_dim, channels, dtype=dtype, random_state=rng)
        if self.num_classes is not None:
            self.class_embedding = Embedding(self.num_classes + 1, channels, dtype=dtype,
                                             random_state=rng)
        self.cond_act = SiLU()
        self.conv_in = Conv2d(in_channels, channels, 3, padding=1, dtype=dtype,
                              random_state=rng)
        self.blocks = Sequential(*[_Block(channels, dtype, rng) for _ in range(n_blocks)])
        self.head = Sequential(SiLU(), Conv2d(channels, in_channels, 3, padding=1, dtype=dtype,
                                              random_state=rng))

    @property
    def sample_shape(self):
        return (self.in_channels, *self.image_size)

    def extra_repr(self):
        return (f"in_channels={self.in_channels}, image_size={self.image_size}, "
                f"channels={self.channels}, n_blocks={self.n_blocks}, "
                f"num_classes={self.num_classes}")

    def forward(self, x, t, y=None):
        shape = np.shape(x)
        if len(shape) == 4 and shape[0] * self.channels * shape[2] * shape[3] > MAX_AXIS_LENGTH:
            raise ValueError(f"x: a batch of {shape[0]} images needs activations of more than "
                             f"{MAX_AXIS_LENGTH} elements; pass fewer images at a time")
        x = check_shape(self._check_input(x), "x", ("batch", *self.sample_shape))
        t, y = _check_t_y(self.num_classes, x.shape[0], t, y)
        return self._forward(x, t, y)

    def _forward(self, x, t, y=None):
        """Forward on checked arrays; y None means the null class when conditioned."""
        c = self.time(sinusoidal_embedding(t, self.time_dim, x.dtype))
        if self.num_classes is not None:
            if y is None:
                y = np.full(x.shape[0], self.num_classes, dtype=np.int64)
            c = c + self.class_embedding(y)
        c = self.cond_act(c)
        h = self.conv_in(x)
        for block in self.blocks:
            h = block(h, c)
        return self.head(h)

    def backward(self, grad_out):
        g = self.head.backward(grad_out)
        g_c = 0
        for block in reversed(list(self.blocks)):
            g, g_ck = block.backward(g)
            g_c = g_c + g_ck
        g_x = self.conv_in.backward(g)
        if self.n_blocks:
            g_c = self.cond_act.backward(g_c)
            self.time.backward(g_c)
            if self.num_classes is not None:
                self.class_embedding.backward(g_c)
        return g_x
