"""Rosenblatt's perceptron, one-vs-rest, one binary problem per thread.

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

from kernels._blas cimport xaxpy, xdot


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
