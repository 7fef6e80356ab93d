"""Tiled (FlashAttention-style) scaled dot-product attention, forward and backward.

Notation, per (batch, head): Q is nq x d, K is nk x d, V is nk x dv, M an additive mask
(-inf = masked), S = scale Q K^T + M, P = softmax_rows(S), O = P V, and
lse_i = log sum_j exp(S_ij) (the log-sum-exp of row i; -inf when every key is masked).

Forward (one task = one tile of ``bq`` query rows of one (batch, head)): walk the key
tiles of ``bk`` columns, S_tile = scale Q_i K_j^T by one GEMM, keep a running row max m
and row sum l, and rescale the output accumulator when the max grows:

    m' = max(m, rowmax S_tile),  P~ = exp(S_tile - m'),
    l' = exp(m - m') l + rowsum P~,  O' = exp(m - m') O + P~ V_j;   finally O = O' / l'.

The output tile itself is the accumulator, so the only scratch is one bq x bk score tile
per thread: O(bq bk) extra memory, never O(nq nk). Tasks run in parallel over
(batch, head, query tile); causal attention stops each tile at its last visible key.

Backward (FlashAttention-2; one task = one (batch, head), which owns its dK and dV):
with D_i = dO_i . O_i, for each key tile j and query tile i, recompute
P = exp(scale Q_i K_j^T + M - lse_i) and accumulate

    dV_j += P^T dO_i,  dS = P * (dO_i V_j^T - D_i),
    dQ_i += scale dS K_j,  dK_j += scale dS^T Q_i.

Causal attention skips the query tiles that lie wholly above the diagonal.

Causal tiles: a tile wholly above the diagonal is never computed; a tile that crosses it
is cut into blocks of DIAG_ROWS query rows, each stopping at its last visible key, so the
wasted (masked) scores are small triangles, not half of every diagonal tile.

Arrays are validated, finite 4-D (batch, head, row, feature) views with a unit feature
stride, a row stride >= the row length (BLAS's lda) and any batch and head strides, so the
(B, N, H, dh) layout of multi-head attention needs no transpose; the additive mask may
have zero strides (broadcast). ``grad_*`` must be zero on entry. BLAS is called inside
prange, so the caller pins it to one thread.
"""

from cython cimport floating
from cython.parallel cimport prange, parallel
from libc.math cimport exp, log, INFINITY
from libc.stdlib cimport malloc, free
from libc.string cimport memset

from kernels._blas cimport gemm_rm, xdot, xscal
from kernels._math cimport exp_sum_d, exp_sum_f, rowmax_d, rowmax_f
from kernels._parallel cimport thread_id

cdef extern from *:
    """
    #include <math.h>
    /* ds[j] = p[j] * (dp[j] - D), vectorised (omp simd). */
    static void fastml_attn_dsoftmax_f(float *p, const float *dp, int n, float D) {
        #pragma omp simd
        for (int j = 0; j < n; j++) p[j] = p[j] * (dp[j] - D);
    }
    static void fastml_attn_dsoftmax_d(double *p, const double *dp, int n, double D) {
        #pragma omp simd
        for (int j = 0; j < n; j++) p[j] = p[j] * (dp[j] - D);
    }
    """
    void dsoftmax_f "fastml_attn_dsoftmax_f"(float *p, const float *dp, int n,
                                             float D) noexcept nogil
    void dsoftmax_d "fastml_attn_dsoftmax_d"(double *p, const double *dp, int n,
                                             double D) noexcept nogil


cdef enum:
    # rows per block where a causal tile crosses the diagonal
    DIAG_ROWS = 64


cdef struct Shape:
    Py_ssize_t B, H, nq, nk, d, dv, bq, bk
    bint has_mask, causal


cdef struct Strides:
    # batch, head and row strides in elements (the feature stride is 1)
    Py_ssize_t b, h, r


cdef inline floating _rowmax(const floating *x, Py_ssize_t n) noexcept nogil:
    if floating is float:
        return rowmax_f(x, <int> n)
    else:
        return rowmax_d(x, <int> n)


cdef inline floating _exp_sum(floating *x, Py_ssize_t n, floating m) noexcept nogil:
    if floating is float:
        return exp_sum_f(x, <int> n, m)
    else:
        return exp_sum_d(x, <int> n, m)


cdef inline void _dsoftmax(floating *p, const floating *dp, Py_ssize_t n,
                           floating D) noexcept nogil:
    if floating is float:
        dsoftmax_f(p, dp, <int> n, D)
    else:
        dsoftmax_d(p, dp, <int> n, D)


