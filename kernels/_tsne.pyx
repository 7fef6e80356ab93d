"""t-SNE kernels: exact k nearest neighbours, perplexity calibration, exact and
Barnes–Hut gradients of the KL divergence, and the gradient-descent update.

Affinities: p_{j|i} = exp(-beta_i d_ij^2) / sum_k exp(-beta_i d_ik^2), with beta_i found
by bisection so that the entropy H_i = -sum_j p_{j|i} log p_{j|i} equals log(perplexity).

Embedding: q_ij = w_ij / Z, w_ij = (1 + ||y_i - y_j||^2)^-1, Z = sum_{k != l} w_kl, and

    dKL/dy_i = 4 sum_j (p_ij - q_ij) w_ij (y_i - y_j)
             = 4 [sum_j p_ij w_ij (y_i - y_j) - (1 / Z) sum_j w_ij^2 (y_i - y_j)].

The attractive sum runs over the sparse P; Barnes–Hut approximates the repulsive one
with a quad tree: a cell of side s whose centre of mass is at distance r from y_i is
used as one body of ``count`` points when s^2 / r^2 < theta^2 (van der Maaten 2014).
FIt-SNE (Linderman et al. 2019) instead interpolates the charges (1, y) onto an
equispaced grid with Lagrange polynomials (p nodes per box and dimension), convolves
them with the kernel w^2 by FFT (between the two kernels, in Python) and interpolates
the potentials back: O(n + G log G) for G grid nodes. The embedding kernels are 2-D
double precision.
"""

from cython.parallel cimport prange
from libc.math cimport exp, log, sqrt, fabs, INFINITY
from libc.stdlib cimport malloc, realloc, free

from kernels._blas cimport gemm_rm
from kernels._parallel cimport thread_id

# Below MAX_DEPTH levels (cells 2^-48 of the extent, i.e. coincident up to rounding) a
# leaf keeps every further point and is summarised by its centre of mass.
cdef enum:
    KNN_BLOCK = 64
    MAX_DEPTH = 48
    STACK = 4 * MAX_DEPTH + 8

cdef double PERPLEXITY_TOL = 1e-5
cdef double EPSILON_DBL = 1e-8
cdef double FLOAT32_TINY = 1.1754943508222875e-38


# ------------------------------------------------------------------ neighbours
cdef void _heap_replace(double *dist, int *idx, Py_ssize_t k, double d, int j) noexcept nogil:
    """Replace the root of a max-heap (size k) by (d, j) and sift it down."""
    cdef Py_ssize_t pos = 0, child
    while True:
        child = 2 * pos + 1
        if child >= k:
            break
        if child + 1 < k and dist[child + 1] > dist[child]:
            child += 1
        if dist[child] <= d:
            break
        dist[pos] = dist[child]
        idx[pos] = idx[child]
        pos = child
    dist[pos] = d
    idx[pos] = j


