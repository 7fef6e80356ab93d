"""Linear-model helpers: Rosenblatt's perceptron and the centred Gram matrix.

Perceptron: one-vs-rest, one binary problem per thread.

For each class k and each sample i (in a shuffled order every epoch), with
t_ik = +1 if y_i = k else -1 and f = w_k'x_i + b_k:

    if t_ik f <= 0:  w_k += eta t_ik x_i,  b_k += eta t_ik.

An epoch's perceptron loss is sum_i max(0, -t_ik f) measured before each update. A class
stops after an epoch without mistakes, or when the loss has not fallen below
best - tol * n for ``n_iter_no_change`` epochs in a row (scikit-learn's rule), or after
``max_iter`` epochs.
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.stdlib cimport free, malloc

from kernels._blas cimport gemm_rm, syrk_rm, xaxpy, xdot
from kernels._parallel cimport thread_id, thread_scratch


cdef int _fit_one(const floating *x, int n, int p, const int *y, int k, floating *w,
                  floating *b, floating eta, bint fit_intercept, int max_iter, double tol,
                  int n_iter_no_change, bint shuffle, unsigned long long state,
                  int *order) noexcept nogil:
    cdef int epoch, s, i, r, tmp, mistakes, bad = 0
    cdef floating f, t
    cdef double loss, best = 1e300
    for i in range(n):
        order[i] = i
    for epoch in range(max_iter):
        if shuffle:
            for s in range(n - 1, 0, -1):
                state ^= state << 13
                state ^= state >> 7
                state ^= state << 17
                r = <int> (state % (s + 1))
                tmp = order[s]
                order[s] = order[r]
                order[r] = tmp
        loss = 0
        mistakes = 0
        for s in range(n):
            i = order[s]
            t = 1 if y[i] == k else -1
            f = xdot(p, x + <Py_ssize_t> i * p, 1, w, 1) + b[0]
            if t * f <= 0:
                loss -= t * f
                mistakes += 1
                xaxpy(p, eta * t, x + <Py_ssize_t> i * p, 1, w, 1)
                if fit_intercept:
                    b[0] += eta * t
        if mistakes == 0:
            return epoch + 1
        if loss > best - tol * n:
            bad += 1
        else:
            bad = 0
        best = min(best, loss)
        if bad >= n_iter_no_change:
            return epoch + 1
    return max_iter


def perceptron(const floating[:, ::1] X, const int[::1] y, int[::1] classes,
               floating[:, ::1] W, floating[::1] b, double eta, bint fit_intercept,
               int max_iter, double tol, int n_iter_no_change, bint shuffle,
               const unsigned long long[::1] seeds, int[::1] n_iter, int n_threads):
    """Fit row k of ``W`` / ``b`` (warm start) for class index ``classes[k]``."""
    cdef int n = X.shape[0], p = X.shape[1], n_cls = W.shape[0], k
    cdef int *order = <int *> malloc(<Py_ssize_t> n_cls * n * sizeof(int))
    if order == NULL:
        raise MemoryError()
    with nogil:
        for k in prange(n_cls, num_threads=n_threads, schedule="dynamic"):
            n_iter[k] = _fit_one(&X[0, 0], n, p, &y[0], classes[k], &W[k, 0], &b[k],
                                 <floating> eta, fit_intercept, max_iter, tol,
                                 n_iter_no_change, shuffle, seeds[k] | 1,
                                 order + <Py_ssize_t> k * n)
    free(order)


def centered_gram(const floating[:, ::1] X, const floating[::1] x_shift,
                  const floating[:, ::1] Y, const floating[::1] y_shift,
                  floating[:, ::1] G, floating[:, ::1] XtY, double[::1] x_sum,
                  double[::1] y_sum, int chunk_rows, int n_threads):
    """Shifted cross products in one pass: with Xs = X - x_shift and Ys = Y - y_shift,
    the lower triangle of G = Xs'Xs, XtY = Xs'Ys and the column sums of Xs and Ys.

    The caller centres exactly: Xc'Xc = Xs'Xs - sx sx'/n (sx = column sums of Xs), and
    with the shift near the mean (e.g. the first row) there is no cancellation. Rows are
    shifted ``chunk_rows`` at a time into a per-thread buffer (no copy of X), then one
    SYRK and one GEMM per chunk accumulate into per-thread sums merged at the end. Needs
    BLAS pinned to one thread (it is called inside prange).
    """
    cdef int n = X.shape[0], p = X.shape[1], t = Y.shape[1]
    cdef int rows = chunk_rows, n_chunks = (n + rows - 1) // rows, chunk, m, i, j, r, tid
    cdef Py_ssize_t per = <Py_ssize_t> p * p + <Py_ssize_t> p * t + <Py_ssize_t> rows * (p + t)
    cdef floating *buf = <floating *> thread_scratch(n_threads, per, sizeof(floating))
    cdef double *sums
    cdef floating *g
    cdef floating *xy
    cdef floating *cx
    cdef floating *cy
    cdef double *sx
    cdef floating v
    sums = <double *> thread_scratch(n_threads, p + t, sizeof(double), buf)
    with nogil:
        for chunk in prange(n_chunks, num_threads=n_threads, schedule="static"):
            tid = thread_id()
            g = buf + tid * per
            xy = g + p * p
            cx = xy + p * t
            cy = cx + <Py_ssize_t> rows * p
            sx = sums + tid * (p + t)
            m = min(rows, n - chunk * rows)
            for i in range(m):
                for j in range(p):
                    v = X[chunk * rows + i, j] - x_shift[j]
                    cx[<Py_ssize_t> i * p + j] = v
                    sx[j] += v
                for j in range(t):
                    v = Y[chunk * rows + i, j] - y_shift[j]
                    cy[i * t + j] = v
                    sx[p + j] += v
            syrk_rm(True, True, p, m, 1, cx, p, 1, g, p)
            gemm_rm(True, False, p, t, m, 1, cx, p, cy, t, 1, xy, t)
        for r in range(p):
            x_sum[r] = 0
            for j in range(r + 1):
                G[r, j] = 0
            for j in range(t):
                XtY[r, j] = 0
        for j in range(t):
            y_sum[j] = 0
        for tid in range(n_threads):
            g = buf + tid * per
            xy = g + p * p
            sx = sums + tid * (p + t)
            for r in range(p):
                x_sum[r] += sx[r]
                for j in range(r + 1):
                    G[r, j] += g[r * p + j]
                for j in range(t):
                    XtY[r, j] += xy[r * t + j]
            for j in range(t):
                y_sum[j] += sx[p + j]
    free(buf)
    free(sums)
