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

from kernels._blas cimport gemm_rm, gemv_rm, xdot

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
    """col_j = Q_ij = y_i y_j K(x_i, x_j) for every j: one GEMV for the inner products
    (float64 data), then the kernel transform, in parallel for long columns."""
    cdef int j, k, l = pb.l, d = pb.d
    cdef double yi = y[i], dot
    cdef const floating *xi = x + <Py_ssize_t> i * d
    if pb.kind == 4:
        for j in range(l):
            col[j] = yi * y[j] * x[<Py_ssize_t> i * l + j]
        return
    if floating is double:
        gemv_rm(False, l, d, 1.0, x, d, xi, 1, 0.0, col, 1)
    else:
        for j in range(l):
            dot = 0
            for k in range(d):
                dot += xi[k] * x[<Py_ssize_t> j * d + k]
            col[j] = dot
    if l < PARALLEL_MIN or pb.n_threads == 1:
        for j in range(l):
            col[j] = yi * y[j] * _transform(col[j], sq[i], sq[j], pb.kind, pb.gamma,
                                            pb.coef0, pb.degree)
    else:
        for j in prange(l, num_threads=pb.n_threads, schedule="static"):
            col[j] = yi * y[j] * _transform(col[j], sq[i], sq[j], pb.kind, pb.gamma,
                                            pb.coef0, pb.degree)


cdef struct Cache:
    int n_slots
    int used
    long clock
    double *data    # n_slots columns of length l
    int *slot_of    # column index -> slot, or -1
    int *owner      # slot -> column index
    long *stamp     # slot -> last use


cdef void _release(double *G, double *Gbar, double *QD, double *sq, int *active,
                   char *flag, Cache *cache) noexcept nogil:
    """Free the SMO solver's work arrays and kernel cache (NULL pointers are fine)."""
    free(G)
    free(Gbar)
    free(QD)
    free(sq)
    free(active)
    free(flag)
    free(cache.data)
    free(cache.slot_of)
    free(cache.owner)
    free(cache.stamp)


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


cdef void _reconstruct_gradient(Cache *cache, const floating *x, const double *sq,
                                const double *y, Problem pb, double C, const double *alpha,
                                double *G, const double *Gbar, const int *active,
                                int n_active, char *flag) noexcept nogil:
    """Exact G_t for the shrunk t: G_t = Gbar_t - 1 + sum_{j free} a_j Q_jt (LIBSVM).

    Gbar_t = C sum_{j: a_j = C} Q_jt is kept up to date; shrunk variables are at a bound,
    so every free j is active.
    """
    cdef int l = pb.l, t, s, s2
    cdef double *Qj
    for t in range(l):
        flag[t] = 0
    for s in range(n_active):
        flag[active[s]] = 1
    for t in range(l):
        if not flag[t]:
            G[t] = Gbar[t] - 1
    for s in range(n_active):
        t = active[s]
        if 0 < alpha[t] < C:
            Qj = _column(cache, x, sq, y, pb, t)
            for s2 in range(l):
                if not flag[s2]:
                    G[s2] += alpha[t] * Qj[s2]


cdef inline bint _be_shrunk(double a, double y, double g, double C, double gmax1,
                            double gmax2) noexcept nogil:
    """A variable at a bound whose gradient says it will stay there (LIBSVM's rule)."""
    if a >= C:
        return -g > gmax1 if y > 0 else -g > gmax2
    if a <= 0:
        return g > gmax2 if y > 0 else g > gmax1
    return False