def knn(const double[:, ::1] X, const double[::1] sq_norms, int k, int[:, ::1] indices,
        double[:, ::1] sq_dist, int n_threads):
    """The k nearest neighbours of every row of X among the other rows (brute force).

    Squared distances ||x_i||^2 - 2 x_i.x_j + ||x_j||^2 come from one GEMM per block of
    64 rows against all of X; a max-heap of size k per row keeps the k smallest
    (j != i). Rows of the outputs are in heap order, not sorted.
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1]
    cdef Py_ssize_t n_blocks = (n + KNN_BLOCK - 1) // KNN_BLOCK
    cdef Py_ssize_t b, i0, rows, r, i, j, filled, jj
    cdef double v
    cdef double *block
    cdef double *buf = <double *> malloc(n_threads * KNN_BLOCK * n * sizeof(double))
    cdef int t
    if buf == NULL:
        raise MemoryError()
    with nogil:
        for b in prange(n_blocks, num_threads=n_threads, schedule="dynamic"):
            t = thread_id()
            block = buf + t * KNN_BLOCK * n
            i0 = b * KNN_BLOCK
            rows = min(KNN_BLOCK, n - i0)
            gemm_rm(False, True, <int> rows, <int> n, <int> d, -2.0, &X[i0, 0], <int> d,
                    &X[0, 0], <int> d, 0.0, block, <int> n)
            for r in range(rows):
                i = i0 + r
                filled = 0
                for j in range(n):
                    if j == i:
                        continue
                    v = block[r * n + j] + sq_norms[i] + sq_norms[j]
                    if v < 0:
                        v = 0
                    if filled < k:
                        # sift up into the max-heap
                        jj = filled
                        filled = filled + 1
                        while jj > 0 and sq_dist[i, (jj - 1) // 2] < v:
                            sq_dist[i, jj] = sq_dist[i, (jj - 1) // 2]
                            indices[i, jj] = indices[i, (jj - 1) // 2]
                            jj = (jj - 1) // 2
                        sq_dist[i, jj] = v
                        indices[i, jj] = <int> j
                    elif v < sq_dist[i, 0]:
                        _heap_replace(&sq_dist[i, 0], &indices[i, 0], k, v, <int> j)
    free(buf)


# ------------------------------------------------------------------ perplexity
def binary_search_perplexity(const double[:, ::1] sq_dist, double perplexity,
                             bint exclude_diagonal, double[:, ::1] P, int n_threads):
    """Row-wise conditional probabilities P[i, j] = p_{j|i} of the given perplexity.

    ``sq_dist`` is (n, m): all distances (m = n, ``exclude_diagonal``: p_{i|i} = 0) or
    those to m neighbours. Bisection on beta for at most 100 steps or until
    |H_i - log(perplexity)| <= 1e-5 (as scikit-learn). Returns the mean sigma_i =
    sqrt(1 / beta_i).
    """
    cdef Py_ssize_t n = sq_dist.shape[0], m = sq_dist.shape[1], i, j, _step
    cdef double beta, beta_min, beta_max, sum_p, sum_dp, entropy, diff, p
    cdef double target = log(perplexity)
    cdef double total_sigma = 0
    with nogil:
        for i in prange(n, num_threads=n_threads, schedule="static"):
            beta = 1.0
            beta_min = -INFINITY
            beta_max = INFINITY
            for _step in range(100):
                sum_p = 0
                sum_dp = 0
                for j in range(m):
                    if exclude_diagonal and j == i:
                        P[i, j] = 0
                        continue
                    p = exp(-sq_dist[i, j] * beta)
                    P[i, j] = p
                    sum_p = sum_p + p
                    sum_dp = sum_dp + sq_dist[i, j] * p
                if sum_p == 0:
                    sum_p = EPSILON_DBL
                for j in range(m):
                    P[i, j] = P[i, j] / sum_p
                entropy = log(sum_p) + beta * (sum_dp / sum_p)
                diff = entropy - target
                if fabs(diff) <= PERPLEXITY_TOL:
                    break
                if diff > 0:
                    beta_min = beta
                    beta = beta * 2 if beta_max == INFINITY else (beta + beta_max) / 2
                else:
                    beta_max = beta
                    beta = beta / 2 if beta_min == -INFINITY else (beta + beta_min) / 2
            total_sigma += sqrt(1.0 / beta)
    return total_sigma / n if n else 0.0


# ------------------------------------------------------------------ exact gradient
def exact_gradient(const double[:, ::1] P, const double[:, ::1] Y, double[:, ::1] grad,
                   bint compute_error, int n_threads):
    """Exact KL gradient for a dense joint P (n x n, zero diagonal, sums to 1); O(n^2 d).

    Two passes: Z = sum_{i != j} w_ij, then grad_i = 4 sum_j (p_ij - w_ij / Z) w_ij
    (y_i - y_j). Returns KL(P || Q) = sum p_ij log(p_ij / q_ij) when ``compute_error``
    (p and q clipped below at 2.2e-16 inside the log), else 0.
    """
    cdef Py_ssize_t n = Y.shape[0], d = Y.shape[1], i, j, f
    cdef double z = 0, kl = 0, w, dist, coef, q, zi, kli
    cdef double eps = 2.220446049250313e-16
    # per-row partial sums, added in row order: the same bits for any thread count
    cdef double *row_sums = <double *> malloc(max(n, 1) * sizeof(double))
    if row_sums == NULL:
        raise MemoryError()
    with nogil:
        for i in prange(n, num_threads=n_threads, schedule="static"):
            zi = 0
            for j in range(n):
                if j != i:
                    dist = 0
                    for f in range(d):
                        dist = dist + (Y[i, f] - Y[j, f]) * (Y[i, f] - Y[j, f])
                    zi = zi + 1.0 / (1.0 + dist)
            row_sums[i] = zi
        for i in range(n):
            z = z + row_sums[i]
        for i in prange(n, num_threads=n_threads, schedule="static"):
            kli = 0
            for f in range(d):
                grad[i, f] = 0
            for j in range(n):
                if j == i:
                    continue
                dist = 0
                for f in range(d):
                    dist = dist + (Y[i, f] - Y[j, f]) * (Y[i, f] - Y[j, f])
                w = 1.0 / (1.0 + dist)
                q = w / z
                coef = 4.0 * (P[i, j] - q) * w
                for f in range(d):
                    grad[i, f] = grad[i, f] + coef * (Y[i, f] - Y[j, f])
                if compute_error:
                    kli = kli + P[i, j] * log(max(P[i, j], eps) / max(q, eps))
            row_sums[i] = kli
        for i in range(n):
            kl = kl + row_sums[i]
    free(row_sums)
    return kl


# ------------------------------------------------------------------ attraction
cdef void _attraction(const int[::1] indptr, const int[::1] indices, const double[::1] pvals,
                      const double[:, ::1] Y, Py_ssize_t i, bint compute_error,
                      double *f, double *sums) noexcept nogil:
    """f = sum_j p_ij w_ij (y_i - y_j) over the stored neighbours j of i (2-D); with
    ``compute_error`` sums[0] = sum_j p_ij log(p_ij / w_ij) and sums[1] = sum_j p_ij."""
    cdef Py_ssize_t k
    cdef int j
    cdef double dx, dy, w, p, px = 0, py = 0, kli = 0, pi = 0
    for k in range(indptr[i], indptr[i + 1]):
        j = indices[k]
        dx = Y[i, 0] - Y[j, 0]
        dy = Y[i, 1] - Y[j, 1]
        w = 1.0 / (1.0 + dx * dx + dy * dy)
        p = pvals[k]
        px = px + p * w * dx
        py = py + p * w * dy
        if compute_error:
            kli = kli + p * log(max(p, FLOAT32_TINY) / w)
            pi = pi + p
    f[0] = px
    f[1] = py
    sums[0] = kli
    sums[1] = pi


cdef void _add_rows(const double *row_sums, Py_ssize_t n, double *z, double *kl,
                    double *p_sum) noexcept nogil:
    """Totals of the per-row (Z_i, KL_i, sum_j p_ij) triples, added in row order: the
    same bits for any thread count."""
    cdef Py_ssize_t i
    for i in range(n):
        z[0] += row_sums[3 * i]
        kl[0] += row_sums[3 * i + 1]
        p_sum[0] += row_sums[3 * i + 2]


# ------------------------------------------------------------------ quad tree
cdef struct Node:
    double cx, cy, half      # geometric centre and half side
    double sx, sy            # sums of the coordinates (centre of mass = s / count)
    int count
    int child                # index of the first of 4 children, -1 for a leaf
    int point                # the point held by a leaf


cdef struct Tree:
    Node *nodes
    int size
    int capacity


cdef int _new_children(Tree *tree, int parent) noexcept nogil:
    """Append the 4 children of ``parent``; returns the first index or -1 (no memory)."""
    cdef int first = tree.size, c
    cdef Node *grown
    cdef double h
    if tree.size + 4 > tree.capacity:
        grown = <Node *> realloc(tree.nodes, 2 * tree.capacity * sizeof(Node))
        if grown == NULL:
            return -1
        tree.nodes = grown
        tree.capacity = 2 * tree.capacity
    h = tree.nodes[parent].half / 2
    for c in range(4):
        tree.nodes[first + c].half = h
        tree.nodes[first + c].cx = tree.nodes[parent].cx + (h if c & 1 else -h)
        tree.nodes[first + c].cy = tree.nodes[parent].cy + (h if c & 2 else -h)
        tree.nodes[first + c].sx = 0
        tree.nodes[first + c].sy = 0
        tree.nodes[first + c].count = 0
        tree.nodes[first + c].child = -1
        tree.nodes[first + c].point = -1
    tree.nodes[parent].child = first
    tree.size += 4
    return first


cdef inline int _quadrant(const Node *node, double x, double y) noexcept nogil:
    return (1 if x > node.cx else 0) + (2 if y > node.cy else 0)


cdef int _insert(Tree *tree, const double[:, ::1] Y, int p) noexcept nogil:
    """Insert point p; returns 0, or -1 when memory ran out."""
    cdef int node = 0, depth = 0, q, first, cq
    cdef double x = Y[p, 0], y = Y[p, 1]
    while True:
        if tree.nodes[node].child >= 0:
            tree.nodes[node].count += 1
            tree.nodes[node].sx += x
            tree.nodes[node].sy += y
            node = tree.nodes[node].child + _quadrant(&tree.nodes[node], x, y)
            depth += 1
            continue
        if tree.nodes[node].count == 0:
            tree.nodes[node].point = p
            tree.nodes[node].count = 1
            tree.nodes[node].sx = x
            tree.nodes[node].sy = y
            return 0
        q = tree.nodes[node].point
        if depth >= MAX_DEPTH or (Y[q, 0] == x and Y[q, 1] == y):
            tree.nodes[node].count += 1
            tree.nodes[node].sx += x
            tree.nodes[node].sy += y
            return 0
        # split the leaf: its content moves to the child of q's quadrant
        first = _new_children(tree, node)
        if first < 0:
            return -1
        cq = first + _quadrant(&tree.nodes[node], Y[q, 0], Y[q, 1])
        tree.nodes[cq].count = tree.nodes[node].count
        tree.nodes[cq].sx = tree.nodes[node].sx
        tree.nodes[cq].sy = tree.nodes[node].sy
        tree.nodes[cq].point = q


cdef int _build(Tree *tree, const double[:, ::1] Y) noexcept nogil:
    cdef Py_ssize_t n = Y.shape[0], i
    cdef double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY, side
    for i in range(n):
        x0 = min(x0, Y[i, 0])
        x1 = max(x1, Y[i, 0])
        y0 = min(y0, Y[i, 1])
        y1 = max(y1, Y[i, 1])
    side = max(x1 - x0, y1 - y0)
    side = side * (1 + 1e-3) + 1e-12
    tree.size = 1
    tree.nodes[0].cx = (x0 + x1) / 2
    tree.nodes[0].cy = (y0 + y1) / 2
    tree.nodes[0].half = side / 2
    tree.nodes[0].sx = 0
    tree.nodes[0].sy = 0
    tree.nodes[0].count = 0
    tree.nodes[0].child = -1
    tree.nodes[0].point = -1
    for i in range(n):
        if _insert(tree, Y, <int> i) < 0:
            return -1
    return 0


cdef double _repulsion(const Tree *tree, const double[:, ::1] Y, double x, double y,
                       double theta2, double *fx, double *fy) noexcept nogil:
    """sum over summarised cells of count * w (returned) and count * w^2 (y - com).

    The query point's own leaf holds it and its exact duplicates (same coordinates):
    those count - 1 others are at distance 0 (w = 1, no force).
    """
    cdef int stack[STACK]
    cdef int top = 0, node, c
    cdef double dx, dy, d2, w, m, side, zsum = 0
    cdef const Node *nd
    fx[0] = 0
    fy[0] = 0
    stack[0] = 0
    top = 1
    while top > 0:
        top -= 1
        node = stack[top]
        nd = &tree.nodes[node]
        if nd.count == 0:
            continue
        if nd.child < 0 and Y[nd.point, 0] == x and Y[nd.point, 1] == y:
            zsum += nd.count - 1
            continue
        dx = x - nd.sx / nd.count
        dy = y - nd.sy / nd.count
        d2 = dx * dx + dy * dy
        side = 2 * nd.half
        if nd.child < 0 or side * side < theta2 * d2:
            w = 1.0 / (1.0 + d2)
            m = nd.count * w
            zsum += m
            fx[0] += m * w * dx
            fy[0] += m * w * dy
        else:
            for c in range(4):
                stack[top] = nd.child + c
                top += 1
    return zsum


def bh_gradient(const int[::1] indptr, const int[::1] indices, const double[::1] pvals,
                const double[:, ::1] Y, double theta, double[:, ::1] grad,
                double[:, ::1] neg, bint compute_error, int n_threads):
    """Barnes–Hut KL gradient for a sparse symmetric joint P (CSR, sums to 1), 2-D Y.

    Builds the quad tree (serial, O(n log n)), then in one parallel pass over points
    the repulsive sums from the tree (into ``neg``, an (n, 2) scratch array) and the
    attractive sums over the stored p_ij (into ``grad``); a last serial pass forms
    grad_i = 4 [sum_j p_ij w_ij (y_i - y_j) - neg_i / Z]. With ``compute_error`` returns
    KL = sum p_ij log(p_ij / w_ij) + log Z sum p_ij (q_ij = w_ij / Z), else 0.
    """
    cdef Py_ssize_t n = Y.shape[0], i
    cdef Tree tree
    cdef double z = 0, kl = 0, p_sum = 0
    cdef double theta2 = theta * theta
    cdef double *row_sums   # per row: Z_i, KL_i, sum_j p_ij, added in row order below
    if n == 0:
        return 0.0
    tree.capacity = 4 * <int> n + 16
    tree.nodes = <Node *> malloc(tree.capacity * sizeof(Node))
    row_sums = <double *> malloc(3 * n * sizeof(double))
    if tree.nodes == NULL or row_sums == NULL:
        free(tree.nodes)
        free(row_sums)
        raise MemoryError()
    with nogil:
        if _build(&tree, Y) < 0:
            free(tree.nodes)
            free(row_sums)
            with gil:
                raise MemoryError()
        for i in prange(n, num_threads=n_threads, schedule="dynamic", chunksize=64):
            row_sums[3 * i] = _repulsion(&tree, Y, Y[i, 0], Y[i, 1], theta2, &neg[i, 0],
                                         &neg[i, 1])
            _attraction(indptr, indices, pvals, Y, i, compute_error, &grad[i, 0],
                        &row_sums[3 * i + 1])
        _add_rows(row_sums, n, &z, &kl, &p_sum)
        for i in range(n):
            grad[i, 0] = 4.0 * (grad[i, 0] - neg[i, 0] / z)
            grad[i, 1] = 4.0 * (grad[i, 1] - neg[i, 1] / z)
    free(tree.nodes)
    free(row_sums)
    return kl + p_sum * log(z) if compute_error else 0.0


# ------------------------------------------------------------------ FFT interpolation
cdef inline Py_ssize_t _locate(double y, double lo, double width, int n_boxes,
                               int p, double *w) noexcept nogil:
    """Box of coordinate y on the grid [lo, lo + n_boxes * width) and the p Lagrange
    weights L_k(t) = prod_{m != k} (t - s_m) / (s_k - s_m) of its position t in the box,
    at the nodes s_k = (k + 1/2) / p. Returns the index of the box's first node."""
    cdef double u = (y - lo) / width, t, num, den, s
    cdef Py_ssize_t b = <Py_ssize_t> u, k, m
    if b < 0:
        b = 0
    elif b >= n_boxes:
        b = n_boxes - 1
    t = u - b
    for k in range(p):
        s = (k + 0.5) / p
        num = 1
        den = 1
        for m in range(p):
            if m != k:
                num = num * (t - (m + 0.5) / p)
                den = den * (s - (m + 0.5) / p)
        w[k] = num / den
    return b * p


