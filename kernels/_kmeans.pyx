"""k-means kernels: Lloyd (GEMM distance blocks) and Elkan (triangle-inequality bounds).

Structure follows scikit-learn's ``_k_means_lloyd.pyx`` / ``_k_means_elkan.pyx``: the
samples are cut into chunks of ``CHUNK`` rows, chunks are shared among threads by
``prange``, and each thread accumulates the weighted sums of the samples it assigns into
its own slice of a (n_threads, k, d) buffer, merged once at the end (no locks in the hot
loop). The caller (``fastml.cluster``) averages the sums, relocates empty clusters and
tests convergence.

All arrays are C-contiguous; ``floating`` is float or double.
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport sqrt
from libc.stdlib cimport malloc, free

from kernels._blas cimport gemm_rm
from kernels._parallel cimport thread_id

cdef enum:
    CHUNK = 256


cdef inline floating _sqdist(const floating *x, const floating *c, Py_ssize_t d) noexcept nogil:
    """||x - c||^2, written out so it is exact (no ||x||^2 + ||c||^2 - 2 x.c cancellation).

    Four partial sums break the addition dependency chain (no -ffast-math needed).
    """
    cdef floating s0 = 0, s1 = 0, s2 = 0, s3 = 0, t0, t1, t2, t3
    cdef Py_ssize_t f, d4 = d - d % 4
    for f in range(0, d4, 4):
        t0 = x[f] - c[f]
        t1 = x[f + 1] - c[f + 1]
        t2 = x[f + 2] - c[f + 2]
        t3 = x[f + 3] - c[f + 3]
        s0 = s0 + t0 * t0
        s1 = s1 + t1 * t1
        s2 = s2 + t2 * t2
        s3 = s3 + t3 * t3
    for f in range(d4, d):
        t0 = x[f] - c[f]
        s0 = s0 + t0 * t0
    return (s0 + s1) + (s2 + s3)


cdef void _assign_chunk(const floating *x, Py_ssize_t m, const floating *centers,
                        const floating *c_norms, Py_ssize_t k, Py_ssize_t d,
                        floating *dist, int *labels) noexcept nogil:
    """labels[i] = argmin_j ||c_j||^2 - 2 x_i.c_j for the m rows of x (GEMM block)."""
    cdef Py_ssize_t i, j, best
    cdef floating v, best_v
    for i in range(m):
        for j in range(k):
            dist[i * k + j] = c_norms[j]
    gemm_rm(False, True, <int> m, <int> k, <int> d, -2.0, x, <int> d, centers, <int> d,
            1.0, dist, <int> k)
    for i in range(m):
        best = 0
        best_v = dist[i * k]
        for j in range(1, k):
            v = dist[i * k + j]
            if v < best_v:
                best_v = v
                best = j
        labels[i] = <int> best


cdef void _accumulate(const floating *x, floating w, floating *sums, floating *weights,
                      int label, Py_ssize_t d) noexcept nogil:
    cdef Py_ssize_t f
    cdef floating *s = sums + label * d
    for f in range(d):
        s[f] = s[f] + w * x[f]
    weights[label] = weights[label] + w


cdef void _begin_pass(const floating[:, ::1] centers, floating *c_norms,
                      floating[:, :, ::1] thread_sums, floating[:, ::1] thread_weights,
                      bint update_centers) noexcept nogil:
    """Before a Lloyd pass: c_norms[j] = ||c_j||^2, and the thread sums zeroed when the
    pass accumulates them."""
    cdef Py_ssize_t j, f
    for j in range(centers.shape[0]):
        c_norms[j] = 0
        for f in range(centers.shape[1]):
            c_norms[j] = c_norms[j] + centers[j, f] * centers[j, f]
    if update_centers:
        _zero_thread_sums(thread_sums, thread_weights)


cdef void _zero_thread_sums(floating[:, :, ::1] thread_sums,
                            floating[:, ::1] thread_weights) noexcept nogil:
    """Reset every thread's partial sums and weights before an assignment pass."""
    cdef Py_ssize_t t, j, f
    for t in range(thread_sums.shape[0]):
        for j in range(thread_sums.shape[1]):
            thread_weights[t, j] = 0
            for f in range(thread_sums.shape[2]):
                thread_sums[t, j, f] = 0


