"""Support vector machines: SMO for the kernel C-SVC dual, dual coordinate descent for
the linear SVC, and kernel matrices.

C-SVC dual (labels y_i = +-1, Q_ij = y_i y_j K(x_i, x_j)):

    min_a 1/2 a' Q a - e' a   subject to 0 <= a_i <= C, y' a = 0.

SMO (Platt 1998) changes two coordinates at a time. The pair is chosen by the
second-order rule of Fan, Chen & Lin (2005, "WSS2"): i maximises -y_t G_t over
I_up = {t: a_t < C, y_t = 1 or a_t > 0, y_t = -1}; j minimises -b_it^2 / a_it over
t in I_low with -y_t G_t < -y_i G_i, where b_it = -y_i G_i + y_t G_t and
a_it = K_ii + K_tt - 2 K_it. Stop when m(a) - M(a) < tol (maximal violating pair).
Columns of Q are computed on demand and kept in a least-recently-used cache.
The offset is rho = mean of y_i G_i over free vectors (0 < a_i < C), or the midpoint
of the feasible interval when there are none; f(x) = sum_i a_i y_i K(x_i, x) - rho.

Kernels (``kind``): 0 linear x'z, 1 poly (gamma x'z + coef0)^degree,
2 rbf exp(-gamma ||x - z||^2), 3 sigmoid tanh(gamma x'z + coef0), 4 precomputed
(``X`` is then the square kernel matrix itself).
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport HUGE_VAL, exp, fabs, pow, tanh
from libc.stdlib cimport free, malloc

from kernels._blas cimport gemm_rm, xdot

cdef double TAU = 1e-12

# Columns shorter than this are filled serially (thread start-up would dominate).
cdef enum:
    PARALLEL_MIN = 4096


cdef inline double _transform(double dot, double sqi, double sqj, int kind, double gamma,
                              double coef0, int degree) noexcept nogil:
    if kind == 1:
        return pow(gamma * dot + coef0, degree)
    if kind == 2:
        return exp(-gamma * (sqi + sqj - 2 * dot))
    if kind == 3:
        return tanh(gamma * dot + coef0)
    return dot


cdef struct Problem:
    int l
    int d
    int kind
    int degree
    int n_threads
    double gamma
    double coef0


cdef void _fill_column(const floating *x, const double *sq, const double *y, Problem pb,
                       int i, double *col) noexcept nogil:
    """col_j = Q_ij = y_i y_j K(x_i, x_j) for every j."""
    cdef int j, l = pb.l, d = pb.d
    cdef double yi = y[i]
    if pb.kind == 4:
        for j in range(l):
            col[j] = yi * y[j] * x[<Py_ssize_t> i * l + j]
        return
    if l < PARALLEL_MIN or pb.n_threads == 1:
        for j in range(l):
            col[j] = yi * y[j] * _transform(
                xdot(d, x + <Py_ssize_t> i * d, 1, x + <Py_ssize_t> j * d, 1),
                sq[i], sq[j], pb.kind, pb.gamma, pb.coef0, pb.degree)
    else:
        for j in prange(l, num_threads=pb.n_threads, schedule="static"):
            col[j] = yi * y[j] * _transform(
                xdot(d, x + <Py_ssize_t> i * d, 1, x + <Py_ssize_t> j * d, 1),
                sq[i], sq[j], pb.kind, pb.gamma, pb.coef0, pb.degree)


cdef struct Cache:
    int n_slots
    int used
    long clock
    double *data    # n_slots columns of length l
    int *slot_of    # column index -> slot, or -1
    int *owner      # slot -> column index
    long *stamp     # slot -> last use


cdef double *_column(Cache *c, const floating *x, const double *sq, const double *y,
                     Problem pb, int i) noexcept nogil:
    """Column i of Q, from the cache or computed into the least recently used slot."""
    cdef int s = c.slot_of[i], t
    c.clock += 1
    if s < 0:
        if c.used < c.n_slots:
            s = c.used
            c.used += 1
        else:
            s = 0
            for t in range(1, c.n_slots):
                if c.stamp[t] < c.stamp[s]:
                    s = t
            c.slot_of[c.owner[s]] = -1
        c.owner[s] = i
        c.slot_of[i] = s
        _fill_column(x, sq, y, pb, i, c.data + <Py_ssize_t> s * pb.l)
    c.stamp[s] = c.clock
    return c.data + <Py_ssize_t> s * pb.l


cdef inline bint _up(double a, double y, double C) noexcept nogil:
    """t in I_up: a_t can move in the direction that increases y_t a_t."""
    return (y > 0 and a < C) or (y < 0 and a > 0)


cdef inline bint _low(double a, double y, double C) noexcept nogil:
    return (y > 0 and a > 0) or (y < 0 and a < C)


def smo(const floating[:, ::1] X, const double[::1] y, double C, int kind, double gamma,
        double coef0, int degree, double tol, long max_iter, double cache_bytes,
        int n_threads, double[::1] alpha):
    """Solve the C-SVC dual; ``alpha`` (output) gets the multipliers.

    Returns (rho, n_iter, converged).
    """
    cdef int l = y.shape[0], d = X.shape[1]
    cdef Problem pb
    cdef Cache cache
    cdef int i, j, t, it = 0
    cdef double *G = <double *> malloc(l * sizeof(double))
    cdef double *QD = <double *> malloc(l * sizeof(double))
    cdef double *sq = <double *> malloc(l * sizeof(double))
    cdef double *Qi
    cdef double *Qj
    cdef double gmax, gmax2, obj_min, grad_diff, quad, obj, yG
    cdef double rho, old_i, old_j, delta, diff, total, di, dj, ub, lb, sum_free
    cdef int nr_free
    cdef bint converged = False
    pb.l = l
    pb.d = d
    pb.kind = kind
    pb.degree = degree
    pb.gamma = gamma
    pb.coef0 = coef0
    pb.n_threads = n_threads
    cache.n_slots = <int> max(2.0, min(<double> l, cache_bytes / (8.0 * l)))
    cache.used = 0
    cache.clock = 0
    cache.data = <double *> malloc(<Py_ssize_t> cache.n_slots * l * sizeof(double))
    cache.slot_of = <int *> malloc(l * sizeof(int))
    cache.owner = <int *> malloc(cache.n_slots * sizeof(int))
    cache.stamp = <long *> malloc(cache.n_slots * sizeof(long))
    if (G == NULL or QD == NULL or sq == NULL or cache.data == NULL
            or cache.slot_of == NULL or cache.owner == NULL or cache.stamp == NULL):
        free(G)
        free(QD)
        free(sq)
        free(cache.data)
        free(cache.slot_of)
        free(cache.owner)
        free(cache.stamp)
        raise MemoryError()
    with nogil:
        for t in range(l):
            alpha[t] = 0
            G[t] = -1
            cache.slot_of[t] = -1
            if kind == 4:
                sq[t] = 0
                QD[t] = X[t, t]
            else:
                sq[t] = xdot(d, &X[t, 0], 1, &X[t, 0], 1)
                QD[t] = _transform(sq[t], sq[t], sq[t], kind, gamma, coef0, degree)
        while max_iter < 0 or it < max_iter:
            # ---- working set selection (WSS2)
            gmax = -HUGE_VAL
            gmax2 = -HUGE_VAL
            i = -1
            j = -1
            for t in range(l):
                if _up(alpha[t], y[t], C) and -y[t] * G[t] >= gmax:
                    gmax = -y[t] * G[t]
                    i = t
            if i < 0:
                converged = True
                break
            Qi = _column(&cache, &X[0, 0], sq, &y[0], pb, i)
            obj_min = HUGE_VAL
            for t in range(l):
                if not _low(alpha[t], y[t], C):
                    continue
                yG = y[t] * G[t]
                gmax2 = max(gmax2, yG)
                grad_diff = gmax + yG
                if grad_diff > 0:
                    # y_i y_t Q_it = K_it
                    quad = QD[i] + QD[t] - 2 * y[i] * y[t] * Qi[t]
                    obj = -grad_diff * grad_diff / (quad if quad > 0 else TAU)
                    if obj <= obj_min:
                        obj_min = obj
                        j = t
            if gmax + gmax2 < tol or j < 0:
                converged = True
                break
            it += 1
            # ---- analytic two-variable update (as in LIBSVM); Qi stays cached (LRU)
            Qj = _column(&cache, &X[0, 0], sq, &y[0], pb, j)
            old_i = alpha[i]
            old_j = alpha[j]
            if y[i] != y[j]:
                quad = QD[i] + QD[j] + 2 * Qi[j]
                delta = (-G[i] - G[j]) / (quad if quad > 0 else TAU)
                diff = alpha[i] - alpha[j]
                alpha[i] += delta
                alpha[j] += delta
                if diff > 0:
                    if alpha[j] < 0:
                        alpha[j] = 0
                        alpha[i] = diff
                elif alpha[i] < 0:
                    alpha[i] = 0
                    alpha[j] = -diff
                if diff > 0:
                    if alpha[i] > C:
                        alpha[i] = C
                        alpha[j] = C - diff
                elif alpha[j] > C:
                    alpha[j] = C
                    alpha[i] = C + diff
            else:
                quad = QD[i] + QD[j] - 2 * Qi[j]
                delta = (G[i] - G[j]) / (quad if quad > 0 else TAU)
                total = alpha[i] + alpha[j]
                alpha[i] -= delta
                alpha[j] += delta
                if total > C:
                    if alpha[i] > C:
                        alpha[i] = C
                        alpha[j] = total - C
                    if alpha[j] > C:
                        alpha[j] = C
                        alpha[i] = total - C
                else:
                    if alpha[j] < 0:
                        alpha[j] = 0
                        alpha[i] = total
                    if alpha[i] < 0:
                        alpha[i] = 0
                        alpha[j] = total
            di = alpha[i] - old_i
            dj = alpha[j] - old_j
            for t in range(l):
                G[t] += Qi[t] * di + Qj[t] * dj
        # ---- offset rho
        ub = HUGE_VAL
        lb = -HUGE_VAL
        sum_free = 0
        nr_free = 0
        for t in range(l):
            yG = y[t] * G[t]
            if alpha[t] >= C:
                if y[t] < 0:
                    ub = min(ub, yG)
                else:
                    lb = max(lb, yG)
            elif alpha[t] <= 0:
                if y[t] > 0:
                    ub = min(ub, yG)
                else:
                    lb = max(lb, yG)
            else:
                nr_free += 1
                sum_free += yG
        rho = sum_free / nr_free if nr_free > 0 else (ub + lb) / 2
    free(G)
    free(QD)
    free(sq)
    free(cache.data)
    free(cache.slot_of)
    free(cache.owner)
    free(cache.stamp)
    return rho, it, converged


def kernel_matrix(const floating[:, ::1] A, const floating[:, ::1] B, int kind,
                  double gamma, double coef0, int degree, floating[:, ::1] out,
                  int n_threads):
    """out (m, n) = K(A_i, B_j): one GEMM for the inner products, then the transform."""
    cdef int m = A.shape[0], n = B.shape[0], d = A.shape[1], i, j
    cdef double *sqa
    cdef double *sqb
    if m == 0 or n == 0:
        return
    sqa = <double *> malloc((m + n) * sizeof(double))
    if sqa == NULL:
        raise MemoryError()
    sqb = sqa + m
    with nogil:
        gemm_rm(False, True, m, n, d, 1, &A[0, 0], d, &B[0, 0], d, 0, &out[0, 0], n)
        if kind != 0:
            for i in range(m):
                sqa[i] = xdot(d, &A[i, 0], 1, &A[i, 0], 1)
            for j in range(n):
                sqb[j] = xdot(d, &B[j, 0], 1, &B[j, 0], 1)
            for i in prange(m, num_threads=n_threads, schedule="static"):
                for j in range(n):
                    out[i, j] = _transform(out[i, j], sqa[i], sqb[j], kind, gamma, coef0,
                                           degree)
    free(sqa)


def linear_svc_dual_cd(const floating[:, ::1] X, const double[::1] y, double C,
                       bint squared_hinge, double bias, double tol, int max_iter,
                       unsigned long long seed, double[::1] w):
    """Dual coordinate descent (Hsieh et al. 2008) for the linear SVC, with shrinking.

    Primal: min_w 1/2 ||w||^2 + C sum_i loss(y_i w'x~_i), x~_i = (x_i, bias), loss the
    hinge max(0, 1 - m) or its square. Dual: min_a 1/2 a'(Q + D) a - e'a, 0 <= a_i <= U,
    with D = 1/(2C), U = inf for the squared hinge and D = 0, U = C for the hinge.
    Coordinate step: G = y_i w'x~_i - 1 + D a_i, a_i <- clip(a_i - G / (Q_ii + D)),
    w += (a_i' - a_i) y_i x~_i. ``w`` (length p + 1, last entry for the bias column)
    is the output. Returns the number of epochs, negative when not converged.
    """
    cdef int n = X.shape[0], p = X.shape[1], it = 0, s, i, k, active_size = n
    cdef double diag = 0.5 / C if squared_hinge else 0.0
    cdef double upper = HUGE_VAL if squared_hinge else C
    cdef double pgmax_old = HUGE_VAL, pgmin_old = -HUGE_VAL, pgmax, pgmin, g, pg, a_old, dd
    cdef unsigned long long state = seed | 1
    cdef double *a = <double *> malloc(n * sizeof(double))
    cdef double *qd = <double *> malloc(n * sizeof(double))
    cdef int *index = <int *> malloc(n * sizeof(int))
    cdef bint converged = False
    if a == NULL or qd == NULL or index == NULL:
        free(a)
        free(qd)
        free(index)
        raise MemoryError()
    with nogil:
        for k in range(p + 1):
            w[k] = 0
        for i in range(n):
            a[i] = 0
            index[i] = i
            qd[i] = diag + bias * bias
            for k in range(p):
                qd[i] += X[i, k] * X[i, k]
        while it < max_iter:
            pgmax = -HUGE_VAL
            pgmin = HUGE_VAL
            for s in range(active_size - 1, 0, -1):  # Fisher-Yates shuffle
                state ^= state << 13
                state ^= state >> 7
                state ^= state << 17
                k = <int> (state % (s + 1))
                index[s], index[k] = index[k], index[s]
            s = 0
            while s < active_size:
                i = index[s]
                g = bias * w[p]
                for k in range(p):
                    g += w[k] * X[i, k]
                g = y[i] * g - 1 + diag * a[i]
                pg = 0
                if a[i] == 0:
                    if g > pgmax_old:
                        active_size -= 1
                        index[s], index[active_size] = index[active_size], index[s]
                        continue
                    if g < 0:
                        pg = g
                elif a[i] == upper:
                    if g < pgmin_old:
                        active_size -= 1
                        index[s], index[active_size] = index[active_size], index[s]
                        continue
                    if g > 0:
                        pg = g
                else:
                    pg = g
                pgmax = max(pgmax, pg)
                pgmin = min(pgmin, pg)
                if fabs(pg) > 1e-12:
                    a_old = a[i]
                    a[i] = min(max(a[i] - g / qd[i], 0.0), upper)
                    dd = (a[i] - a_old) * y[i]
                    for k in range(p):
                        w[k] += dd * X[i, k]
                    w[p] += dd * bias
                s += 1
            it += 1
            if pgmax - pgmin <= tol:
                if active_size == n:
                    converged = True
                    break
                active_size = n
                pgmax_old = HUGE_VAL
                pgmin_old = -HUGE_VAL
                continue
            pgmax_old = pgmax if pgmax > 0 else HUGE_VAL
            pgmin_old = pgmin if pgmin < 0 else -HUGE_VAL
    free(a)
    free(qd)
    free(index)
    return it if converged else -it