def fft_scatter(const double[:, ::1] Y, double x0, double y0, double width, int n_boxes,
                int p, double[:, :, ::1] grid):
    """Charges of the points interpolated onto the (n_boxes p)^2 equispaced nodes.

    Node (a, b) receives grid[a, b, c] = sum_i L_a(x_i) L_b(y_i) q_c(i) for the three
    charges q(i) = (1, x_i, y_i) (zeroed here), L the Lagrange weights of the box that
    holds y_i (p nodes per box and dimension). The charges of a node are adjacent in
    memory, so one point touches p short runs of 3 p values. Serial: the
    writes of different points collide.
    """
    cdef Py_ssize_t n = Y.shape[0], i, a, b, ax, by
    cdef double wab, x, y
    cdef double wx[16]
    cdef double wy[16]
    with nogil:
        grid[:, :, :] = 0
        for i in range(n):
            x = Y[i, 0]
            y = Y[i, 1]
            ax = _locate(x, x0, width, n_boxes, p, wx)
            by = _locate(y, y0, width, n_boxes, p, wy)
            for a in range(p):
                for b in range(p):
                    wab = wx[a] * wy[b]
                    grid[ax + a, by + b, 0] += wab
                    grid[ax + a, by + b, 1] += wab * x
                    grid[ax + a, by + b, 2] += wab * y