cdef Strides _strides(x, Py_ssize_t itemsize):
    """Element strides of a 4-D view; a length-1 row axis gets the row length (BLAS lda)."""
    cdef Strides s
    s.b = x.strides[0] // itemsize
    s.h = x.strides[1] // itemsize
    s.r = x.strides[2] // itemsize if x.shape[2] > 1 else max(x.shape[3], 1)
    return s


cdef Py_ssize_t _visible(const Shape *p, Py_ssize_t row, Py_ssize_t j0,
                         Py_ssize_t nkb) noexcept nogil:
    """Keys of the tile [j0, j0 + nkb) that query ``row`` may see (a prefix of the tile)."""
    if p.causal:
        return max(0, min(nkb, row - j0 + 1))
    return nkb


cdef void _scores(const Shape *p, floating scale, const floating *qi, Py_ssize_t ldq,
                  const floating *kj, Py_ssize_t ldk, const floating *mij, Strides ms,
                  Py_ssize_t ms_col, Py_ssize_t mq, Py_ssize_t nkb,
                  floating *s) noexcept nogil:
    """s (mq x nkb) = scale Q_i K_j^T + M_ij."""
    cdef Py_ssize_t r, c
    cdef floating *row
    cdef const floating *mrow
    gemm_rm(False, True, <int> mq, <int> nkb, <int> p.d, scale, qi, <int> ldq, kj,
            <int> ldk, 0, s, <int> nkb)
    if p.has_mask:
        for r in range(mq):
            row = s + r * nkb
            mrow = mij + r * ms.r
            if ms_col == 1:
                for c in range(nkb):
                    row[c] += mrow[c]
            else:
                for c in range(nkb):
                    row[c] += mrow[c * ms_col]


cdef void _forward_block(const Shape *p, floating scale, Py_ssize_t row0, Py_ssize_t mq,
                         Py_ssize_t j0, Py_ssize_t nkb, const floating *qi, Py_ssize_t ldq,
                         const floating *kj, Py_ssize_t ldk, const floating *vj,
                         Py_ssize_t ldv, const floating *mij, Strides ms, Py_ssize_t ms_col,
                         floating *oi, Py_ssize_t ldo, floating *s, floating *mrun,
                         floating *lrun) noexcept nogil:
    """Online-softmax update of query rows row0 .. row0+mq-1 by keys j0 .. j0+nkb-1.

    Pointers start at those rows / keys; mrun, lrun are the rows' running max and sum.
    """
    cdef Py_ssize_t r, nvis
    cdef floating *row
    cdef floating *orow
    cdef floating m_new, alpha
    _scores(p, scale, qi, ldq, kj, ldk, mij, ms, ms_col, mq, nkb, s)
    for r in range(mq):
        row = s + r * nkb
        nvis = _visible(p, row0 + r, j0, nkb)
        m_new = mrun[r]
        if nvis > 0:
            m_new = max(m_new, _rowmax(row, nvis))
        if m_new == -INFINITY:
            memset(row, 0, nkb * sizeof(floating))
            continue
        if m_new > mrun[r]:
            alpha = exp(mrun[r] - m_new)
            lrun[r] *= alpha
            orow = oi + r * ldo
            if alpha == 0:
                memset(orow, 0, p.dv * sizeof(floating))
            else:
                xscal(<int> p.dv, alpha, orow, 1)
            mrun[r] = m_new
        lrun[r] += _exp_sum(row, nvis, m_new)
        memset(row + nvis, 0, (nkb - nvis) * sizeof(floating))
    gemm_rm(False, False, <int> mq, <int> p.dv, <int> nkb, 1, s, <int> nkb, vj, <int> ldv,
            1, oi, <int> ldo)


cdef inline Py_ssize_t _row_step(const Shape *p, Py_ssize_t i0, Py_ssize_t mq,
                                 Py_ssize_t j0, Py_ssize_t nkb) noexcept nogil:
    """Rows per block: a causal block that crosses the diagonal (its first row cannot
    see all its keys) is cut into DIAG_ROWS-row blocks, each stopping at its last
    visible key, so only small triangles of masked scores are computed."""
    if p.causal and j0 + nkb > i0 + 1:
        return DIAG_ROWS
    return mq


