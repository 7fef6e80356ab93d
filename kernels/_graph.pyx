"""Sparse message-passing kernels on a CSR graph (rows = destination nodes).

A graph with n_dst destination rows is stored as ``indptr`` (n_dst + 1) and ``indices``
(nnz source nodes); the edges of destination i are the CSR positions
k = indptr[i] .. indptr[i + 1] - 1. Edge values have shape (nnz, H): one weight per edge
and head (H = 1 for a plain weighted graph; shape (0, H) means every weight is 1).
Node features have shape (n, H * C): head h owns the columns h C .. (h + 1) C - 1.

- ``spmm``: out[i, hC + c] = reduce_{k in row i} w[k, h] x[indices[k], hC + c] with
  reduce = sum, mean (sum / row length) or max (with the arg-max edge position; rows
  without edges give 0 and arg-max -1). Its gradient with respect to x is the same SpMM
  on the transposed graph (sum, mean), or a scatter through the arg-max (max).
- ``sddmm``: out[k, h] = sum_c a[i, hC + c] b[indices[k], hC + c], the gradient of a
  weighted SpMM with respect to the edge values (a = grad_out, b = x).
- ``segment_softmax``: alpha[k, h] = exp(s[k, h]) / sum_{k' in row i} exp(s[k', h]) and
  its backward ds = alpha (g - sum_row g alpha).
- ``gat_attention``: GAT's fused logits and softmax,
  s[k, h] = LeakyReLU(a_src[indices[k], h] + a_dst[i, h]), alpha = segment softmax of s;
  ``gat_attention_backward`` returns ds/de (through softmax and LeakyReLU) per edge and its
  row sums (the gradient of a_dst).
- ``gather_segment_sum``: out[i, h] = sum_{k in row i} values[perm[k], h], the scatter-add
  of edge values to nodes written as a gather over another CSR ordering (no atomics).

Work is split into chunks of consecutive rows with about equal nnz + rows (``bounds``,
computed by the caller), so power-law graphs keep every thread busy; chunks run under
``prange`` and every output row is written by exactly one thread. Inputs are validated,
C-contiguous arrays of one float dtype; indices are int64 and in range.
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport exp, INFINITY
from libc.stdint cimport int64_t

cdef enum:
    SUM = 0
    MEAN = 1
    MAX = 2

REDUCE_CODES = {"sum": SUM, "mean": MEAN, "max": MAX}


cdef inline void _row_spmm(Py_ssize_t i, const int64_t *indptr, const int64_t *indices,
                           const floating *values, bint weighted, const floating *x,
                           floating *out, int64_t *argmax, Py_ssize_t heads,
                           Py_ssize_t channels, int reduce) noexcept nogil:
    cdef Py_ssize_t width = heads * channels
    cdef Py_ssize_t k, h, c, j
    cdef floating w, v
    cdef floating *orow = out + i * width
    cdef int64_t *arow
    cdef const floating *xrow
    cdef int64_t start = indptr[i], stop = indptr[i + 1]
    if reduce == MAX:
        arow = argmax + i * width
        for c in range(width):
            orow[c] = -INFINITY
            arow[c] = -1
        for k in range(start, stop):
            j = indices[k]
            xrow = x + j * width
            for h in range(heads):
                w = values[k * heads + h] if weighted else 1
                for c in range(h * channels, (h + 1) * channels):
                    v = w * xrow[c]
                    if v > orow[c] or arow[c] < 0:
                        orow[c] = v
                        arow[c] = k
        if start == stop:
            for c in range(width):
                orow[c] = 0
        return
    for c in range(width):
        orow[c] = 0
    for k in range(start, stop):
        xrow = x + indices[k] * width
        if weighted:
            for h in range(heads):
                w = values[k * heads + h]
                for c in range(h * channels, (h + 1) * channels):
                    orow[c] += w * xrow[c]
        else:
            for c in range(width):
                orow[c] += xrow[c]
    if reduce == MEAN and stop > start:
        w = 1.0 / (stop - start)
        for c in range(width):
            orow[c] *= w


def spmm(const int64_t[::1] indptr, const int64_t[::1] indices,
         const floating[:, ::1] values, const floating[:, ::1] x, floating[:, ::1] out,
         int64_t[:, ::1] argmax, int reduce, const int64_t[::1] bounds, int n_threads):
    """out = reduce over each row's edges of values * x[source] (see the module doc).

    values (nnz, H) or (0, H); x (n_src, H C); out (n_dst, H C); argmax (n_dst, H C)
    for reduce = MAX, else any (0, 0) array; bounds: chunk boundaries (row numbers).
    """
    cdef Py_ssize_t heads = values.shape[1]
    cdef Py_ssize_t channels = x.shape[1] // heads if heads > 0 else 0
    cdef bint weighted = values.shape[0] > 0
    cdef Py_ssize_t n_chunks = bounds.shape[0] - 1
    cdef Py_ssize_t chunk, i
    if out.shape[0] == 0 or out.shape[1] == 0:
        return
    cdef const floating *vp = &values[0, 0] if weighted else NULL
    cdef const floating *xp = &x[0, 0] if x.shape[0] > 0 else NULL
    cdef int64_t *ap = &argmax[0, 0] if reduce == MAX else NULL
    cdef const int64_t *ip = &indices[0] if indices.shape[0] > 0 else NULL
    for chunk in prange(n_chunks, nogil=True, schedule="dynamic", num_threads=n_threads):
        for i in range(bounds[chunk], bounds[chunk + 1]):
            _row_spmm(i, &indptr[0], ip, vp, weighted, xp, &out[0, 0], ap, heads,
                      channels, reduce)


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


cdef inline void _row_softmax(floating *s, Py_ssize_t start, Py_ssize_t stop,
                              Py_ssize_t heads, Py_ssize_t h) noexcept nogil:
    """In-place softmax of column h of the rows start .. stop - 1 of s (nnz, heads)."""
    cdef Py_ssize_t k
    cdef floating m = -INFINITY, total = 0
    for k in range(start, stop):
        if s[k * heads + h] > m:
            m = s[k * heads + h]
    for k in range(start, stop):
        s[k * heads + h] = exp(s[k * heads + h] - m)
        total = total + s[k * heads + h]
    for k in range(start, stop):
        s[k * heads + h] = s[k * heads + h] / total


def segment_softmax(const int64_t[::1] indptr, const floating[:, ::1] scores,
                    floating[:, ::1] out, const int64_t[::1] bounds, int n_threads):
    """out[k, h] = softmax of scores[:, h] over the edges of k's destination row."""
    cdef Py_ssize_t heads = scores.shape[1]
    cdef Py_ssize_t n_chunks = bounds.shape[0] - 1
    cdef Py_ssize_t chunk, i, k, h
    if scores.shape[0] == 0 or heads == 0:
        return
    for chunk in prange(n_chunks, nogil=True, schedule="dynamic", num_threads=n_threads):
        for i in range(bounds[chunk], bounds[chunk + 1]):
            for k in range(indptr[i], indptr[i + 1]):
                for h in range(heads):
                    out[k, h] = scores[k, h]
            for h in range(heads):
                _row_softmax(&out[0, 0], indptr[i], indptr[i + 1], heads, h)