def fft_gradient(const int[::1] indptr, const int[::1] indices, const double[::1] pvals,
                 const double[:, ::1] Y, double x0, double y0, double width, int n_boxes,
                 int p, const double[:, :, ::1] potential, double[:, ::1] grad,
                 double[:, ::1] phi, bint compute_error, int n_threads):
    """KL gradient (2-D) from the node potentials of the FFT convolution (FIt-SNE).

    ``potential[a, b, c]`` (nodes a, b < n_boxes p) holds at every node u, for c = 0, 1,
    2, the sum over nodes v of K(u - v) times charge c interpolated at v
    (``fft_scatter``), K(r) = (1 + ||r||^2)^-2 = w^2, and for c = 3 the sum of w(u - v)
    times charge 0. The potentials are interpolated back to the points with the same
    Lagrange weights: phi_c(i) ~ sum_j w_ij^2 q_c(j), phi_3(i) ~ sum_j w_ij (j = i
    included, w_ii = 1). Then

        sum_{j != i} w_ij^2 (y_i - y_j) = y_i phi_0 - (phi_1, phi_2),   Z = sum_i phi_3 - n,

    and grad_i = 4 [sum_j p_ij w_ij (y_i - y_j) - (y_i phi_0 - (phi_1, phi_2)) / Z].
    (openTSNE's Z = sum_i (1 + ||y_i||^2) phi_0 - 2 y_i . (phi_1, phi_2) + phi_{||y||^2},
    from w^2 (1 + ||y_i - y_j||^2) = w, saves the w convolution but multiplies the
    interpolation error by ~||y||^2 through cancellation.) ``phi`` is an (n, 4) scratch
    array.
    Returns KL as ``bh_gradient`` when ``compute_error``, else 0.
    """
    cdef Py_ssize_t n = Y.shape[0], i, a, b, ax, by
    cdef int c
    cdef double z = 0, kl = 0, p_sum = 0, wab, x, y
    cdef double *wx
    cdef double *wy
    cdef double *buf = <double *> malloc(n_threads * 2 * p * sizeof(double))  # per thread
    cdef double *row_sums = <double *> malloc(3 * max(n, 1) * sizeof(double))
    if row_sums == NULL or buf == NULL:
        free(row_sums)
        free(buf)
        raise MemoryError()
    with nogil:
        for i in prange(n, num_threads=n_threads, schedule="static", chunksize=256):
            wx = buf + 2 * p * thread_id()
            wy = wx + p
            x = Y[i, 0]
            y = Y[i, 1]
            ax = _locate(x, x0, width, n_boxes, p, wx)
            by = _locate(y, y0, width, n_boxes, p, wy)
            for c in range(4):
                phi[i, c] = 0
            for a in range(p):
                for b in range(p):
                    wab = wx[a] * wy[b]
                    for c in range(4):
                        phi[i, c] += wab * potential[ax + a, by + b, c]
            row_sums[3 * i] = phi[i, 3]
            _attraction(indptr, indices, pvals, Y, i, compute_error, &grad[i, 0],
                        &row_sums[3 * i + 1])
        _add_rows(row_sums, n, &z, &kl, &p_sum)
        z = z - n
        if z < EPSILON_DBL:
            z = EPSILON_DBL
        for i in range(n):
            grad[i, 0] = 4.0 * (grad[i, 0] - (Y[i, 0] * phi[i, 0] - phi[i, 1]) / z)
            grad[i, 1] = 4.0 * (grad[i, 1] - (Y[i, 1] * phi[i, 0] - phi[i, 2]) / z)
    free(row_sums)
    free(buf)
    return kl + p_sum * log(z) if compute_error else 0.0