cdef inline Py_ssize_t _keys_seen(const Shape *p, Py_ssize_t row_end, Py_ssize_t j0,
                                  Py_ssize_t nkb) noexcept nogil:
    """Keys of the tile [j0, j0 + nkb) seen by any query row before ``row_end``."""
    if p.causal:
        return min(nkb, row_end - j0)
    return nkb


cdef void _forward_task(const Shape *p, floating scale, Py_ssize_t task,
                        const floating *q, Strides qs, const floating *k, Strides ks,
                        const floating *v, Strides vs, const floating *mask, Strides ms,
                        Py_ssize_t ms_col, floating *out, Strides os, floating *lse,
                        floating *s, floating *mrun, floating *lrun) noexcept nogil:
    cdef Py_ssize_t n_qt = (p.nq + p.bq - 1) // p.bq
    # last query tiles first: with causal they are the longest, which balances the
    # dynamic schedule (longest task first)
    cdef Py_ssize_t bh = task // n_qt, i0 = (n_qt - 1 - task % n_qt) * p.bq
    cdef Py_ssize_t b = bh // p.H, h = bh % p.H
    cdef Py_ssize_t mq = min(p.bq, p.nq - i0), kend = p.nk, j0, nkb, r, r0, r1, step, nsub
    cdef const floating *qi = q + b * qs.b + h * qs.h + i0 * qs.r
    cdef const floating *kb = k + b * ks.b + h * ks.h
    cdef const floating *vb = v + b * vs.b + h * vs.h
    cdef const floating *mi = mask + b * ms.b + h * ms.h + i0 * ms.r
    cdef floating *oi = out + b * os.b + h * os.h + i0 * os.r
    for r in range(mq):
        mrun[r] = -INFINITY
        lrun[r] = 0
        memset(oi + r * os.r, 0, p.dv * sizeof(floating))
    if p.causal:
        kend = min(p.nk, i0 + mq)
    j0 = 0
    while j0 < kend:
        nkb = min(p.bk, kend - j0)
        step = _row_step(p, i0, mq, j0, nkb)
        r0 = 0
        while r0 < mq:
            r1 = min(r0 + step, mq)
            nsub = _keys_seen(p, i0 + r1, j0, nkb)
            if nsub > 0:
                _forward_block(p, scale, i0 + r0, r1 - r0, j0, nsub, qi + r0 * qs.r, qs.r,
                               kb + j0 * ks.r, ks.r, vb + j0 * vs.r, vs.r,
                               mi + r0 * ms.r + j0 * ms_col, ms, ms_col, oi + r0 * os.r,
                               os.r, s, mrun + r0, lrun + r0)
            r0 = r1
        j0 += p.bk
    for r in range(mq):
        if lrun[r] > 0:
            xscal(<int> p.dv, 1 / lrun[r], oi + r * os.r, 1)
            lse[bh * p.nq + i0 + r] = mrun[r] + log(lrun[r])
        else:
            lse[bh * p.nq + i0 + r] = -INFINITY


cdef void _backward_block(const Shape *p, floating scale, Py_ssize_t row0, Py_ssize_t mq,
                          Py_ssize_t j0, Py_ssize_t nkb, const floating *qi, Py_ssize_t ldq,
                          const floating *kj, Py_ssize_t ldk, const floating *vj,
                          Py_ssize_t ldv, const floating *mij, Strides ms,
                          Py_ssize_t ms_col, const floating *goi, Py_ssize_t ldgo,
                          const floating *lsei, const floating *dsumi, floating *gqi,
                          Py_ssize_t ldgq, floating *gkj, Py_ssize_t ldgk, floating *gvj,
                          Py_ssize_t ldgv, floating *pt, floating *dpt) noexcept nogil:
    """Gradient contributions of query rows row0 .. row0+mq-1 and keys j0 .. j0+nkb-1."""
    cdef Py_ssize_t r, nvis
    cdef floating *row
    _scores(p, scale, qi, ldq, kj, ldk, mij, ms, ms_col, mq, nkb, pt)
    for r in range(mq):
        row = pt + r * nkb
        nvis = _visible(p, row0 + r, j0, nkb)
        if lsei[r] == -INFINITY:
            nvis = 0
        _exp_sum(row, nvis, lsei[r])
        memset(row + nvis, 0, (nkb - nvis) * sizeof(floating))
    # dV_j += P^T dO_i
    gemm_rm(True, False, <int> nkb, <int> p.dv, <int> mq, 1, pt, <int> nkb, goi,
            <int> ldgo, 1, gvj, <int> ldgv)
    # dP = dO_i V_j^T, then dS = P * (dP - D_i) in place of P
    gemm_rm(False, True, <int> mq, <int> nkb, <int> p.dv, 1, goi, <int> ldgo, vj,
            <int> ldv, 0, dpt, <int> nkb)
    for r in range(mq):
        _dsoftmax(pt + r * nkb, dpt + r * nkb, nkb, dsumi[r])
    # dQ_i += scale dS K_j,  dK_j += scale dS^T Q_i
    gemm_rm(False, False, <int> mq, <int> p.d, <int> nkb, scale, pt, <int> nkb, kj,
            <int> ldk, 1, gqi, <int> ldgq)
    gemm_rm(True, False, <int> nkb, <int> p.d, <int> mq, scale, pt, <int> nkb, qi,
            <int> ldq, 1, gkj, <int> ldgk)