cdef inline floating _row_dot(const floating *g, const floating *alpha, Py_ssize_t start,
                              Py_ssize_t stop, Py_ssize_t heads,
                              Py_ssize_t h) noexcept nogil:
    cdef Py_ssize_t k
    cdef floating acc = 0
    for k in range(start, stop):
        acc = acc + g[k * heads + h] * alpha[k * heads + h]
    return acc


def segment_softmax_backward(const int64_t[::1] indptr, const floating[:, ::1] alpha,
                             const floating[:, ::1] grad, floating[:, ::1] out,
                             const int64_t[::1] bounds, int n_threads):
    """out[k, h] = alpha[k, h] (grad[k, h] - sum_{k' in row} grad[k', h] alpha[k', h])."""
    cdef Py_ssize_t heads = alpha.shape[1]
    cdef Py_ssize_t n_chunks = bounds.shape[0] - 1
    cdef Py_ssize_t chunk, i, k, h
    cdef floating d
    if alpha.shape[0] == 0 or heads == 0:
        return
    for chunk in prange(n_chunks, nogil=True, schedule="dynamic", num_threads=n_threads):
        for i in range(bounds[chunk], bounds[chunk + 1]):
            for h in range(heads):
                d = _row_dot(&grad[0, 0], &alpha[0, 0], indptr[i], indptr[i + 1], heads, h)
                for k in range(indptr[i], indptr[i + 1]):
                    out[k, h] = alpha[k, h] * (grad[k, h] - d)