cdef void _merge(floating[:, :, ::1] thread_sums, floating[:, ::1] thread_weights,
                 floating[:, ::1] sums, floating[::1] weights) noexcept nogil:
    """sums = sum over threads; weights likewise."""
    cdef Py_ssize_t t, j, f
    cdef Py_ssize_t k = sums.shape[0], d = sums.shape[1]
    for j in range(k):
        weights[j] = 0
        for f in range(d):
            sums[j, f] = 0
    for t in range(thread_sums.shape[0]):
        for j in range(k):
            weights[j] = weights[j] + thread_weights[t, j]
            for f in range(d):
                sums[j, f] = sums[j, f] + thread_sums[t, j, f]


def lloyd_iter(const floating[:, ::1] X, const floating[::1] sample_weight,
               const floating[:, ::1] centers, floating[:, ::1] sums,
               floating[::1] weight_in_clusters, int[::1] labels,
               floating[:, :, ::1] thread_sums, floating[:, ::1] thread_weights,
               int n_threads, bint update_centers):
    """One Lloyd E-step (assign every sample to its nearest centre) and the M-step sums.

    labels[i] = argmin_j ||x_i - c_j||^2, computed as argmin_j ||c_j||^2 - 2 x_i.c_j with
    one GEMM per chunk. When ``update_centers``, ``sums[j] = sum_{i: label i = j} w_i x_i``
    and ``weight_in_clusters[j] = sum_{i: label i = j} w_i``. ``thread_sums`` (n_threads,
    k, d) and ``thread_weights`` (n_threads, k) are scratch buffers.
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], k = centers.shape[0]
    cdef Py_ssize_t n_chunks = (n + CHUNK - 1) // CHUNK
    cdef Py_ssize_t c, i, i0, m
    cdef int t
    cdef floating *dist
    cdef floating *c_norms
    if n == 0:
        return
    dist = <floating *> malloc(n_threads * CHUNK * k * sizeof(floating))
    c_norms = <floating *> malloc(k * sizeof(floating))
    if dist == NULL or c_norms == NULL:
        free(dist)
        free(c_norms)
        raise MemoryError()
    with nogil:
        _begin_pass(centers, c_norms, thread_sums, thread_weights, update_centers)
        for c in prange(n_chunks, num_threads=n_threads, schedule="static"):
            t = thread_id()
            i0 = c * CHUNK
            m = min(CHUNK, n - i0)
            _assign_chunk(&X[i0, 0], m, &centers[0, 0], c_norms, k, d,
                          dist + t * CHUNK * k, &labels[i0])
            if update_centers:
                for i in range(i0, i0 + m):
                    _accumulate(&X[i, 0], sample_weight[i], &thread_sums[t, 0, 0],
                                &thread_weights[t, 0], labels[i], d)
        if update_centers:
            _merge(thread_sums, thread_weights, sums, weight_in_clusters)
    free(dist)
    free(c_norms)


def inertia(const floating[:, ::1] X, const floating[::1] sample_weight,
            const floating[:, ::1] centers, const int[::1] labels, int n_threads):
    """sum_i w_i ||x_i - c_{label i}||^2 (exact differences, float64 accumulator).

    Summed per chunk of ``CHUNK`` samples, then over chunks in order: the same bits for
    any thread count.
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], i, c
    cdef Py_ssize_t n_chunks = (n + CHUNK - 1) // CHUNK
    cdef double total = 0, part
    cdef double *partial = <double *> malloc(max(n_chunks, 1) * sizeof(double))
    if partial == NULL:
        raise MemoryError()
    with nogil:
        for c in prange(n_chunks, num_threads=n_threads, schedule="static"):
            part = 0
            for i in range(c * CHUNK, min(c * CHUNK + CHUNK, n)):
                part = part + sample_weight[i] * _sqdist(&X[i, 0], &centers[labels[i], 0], d)
            partial[c] = part
        for c in range(n_chunks):
            total = total + partial[c]
    free(partial)
    return total