cdef void _backward_task(const Shape *p, floating scale, Py_ssize_t bh,
                         const floating *q, Strides qs, const floating *k, Strides ks,
                         const floating *v, Strides vs, const floating *mask, Strides ms,
                         Py_ssize_t ms_col, const floating *out, Strides os,
                         const floating *lse, const floating *gout, Strides gos,
                         floating *gq, Strides gqs, floating *gk, Strides gks,
                         floating *gv, Strides gvs, floating *pt, floating *dpt,
                         floating *dsum) noexcept nogil:
    cdef Py_ssize_t b = bh // p.H, h = bh % p.H
    cdef Py_ssize_t i, i0, j0, mq, nkb, r0, r1, step, nsub
    cdef const floating *qb = q + b * qs.b + h * qs.h
    cdef const floating *kb = k + b * ks.b + h * ks.h
    cdef const floating *vb = v + b * vs.b + h * vs.h
    cdef const floating *mb = mask + b * ms.b + h * ms.h
    cdef const floating *ob = out + b * os.b + h * os.h
    cdef const floating *gob = gout + b * gos.b + h * gos.h
    cdef const floating *lb = lse + bh * p.nq
    cdef floating *gqb = gq + b * gqs.b + h * gqs.h
    cdef floating *gkb = gk + b * gks.b + h * gks.h
    cdef floating *gvb = gv + b * gvs.b + h * gvs.h
    for i in range(p.nq):
        dsum[i] = xdot(<int> p.dv, gob + i * gos.r, 1, ob + i * os.r, 1)
    j0 = 0
    while j0 < p.nk:
        nkb = min(p.bk, p.nk - j0)
        # causal: query i sees key j iff j <= i, so rows above j0 see none of this tile
        i0 = (j0 // p.bq) * p.bq if p.causal else 0
        while i0 < p.nq:
            mq = min(p.bq, p.nq - i0)
            step = _row_step(p, i0, mq, j0, nkb)
            r0 = 0
            while r0 < mq:
                r1 = min(r0 + step, mq)
                nsub = _keys_seen(p, i0 + r1, j0, nkb)
                if nsub > 0:
                    i = i0 + r0
                    _backward_block(p, scale, i, r1 - r0, j0, nsub, qb + i * qs.r, qs.r,
                                    kb + j0 * ks.r, ks.r, vb + j0 * vs.r, vs.r,
                                    mb + i * ms.r + j0 * ms_col, ms, ms_col,
                                    gob + i * gos.r, gos.r, lb + i, dsum + i,
                                    gqb + i * gqs.r, gqs.r, gkb + j0 * gks.r, gks.r,
                                    gvb + j0 * gvs.r, gvs.r, pt, dpt)
                r0 = r1
            i0 += p.bq
        j0 += p.bk


cdef Shape _shape(q, v, bint has_mask, bint causal, Py_ssize_t nk,
                  Py_ssize_t bq, Py_ssize_t bk):
    cdef Shape p
    p.B = q.shape[0]
    p.H = q.shape[1]
    p.nq = q.shape[2]
    p.nk = nk
    p.d = q.shape[3]
    p.dv = v.shape[3]
    p.bq = max(1, min(bq, p.nq))
    p.bk = max(1, min(bk, p.nk))
    p.has_mask = has_mask
    p.causal = causal
    return p


cdef Strides _mask_strides(mask, Py_ssize_t itemsize, Py_ssize_t *col):
    cdef Strides s
    s.b = mask.strides[0] // itemsize
    s.h = mask.strides[1] // itemsize
    s.r = mask.strides[2] // itemsize
    col[0] = mask.strides[3] // itemsize
    return s


def forward(const floating[:, :, :, :] q, const floating[:, :, :, :] k,
            const floating[:, :, :, :] v, const floating[:, :, :, :] mask,
            bint has_mask, bint causal, double scale, floating[:, :, :, :] out,
            floating[::1] lse, Py_ssize_t bq, Py_ssize_t bk, int n_threads):
    """out = softmax(scale q k^T + mask) v and lse (B*H*nq, row log-sum-exp) in place.

    Shapes (B, H, nq, d), (B, H, nk, d), (B, H, nk, dv), mask broadcast to
    (B, H, nq, nk) (ignored unless ``has_mask``), out (B, H, nq, dv); every size >= 1.
    ``bq`` x ``bk`` is the tile of queries x keys.
    """
    cdef Py_ssize_t isz = sizeof(floating), ms_col, t, n_tasks, tid
    cdef Shape p = _shape(q, v, has_mask, causal, k.shape[2], bq, bk)
    cdef Strides qs = _strides(q, isz), ks = _strides(k, isz), vs = _strides(v, isz)
    cdef Strides os = _strides(out, isz)
    cdef Strides ms = _mask_strides(mask, isz, &ms_col)
    cdef Py_ssize_t per_thread = p.bq * p.bk + 2 * p.bq
    cdef floating *work = <floating *> malloc(n_threads * per_thread * sizeof(floating))
    cdef floating *w
    if work == NULL:
        raise MemoryError()
    n_tasks = p.B * p.H * ((p.nq + p.bq - 1) // p.bq)
    with nogil, parallel(num_threads=n_threads):
        tid = thread_id()
        w = work + tid * per_thread
        for t in prange(n_tasks, schedule="dynamic"):
            _forward_task(&p, <floating> scale, t, &q[0, 0, 0, 0], qs, &k[0, 0, 0, 0], ks,
                          &v[0, 0, 0, 0], vs, &mask[0, 0, 0, 0], ms, ms_col,
                          &out[0, 0, 0, 0], os, &lse[0], w, w + p.bq * p.bk,
                          w + p.bq * p.bk + p.bq)
    free(work)


def backward(const floating[:, :, :, :] grad_out, const floating[:, :, :, :] q,
             const floating[:, :, :, :] k, const floating[:, :, :, :] v,
             const floating[:, :, :, :] mask, bint has_mask, bint causal, double scale,
             const floating[:, :, :, :] out, const floating[::1] lse,
             floating[:, :, :, :] grad_q, floating[:, :, :, :] grad_k,
             floating[:, :, :, :] grad_v, Py_ssize_t bq, Py_ssize_t bk, int n_threads):
    """Accumulate the gradients of attention into zeroed grad_q, grad_k, grad_v.

    ``out`` and ``lse`` are what :func:`forward` returned for the same inputs.
    """
    cdef Py_ssize_t isz = sizeof(floating), ms_col, t, n_tasks, tid
    cdef Shape p = _shape(q, v, has_mask, causal, k.shape[2], bq, bk)
    cdef Strides qs = _strides(q, isz), ks = _strides(k, isz), vs = _strides(v, isz)
    cdef Strides os = _strides(out, isz), gos = _strides(grad_out, isz)
    cdef Strides gqs = _strides(grad_q, isz), gks = _strides(grad_k, isz)
    cdef Strides gvs = _strides(grad_v, isz)
    cdef Strides ms = _mask_strides(mask, isz, &ms_col)
    cdef Py_ssize_t per_thread = 2 * p.bq * p.bk + p.nq
    cdef floating *work = <floating *> malloc(n_threads * per_thread * sizeof(floating))
    cdef floating *w
    if work == NULL:
        raise MemoryError()
    n_tasks = p.B * p.H
    with nogil, parallel(num_threads=n_threads):
        tid = thread_id()
        w = work + tid * per_thread
        for t in prange(n_tasks, schedule="dynamic"):
            _backward_task(&p, <floating> scale, t, &q[0, 0, 0, 0], qs, &k[0, 0, 0, 0], ks,
                           &v[0, 0, 0, 0], vs, &mask[0, 0, 0, 0], ms, ms_col,
                           &out[0, 0, 0, 0], os, &lse[0], &grad_out[0, 0, 0, 0], gos,
                           &grad_q[0, 0, 0, 0], gqs, &grad_k[0, 0, 0, 0], gks,
                           &grad_v[0, 0, 0, 0], gvs, w, w + p.bq * p.bk,
                           w + 2 * p.bq * p.bk)
    free(work)
