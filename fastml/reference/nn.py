"""Neural-network layers written straight from the math, in plain NumPy, for reading.

Each ``*_forward`` returns the output and a ``cache`` tuple; each ``*_backward`` takes
the upstream gradient g = dL/dy and the cache and returns dL/dx (and parameter
gradients). These are the formulas that the compiled kernels of
:mod:`fastml.nn.functional` fuse; the tests and the benchmarks use them as baseline.
"""

import math

import numpy as np

__all__ = ["adam_step", "batch_norm_backward", "batch_norm_forward",
           "cross_entropy_backward", "cross_entropy_forward", "gelu_backward",
           "gelu_forward", "layer_norm_backward", "layer_norm_forward", "linear_backward",
           "linear_forward", "mlp_init", "mlp_train_step", "relu_backward", "relu_forward",
           "small_cnn_train_step"]


# ---------------------------------------------------------------- Linear: y = x W^T + b
def linear_forward(x, W, b):
    return x @ W.T + b, (x, W)


def linear_backward(g, cache):
    """dL/dx = g W,  dL/dW = g^T x,  dL/db = sum over the batch of g."""
    x, W = cache
    return g @ W, g.T @ x, g.sum(axis=0)


# ---------------------------------------------------------------- activations
def relu_forward(x):
    return np.maximum(x, 0), x


def relu_backward(g, x):
    return g * (x > 0)


def gelu_forward(x):
    """GELU(x) = x Phi(x), Phi the standard normal CDF, one element at a time."""
    flat = x.reshape(-1)
    y = np.array([v * 0.5 * (1 + math.erf(v / math.sqrt(2))) for v in flat])
    return y.reshape(x.shape).astype(x.dtype), x


def gelu_backward(g, x):
    """GELU'(x) = Phi(x) + x phi(x), phi the standard normal density."""
    flat = x.reshape(-1)
    d = np.array([0.5 * (1 + math.erf(v / math.sqrt(2)))
                  + v * math.exp(-v * v / 2) / math.sqrt(2 * math.pi) for v in flat])
    return g * d.reshape(x.shape).astype(x.dtype)


# ---------------------------------------------------------------- normalisation
def layer_norm_forward(x, w, b, eps=1e-5):
    """Per row: xhat = (x - mean) / sqrt(var + eps) (biased var); y = xhat w + b."""
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    rstd = 1 / np.sqrt(var + eps)
    xhat = (x - mean) * rstd
    return xhat * w + b, (xhat, rstd, w)


def layer_norm_backward(g, cache):
    """dxhat = g w;  dx = rstd (dxhat - mean(dxhat) - xhat mean(dxhat xhat)) per row;
    dw = sum g xhat, db = sum g over the rows."""
    xhat, rstd, w = cache
    dxhat = g * w
    dx = rstd * (dxhat - dxhat.mean(axis=-1, keepdims=True)
                 - xhat * (dxhat * xhat).mean(axis=-1, keepdims=True))
    axes = tuple(range(g.ndim - 1))
    return dx, (g * xhat).sum(axis=axes), g.sum(axis=axes)


def batch_norm_forward(x, w, b, eps=1e-5):
    """Training mode over axis 1 of (N, C, ...): statistics over every other axis."""
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    xhat = (x - mean) / np.sqrt(var + eps)
    return xhat * w.reshape(shape) + b.reshape(shape), (xhat, var, w.reshape(shape), eps)


def batch_norm_backward(g, cache):
    """Same formula as LayerNorm's, with the mean taken per channel over the batch."""
    xhat, var, w, eps = cache
    axes = (0,) + tuple(range(2, g.ndim))
    dxhat = g * w
    dx = (dxhat - dxhat.mean(axis=axes, keepdims=True)
          - xhat * (dxhat * xhat).mean(axis=axes, keepdims=True)) / np.sqrt(var + eps)
    return dx, (g * xhat).sum(axis=axes), g.sum(axis=axes)


# ---------------------------------------------------------------- softmax cross-entropy
def cross_entropy_forward(z, t):
    """Mean over rows of -log softmax(z)_t = log sum_c exp(z_c) - z_t."""
    shifted = z - z.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    n = len(t)
    return float(-log_p[np.arange(n), t].mean()), (np.exp(log_p), t)


def cross_entropy_backward(cache):
    """dL/dz = (softmax(z) - onehot(t)) / N."""
    p, t = cache
    g = p.copy()
    g[np.arange(len(t)), t] -= 1
    return g / len(t)


