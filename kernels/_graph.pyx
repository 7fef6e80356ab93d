"""Sparse message-passing kernels on a CSR graph (rows = destination nodes).

A graph with n_dst destination rows is stored as ``indptr`` (n_dst + 1) and ``indices``
(nnz source nodes); the edges of destination i are the CSR positions
k = indptr[i] .. indptr[i + 1] - 1. Edge values have shape (nnz, H): one weight per edge
and head (H = 1 for a plain weighted graph; shape (0, H) means every weight is 1).
Node features have shape (n, H * C): head h owns the columns h C .. (h + 1) C - 1.

- ``spmm``: out[i, hC + c] = reduce_{k in row i} w[k, h] x[indices[k], hC + c] with
  reduce = sum, mean (sum / row length) or max (with the arg-max edge position; rows
  without edges give 0 and arg-max -1). Its gradient with respect to x is the same SpMM
  on the transposed graph (sum, mean), or a scatter through the arg-max (max). A sum of
  per-edge rows (a scatter-add) is the unweighted SpMM with ``indices`` = edge positions.
- ``sddmm``: out[k, h] = sum_c a[i, hC + c] b[indices[k], hC + c], the gradient of a
  weighted SpMM with respect to the edge values (a = grad_out, b = x).
- ``edge_softmax``: the segment (per-destination) softmax of LeakyReLU logits,

      s[k, h] = a_src[indices[k], h] + a_dst[i, h] + a_edge[k, h],
      alpha[k, h] = exp(LeakyReLU(s[k, h])) / sum_{k' in row i} exp(LeakyReLU(s[k', h])),

  each of the three terms optional (a (0, H) array leaves it out). GAT's attention is
  all three with its slope; a plain segment softmax of scores is a_edge = scores with
  slope 1 (LeakyReLU = identity). ``edge_softmax_backward`` returns d loss / d s per edge,
  alpha (g - sum_row g alpha) times the LeakyReLU slope where s <= 0, and its row sums
  (the gradient of a_dst).

Work is split into chunks of consecutive rows with about equal nnz + rows (``bounds``,
computed by the caller), so power-law graphs keep every thread busy; chunks run under
``prange`` and every output row is written by exactly one thread. Inputs are validated,
C-contiguous arrays of one float dtype; indices are int64 and in range.
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport exp, INFINITY
from libc.stdint cimport int64_t

cdef extern from *:
    """
    #define FASTML_PREFETCH(p) __builtin_prefetch((const void *)(p), 0, 1)
    """
    void prefetch "FASTML_PREFETCH"(const void *p) noexcept nogil

cdef enum:
    SUM = 0
    MEAN = 1
    MAX = 2
    # columns accumulated in registers per pass over a row's edges (4 AVX registers of
    # float32); edges this far ahead have their source row prefetched
    BLOCK = 32
    AHEAD = 4

REDUCE_CODES = {"sum": SUM, "mean": MEAN, "max": MAX}


cdef inline void _block_sum(const int64_t *indices, const floating *w, Py_ssize_t w_stride,
                            int64_t start, int64_t stop, const floating *x,
                            Py_ssize_t width, floating *orow) noexcept nogil:
    """orow[0 .. BLOCK) = sum_k w[k * w_stride] x[indices[k] * width + 0 .. BLOCK)
    (w NULL: weights 1); the accumulator stays in registers."""
    cdef floating acc[BLOCK]
    cdef floating wk = 1
    cdef const floating *xrow
    cdef Py_ssize_t c
    cdef int64_t k
    for c in range(BLOCK):
        acc[c] = 0
    for k in range(start, stop):
        if k + AHEAD < stop:
            xrow = x + indices[k + AHEAD] * width
            prefetch(xrow)
            prefetch(xrow + BLOCK - 1)
        xrow = x + indices[k] * width
        if w != NULL:
            wk = w[k * w_stride]
        for c in range(BLOCK):
            acc[c] += wk * xrow[c]
    for c in range(BLOCK):
        orow[c] = acc[c]


cdef inline void _span_sum(const int64_t *indices, const floating *w, Py_ssize_t w_stride,
                           int64_t start, int64_t stop, const floating *x, Py_ssize_t width,
                           Py_ssize_t span, floating *orow) noexcept nogil:
    """As :func:`_block_sum` for ``span`` < BLOCK columns, accumulated in place."""
    cdef floating wk = 1
    cdef const floating *xrow
    cdef Py_ssize_t c
    cdef int64_t k
    for c in range(span):
        orow[c] = 0
    for k in range(start, stop):
        xrow = x + indices[k] * width
        if w != NULL:
            wk = w[k * w_stride]
        for c in range(span):
            orow[c] += wk * xrow[c]


cdef inline void _row_sum(Py_ssize_t i, const int64_t *indptr, const int64_t *indices,
                          const floating *values, const floating *x, floating *out,
                          Py_ssize_t heads, Py_ssize_t channels, int reduce) noexcept nogil:
    """Sum / mean SpMM of row i: column blocks that lie in one head take that head's
    weight; one weight column (heads = 1) makes every block such a block."""
    cdef Py_ssize_t width = heads * channels
    cdef floating *orow = out + i * width
    cdef int64_t start = indptr[i], stop = indptr[i + 1]
    cdef Py_ssize_t h, c0, span, end
    cdef floating scale
    cdef const floating *w
    for h in range(heads):
        w = values + h if values != NULL else NULL
        c0 = h * channels
        end = (h + 1) * channels
        while c0 < end:
            span = min(BLOCK, end - c0)
            if span == BLOCK:
                _block_sum(indices, w, heads, start, stop, x + c0, width, orow + c0)
            else:
                _span_sum(indices, w, heads, start, stop, x + c0, width, span, orow + c0)
            c0 = c0 + span
    if reduce == MEAN and stop > start:
        scale = 1.0 / (stop - start)
        for c0 in range(width):
            orow[c0] *= scale


cdef inline void _row_max(Py_ssize_t i, const int64_t *indptr, const int64_t *indices,
                          const floating *values, const floating *x, floating *out,
                          int64_t *argmax, Py_ssize_t heads,
                          Py_ssize_t channels) noexcept nogil:
    cdef Py_ssize_t width = heads * channels
    cdef Py_ssize_t h, c
    cdef int64_t k
    cdef floating w = 1, v
    cdef floating *orow = out + i * width
    cdef int64_t *arow = argmax + i * width
    cdef const floating *xrow
    cdef int64_t start = indptr[i], stop = indptr[i + 1]
    for c in range(width):
        orow[c] = -INFINITY if stop > start else 0
        arow[c] = -1
    for k in range(start, stop):
        xrow = x + indices[k] * width
        for h in range(heads):
            if values != NULL:
                w = values[k * heads + h]
            for c in range(h * channels, (h + 1) * channels):
                v = w * xrow[c]
                if v > orow[c] or arow[c] < 0:
                    orow[c] = v
                    arow[c] = k


def spmm(const int64_t[::1] indptr, const int64_t[::1] indices,
         const floating[:, ::1] values, const floating[:, ::1] x, floating[:, ::1] out,
         int64_t[:, ::1] argmax, int reduce, const int64_t[::1] bounds, int n_threads):
    """out = reduce over each row's edges of values * x[source] (see the module doc).

    values (nnz, H) or (0, H); x (n_src, H C); out (n_dst, H C); argmax (n_dst, H C)
    for reduce = MAX, else any (0, 0) array; bounds: chunk boundaries (row numbers).
    """
    cdef Py_ssize_t heads = values.shape[1]
    cdef Py_ssize_t channels = x.shape[1] // heads if heads > 0 else 0
    cdef Py_ssize_t n_chunks = bounds.shape[0] - 1
    cdef Py_ssize_t chunk, i
    if out.shape[0] == 0 or out.shape[1] == 0:
        return
    cdef const floating *vp = &values[0, 0] if values.shape[0] > 0 else NULL
    cdef const floating *xp = &x[0, 0] if x.shape[0] > 0 else NULL
    cdef int64_t *ap = &argmax[0, 0] if reduce == MAX else NULL
    cdef const int64_t *ip = &indices[0] if indices.shape[0] > 0 else NULL
    for chunk in prange(n_chunks, nogil=True, schedule="dynamic", num_threads=n_threads):
        for i in range(bounds[chunk], bounds[chunk + 1]):
            if reduce == MAX:
                _row_max(i, &indptr[0], ip, vp, xp, &out[0, 0], ap, heads, channels)
            else:
                _row_sum(i, &indptr[0], ip, vp, xp, &out[0, 0], heads, channels, reduce)


def spmm_max_backward(const int64_t[:, ::1] argmax, const int64_t[::1] indices,
                      const floating[:, ::1] values, const floating[:, ::1] grad_out,
                      floating[:, ::1] grad_x, int n_threads):
    """grad_x[indices[k], f] += values[k, h] grad_out[i, f] for the arg-max edge
    k = argmax[i, f] of column f (head h) of row i; -1 (no edge): no gradient.

    Threads own disjoint column blocks of grad_x, so the scatter needs no atomics.
    grad_x must be zero on entry.
    """
    cdef Py_ssize_t n = argmax.shape[0], width = argmax.shape[1]
    cdef Py_ssize_t heads = values.shape[1]
    cdef Py_ssize_t channels = width // heads if heads > 0 else 1
    cdef bint weighted = values.shape[0] > 0
    cdef Py_ssize_t block = 16
    cdef Py_ssize_t n_blocks = (width + block - 1) // block
    cdef Py_ssize_t b, i, f
    cdef int64_t k
    for b in prange(n_blocks, nogil=True, schedule="static", num_threads=n_threads):
        for i in range(n):
            for f in range(b * block, min(width, (b + 1) * block)):
                k = argmax[i, f]
                if k >= 0:
                    if weighted:
                        grad_x[indices[k], f] += values[k, f // channels] * grad_out[i, f]
                    else:
                        grad_x[indices[k], f] += grad_out[i, f]


def sddmm(const int64_t[::1] indptr, const int64_t[::1] indices, const floating[:, ::1] a,
          const floating[:, ::1] b, floating[:, ::1] out, const int64_t[::1] bounds,
          int n_threads):
    """out[k, h] = a[i, head h] . b[indices[k], head h] for every edge k of row i.

    a (n_dst, H C), b (n_src, H C), out (nnz, H).
    """
    cdef Py_ssize_t heads = out.shape[1]
    cdef Py_ssize_t width = a.shape[1]
    cdef Py_ssize_t channels = width // heads if heads > 0 else 0
    cdef Py_ssize_t n_chunks = bounds.shape[0] - 1
    cdef Py_ssize_t chunk, i, k, h, c
    cdef floating acc
    cdef const floating *arow
    cdef const floating *brow
    if out.shape[0] == 0 or heads == 0:
        return
    for chunk in prange(n_chunks, nogil=True, schedule="dynamic", num_threads=n_threads):
        for i in range(bounds[chunk], bounds[chunk + 1]):
            arow = &a[i, 0] if width > 0 else NULL
            for k in range(indptr[i], indptr[i + 1]):
                brow = &b[indices[k], 0] if width > 0 else NULL
                for h in range(heads):
                    acc = 0
                    for c in range(h * channels, (h + 1) * channels):
                        acc = acc + arow[c] * brow[c]
                    out[k, h] = acc


cdef inline floating _logit(const int64_t *indices, const floating *a_src,
                            const floating *a_dst, const floating *a_edge, Py_ssize_t i,
                            Py_ssize_t k, Py_ssize_t heads, Py_ssize_t h) noexcept nogil:
    """s[k, h] = a_src[indices[k], h] + a_dst[i, h] + a_edge[k, h] (absent terms: 0)."""
    cdef floating s = 0
    if a_src != NULL:
        s = s + a_src[indices[k] * heads + h]
    if a_dst != NULL:
        s = s + a_dst[i * heads + h]
    if a_edge != NULL:
        s = s + a_edge[k * heads + h]
    return s


cdef inline const floating *_terms(const floating[:, ::1] a) noexcept nogil:
    return &a[0, 0] if a.shape[0] > 0 and a.shape[1] > 0 else NULL


def edge_softmax(const int64_t[::1] indptr, const int64_t[::1] indices,
                 const floating[:, ::1] a_src, const floating[:, ::1] a_dst,
                 const floating[:, ::1] a_edge, double negative_slope,
                 floating[:, ::1] alpha, const int64_t[::1] bounds, int n_threads):
    """alpha = segment softmax of LeakyReLU(a_src[indices[k]] + a_dst[i] + a_edge[k])
    (see the module doc); alpha (nnz, H)."""
    cdef Py_ssize_t heads = alpha.shape[1]
    cdef Py_ssize_t n_chunks = bounds.shape[0] - 1
    cdef Py_ssize_t chunk, i, k, h
    cdef floating e, m, total
    cdef floating slope = <floating>negative_slope
    if alpha.shape[0] == 0 or heads == 0:
        return
    cdef const floating *ps = _terms(a_src)
    cdef const floating *pd = _terms(a_dst)
    cdef const floating *pe = _terms(a_edge)
    for chunk in prange(n_chunks, nogil=True, schedule="dynamic", num_threads=n_threads):
        for i in range(bounds[chunk], bounds[chunk + 1]):
            for h in range(heads):
                m = -INFINITY
                for k in range(indptr[i], indptr[i + 1]):
                    e = _logit(&indices[0], ps, pd, pe, i, k, heads, h)
                    e = e if e > 0 else slope * e
                    alpha[k, h] = e
                    if e > m:
                        m = e
                total = 0
                for k in range(indptr[i], indptr[i + 1]):
                    alpha[k, h] = exp(alpha[k, h] - m)
                    total = total + alpha[k, h]
                for k in range(indptr[i], indptr[i + 1]):
                    alpha[k, h] = alpha[k, h] / total


def edge_softmax_backward(const int64_t[::1] indptr, const int64_t[::1] indices,
                          const floating[:, ::1] a_src, const floating[:, ::1] a_dst,
                          const floating[:, ::1] a_edge, double negative_slope,
                          const floating[:, ::1] alpha, const floating[:, ::1] grad_alpha,
                          floating[:, ::1] grad_s, floating[:, ::1] grad_rows,
                          const int64_t[::1] bounds, int n_threads):
    """Backward of :func:`edge_softmax`: grad_s[k, h] = d loss / d s[k, h] through the
    softmax and the LeakyReLU; grad_rows[i, h] = sum over row i of grad_s (skipped when
    grad_rows is a (0, H) array)."""
    cdef Py_ssize_t heads = alpha.shape[1]
    cdef Py_ssize_t n_chunks = bounds.shape[0] - 1
    cdef Py_ssize_t chunk, i, k, h
    cdef floating d, g, acc
    cdef floating slope = <floating>negative_slope
    cdef bint rows = grad_rows.shape[0] > 0
    if heads == 0 or indptr.shape[0] <= 1:
        return
    cdef const floating *ps = _terms(a_src)
    cdef const floating *pd = _terms(a_dst)
    cdef const floating *pe = _terms(a_edge)
    for chunk in prange(n_chunks, nogil=True, schedule="dynamic", num_threads=n_threads):
        for i in range(bounds[chunk], bounds[chunk + 1]):
            for h in range(heads):
                d = 0
                for k in range(indptr[i], indptr[i + 1]):
                    d = d + grad_alpha[k, h] * alpha[k, h]
                acc = 0
                for k in range(indptr[i], indptr[i + 1]):
                    g = alpha[k, h] * (grad_alpha[k, h] - d)
                    if slope != 1 and _logit(&indices[0], ps, pd, pe, i, k, heads, h) <= 0:
                        g = g * slope
                    grad_s[k, h] = g
                    acc = acc + g
                if rows:
                    grad_rows[i, h] = acc