# ------------------------------------------------------------------ optimiser step
def gradient_step(double[:, ::1] Y, double[:, ::1] grad, double[:, ::1] update,
                  double[:, ::1] gains, double momentum, double learning_rate,
                  double min_gain):
    """Delta-bar-delta gains then momentum step, fused (Jacobs 1988, as scikit-learn):

    gain += 0.2 where update and gradient disagree in sign, else gain *= 0.8 (>= min_gain);
    g = gain * grad; update = momentum * update - learning_rate * g; Y += update.
    ``grad`` is overwritten by g. Returns ||g||^2. Serial: O(n d) memory-bound work
    that costs less than waking a thread team.
    """
    cdef Py_ssize_t n = Y.shape[0], d = Y.shape[1], i, f
    cdef double g, gain, norm2 = 0
    with nogil:
        for i in range(n):
            for f in range(d):
                g = grad[i, f]
                gain = gains[i, f]
                if update[i, f] * g < 0:
                    gain = gain + 0.2
                else:
                    gain = gain * 0.8
                if gain < min_gain:
                    gain = min_gain
                gains[i, f] = gain
                g = g * gain
                grad[i, f] = g
                norm2 = norm2 + g * g
                update[i, f] = momentum * update[i, f] - learning_rate * g
                Y[i, f] = Y[i, f] + update[i, f]
    return norm2