cdef floating _elkan_sample(const floating *x, const floating *centers, Py_ssize_t k,
                            Py_ssize_t d, const floating *half, const floating *next_half,
                            floating *lower, int *label_io, floating upper) noexcept nogil:
    """Elkan's assignment of one sample; returns its new upper bound and updates
    ``label_io[0]`` and the lower bounds ``lower[j] <= ||x - c_j||``.

    A centre j is skipped when u <= l_j or u <= ||c_label - c_j|| / 2 (triangle
    inequality: it cannot be closer); u is made exact only when a test fails.
    """
    cdef int label = label_io[0]
    cdef Py_ssize_t j
    cdef bint tight = False
    cdef floating dj
    if next_half[label] >= upper:
        return upper
    for j in range(k):
        if j != label and upper > lower[j] and upper > half[label * k + j]:
            if not tight:
                upper = sqrt(_sqdist(x, centers + label * d, d))
                lower[label] = upper
                tight = True
                if not (upper > lower[j] and upper > half[label * k + j]):
                    continue
            dj = sqrt(_sqdist(x, centers + j * d, d))
            lower[j] = dj
            if dj < upper:
                label = <int> j
                upper = dj
    label_io[0] = label
    return upper


def elkan_init_bounds(const floating[:, ::1] X, const floating[:, ::1] centers,
                      const floating[:, ::1] half_dist, int[::1] labels,
                      floating[::1] upper, floating[:, ::1] lower, int n_threads):
    """Initial labels and bounds: distances computed only where the triangle
    inequality cannot rule a centre out (Elkan 2003, as scikit-learn's init_bounds)."""
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], k = centers.shape[0], i, j
    cdef int best
    cdef floating u, dj
    with nogil:
        for i in prange(n, num_threads=n_threads, schedule="static"):
            best = 0
            u = sqrt(_sqdist(&X[i, 0], &centers[0, 0], d))
            lower[i, 0] = u
            for j in range(1, k):
                if u > half_dist[best, j]:
                    dj = sqrt(_sqdist(&X[i, 0], &centers[j, 0], d))
                    lower[i, j] = dj
                    if dj < u:
                        u = dj
                        best = <int> j
                else:
                    lower[i, j] = 0
            labels[i] = best
            upper[i] = u


