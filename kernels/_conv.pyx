"""2-D convolution (NCHW), forward and backward; conv1d is the H = 1 case.

y[n, o, i, j] = b[o] + sum_{c, u, v} w[o, c, u, v] x[n, g C_g + c, i s_h - p_h + u d_h,
j s_w - p_w + v d_w], for o in group g (zero outside the input).

Algorithm per shape (chosen here, documented in ``fastml.nn.functional.conv2d``):

* dense / grouped with C_g > 1 input channels per group: im2col + GEMM. The output
  pixels of one (image, group) are cut into tiles of T pixels; a tile's column matrix
  col (C_g K_h K_w x T) is built in a per-thread buffer and one ``gemm_rm`` gives
  y_tile = W_g col. Tasks (image, group, tile) run under ``prange`` with BLAS pinned to
  one thread by the caller. A 1x1 stride-1 unpadded kernel reads x directly (no copy).
  Backward: grad_W_g += go_tile col^T and grad_b += row sums of go_tile (per-thread
  accumulators, summed at the end) and
  col' = W_g^T go_tile scattered back into grad_x (col2im). With at least one
  (image, group) per thread each task owns a whole (image, group) and writes grad_x
  directly; otherwise tiles run in parallel and each thread accumulates its own copy
  of grad_x (the batch is then smaller than the thread count), summed at the end.
* forward of 3x3 stride-1 ungrouped layers with enough channels and tiles: Winograd
  F(2x2, 3x3) (below).
* one input channel per group (depthwise, channel multiplier C_out / C_in): a direct
  kernel, one row axpy per kernel tap, parallel over (image, channel) planes; grad_w
  and grad_b share one pass over grad_out, parallel over output channels.

Workspace: per thread at most two col buffers of ``TILE_BYTES`` (tiles of at least
``MIN_TILE`` pixels unless all buffers would pass ``WORK_CAP``), plus per-thread
weight-gradient accumulators; nothing grows with the batch size (the private grad_x
copies exist only when batch x groups < threads and they fit in ``WORK_CAP``).
Winograd: the 16 transformed kernels and about ``WINO_BLOCK_BYTES`` of transformed
tiles per thread.
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.stdlib cimport calloc, malloc, free
from libc.string cimport memcpy, memset

from kernels._blas cimport gemm_rm
from kernels._parallel cimport thread_id

cdef enum:
    TILE_BYTES = 1 << 20    # target size of one column buffer (fits L2 with the GEMM panels)
    MIN_TILE = 64           # fewer pixels per GEMM wastes the packing of W
    WORK_CAP = 1 << 26      # 64 MiB: hard cap on all column buffers together
    SUM_LANES = 16          # independent partial sums in _sum (vectorised by the compiler)
    WINO_BLOCK_BYTES = 1 << 21  # transformed tiles in and out of one thread's 16 GEMMs
    WINO_MIN_BLOCK = 32     # tiles per block at least (GEMM width)
    WINO_MIN_CHANNELS = 64  # Winograd only when both channel counts reach this ...
    WINO_MIN_TILES = 1024   # ... and the batch has this many 2x2 output tiles


cdef struct Geom:
    Py_ssize_t N, C, H, W, Co, KH, KW, OH, OW
    Py_ssize_t sh, sw, ph, pw, dh, dw, G
    Py_ssize_t Cg, Cog, K, P, HW


cdef Geom _geom(const Py_ssize_t *xs, const Py_ssize_t *ws, const Py_ssize_t *ys,
                int sh, int sw, int ph, int pw, int dh, int dw, int groups) noexcept:
    cdef Geom g
    g.N, g.C, g.H, g.W = xs[0], xs[1], xs[2], xs[3]
    g.Co, g.Cg, g.KH, g.KW = ws[0], ws[1], ws[2], ws[3]
    g.OH, g.OW = ys[2], ys[3]
    g.sh, g.sw, g.ph, g.pw, g.dh, g.dw, g.G = sh, sw, ph, pw, dh, dw, groups
    g.Cog = g.Co // groups
    g.K = g.Cg * g.KH * g.KW
    g.P = g.OH * g.OW
    g.HW = g.H * g.W
    return g


cdef inline bint _pointwise(const Geom *g) noexcept nogil:
    """1x1 kernel, stride 1, no padding: the column matrix is x itself."""
    return (g.KH == 1 and g.KW == 1 and g.sh == 1 and g.sw == 1 and g.ph == 0
            and g.pw == 0 and g.OH == g.H and g.OW == g.W)


cdef Py_ssize_t _tile(const Geom *g, Py_ssize_t outer, int n_threads, Py_ssize_t itemsize,
                      Py_ssize_t tile_bytes) noexcept nogil:
    """Pixels per tile: about ``tile_bytes`` of columns (at least MIN_TILE, while all
    threads' two buffers stay under WORK_CAP), and enough tiles to feed every thread."""
    cdef Py_ssize_t t = tile_bytes // (g.K * itemsize)
    cdef Py_ssize_t ntiles
    t = max(t, MIN_TILE)
    t = min(t, max(WORK_CAP // (2 * n_threads * g.K * itemsize), 1), g.P)
    ntiles = (g.P + t - 1) // t
    if outer * ntiles < n_threads:
        ntiles = min(g.P, (n_threads + outer - 1) // outer)
        t = (g.P + ntiles - 1) // ntiles
    return t


cdef inline void _span(Py_ssize_t start, Py_ssize_t step, Py_ssize_t count,
                       Py_ssize_t limit, Py_ssize_t *lo, Py_ssize_t *hi) noexcept nogil:
    """[lo, hi): the q in [0, count) with 0 <= start + q * step < limit."""
    if step == 1:   # no division on the common path (it sits in the inner loops)
        lo[0] = min(max(-start, 0), count)
        hi[0] = min(count, max(limit - start, 0))
    else:
        lo[0] = 0 if start >= 0 else min((-start + step - 1) // step, count)
        hi[0] = 0 if start >= limit else min(count, (limit - start + step - 1) // step)
    if hi[0] < lo[0]:   # 0 <= lo <= hi <= count always
        hi[0] = lo[0]


cdef void _im2col(const floating *xg, const Geom *g, Py_ssize_t p0, Py_ssize_t t,
                  floating *col) noexcept nogil:
    """col[(c, u, v), j] = x[c, i s - p + u d, ...] for output pixels p0 + j, j < t."""
    cdef Py_ssize_t c, u, v, j, cnt, oh, ow0, ih, start, lo, hi, q
    cdef floating *row
    cdef const floating *src
    for c in range(g.Cg):
        for u in range(g.KH):
            for v in range(g.KW):
                row = col + ((c * g.KH + u) * g.KW + v) * t
                oh = p0 // g.OW
                ow0 = p0 - oh * g.OW
                j = 0
                while j < t:
                    cnt = min(g.OW - ow0, t - j)
                    ih = oh * g.sh - g.ph + u * g.dh
                    if ih < 0 or ih >= g.H:
                        memset(row + j, 0, cnt * sizeof(floating))
                    else:
                        src = xg + (c * g.H + ih) * g.W
                        start = ow0 * g.sw - g.pw + v * g.dw
                        _span(start, g.sw, cnt, g.W, &lo, &hi)
                        memset(row + j, 0, lo * sizeof(floating))
                        if g.sw == 1:
                            memcpy(row + j + lo, src + start + lo, (hi - lo) * sizeof(floating))
                        else:
                            for q in range(lo, hi):
                                row[j + q] = src[start + q * g.sw]
                        memset(row + j + hi, 0, (cnt - hi) * sizeof(floating))
                    j += cnt
                    oh += 1
                    ow0 = 0


cdef void _col2im(const floating *col, const Geom *g, Py_ssize_t p0, Py_ssize_t t,
                  floating *xg) noexcept nogil:
    """The adjoint of _im2col: x[c, i s - p + u d, ...] += col[(c, u, v), j]."""
    cdef Py_ssize_t c, u, v, j, cnt, oh, ow0, ih, start, lo, hi, q
    cdef const floating *row
    cdef floating *dst
    for c in range(g.Cg):
        for u in range(g.KH):
            for v in range(g.KW):
                row = col + ((c * g.KH + u) * g.KW + v) * t
                oh = p0 // g.OW
                ow0 = p0 - oh * g.OW
                j = 0
                while j < t:
                    cnt = min(g.OW - ow0, t - j)
                    ih = oh * g.sh - g.ph + u * g.dh
                    if 0 <= ih < g.H:
                        dst = xg + (c * g.H + ih) * g.W
                        start = ow0 * g.sw - g.pw + v * g.dw
                        _span(start, g.sw, cnt, g.W, &lo, &hi)
                        if g.sw == 1:
                            for q in range(lo, hi):
                                dst[start + q] += row[j + q]
                        else:
                            for q in range(lo, hi):
                                dst[start + q * g.sw] += row[j + q]
                    j += cnt
                    oh += 1
                    ow0 = 0


cdef inline void _fill(floating *row, Py_ssize_t n, floating value) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        row[i] = value


cdef floating _sum(const floating *a, Py_ssize_t n) noexcept nogil:
    """sum(a[:n]) in SUM_LANES independent partial sums (vectorisable, more accurate)."""
    cdef floating acc[SUM_LANES]
    cdef floating total = 0
    cdef Py_ssize_t i, k, blk, m = n - n % SUM_LANES
    for k in range(SUM_LANES):
        acc[k] = 0
    for blk in range(n // SUM_LANES):
        for k in range(SUM_LANES):
            acc[k] += a[blk * SUM_LANES + k]
    for i in range(m, n):
        total += a[i]
    for k in range(SUM_LANES):
        total += acc[k]
    return total


# ---------------------------------------------------------------- im2col + GEMM
cdef void _forward_tile(const floating *x, const floating *w, const floating *b,
                        floating *y, const Geom *g, Py_ssize_t task, Py_ssize_t t,
                        Py_ssize_t ntiles, floating *col) noexcept nogil:
    cdef Py_ssize_t ng = task // ntiles, n = ng // g.G, gr = ng % g.G
    cdef Py_ssize_t p0 = (task % ntiles) * t, tc = min(t, g.P - p0), o
    cdef const floating *xg = x + (n * g.C + gr * g.Cg) * g.HW
    cdef floating *yt = y + (n * g.Co + gr * g.Cog) * g.P + p0
    cdef const floating *bmat
    cdef Py_ssize_t ldb
    cdef floating beta = 0
    if _pointwise(g):
        bmat = xg + p0
        ldb = g.HW
    else:
        _im2col(xg, g, p0, tc, col)
        bmat = col
        ldb = tc
    if b != NULL:
        beta = 1
        for o in range(g.Cog):
            _fill(yt + o * g.P, tc, b[gr * g.Cog + o])
    gemm_rm(False, False, g.Cog, tc, g.K, 1, w + gr * g.Cog * g.K, g.K, bmat, ldb,
            beta, yt, g.P)


cdef void _backward_tiles(const floating *go, const floating *x, const floating *w,
                          floating *gx, floating *gw, floating *gb, const Geom *g,
                          Py_ssize_t ng,
                          Py_ssize_t tile0, Py_ssize_t tile1, Py_ssize_t t,
                          floating *col, floating *colg, bint zero_gx) noexcept nogil:
    """Tiles [tile0, tile1) of (image, group) ng: gw += go col^T, gb += row sums of go,
    gx += col2im(W^T go).

    ``gx`` points at the grad_x storage for this thread (shared or private); the
    (image, group) slice is zeroed first when ``zero_gx``.
    """
    cdef Py_ssize_t n = ng // g.G, gr = ng % g.G, tile, p0, tc, o
    cdef const floating *xg = x + (n * g.C + gr * g.Cg) * g.HW
    cdef floating *gxg = gx + (n * g.C + gr * g.Cg) * g.HW
    cdef const floating *wg = w + gr * g.Cog * g.K
    cdef floating *gwg = gw + gr * g.Cog * g.K
    cdef const floating *got
    cdef bint pointwise = _pointwise(g)
    if zero_gx and not pointwise:
        memset(gxg, 0, g.Cg * g.HW * sizeof(floating))
    for tile in range(tile0, tile1):
        p0 = tile * t
        tc = min(t, g.P - p0)
        got = go + (n * g.Co + gr * g.Cog) * g.P + p0
        for o in range(g.Cog):
            gb[gr * g.Cog + o] += _sum(got + o * g.P, tc)
        if pointwise:
            gemm_rm(False, True, g.Cog, g.K, tc, 1, got, g.P, xg + p0, g.HW, 1, gwg, g.K)
            gemm_rm(True, False, g.K, tc, g.Cog, 1, wg, g.K, got, g.P, 0, gxg + p0, g.HW)
        else:
            _im2col(xg, g, p0, tc, col)
            gemm_rm(False, True, g.Cog, g.K, tc, 1, got, g.P, col, tc, 1, gwg, g.K)
            gemm_rm(True, False, g.K, tc, g.Cog, 1, wg, g.K, got, g.P, 0, colg, tc)
            _col2im(colg, g, p0, tc, gxg)


# ---------------------------------------------------------------- direct (C_g == 1)
cdef void _dw_forward_plane(const floating *x, const floating *w, const floating *b,
                            floating *y, const Geom *g, Py_ssize_t plane) noexcept nogil:
    """y[n, o] for one output plane of a one-input-channel-per-group convolution."""
    cdef Py_ssize_t n = plane // g.Co, o = plane % g.Co, gr = o // g.Cog
    cdef const floating *xp = x + (n * g.C + gr) * g.HW
    cdef floating *yp = y + plane * g.P
    cdef floating *yrow
    cdef const floating *xrow
    cdef Py_ssize_t i, u, v, ih, start, lo, hi, q
    cdef floating wv
    _fill(yp, g.P, b[o] if b != NULL else 0)
    for i in range(g.OH):
        yrow = yp + i * g.OW
        for u in range(g.KH):
            ih = i * g.sh - g.ph + u * g.dh
            if ih < 0 or ih >= g.H:
                continue
            xrow = xp + ih * g.W
            for v in range(g.KW):
                wv = w[(o * g.KH + u) * g.KW + v]
                start = v * g.dw - g.pw
                _span(start, g.sw, g.OW, g.W, &lo, &hi)
                if g.sw == 1:
                    for q in range(lo, hi):
                        yrow[q] += wv * xrow[start + q]
                else:
                    for q in range(lo, hi):
                        yrow[q] += wv * xrow[start + q * g.sw]


cdef void _dw_grad_x_plane(const floating *go, const floating *w, floating *gx,
                           const Geom *g, Py_ssize_t plane) noexcept nogil:
    """grad_x[n, c] = sum over the c-th group's outputs of the transposed correlation."""
    cdef Py_ssize_t n = plane // g.C, c = plane % g.C, m, o, i, u, v, ih, start, lo, hi, q
    cdef floating *gxp = gx + plane * g.HW
    cdef floating *gxrow
    cdef const floating *gorow
    cdef floating wv
    memset(gxp, 0, g.HW * sizeof(floating))
    for m in range(g.Cog):
        o = c * g.Cog + m
        for i in range(g.OH):
            gorow = go + (n * g.Co + o) * g.P + i * g.OW
            for u in range(g.KH):
                ih = i * g.sh - g.ph + u * g.dh
                if ih < 0 or ih >= g.H:
                    continue
                gxrow = gxp + ih * g.W
                for v in range(g.KW):
                    wv = w[(o * g.KH + u) * g.KW + v]
                    start = v * g.dw - g.pw
                    _span(start, g.sw, g.OW, g.W, &lo, &hi)
                    if g.sw == 1:
                        for q in range(lo, hi):
                            gxrow[start + q] += wv * gorow[q]
                    else:
                        for q in range(lo, hi):
                            gxrow[start + q * g.sw] += wv * gorow[q]


cdef void _dw_grad_w_channel(const floating *go, const floating *x, floating *gw,
                             floating *gb, const Geom *g, Py_ssize_t o,
                             floating *acc) noexcept nogil:
    """grad_w[o, 0, u, v] = sum_{n, i, j} go[n, o, i, j] x[n, group(o), i s - p + u d, ...]
    and grad_b[o] = sum_{n, i, j} go[n, o, i, j], in one pass over go[:, o].

    Each tap accumulates elementwise products into its own row ``acc[u, v, :OW]`` (an
    axpy-like loop that vectorises) and the bias into ``acc[KH KW, :OW]``; the rows are
    reduced once at the end.
    """
    cdef Py_ssize_t gr = o // g.Cog, n, i, u, v, ih, start, lo, hi, q
    cdef const floating *gorow
    cdef const floating *xrow
    cdef floating *arow
    cdef floating *brow = acc + g.KH * g.KW * g.OW
    memset(acc, 0, (g.KH * g.KW + 1) * g.OW * sizeof(floating))
    for n in range(g.N):
        for i in range(g.OH):
            gorow = go + (n * g.Co + o) * g.P + i * g.OW
            for q in range(g.OW):
                brow[q] += gorow[q]
            for u in range(g.KH):
                ih = i * g.sh - g.ph + u * g.dh
                if ih < 0 or ih >= g.H:
                    continue
                xrow = x + ((n * g.C + gr) * g.H + ih) * g.W
                for v in range(g.KW):
                    start = v * g.dw - g.pw
                    _span(start, g.sw, g.OW, g.W, &lo, &hi)
                    arow = acc + (u * g.KW + v) * g.OW
                    if g.sw == 1:
                        for q in range(lo, hi):
                            arow[q] += gorow[q] * xrow[start + q]
                    else:
                        for q in range(lo, hi):
                            arow[q] += gorow[q] * xrow[start + q * g.sw]
    for u in range(g.KH * g.KW):
        gw[o * g.KH * g.KW + u] = _sum(acc + u * g.OW, g.OW)
    gb[o] = _sum(brow, g.OW)


# ---------------------------------------------------------------- Winograd F(2x2, 3x3)
# Y = A^T [ sum_c (G g_oc G^T) . (B^T d_c B) ] A over 4x4 input tiles d_c that overlap by
# 2, giving 2x2 outputs: 16 GEMMs (C_out x C_in) @ (C_in x tiles) instead of 9 for
# 4 outputs, i.e. 2.25x fewer multiplications than im2col, at the cost of transforms.
# G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1], B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1],
# A^T = [1 1 1 0; 0 1 -1 -1].
cdef struct Wino:
    Py_ssize_t N, C, H, W, Co, OH, OW, ph, pw, TH, TW, tb


cdef void _wino_weights(const floating *w, floating *u, Py_ssize_t co,
                        Py_ssize_t c) noexcept nogil:
    """u[xi, o, i] = (G g G^T)[xi] for g = w[o, i] (co x c x 3 x 3)."""
    cdef Py_ssize_t o, i, a, e
    cdef floating g[3][3]
    cdef floating t[4][3]
    cdef floating r[4][4]
    for o in range(co):
        for i in range(c):
            for a in range(3):
                for e in range(3):
                    g[a][e] = w[(o * c + i) * 9 + a * 3 + e]
            for e in range(3):
                t[0][e] = g[0][e]
                t[1][e] = (g[0][e] + g[1][e] + g[2][e]) / 2
                t[2][e] = (g[0][e] - g[1][e] + g[2][e]) / 2
                t[3][e] = g[2][e]
            for a in range(4):
                r[a][0] = t[a][0]
                r[a][1] = (t[a][0] + t[a][1] + t[a][2]) / 2
                r[a][2] = (t[a][0] - t[a][1] + t[a][2]) / 2
                r[a][3] = t[a][2]
                for e in range(4):
                    u[((a * 4 + e) * co + o) * c + i] = r[a][e]


cdef void _wino_input(const floating *x, const Wino *p, Py_ssize_t t0, Py_ssize_t nt,
                      floating *v, floating *rows) noexcept nogil:
    """v[xi, c, j] = (B^T d B)[xi] for the 4x4 input tile d of global tile t0 + j.

    Tiles go in runs along one tile row. For each channel the run's four input rows are
    copied, zero-padded and split into even and odd columns, so that every transform
    loop below is a plain loop over the run with unit-stride access (vectorised).
    """
    cdef Py_ssize_t half = p.TW + 2, stride = p.C * p.tb
    cdef Py_ssize_t j0 = 0, run, tile, n, ty, tx0, c, a, e, ih, lo, hi, j, q, start
    cdef floating *ev
    cdef floating *od
    cdef floating *tmp = rows + 8 * half        # 16 rows of the column transform
    cdef floating *t0r
    cdef floating *t1r
    cdef floating *t2r
    cdef floating *t3r
    cdef floating *vc
    cdef const floating *src
    while j0 < nt:
        tile = t0 + j0
        n = tile // (p.TH * p.TW)
        ty = (tile // p.TW) % p.TH
        tx0 = tile % p.TW
        run = min(p.TW - tx0, nt - j0)
        start = 2 * tx0 - p.pw
        for c in range(p.C):
            for a in range(4):
                ev = rows + 2 * a * half
                od = ev + half
                memset(ev, 0, 2 * half * sizeof(floating))
                ih = 2 * ty - p.ph + a
                if 0 <= ih < p.H:
                    src = x + ((n * p.C + c) * p.H + ih) * p.W + start
                    _span(start, 1, 2 * run + 2, p.W, &lo, &hi)
                    for q in range(lo, hi):
                        if q & 1:
                            od[q >> 1] = src[q]
                        else:
                            ev[q >> 1] = src[q]
                # column transform d B of row a: columns (2j .. 2j + 3) = ev[j], od[j],
                # ev[j + 1], od[j + 1]
                t0r = tmp + (4 * a) * p.tb
                t1r = t0r + p.tb
                t2r = t1r + p.tb
                t3r = t2r + p.tb
                for j in range(run):
                    t0r[j] = ev[j] - ev[j + 1]
                    t1r[j] = od[j] + ev[j + 1]
                    t2r[j] = ev[j + 1] - od[j]
                    t3r[j] = od[j] - od[j + 1]
            # row transform B^T (.) over the four rows
            vc = v + c * p.tb + j0
            for e in range(4):
                t0r = tmp + e * p.tb
                t1r = t0r + 4 * p.tb
                t2r = t1r + 4 * p.tb
                t3r = t2r + 4 * p.tb
                for j in range(run):
                    vc[e * stride + j] = t0r[j] - t2r[j]
                    vc[(4 + e) * stride + j] = t1r[j] + t2r[j]
                    vc[(8 + e) * stride + j] = t2r[j] - t1r[j]
                    vc[(12 + e) * stride + j] = t1r[j] - t3r[j]
        j0 += run


cdef void _wino_output(const floating *m, const floating *b, const Wino *p,
                       Py_ssize_t t0, Py_ssize_t nt, floating *y,
                       floating *rows) noexcept nogil:
    """y[2x2 block of tile t0 + j] = A^T m A (+ b), clipped to the output.

    As in _wino_input, a run along one tile row goes through unit-stride loops: the
    row transform into eight rows s, the column transform into two output rows.
    """
    cdef Py_ssize_t stride = p.Co * p.tb, half = p.TW + 2
    cdef Py_ssize_t j0 = 0, run, tile, n, ty, tx0, o, a, e, j, oh, cnt
    cdef floating bias
    cdef const floating *m0
    cdef const floating *m1
    cdef const floating *m2
    cdef const floating *m3
    cdef floating *s0
    cdef floating *s1
    cdef floating *out
    cdef floating *tmp = rows + 8 * half
    while j0 < nt:
        tile = t0 + j0
        n = tile // (p.TH * p.TW)
        ty = (tile // p.TW) % p.TH
        tx0 = tile % p.TW
        run = min(p.TW - tx0, nt - j0)
        cnt = min(2 * run, p.OW - 2 * tx0)
        for o in range(p.Co):
            bias = b[o] if b != NULL else 0
            for e in range(4):
                m0 = m + e * stride + o * p.tb + j0
                m1 = m0 + 4 * stride
                m2 = m1 + 4 * stride
                m3 = m2 + 4 * stride
                s0 = tmp + e * p.tb
                s1 = s0 + 4 * p.tb
                for j in range(run):
                    s0[j] = m0[j] + m1[j] + m2[j]
                    s1[j] = m1[j] - m2[j] - m3[j]
            for a in range(2):
                s0 = tmp + 4 * a * p.tb
                out = rows + a * 2 * half
                for j in range(run):
                    out[2 * j] = s0[j] + s0[p.tb + j] + s0[2 * p.tb + j] + bias
                    out[2 * j + 1] = s0[p.tb + j] - s0[2 * p.tb + j] - s0[3 * p.tb + j] + bias
                oh = 2 * ty + a
                if oh < p.OH:
                    memcpy(y + ((n * p.Co + o) * p.OH + oh) * p.OW + 2 * tx0, out,
                           cnt * sizeof(floating))
        j0 += run


cdef bint _winograd_applies(const Geom *g) noexcept nogil:
    """3x3, stride 1, dilation 1, ungrouped, padding <= 2, with enough channels and tiles
    for the saved GEMM work to outweigh the transforms (measured: >= 64 channels each
    way and >= WINO_MIN_TILES 2x2 tiles, else im2col is as fast or faster)."""
    return (g.KH == 3 and g.KW == 3 and g.sh == 1 and g.sw == 1 and g.dh == 1
            and g.dw == 1 and g.G == 1 and g.C >= WINO_MIN_CHANNELS
            and g.Co >= WINO_MIN_CHANNELS and g.ph <= 2 and g.pw <= 2
            and g.N * ((g.OH + 1) // 2) * ((g.OW + 1) // 2) >= WINO_MIN_TILES)


cdef int _winograd(const floating *x, const floating *w, const floating *b, floating *y,
                   Py_ssize_t N, Py_ssize_t C, Py_ssize_t H, Py_ssize_t W, Py_ssize_t Co,
                   Py_ssize_t OH, Py_ssize_t OW, Py_ssize_t ph, Py_ssize_t pw,
                   int n_threads) noexcept nogil:
    """y (N, Co, OH, OW) = b + 3x3 stride-1 correlation of x (N, C, H, W) with w
    (Co, C, 3, 3), padded by (ph, pw) before. Returns -1 when out of memory.
    """
    cdef Wino p
    cdef Py_ssize_t ntiles, nblocks, blk, t0, nt, xi, per
    cdef floating *u
    cdef floating *work
    cdef floating *v
    cdef floating *m
    p.N, p.C, p.H, p.W, p.Co, p.OH, p.OW, p.ph, p.pw = N, C, H, W, Co, OH, OW, ph, pw
    p.TH = (OH + 1) // 2
    p.TW = (OW + 1) // 2
    ntiles = N * p.TH * p.TW
    p.tb = WINO_BLOCK_BYTES // (16 * (C + Co) * sizeof(floating))
    p.tb = min(max(p.tb, WINO_MIN_BLOCK), max((ntiles + n_threads - 1) // n_threads, 1))
    nblocks = (ntiles + p.tb - 1) // p.tb
    per = 16 * (C + Co) * p.tb + 8 * (p.TW + 2) + 16 * p.tb
    u = <floating *> malloc(16 * Co * C * sizeof(floating))
    work = <floating *> malloc(n_threads * per * sizeof(floating))
    if u == NULL or work == NULL:
        free(u)
        free(work)
        return -1
    _wino_weights(w, u, Co, C)
    for blk in prange(nblocks, num_threads=n_threads, schedule="dynamic"):
        v = work + thread_id() * per
        m = v + 16 * C * p.tb
        t0 = blk * p.tb
        nt = min(p.tb, ntiles - t0)
        _wino_input(x, &p, t0, nt, v, m + 16 * Co * p.tb)
        for xi in range(16):
            gemm_rm(False, False, Co, nt, C, 1, u + xi * Co * C, C, v + xi * C * p.tb, p.tb,
                    0, m + xi * Co * p.tb, p.tb)
        _wino_output(m, b, &p, t0, nt, y, m + 16 * Co * p.tb)
    free(u)
    free(work)
    return 0


# ---------------------------------------------------------------- entry points
def conv2d_forward(const floating[:, :, :, ::1] x, const floating[:, :, :, ::1] w,
                   const floating[::1] b, bint has_bias, floating[:, :, :, ::1] y,
                   int sh, int sw, int ph, int pw, int dh, int dw, int groups,
                   int n_threads, Py_ssize_t tile_bytes=TILE_BYTES,
                   bint allow_winograd=True):
    """y = conv(x, w) + b into the preallocated y (N, C_out, OH, OW).

    ``b`` is read only when ``has_bias``. Padding is the top/left amount; the output
    size (hence any bottom/right padding) is y's shape. ``tile_bytes``: target size of
    one column buffer (tests make it tiny to run many tiles). Returns the algorithm
    used: "direct", "winograd" or "im2col-gemm" (the caller must pin BLAS to one thread
    for the last two); ``allow_winograd=False`` forces im2col where Winograd applies.
    """
    cdef Geom g = _geom(x.shape, w.shape, y.shape, sh, sw, ph, pw, dh, dw, groups)
    cdef const floating *bp = &b[0] if has_bias else NULL
    cdef Py_ssize_t t, ntiles, task
    cdef int rc
    cdef floating *work = NULL
    if g.N == 0 or g.Co == 0:
        return "empty"
    if g.Cg == 1:
        with nogil:
            for task in prange(g.N * g.Co, num_threads=n_threads, schedule="dynamic"):
                _dw_forward_plane(&x[0, 0, 0, 0], &w[0, 0, 0, 0], bp, &y[0, 0, 0, 0],
                                  &g, task)
        return "direct"
    if allow_winograd and _winograd_applies(&g):
        with nogil:
            rc = _winograd(&x[0, 0, 0, 0], &w[0, 0, 0, 0], bp, &y[0, 0, 0, 0], g.N, g.C,
                           g.H, g.W, g.Co, g.OH, g.OW, g.ph, g.pw, n_threads)
        if rc:
            raise MemoryError()
        return "winograd"
    t = _tile(&g, g.N * g.G, n_threads, sizeof(floating), tile_bytes)
    ntiles = (g.P + t - 1) // t
    if not _pointwise(&g):
        work = <floating *> malloc(n_threads * g.K * t * sizeof(floating))
        if work == NULL:
            raise MemoryError()
    with nogil:
        for task in prange(g.N * g.G * ntiles, num_threads=n_threads, schedule="dynamic"):
            _forward_tile(&x[0, 0, 0, 0], &w[0, 0, 0, 0], bp, &y[0, 0, 0, 0], &g, task,
                          t, ntiles, work + thread_id() * g.K * t if work != NULL else NULL)
    free(work)
    return "im2col-gemm"


def conv2d_backward(const floating[:, :, :, ::1] go, const floating[:, :, :, ::1] x,
                    const floating[:, :, :, ::1] w, floating[:, :, :, ::1] gx,
                    floating[:, :, :, ::1] gw, floating[::1] gb,
                    int sh, int sw, int ph, int pw, int dh, int dw, int groups,
                    int n_threads, Py_ssize_t tile_bytes=TILE_BYTES):
    """Fill grad_x (x's shape), grad_w (w's shape) and grad_b (C_out,) from grad_out.

    Returns the algorithm used: "direct" or "im2col-gemm" (the caller must pin BLAS
    to one thread for the latter). Winograd is not used here: measured, its grad_x and
    F(3x3, 2x2) grad_w were no faster than im2col on this machine's BLAS.
    """
    cdef Geom g = _geom(x.shape, w.shape, go.shape, sh, sw, ph, pw, dh, dw, groups)
    cdef Py_ssize_t t, ntiles, task, ntasks, per_task, i, r, nw = g.Co * g.K, ngx
    cdef floating *col = NULL
    cdef floating *gw_all = NULL
    cdef floating *gx_all = NULL
    cdef floating *gxp
    cdef floating s
    cdef bint private_gx
    cdef Py_ssize_t tid
    if g.N == 0:
        memset(&gw[0, 0, 0, 0], 0, gw.size * sizeof(floating))
        memset(&gb[0], 0, gb.size * sizeof(floating))
        return "empty"
    if g.Cg == 1:
        col = <floating *> malloc(n_threads * (g.KH * g.KW + 1) * g.OW * sizeof(floating))
        if col == NULL:
            raise MemoryError()
        with nogil:
            for task in prange(g.N * g.C, num_threads=n_threads, schedule="dynamic"):
                _dw_grad_x_plane(&go[0, 0, 0, 0], &w[0, 0, 0, 0], &gx[0, 0, 0, 0], &g, task)
            for task in prange(g.Co, num_threads=n_threads, schedule="dynamic"):
                _dw_grad_w_channel(&go[0, 0, 0, 0], &x[0, 0, 0, 0], &gw[0, 0, 0, 0],
                                   &gb[0], &g, task,
                                   col + thread_id() * (g.KH * g.KW + 1) * g.OW)
        free(col)
        return "direct"
    # per-thread grad_x copies only for a batch smaller than the thread count, and only
    # while they fit in WORK_CAP (else a huge image runs its tiles on one thread)
    private_gx = (g.N * g.G < n_threads and not _pointwise(&g)
                  and n_threads * g.N * g.C * g.HW * <Py_ssize_t> sizeof(floating) <= WORK_CAP)
    t = _tile(&g, g.N * g.G if not private_gx else 1, n_threads, sizeof(floating),
              tile_bytes)
    ntiles = (g.P + t - 1) // t
    per_task = 1 if private_gx else ntiles
    ntasks = g.N * g.G * (ntiles // per_task)
    ngx = g.N * g.C * g.HW
    col = <floating *> malloc(2 * n_threads * g.K * t * sizeof(floating))
    gw_all = <floating *> calloc(n_threads * (nw + g.Co), sizeof(floating))
    if private_gx:
        gx_all = <floating *> calloc(n_threads * ngx, sizeof(floating))
    if col == NULL or gw_all == NULL or (private_gx and gx_all == NULL):
        free(col)
        free(gw_all)
        free(gx_all)
        raise MemoryError()
    with nogil:
        for task in prange(ntasks, num_threads=n_threads, schedule="dynamic"):
            tid = thread_id()
            gxp = gx_all + tid * ngx if private_gx else &gx[0, 0, 0, 0]
            _backward_tiles(&go[0, 0, 0, 0], &x[0, 0, 0, 0], &w[0, 0, 0, 0], gxp,
                            gw_all + tid * (nw + g.Co), gw_all + tid * (nw + g.Co) + nw,
                            &g, task // (ntiles // per_task),
                            (task % (ntiles // per_task)) * per_task,
                            (task % (ntiles // per_task)) * per_task + per_task, t,
                            col + 2 * tid * g.K * t, col + (2 * tid + 1) * g.K * t,
                            not private_gx)
        # per-thread [grad_w | grad_b] accumulators, summed
        for i in prange(nw + g.Co, num_threads=n_threads, schedule="static"):
            s = 0
            for r in range(n_threads):
                s = s + gw_all[r * (nw + g.Co) + i]
            if i < nw:
                (&gw[0, 0, 0, 0])[i] = s
            else:
                gb[i - nw] = s
        if private_gx:
            for i in prange(ngx, num_threads=n_threads, schedule="static"):
                s = 0
                for r in range(n_threads):
                    s = s + gx_all[r * ngx + i]
                (&gx[0, 0, 0, 0])[i] = s
    free(col)
    free(gw_all)
    free(gx_all)
    return "im2col-gemm"