# ---------------------------------------------------------------- Adam
def adam_step(params, grads, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    """m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
    p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps), in place."""
    state["t"] = t = state.get("t", 0) + 1
    for i, (p, g) in enumerate(zip(params, grads)):
        m = state.setdefault(("m", i), np.zeros_like(p))
        v = state.setdefault(("v", i), np.zeros_like(p))
        m[...] = beta1 * m + (1 - beta1) * g
        v[...] = beta2 * v + (1 - beta2) * g * g
        m_hat = m / (1 - beta1 ** t)
        v_hat = v / (1 - beta2 ** t)
        p -= (lr * m_hat / (np.sqrt(v_hat) + eps)).astype(p.dtype)


# ---------------------------------------------------------------- a whole MLP step
def mlp_init(sizes, rng, dtype=np.float32):
    """[W1, b1, W2, b2, ...] with PyTorch's default U(-1/sqrt(in), 1/sqrt(in))."""
    params = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        bound = 1 / math.sqrt(n_in)
        params += [rng.uniform(-bound, bound, (n_out, n_in)).astype(dtype),
                   rng.uniform(-bound, bound, n_out).astype(dtype)]
    return params


def mlp_train_step(params, x, t, state, lr=1e-3):
    """One Adam step of a ReLU MLP with softmax cross-entropy; returns the loss.

    Forward keeps every layer's cache; backward walks the layers in reverse.
    """
    caches = []
    h = x
    n_layers = len(params) // 2
    for i in range(n_layers):
        h, cache = linear_forward(h, params[2 * i], params[2 * i + 1])
        caches.append(cache)
        if i < n_layers - 1:
            h, pre = relu_forward(h)
            caches.append(pre)
    loss, ce_cache = cross_entropy_forward(h, t)
    g = cross_entropy_backward(ce_cache)
    grads = [None] * len(params)
    for i in reversed(range(n_layers)):
        if i < n_layers - 1:
            g = relu_backward(g, caches.pop())
        g, grads[2 * i], grads[2 * i + 1] = linear_backward(g, caches.pop())
    adam_step(params, grads, state, lr=lr)
    return loss


# ---------------------------------------------------------------- a small CNN step
def _conv_bn_forward(x, w, gamma, beta, relu=True):
    """3x3 convolution (padding 1, no bias), batch norm, optional ReLU."""
    from fastml.reference import conv

    y, bn_cache = batch_norm_forward(conv.conv2d(x, w, padding=1), gamma, beta)
    pre = None
    if relu:
        y, pre = relu_forward(y)
    return y, (x, w, bn_cache, pre)


def _conv_bn_backward(g, cache):
    from fastml.reference import conv

    x, w, bn_cache, pre = cache
    if pre is not None:
        g = relu_backward(g, pre)
    g, d_gamma, d_beta = batch_norm_backward(g, bn_cache)
    gx, gw, _ = conv.conv2d_backward(g, x, w, padding=1)
    return gx, gw, d_gamma, d_beta


def small_cnn_train_step(params, x, t, state, lr=1e-3):
    """One Adam step of the small residual CNN of the ``nn/cnn_train_step`` benchmark:

        h = convbn(x)                       "0.weight", BN "1.*"
        s = relu(convbn(convbn(h)) + h)     residual block "3.block.{0,1,3,4}.*"
        h = maxpool(convbn(maxpool(s)))     "6.weight", BN "7.*"
        logits = flatten(h) W^T + b         "11.*"

    ``params`` maps those PyTorch names to arrays (updated in place); batch norm uses
    batch statistics. The backward pass walks the same lines upwards; at the residual
    sum the gradient is copied to both branches and added back where they meet.
    """
    from fastml.reference import conv

    P = params
    h, c1 = _conv_bn_forward(x, P["0.weight"], P["1.weight"], P["1.bias"])
    r, c2 = _conv_bn_forward(h, P["3.block.0.weight"], P["3.block.1.weight"],
                             P["3.block.1.bias"])
    r, c3 = _conv_bn_forward(r, P["3.block.3.weight"], P["3.block.4.weight"],
                             P["3.block.4.bias"], relu=False)
    s, pre = relu_forward(r + h)
    p1 = conv.max_pool2d(s, 2)
    h3, c4 = _conv_bn_forward(p1, P["6.weight"], P["7.weight"], P["7.bias"])
    p2 = conv.max_pool2d(h3, 2)
    logits, c5 = linear_forward(p2.reshape(len(x), -1), P["11.weight"], P["11.bias"])
    loss, ce = cross_entropy_forward(logits, t)

    grads = {}
    g, grads["11.weight"], grads["11.bias"] = linear_backward(cross_entropy_backward(ce), c5)
    g = conv.max_pool2d_backward(g.reshape(p2.shape), h3, 2)
    g, grads["6.weight"], grads["7.weight"], grads["7.bias"] = _conv_bn_backward(g, c4)
    g = relu_backward(conv.max_pool2d_backward(g, s, 2), pre)
    gb, grads["3.block.3.weight"], grads["3.block.4.weight"], grads["3.block.4.bias"] = \
        _conv_bn_backward(g, c3)
    gb, grads["3.block.0.weight"], grads["3.block.1.weight"], grads["3.block.1.bias"] = \
        _conv_bn_backward(gb, c2)
    _, grads["0.weight"], grads["1.weight"], grads["1.bias"] = _conv_bn_backward(g + gb, c1)
    names = sorted(grads)
    adam_step([P[k] for k in names], [grads[k] for k in names], state, lr=lr)
    return loss