def elkan_iter(const floating[:, ::1] X, const floating[::1] sample_weight,
               const floating[:, ::1] centers, const floating[::1] shift,
               const floating[:, ::1] half_dist, const floating[::1] next_half,
               floating[::1] upper, floating[:, ::1] lower, int[::1] labels,
               floating[:, ::1] sums, floating[::1] weight_in_clusters,
               floating[:, :, ::1] thread_sums, floating[:, ::1] thread_weights,
               int n_threads, bint update_centers):
    """One Elkan iteration.

    First moves the bounds by the previous iteration's centre shifts
    (u_i += shift[label_i], l_ij = max(l_ij - shift[j], 0)), fused with the assignment,
    then accumulates the M-step sums as :func:`lloyd_iter` does. ``half_dist[a, b]`` is
    ||c_a - c_b|| / 2 and ``next_half[a]`` its smallest off-diagonal value in row a.
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], k = centers.shape[0]
    cdef Py_ssize_t n_chunks = (n + CHUNK - 1) // CHUNK
    cdef Py_ssize_t c, i, i0, j
    cdef int t
    cdef floating lj
    if n == 0:
        return
    with nogil:
        if update_centers:
            _zero_thread_sums(thread_sums, thread_weights)
        for c in prange(n_chunks, num_threads=n_threads, schedule="static"):
            t = thread_id()
            i0 = c * CHUNK
            for i in range(i0, min(i0 + CHUNK, n)):
                for j in range(k):
                    lj = lower[i, j] - shift[j]
                    lower[i, j] = lj if lj > 0 else 0
                upper[i] = _elkan_sample(&X[i, 0], &centers[0, 0], k, d, &half_dist[0, 0],
                                         &next_half[0], &lower[i, 0], &labels[i],
                                         upper[i] + shift[labels[i]])
                if update_centers:
                    _accumulate(&X[i, 0], sample_weight[i], &thread_sums[t, 0, 0],
                                &thread_weights[t, 0], labels[i], d)
        if update_centers:
            _merge(thread_sums, thread_weights, sums, weight_in_clusters)


cdef inline floating _sparse_dot(const floating *vals, const int *cols, Py_ssize_t nnz,
                                 const floating *c) noexcept nogil:
    """x.c for a sparse row (values ``vals`` at columns ``cols``) and a dense centre."""
    cdef floating s = 0
    cdef Py_ssize_t p
    for p in range(nnz):
        s = s + vals[p] * c[cols[p]]
    return s


def lloyd_iter_sparse(const floating[::1] data, const int[::1] indices,
                      const int[::1] indptr, const floating[::1] sample_weight,
                      const floating[:, ::1] centers, floating[:, ::1] sums,
                      floating[::1] weight_in_clusters, int[::1] labels,
                      floating[:, :, ::1] thread_sums, floating[:, ::1] thread_weights,
                      int n_threads, bint update_centers):
    """:func:`lloyd_iter` for CSR ``X`` (``data``, ``indices``, ``indptr``).

    labels[i] = argmin_j ||c_j||^2 - 2 x_i.c_j, the dot products over the stored entries
    of row i only (nnz_i k multiply-adds per sample); the M-step sums add
    w_i x_i into the thread's row of its label at the stored columns.
    """
    cdef Py_ssize_t n = indptr.shape[0] - 1, k = centers.shape[0]
    cdef Py_ssize_t n_chunks = (n + CHUNK - 1) // CHUNK
    cdef Py_ssize_t c, i, j, p, best, start, nnz
    cdef int t
    cdef floating v, best_v, wi
    cdef floating *c_norms
    cdef floating *s
    if n == 0:
        return
    c_norms = <floating *> malloc(k * sizeof(floating))
    if c_norms == NULL:
        raise MemoryError()
    with nogil:
        _begin_pass(centers, c_norms, thread_sums, thread_weights, update_centers)
        for c in prange(n_chunks, num_threads=n_threads, schedule="static"):
            t = thread_id()
            for i in range(c * CHUNK, min(c * CHUNK + CHUNK, n)):
                start = indptr[i]
                nnz = indptr[i + 1] - start
                best = 0
                best_v = c_norms[0] - 2 * _sparse_dot(&data[start], &indices[start], nnz,
                                                      &centers[0, 0])
                for j in range(1, k):
                    v = c_norms[j] - 2 * _sparse_dot(&data[start], &indices[start], nnz,
                                                     &centers[j, 0])
                    if v < best_v:
                        best_v = v
                        best = j
                labels[i] = <int> best
                if update_centers:
                    wi = sample_weight[i]
                    s = &thread_sums[t, best, 0]
                    for p in range(start, start + nnz):
                        s[indices[p]] = s[indices[p]] + wi * data[p]
                    thread_weights[t, best] = thread_weights[t, best] + wi
        if update_centers:
            _merge(thread_sums, thread_weights, sums, weight_in_clusters)
    free(c_norms)


def inertia_sparse(const floating[::1] data, const int[::1] indices, const int[::1] indptr,
                   const floating[::1] sample_weight, const floating[:, ::1] centers,
                   const int[::1] labels, int n_threads):
    """:func:`inertia` for CSR ``X``: ||x - c||^2 = ||c||^2 + sum over the stored entries
    of ((x_f - c_f)^2 - c_f^2), clipped at 0; float64 accumulator, per-chunk partial sums
    added in order (the same bits for any thread count)."""
    cdef Py_ssize_t n = indptr.shape[0] - 1, d = centers.shape[1], k = centers.shape[0]
    cdef Py_ssize_t n_chunks = (n + CHUNK - 1) // CHUNK
    cdef Py_ssize_t i, c, j, f, p
    cdef double total = 0, part, sq, cf
    cdef double *partial = <double *> malloc((max(n_chunks, 1) + k) * sizeof(double))
    cdef double *c_norms
    if partial == NULL:
        raise MemoryError()
    c_norms = partial + max(n_chunks, 1)
    with nogil:
        for j in range(k):
            c_norms[j] = 0
            for f in range(d):
                c_norms[j] = c_norms[j] + <double> centers[j, f] * centers[j, f]
        for c in prange(n_chunks, num_threads=n_threads, schedule="static"):
            part = 0
            for i in range(c * CHUNK, min(c * CHUNK + CHUNK, n)):
                sq = c_norms[labels[i]]
                for p in range(indptr[i], indptr[i + 1]):
                    cf = centers[labels[i], indices[p]]
                    sq = sq + (data[p] - cf) * (data[p] - cf) - cf * cf
                part = part + sample_weight[i] * (sq if sq > 0 else 0)
            partial[c] = part
        for c in range(n_chunks):
            total = total + partial[c]
    free(partial)
    return total