def gat_attention(const int64_t[::1] indptr, const int64_t[::1] indices,
                  const floating[:, ::1] a_src, const floating[:, ::1] a_dst,
                  double negative_slope, floating[:, ::1] alpha,
                  const int64_t[::1] bounds, int n_threads):
    """alpha = segment softmax of LeakyReLU(a_src[indices[k], h] + a_dst[i, h])."""
    cdef Py_ssize_t heads = a_dst.shape[1]
    cdef Py_ssize_t n_chunks = bounds.shape[0] - 1
    cdef Py_ssize_t chunk, i, k, h
    cdef floating e
    cdef floating slope = <floating>negative_slope
    if alpha.shape[0] == 0 or heads == 0:
        return
    for chunk in prange(n_chunks, nogil=True, schedule="dynamic", num_threads=n_threads):
        for i in range(bounds[chunk], bounds[chunk + 1]):
            for k in range(indptr[i], indptr[i + 1]):
                for h in range(heads):
                    e = a_src[indices[k], h] + a_dst[i, h]
                    alpha[k, h] = e if e > 0 else slope * e
            for h in range(heads):
                _row_softmax(&alpha[0, 0], indptr[i], indptr[i + 1], heads, h)


def gat_attention_backward(const int64_t[::1] indptr, const int64_t[::1] indices,
                           const floating[:, ::1] a_src, const floating[:, ::1] a_dst,
                           double negative_slope, const floating[:, ::1] alpha,
                           const floating[:, ::1] grad_alpha, floating[:, ::1] grad_e,
                           floating[:, ::1] grad_a_dst, const int64_t[::1] bounds,
                           int n_threads):
    """Backward of :func:`gat_attention`: grad_e[k, h] = d loss / d (a_src[j] + a_dst[i])
    through the softmax and the LeakyReLU, and grad_a_dst[i, h] = its row sum."""
    cdef Py_ssize_t heads = a_dst.shape[1]
    cdef Py_ssize_t n_chunks = bounds.shape[0] - 1
    cdef Py_ssize_t chunk, i, k, h
    cdef floating d, g, acc
    cdef floating slope = <floating>negative_slope
    if heads == 0 or grad_a_dst.shape[0] == 0:
        return
    for chunk in prange(n_chunks, nogil=True, schedule="dynamic", num_threads=n_threads):
        for i in range(bounds[chunk], bounds[chunk + 1]):
            for h in range(heads):
                acc = 0
                if indptr[i + 1] > indptr[i]:
                    d = _row_dot(&grad_alpha[0, 0], &alpha[0, 0], indptr[i], indptr[i + 1],
                                 heads, h)
                    for k in range(indptr[i], indptr[i + 1]):
                        g = alpha[k, h] * (grad_alpha[k, h] - d)
                        if a_src[indices[k], h] + a_dst[i, h] <= 0:
                            g = g * slope
                        grad_e[k, h] = g
                        acc = acc + g
                grad_a_dst[i, h] = acc


def gather_segment_sum(const int64_t[::1] indptr, const int64_t[::1] perm,
                       const floating[:, ::1] values, floating[:, ::1] out,
                       const int64_t[::1] bounds, int n_threads):
    """out[i, h] = sum_{k in row i} values[perm[k], h] (out (n, H), values (nnz, H))."""
    cdef Py_ssize_t heads = out.shape[1]
    cdef Py_ssize_t n_chunks = bounds.shape[0] - 1
    cdef Py_ssize_t chunk, i, k, h
    cdef floating acc
    if out.shape[0] == 0 or heads == 0:
        return
    for chunk in prange(n_chunks, nogil=True, schedule="dynamic", num_threads=n_threads):
        for i in range(bounds[chunk], bounds[chunk + 1]):
            for h in range(heads):
                acc = 0
                for k in range(indptr[i], indptr[i + 1]):
                    acc = acc + values[perm[k], h]
                out[i, h] = acc
