"""2-D max and average pooling (NCHW), forward and backward, parallel over planes.

Window of output (i, j): rows i s_h - p_h .. + K_h - 1, columns likewise, clipped to the
input (padding never wins a max and adds zeros to an average).

* max: the first maximum in row-major window order wins a tie; a NaN wins over any
  number and the last NaN of the window is kept (PyTorch's CPU rule
  ``val > max || isnan(val)``). Indices are flat positions i_h W + i_w in the plane.
* average: divisor K_h K_w clipped to the padded input when ``count_include_pad``
  (PyTorch's ``pool_size``), else the number of input elements in the window.
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.stdint cimport int64_t
from libc.string cimport memset


cdef struct Pool:
    Py_ssize_t H, W, OH, OW, KH, KW, sh, sw, ph, pw


cdef Pool _pool(const Py_ssize_t *xs, const Py_ssize_t *ys, int kh, int kw, int sh,
                int sw, int ph, int pw) noexcept:
    cdef Pool p
    p.H, p.W, p.OH, p.OW = xs[2], xs[3], ys[2], ys[3]
    p.KH, p.KW, p.sh, p.sw, p.ph, p.pw = kh, kw, sh, sw, ph, pw
    return p


cdef inline void _window(const Pool *p, Py_ssize_t i, Py_ssize_t j, Py_ssize_t *h0,
                         Py_ssize_t *h1, Py_ssize_t *w0, Py_ssize_t *w1,
                         Py_ssize_t *padded) noexcept nogil:
    """Clipped window [h0, h1) x [w0, w1) of output (i, j) and its size in the padded input."""
    cdef Py_ssize_t hs = i * p.sh - p.ph, ws = j * p.sw - p.pw
    cdef Py_ssize_t he = min(hs + p.KH, p.H + p.ph), we = min(ws + p.KW, p.W + p.pw)
    padded[0] = (he - hs) * (we - ws)
    h0[0] = max(hs, 0)
    w0[0] = max(ws, 0)
    h1[0] = min(he, p.H)
    w1[0] = min(we, p.W)


cdef void _max_plane(const floating *xp, floating *yp, int64_t *ip,
                     const Pool *p) noexcept nogil:
    cdef Py_ssize_t i, j, a, e, h0, h1, w0, w1, padded, best
    cdef floating m, v
    for i in range(p.OH):
        for j in range(p.OW):
            _window(p, i, j, &h0, &h1, &w0, &w1, &padded)
            best = h0 * p.W + w0
            m = xp[best]
            for a in range(h0, h1):
                for e in range(w0, w1):
                    v = xp[a * p.W + e]
                    if v > m or v != v:
                        m = v
                        best = a * p.W + e
            yp[i * p.OW + j] = m
            ip[i * p.OW + j] = best


cdef void _avg_plane(const floating *xp, floating *yp, const Pool *p,
                     bint count_include_pad) noexcept nogil:
    cdef Py_ssize_t i, j, a, e, h0, h1, w0, w1, padded
    cdef floating s
    for i in range(p.OH):
        for j in range(p.OW):
            _window(p, i, j, &h0, &h1, &w0, &w1, &padded)
            s = 0
            for a in range(h0, h1):
                for e in range(w0, w1):
                    s += xp[a * p.W + e]
            yp[i * p.OW + j] = s / (padded if count_include_pad else (h1 - h0) * (w1 - w0))


cdef void _avg_plane_backward(const floating *gop, floating *gxp, const Pool *p,
                              bint count_include_pad) noexcept nogil:
    cdef Py_ssize_t i, j, a, e, h0, h1, w0, w1, padded
    cdef floating g
    memset(gxp, 0, p.H * p.W * sizeof(floating))
    for i in range(p.OH):
        for j in range(p.OW):
            _window(p, i, j, &h0, &h1, &w0, &w1, &padded)
            g = gop[i * p.OW + j] / (padded if count_include_pad else (h1 - h0) * (w1 - w0))
            for a in range(h0, h1):
                for e in range(w0, w1):
                    gxp[a * p.W + e] += g


# Each prange body calls a per-plane function: its window bounds, filled through
# pointers, are then locals of that call (variables a prange body only passes by
# address would be shared between threads).
def max_pool2d_forward(const floating[:, :, :, ::1] x, floating[:, :, :, ::1] y,
                       int64_t[:, :, :, ::1] idx, int kh, int kw, int sh, int sw,
                       int ph, int pw, int n_threads):
    """y = window maxima of x, idx = their flat positions in the (H, W) plane."""
    cdef Pool p = _pool(x.shape, y.shape, kh, kw, sh, sw, ph, pw)
    cdef Py_ssize_t planes = x.shape[0] * x.shape[1], plane
    with nogil:
        for plane in prange(planes, num_threads=n_threads, schedule="static"):
            _max_plane(&x[0, 0, 0, 0] + plane * p.H * p.W,
                       &y[0, 0, 0, 0] + plane * p.OH * p.OW,
                       &idx[0, 0, 0, 0] + plane * p.OH * p.OW, &p)


def max_pool2d_backward(const floating[:, :, :, ::1] go, const int64_t[:, :, :, ::1] idx,
                        floating[:, :, :, ::1] gx, int n_threads):
    """gx[plane, idx[plane, i, j]] += go[plane, i, j]; gx is overwritten."""
    cdef Py_ssize_t planes = gx.shape[0] * gx.shape[1], hw = gx.shape[2] * gx.shape[3]
    cdef Py_ssize_t ohw = go.shape[2] * go.shape[3], plane, k
    cdef floating *gxp
    with nogil:
        for plane in prange(planes, num_threads=n_threads, schedule="static"):
            gxp = &gx[0, 0, 0, 0] + plane * hw
            memset(gxp, 0, hw * sizeof(floating))
            for k in range(ohw):
                gxp[(&idx[0, 0, 0, 0])[plane * ohw + k]] += (&go[0, 0, 0, 0])[plane * ohw + k]


def avg_pool2d_forward(const floating[:, :, :, ::1] x, floating[:, :, :, ::1] y,
                       int kh, int kw, int sh, int sw, int ph, int pw,
                       bint count_include_pad, int n_threads):
    """y = window sums of x / divisor (see the module docstring)."""
    cdef Pool p = _pool(x.shape, y.shape, kh, kw, sh, sw, ph, pw)
    cdef Py_ssize_t planes = x.shape[0] * x.shape[1], plane
    with nogil:
        for plane in prange(planes, num_threads=n_threads, schedule="static"):
            _avg_plane(&x[0, 0, 0, 0] + plane * p.H * p.W,
                       &y[0, 0, 0, 0] + plane * p.OH * p.OW, &p, count_include_pad)


def avg_pool2d_backward(const floating[:, :, :, ::1] go, floating[:, :, :, ::1] gx,
                        int kh, int kw, int sh, int sw, int ph, int pw,
                        bint count_include_pad, int n_threads):
    """gx[window of (i, j)] += go[i, j] / divisor; gx is overwritten."""
    cdef Pool p = _pool(gx.shape, go.shape, kh, kw, sh, sw, ph, pw)
    cdef Py_ssize_t planes = gx.shape[0] * gx.shape[1], plane
    with nogil:
        for plane in prange(planes, num_threads=n_threads, schedule="static"):
            _avg_plane_backward(&go[0, 0, 0, 0] + plane * p.OH * p.OW,
                                &gx[0, 0, 0, 0] + plane * p.H * p.W, &p, count_include_pad)