def smo(const floating[:, ::1] X, const double[::1] y, double C, int kind, double gamma,
        double coef0, int degree, double tol, long max_iter, double cache_bytes,
        bint shrinking, int n_threads, double[::1] alpha):
    """Solve the C-SVC dual; ``alpha`` (output) gets the multipliers.

    Shrinking (Joachims 1999; LIBSVM's rule): every min(l, 1000) iterations, bounded
    variables whose gradient points out of the box are dropped from the working loops;
    before the final check (and once when close to optimal) their gradients are rebuilt
    from Gbar and the free variables, and the full problem is checked again.
    Returns (rho, n_iter, converged).
    """
    cdef int l = y.shape[0], d = X.shape[1]
    cdef Problem pb
    cdef Cache cache
    cdef int i, j, t, s, it = 0, n_active = l, counter = min(l, 1000)
    cdef double *G = <double *> malloc(l * sizeof(double))
    cdef double *Gbar = <double *> malloc(l * sizeof(double))
    cdef double *QD = <double *> malloc(l * sizeof(double))
    cdef double *sq = <double *> malloc(l * sizeof(double))
    cdef int *active = <int *> malloc(l * sizeof(int))
    cdef char *flag = <char *> malloc(l)
    cdef double *Qi
    cdef double *Qj
    cdef double gmax, gmax2, obj_min, grad_diff, quad, obj, yG, g1, g2
    cdef double rho, old_i, old_j, delta, diff, total, di, dj, ub, lb, sum_free
    cdef int nr_free
    cdef bint converged = False, unshrunk = False
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
    if (G == NULL or Gbar == NULL or QD == NULL or sq == NULL or active == NULL
            or flag == NULL or cache.data == NULL or cache.slot_of == NULL
            or cache.owner == NULL or cache.stamp == NULL):
        _release(G, Gbar, QD, sq, active, flag, &cache)
        raise MemoryError()
    with nogil:
        for t in range(l):
            alpha[t] = 0
            G[t] = -1
            Gbar[t] = 0
            active[t] = t
            cache.slot_of[t] = -1
            if kind == 4:
                sq[t] = 0
                QD[t] = X[t, t]
            else:
                sq[t] = xdot(d, &X[t, 0], 1, &X[t, 0], 1)
                QD[t] = _transform(sq[t], sq[t], sq[t], kind, gamma, coef0, degree)
        while max_iter < 0 or it < max_iter:
            counter -= 1
            if shrinking and counter == 0:
                counter = min(l, 1000)
                g1 = -HUGE_VAL
                g2 = -HUGE_VAL
                for s in range(n_active):
                    t = active[s]
                    if _up(alpha[t], y[t], C):
                        g1 = max(g1, -y[t] * G[t])
                    if _low(alpha[t], y[t], C):
                        g2 = max(g2, y[t] * G[t])
                if not unshrunk and g1 + g2 <= 10 * tol:
                    unshrunk = True
                    _reconstruct_gradient(&cache, &X[0, 0], sq, &y[0], pb, C, &alpha[0], G,
                                          Gbar, active, n_active, flag)
                    n_active = l
                    for t in range(l):
                        active[t] = t
                s = 0
                for t in range(n_active):
                    if not _be_shrunk(alpha[active[t]], y[active[t]], G[active[t]], C, g1, g2):
                        active[s] = active[t]
                        s += 1
                n_active = s
            # ---- working set selection (WSS2) over the active variables
            gmax = -HUGE_VAL
            gmax2 = -HUGE_VAL
            i = -1
            j = -1
            for s in range(n_active):
                t = active[s]
                if _up(alpha[t], y[t], C) and -y[t] * G[t] >= gmax:
                    gmax = -y[t] * G[t]
                    i = t
            if i >= 0:
                Qi = _column(&cache, &X[0, 0], sq, &y[0], pb, i)
                obj_min = HUGE_VAL
                for s in range(n_active):
                    t = active[s]
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
            if i < 0 or j < 0 or gmax + gmax2 < tol:
                if n_active == l:
                    converged = True
                    break
                # optimal on the shrunk problem: rebuild all gradients, check everything
                _reconstruct_gradient(&cache, &X[0, 0], sq, &y[0], pb, C, &alpha[0], G,
                                      Gbar, active, n_active, flag)
                n_active = l
                for t in range(l):
                    active[t] = t
                counter = 2  # select on the full set next, shrink again only after that
                continue
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
            for s in range(n_active):
                t = active[s]
                G[t] += Qi[t] * di + Qj[t] * dj
            # Gbar tracks C sum_{a_k = C} Q_k for rebuilding shrunk gradients
            if (old_i >= C) != (alpha[i] >= C):
                delta = C if alpha[i] >= C else -C
                for t in range(l):
                    Gbar[t] += delta * Qi[t]
            if (old_j >= C) != (alpha[j] >= C):
                delta = C if alpha[j] >= C else -C
                for t in range(l):
                    Gbar[t] += delta * Qj[t]
        # ---- offset rho (over all variables; gradients are exact when converged)
        if n_active < l:
            _reconstruct_gradient(&cache, &X[0, 0], sq, &y[0], pb, C, &alpha[0], G, Gbar,
                                  active, n_active, flag)
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
    _release(G, Gbar, QD, sq, active, flag, &cache)
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
