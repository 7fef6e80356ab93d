"""Convolution and pooling written straight from their definitions (NCHW, float64).

Each sum over kernel taps (u, v) is a loop; the sum over channels of one tap is an
einsum over the strided window x[..., u d_h :: s_h, v d_w :: s_w] of the padded input.
Same signatures as :mod:`fastml.nn.functional`; no validation.
"""

import numpy as np


def _pair(v, nd=2):
    return (v,) * nd if isinstance(v, int) else tuple(v)


def _padding(padding, w_shape, dilation):
    """(before, after) per spatial axis; "same" puts the odd element after, as PyTorch."""
    nd = len(w_shape) - 2
    if padding == "valid":
        return [(0, 0)] * nd
    if padding == "same":
        total = [d * (k - 1) for d, k in zip(dilation, w_shape[2:])]
        return [(t // 2, t - t // 2) for t in total]
    return [(p, p) for p in _pair(padding, nd)]


def _taps(out_size, stride, dilation, tap):
    """Slices of the padded input that tap (u, v) reads for every output pixel."""
    return tuple(slice(t * d, t * d + s * (o - 1) + 1, s)
                 for t, d, s, o in zip(tap, dilation, stride, out_size))


def _geometry(x, w, stride, padding, dilation):
    nd = w.ndim - 2
    stride, dilation = _pair(stride, nd), _pair(dilation, nd)
    pads = _padding(padding, w.shape, dilation)
    xp = np.pad(np.asarray(x, dtype=float), [(0, 0), (0, 0), *pads])
    out = [(xp.shape[2 + a] - dilation[a] * (w.shape[2 + a] - 1) - 1) // stride[a] + 1
           for a in range(nd)]
    return xp, pads, stride, dilation, out


def conv2d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """y[n, o, i, j] = b[o] + sum_{c, u, v} w[o, c, u, v] x_pad[n, g C_g + c, i s + u d, j s + v d]."""
    w = np.asarray(w, dtype=float)
    xp, _, stride, dilation, out = _geometry(x, w, stride, padding, dilation)
    co, cg = w.shape[:2]
    cog = co // groups
    y = np.zeros((xp.shape[0], co, *out))
    for g in range(groups):
        xg, wg = xp[:, g * cg:(g + 1) * cg], w[g * cog:(g + 1) * cog]
        for tap in np.ndindex(*w.shape[2:]):
            window = xg[(slice(None), slice(None), *_taps(out, stride, dilation, tap))]
            y[:, g * cog:(g + 1) * cog] += np.einsum("nc...,oc->no...", window,
                                                     wg[(slice(None), slice(None), *tap)])
    if b is not None:
        y += np.asarray(b, dtype=float).reshape(co, *([1] * len(out)))
    return y


def conv2d_backward(grad_out, x, w, *, stride=1, padding=0, dilation=1, groups=1):
    """Each tap's forward term go[n,o,i,j] += w[o,c,u,v] x_pad[...] differentiated:
    grad_w[o,c,u,v] = sum go * x_pad(window), grad_x_pad(window) += sum_o go * w[o,c,u,v]."""
    w = np.asarray(w, dtype=float)
    go = np.asarray(grad_out, dtype=float)
    xp, pads, stride, dilation, out = _geometry(x, w, stride, padding, dilation)
    co, cg = w.shape[:2]
    cog = co // groups
    gxp, gw = np.zeros_like(xp), np.zeros_like(w)
    for g in range(groups):
        cs, os_ = slice(g * cg, (g + 1) * cg), slice(g * cog, (g + 1) * cog)
        for tap in np.ndindex(*w.shape[2:]):
            at = (slice(None), cs, *_taps(out, stride, dilation, tap))
            gw[(os_, slice(None), *tap)] = np.einsum(
                "nop,ncp->oc", go[:, os_].reshape(go.shape[0], cog, -1),
                xp[at].reshape(go.shape[0], cg, -1))
            gxp[at] += np.einsum("no...,oc->nc...", go[:, os_], w[(os_, slice(None), *tap)])
    inner = tuple(slice(bf, gxp.shape[2 + a] - af) for a, (bf, af) in enumerate(pads))
    return gxp[(slice(None), slice(None), *inner)], gw, go.sum(axis=(0, *range(2, go.ndim)))


conv1d = conv2d                    # the definitions above work for any number of axes
conv1d_backward = conv2d_backward


def _windows(shape, kernel_size, stride, padding):
    """For each output (i, j): the clipped input window and its padded size."""
    k, p = _pair(kernel_size), _pair(padding)
    s = k if stride is None else _pair(stride)
    out = [(shape[a] + 2 * p[a] - k[a]) // s[a] + 1 for a in range(2)]
    for i in range(out[0]):
        for j in range(out[1]):
            h0, w0 = i * s[0] - p[0], j * s[1] - p[1]
            h1, w1 = min(h0 + k[0], shape[0] + p[0]), min(w0 + k[1], shape[1] + p[1])
            padded = (h1 - h0) * (w1 - w0)
            yield (i, j), (slice(max(h0, 0), min(h1, shape[0])),
                           slice(max(w0, 0), min(w1, shape[1]))), padded, out


def max_pool2d(x, kernel_size, stride=None, padding=0, return_indices=False):
    """y[n, c, i, j] = max of the window; first maximum wins, NaN wins (PyTorch's rule)."""
    x = np.asarray(x, dtype=float)
    y = idx = None
    for (i, j), (rs, cs), _, out in _windows(x.shape[2:], kernel_size, stride, padding):
        if y is None:
            y = np.empty((*x.shape[:2], *out))
            idx = np.empty((*x.shape[:2], *out), dtype=np.int64)
        for n, c in np.ndindex(*x.shape[:2]):
            win = x[n, c, rs, cs]
            flat = np.flatnonzero(np.isnan(win))
            k = flat[-1] if flat.size else int(np.argmax(win))  # argmax: first maximum
            a, e = divmod(k, win.shape[1])
            y[n, c, i, j] = win.flat[k]
            idx[n, c, i, j] = (rs.start + a) * x.shape[3] + cs.start + e
    return (y, idx) if return_indices else y


def max_pool2d_backward(grad_out, x, kernel_size, stride=None, padding=0, indices=None):
    """grad_x[n, c, argmax of window (i, j)] += grad_out[n, c, i, j]."""
    x = np.asarray(x, dtype=float)
    if indices is None:
        _, indices = max_pool2d(x, kernel_size, stride, padding, return_indices=True)
    gx = np.zeros_like(x).reshape(*x.shape[:2], -1)
    for n, c in np.ndindex(*x.shape[:2]):
        np.add.at(gx[n, c], np.ravel(indices[n, c]), np.ravel(grad_out[n, c]))
    return gx.reshape(x.shape)


def avg_pool2d(x, kernel_size, stride=None, padding=0, count_include_pad=True):
    """y = window sum / (padded window size if count_include_pad else elements inside)."""
    x = np.asarray(x, dtype=float)
    y = None
    for (i, j), (rs, cs), padded, out in _windows(x.shape[2:], kernel_size, stride, padding):
        if y is None:
            y = np.empty((*x.shape[:2], *out))
        win = x[:, :, rs, cs]
        y[:, :, i, j] = win.sum(axis=(2, 3)) / (padded if count_include_pad else
                                                win.shape[2] * win.shape[3])
    return y


def avg_pool2d_backward(grad_out, x, kernel_size, stride=None, padding=0,
                        count_include_pad=True):
    """grad_x[window (i, j)] += grad_out[i, j] / divisor(i, j)."""
    gx = np.zeros(np.shape(x))
    for (i, j), (rs, cs), padded, _ in _windows(gx.shape[2:], kernel_size, stride, padding):
        count = (rs.stop - rs.start) * (cs.stop - cs.start)
        gx[:, :, rs, cs] += (np.asarray(grad_out, dtype=float)[:, :, i, j, None, None] /
                             (padded if count_include_pad else count))
    return gx
