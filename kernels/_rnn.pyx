"""Recurrent layers (RNN tanh/relu, LSTM, GRU): one layer and one direction per call.

Data is packed as in ``torch.nn.utils.rnn.PackedSequence``: the batch is sorted by length
(longest first), ``batch_sizes[t]`` sequences are still running at step t, and their rows
are ``offsets[t] ... offsets[t] + batch_sizes[t] - 1`` of every (N, .) array (N = sum of
the lengths). So no work is done on padding: at step t only the first ``batch_sizes[t]``
rows of the state take part. A forward direction walks t = 0 ... T-1 (the running batch
shrinks), the reverse direction t = T-1 ... 0 (it grows, a sequence starting from its
initial state at its last valid step).

Gates, in PyTorch's order, with x W^T one GEMM over all N rows before the time loop and
h W_hh^T one GEMM per step (Hr = proj_size or H is the width of the state h):

    RNN:  h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh)
    LSTM: i, f, g, o = sigma, sigma, tanh, sigma(x W_ih^T + b_ih + h W_hh^T + b_hh)
          c' = f c + i g,  h' = o tanh(c')  (then h' W_hr^T with a projection)
    GRU:  r, z = sigma(x W_ir,z^T + b_ir,z + h W_hr,z^T + b_hr,z)
          n = tanh(x W_in^T + b_in + r (h W_hn^T + b_hn)),  h' = (1 - z) n + z h

The nonlinearities of all gates of a row are one fused pass. ``forward`` saves the
activated gates, the previous states (``hprev``, ``cprev``), the cell ``cell`` and, in
``extra``, the GRU's h W_hn^T + b_hn or the LSTM's unprojected h. ``backward`` runs the
recurrence in reverse with one GEMM per step (d h_prev = dG W_hh) and then forms every
weight gradient by one GEMM over all N rows (dW_ih += dG^T x, dW_hh += dG^T h_prev,
dW_hr += dh^T h_raw) and the input gradient by one more (dx = dG W_ih).

The gate passes are small C functions under ``omp simd`` (float32 sigmoid and tanh from
``kernels._math`` vectorise). Arrays are C-contiguous of the right dtype and every size
is >= 1 (the caller passes 1-element placeholders for what a mode does not use, and zero
biases when the layer has none). ``out`` and ``grad_out`` are the
(N, D Hr) outputs of the layer; this direction owns columns ``col ... col + Hr - 1``.

Threads: the GEMMs over all N rows run outside any parallel loop (threaded by the
BLAS); the time loops split the batch into contiguous row ranges, one task each, that
run all their steps without a barrier (sequences never interact), with per-task GEMMs
on a BLAS pinned to one thread. A barrier per step would cost a scheduler slice
whenever the cores are shared.
"""

# GCC if-converts the clamps and selects of the float32 polynomials (so the gate loops
# vectorise) only without trapping math; nothing here enables floating-point traps.
# Emitted before the cimported helpers so that they are compiled (and inline) alike.
cdef extern from *:
    """
    #if defined(__GNUC__) && !defined(__clang__)
    #pragma GCC optimize("no-trapping-math")
    #endif
    """

from cython cimport floating
from cython.parallel cimport prange
from libc.string cimport memcpy
from kernels._blas cimport gemm_rm
from kernels._math cimport fml_math_expf  # no-cython-lint (defines the float32 helpers)

RNN_TANH = 0
RNN_RELU = 1
LSTM = 2
GRU = 3

DEF C_RNN_TANH = 0
DEF C_RNN_RELU = 1
DEF C_LSTM = 2
DEF C_GRU = 3
DEF BIAS_BLOCK = 64  # bias-gradient columns per task (row-wise reads)


# ---------------------------------------------------------------- fused gate passes
cdef extern from *:
    """
    #include <stddef.h>
    #define FML_RNN_DEFINE(T, S, SIG, TANH)                                               \
    /* i, f, g, o activated in place; c' = f c + i g into c and cell; h = o tanh(c') */    \
    static void fml_lstm_fwd_##S(T *restrict g, T *restrict c, T *restrict cell,          \
                                 T *restrict h, ptrdiff_t H) {                            \
        _Pragma("omp simd")                                                               \
        for (ptrdiff_t j = 0; j < H; j++) {                                               \
            T i = SIG(g[j]), f = SIG(g[H + j]), gg = TANH(g[2 * H + j]);                  \
            T o = SIG(g[3 * H + j]);                                                      \
            g[j] = i; g[H + j] = f; g[2 * H + j] = gg; g[3 * H + j] = o;                  \
            T cn = f * c[j] + i * gg;                                                     \
            c[j] = cn; cell[j] = cn; h[j] = o * TANH(cn);                                 \
        }                                                                                 \
    }                                                                                     \
    /* dc += dh o (1 - tanh^2 c'); gate pre-activation gradients; dc <- dc f */           \
    static void fml_lstm_bwd_##S(const T *restrict g, const T *restrict cell,             \
                                 const T *restrict cprev, const T *restrict dh,           \
                                 T *restrict dc, T *restrict dg, ptrdiff_t H) {           \
        _Pragma("omp simd")                                                               \
        for (ptrdiff_t j = 0; j < H; j++) {                                               \
            T i = g[j], f = g[H + j], gg = g[2 * H + j], o = g[3 * H + j];                \
            T tc = TANH(cell[j]);                                                         \
            T d = dc[j] + dh[j] * o * (1 - tc * tc);                                      \
            dg[j] = d * gg * i * (1 - i);                                                 \
            dg[H + j] = d * cprev[j] * f * (1 - f);                                       \
            dg[2 * H + j] = d * i * (1 - gg * gg);                                        \
            dg[3 * H + j] = dh[j] * tc * o * (1 - o);                                     \
            dc[j] = d * f;                                                                \
        }                                                                                 \
    }                                                                                     \
    /* r, z, n activated in place (hg: h W_hh^T of the step, bh: b_hh); hn = W_hn h +    \
       b_hn saved; h <- (1 - z) n + z h */                                                \
    static void fml_gru_fwd_##S(T *restrict g, const T *restrict hg,                      \
                                const T *restrict bh, T *restrict hn, T *restrict h,      \
                                ptrdiff_t H) {                                            \
        _Pragma("omp simd")                                                               \
        for (ptrdiff_t j = 0; j < H; j++) {                                               \
            T m = hg[2 * H + j] + bh[2 * H + j];                                          \
            T r = SIG(g[j] + hg[j] + bh[j]), z = SIG(g[H + j] + hg[H + j] + bh[H + j]);   \
            T n = TANH(g[2 * H + j] + r * m);                                             \
            g[j] = r; g[H + j] = z; g[2 * H + j] = n; hn[j] = m;                          \
            h[j] = (1 - z) * n + z * h[j];                                                \
        }                                                                                 \
    }                                                                                     \
    /* input-side (dgx) and hidden-side (dgh: r dn for the n gate) gradients */           \
    static void fml_gru_bwd_##S(const T *restrict g, const T *restrict hn,                \
                                const T *restrict hprev, const T *restrict dh,            \
                                T *restrict dgx, T *restrict dgh, ptrdiff_t H) {          \
        _Pragma("omp simd")                                                               \
        for (ptrdiff_t j = 0; j < H; j++) {                                               \
            T r = g[j], z = g[H + j], n = g[2 * H + j];                                   \
            T dn = dh[j] * (1 - z) * (1 - n * n);                                         \
            T dr = dn * hn[j] * r * (1 - r);                                              \
            T dz = dh[j] * (hprev[j] - n) * z * (1 - z);                                  \
            dgx[j] = dr; dgx[H + j] = dz; dgx[2 * H + j] = dn;                            \
            dgh[j] = dr; dgh[H + j] = dz; dgh[2 * H + j] = dn * r;                        \
        }                                                                                 \
    }                                                                                     \
    static void fml_rnn_fwd_##S(T *restrict g, T *restrict h, ptrdiff_t H, int relu) {    \
        if (relu) {                                                                       \
            _Pragma("omp simd")                                                           \
            for (ptrdiff_t j = 0; j < H; j++) { T v = g[j] > 0 ? g[j] : 0; g[j] = v; h[j] = v; } \
        } else {                                                                          \
            _Pragma("omp simd")                                                           \
            for (ptrdiff_t j = 0; j < H; j++) { T v = TANH(g[j]); g[j] = v; h[j] = v; }   \
        }                                                                                 \
    }                                                                                     \
    static void fml_rnn_bwd_##S(const T *restrict g, const T *restrict dh,                \
                                T *restrict dg, ptrdiff_t H, int relu) {                  \
        if (relu) {                                                                       \
            _Pragma("omp simd")                                                           \
            for (ptrdiff_t j = 0; j < H; j++) dg[j] = g[j] > 0 ? dh[j] : 0;               \
        } else {                                                                          \
            _Pragma("omp simd")                                                           \
            for (ptrdiff_t j = 0; j < H; j++) dg[j] = dh[j] * (1 - g[j] * g[j]);          \
        }                                                                                 \
    }
    FML_RNN_DEFINE(float, f, fml_math_sigmoidf, fml_math_tanhf)
    FML_RNN_DEFINE(double, d, fml_math_sigmoid, tanh)
    """
    void fml_lstm_fwd_f(float *g, float *c, float *cell, float *h, Py_ssize_t H) noexcept nogil
    void fml_lstm_fwd_d(double *g, double *c, double *cell, double *h,
                        Py_ssize_t H) noexcept nogil
    void fml_lstm_bwd_f(const float *g, const float *cell, const float *cprev,
                        const float *dh, float *dc, float *dg, Py_ssize_t H) noexcept nogil
    void fml_lstm_bwd_d(const double *g, const double *cell, const double *cprev,
                        const double *dh, double *dc, double *dg, Py_ssize_t H) noexcept nogil
    void fml_gru_fwd_f(float *g, const float *hg, const float *bh, float *hn, float *h,
                       Py_ssize_t H) noexcept nogil
    void fml_gru_fwd_d(double *g, const double *hg, const double *bh, double *hn, double *h,
                       Py_ssize_t H) noexcept nogil
    void fml_gru_bwd_f(const float *g, const float *hn, const float *hprev, const float *dh,
                       float *dgx, float *dgh, Py_ssize_t H) noexcept nogil
    void fml_gru_bwd_d(const double *g, const double *hn, const double *hprev,
                       const double *dh, double *dgx, double *dgh, Py_ssize_t H) noexcept nogil
    void fml_rnn_fwd_f(float *g, float *h, Py_ssize_t H, int relu) noexcept nogil
    void fml_rnn_fwd_d(double *g, double *h, Py_ssize_t H, int relu) noexcept nogil
    void fml_rnn_bwd_f(const float *g, const float *dh, float *dg, Py_ssize_t H,
                       int relu) noexcept nogil
    void fml_rnn_bwd_d(const double *g, const double *dh, double *dg, Py_ssize_t H,
                       int relu) noexcept nogil


cdef inline void _forward_row(int mode, floating *g, const floating *hg, const floating *bh,
                              floating *c, floating *cell, floating *extra, floating *h,
                              Py_ssize_t H) noexcept nogil:
    """Gate pass of one row: h (and c) of the step from the pre-activations g."""
    if mode == C_LSTM:
        if floating is float:
            fml_lstm_fwd_f(g, c, cell, h, H)
        else:
            fml_lstm_fwd_d(g, c, cell, h, H)
    elif mode == C_GRU:
        if floating is float:
            fml_gru_fwd_f(g, hg, bh, extra, h, H)
        else:
            fml_gru_fwd_d(g, hg, bh, extra, h, H)
    elif floating is float:
        fml_rnn_fwd_f(g, h, H, mode == C_RNN_RELU)
    else:
        fml_rnn_fwd_d(g, h, H, mode == C_RNN_RELU)


cdef inline void _backward_row(int mode, const floating *g, const floating *cell,
                               const floating *cprev, const floating *extra,
                               const floating *hprev, const floating *dh, floating *dc,
                               floating *dgx, floating *dgh, Py_ssize_t H) noexcept nogil:
    """Gate-gradient pass of one row (dc updated in place for the LSTM)."""
    if mode == C_LSTM:
        if floating is float:
            fml_lstm_bwd_f(g, cell, cprev, dh, dc, dgx, H)
        else:
            fml_lstm_bwd_d(g, cell, cprev, dh, dc, dgx, H)
    elif mode == C_GRU:
        if floating is float:
            fml_gru_bwd_f(g, extra, hprev, dh, dgx, dgh, H)
        else:
            fml_gru_bwd_d(g, extra, hprev, dh, dgx, dgh, H)
    elif floating is float:
        fml_rnn_bwd_f(g, dh, dgx, H, mode == C_RNN_RELU)
    else:
        fml_rnn_bwd_d(g, dh, dgx, H, mode == C_RNN_RELU)


cdef inline Py_ssize_t _step_time(Py_ssize_t s, Py_ssize_t T, bint reverse) noexcept nogil:
    return T - 1 - s if reverse else s


def input_projection(const floating[:, ::1] x, const floating[:, ::1] w_ih,
                     const floating[::1] b_ih, const floating[::1] b_hh, bint add_hh_bias,
                     floating[:, ::1] gates, int n_threads):
    """gates = x W_ih^T + b_ih (+ b_hh), one GEMM over all N packed rows."""
    cdef Py_ssize_t N = x.shape[0], I = x.shape[1], GH = w_ih.shape[0]
    cdef Py_ssize_t r, j
    with nogil:
        for r in prange(N, schedule="static", num_threads=n_threads):
            for j in range(GH):
                gates[r, j] = b_ih[j] + (b_hh[j] if add_hh_bias else 0)
        gemm_rm(False, True, N, GH, I, 1, &x[0, 0], I, &w_ih[0, 0], I, 1, &gates[0, 0], GH)


def forward_steps(int mode, const floating[:, ::1] w_hh, const floating[::1] b_hh,
                  const floating[:, ::1] w_hr, bint has_proj,
                  const long long[::1] batch_sizes, const long long[::1] offsets,
                  bint reverse, floating[:, ::1] out, int col, floating[:, ::1] gates,
                  floating[:, ::1] hprev, floating[:, ::1] cprev, floating[:, ::1] cell,
                  floating[:, ::1] extra, floating[:, ::1] h_state, floating[:, ::1] c_state,
                  floating[:, ::1] work, const long long[::1] row_starts, int n_threads):
    """The time loop of one layer-direction, after :func:`input_projection`.

    Sequences are independent, so each task owns the batch rows
    ``row_starts[k] ... row_starts[k+1] - 1`` for every step: no barrier per step (BLAS
    must be pinned to one thread when n_threads > 1). ``h_state``/``c_state`` hold
    h0/c0 on entry and h_n/c_n on exit. gates (N, G H): pre-activations in, activated
    gates out. hprev (N, Hr), cprev and cell (N, H) (LSTM), extra (N, H): GRU
    h W_hn^T + b_hn or LSTM unprojected h (proj). work (B, G H): GRU hidden gates.
    """
    cdef Py_ssize_t GH = w_hh.shape[0], Hr = w_hh.shape[1]
    cdef Py_ssize_t H = GH // (4 if mode == C_LSTM else 3 if mode == C_GRU else 1)
    cdef Py_ssize_t T = batch_sizes.shape[0], n_tasks = row_starts.shape[0] - 1
    cdef Py_ssize_t k, s, t, off, b, b0, e, nb, row
    cdef floating *hrow

    with nogil:
        for k in prange(n_tasks, schedule="static", chunksize=1, num_threads=n_threads):
            b0 = row_starts[k]
            for s in range(T):
                t = _step_time(s, T, reverse)
                e = min(row_starts[k + 1], batch_sizes[t])
                if e <= b0:
                    continue
                nb = e - b0
                off = offsets[t] + b0
                memcpy(&hprev[off, 0], &h_state[b0, 0], nb * Hr * sizeof(floating))
                if mode == C_LSTM:
                    memcpy(&cprev[off, 0], &c_state[b0, 0], nb * H * sizeof(floating))
                if mode == C_GRU:
                    gemm_rm(False, True, nb, GH, Hr, 1, &h_state[b0, 0], Hr, &w_hh[0, 0], Hr,
                            0, &work[b0, 0], GH)
                else:
                    gemm_rm(False, True, nb, GH, Hr, 1, &h_state[b0, 0], Hr, &w_hh[0, 0], Hr,
                            1, &gates[off, 0], GH)
                for b in range(b0, e):
                    row = offsets[t] + b
                    hrow = &extra[row, 0] if has_proj else &h_state[b, 0]
                    _forward_row(mode, &gates[row, 0], &work[b if mode == C_GRU else 0, 0],
                                 &b_hh[0], &c_state[b if mode == C_LSTM else 0, 0],
                                 &cell[row if mode == C_LSTM else 0, 0],
                                 &extra[row if mode == C_GRU else 0, 0], hrow, H)
                    if not has_proj:
                        memcpy(&out[row, col], hrow, H * sizeof(floating))
                if has_proj:
                    gemm_rm(False, True, nb, Hr, H, 1, &extra[off, 0], H, &w_hr[0, 0], H, 0,
                            &h_state[b0, 0], Hr)
                    for b in range(b0, e):
                        memcpy(&out[offsets[t] + b, col], &h_state[b, 0],
                               Hr * sizeof(floating))


def backward_steps(int mode, const floating[:, ::1] w_hh, const floating[:, ::1] w_hr,
                   bint has_proj, const long long[::1] batch_sizes,
                   const long long[::1] offsets, bint reverse,
                   const floating[:, ::1] grad_out, int col, const floating[:, ::1] gates,
                   const floating[:, ::1] hprev, const floating[:, ::1] cprev,
                   const floating[:, ::1] cell, const floating[:, ::1] extra,
                   floating[:, ::1] dh_state, floating[:, ::1] dc_state,
                   floating[:, ::1] dgx, floating[:, ::1] dgh, floating[:, ::1] dhtot,
                   floating[:, ::1] dhraw, const long long[::1] row_starts, int n_threads):
    """Backpropagation through time of one layer-direction saved by :func:`forward_steps`.

    Tasks own batch rows as in the forward pass. dh_state (B, Hr) / dc_state (B, H)
    hold d loss / d h_n, c_n on entry and d loss / d h0, c0 on exit. Writes dgx
    (N, G H), the gradients of the gate pre-activations (input side), and dgh, the
    hidden side (differs only for the GRU's n gate, times r; otherwise pass dgx again),
    dhtot (N, Hr), the total d loss / d h of every step; dhraw (B, H) is scratch
    (d loss / d unprojected h).
    """
    cdef Py_ssize_t GH = w_hh.shape[0], Hr = w_hh.shape[1]
    cdef Py_ssize_t H = GH // (4 if mode == C_LSTM else 3 if mode == C_GRU else 1)
    cdef Py_ssize_t T = batch_sizes.shape[0], n_tasks = row_starts.shape[0] - 1
    cdef Py_ssize_t k, s, t, off, b, b0, e, nb, row, j
    cdef bint lstm = mode == C_LSTM, gru = mode == C_GRU

    with nogil:
        for k in prange(n_tasks, schedule="static", chunksize=1, num_threads=n_threads):
            b0 = row_starts[k]
            for s in range(T - 1, -1, -1):
                t = _step_time(s, T, reverse)
                e = min(row_starts[k + 1], batch_sizes[t])
                if e <= b0:
                    continue
                nb = e - b0
                off = offsets[t] + b0
                for b in range(b0, e):
                    row = offsets[t] + b
                    for j in range(Hr):
                        dhtot[row, j] = dh_state[b, j] + grad_out[row, col + j]
                if has_proj:
                    gemm_rm(False, False, nb, H, Hr, 1, &dhtot[off, 0], Hr, &w_hr[0, 0], H, 0,
                            &dhraw[b0, 0], H)
                for b in range(b0, e):
                    row = offsets[t] + b
                    _backward_row(mode, &gates[row, 0], &cell[row if lstm else 0, 0],
                                  &cprev[row if lstm else 0, 0], &extra[row if gru else 0, 0],
                                  &hprev[row, 0],
                                  &dhraw[b, 0] if has_proj else &dhtot[row, 0],
                                  &dc_state[b if lstm else 0, 0], &dgx[row, 0], &dgh[row, 0],
                                  H)
                gemm_rm(False, False, nb, Hr, GH, 1, &dgh[off, 0], GH, &w_hh[0, 0], Hr, 0,
                        &dh_state[b0, 0], Hr)
                if gru:
                    for b in range(b0, e):
                        row = offsets[t] + b
                        for j in range(H):
                            dh_state[b, j] += dhtot[row, j] * gates[row, H + j]


def weight_gradients(const floating[:, ::1] x, const floating[:, ::1] w_ih,
                     const floating[:, ::1] dgx, const floating[:, ::1] dgh,
                     const floating[:, ::1] hprev, const floating[:, ::1] dhtot,
                     const floating[:, ::1] extra, bint has_proj, floating[:, ::1] grad_x,
                     bint want_grad_x, bint accumulate_x, floating[:, ::1] gw_ih,
                     floating[:, ::1] gw_hh, floating[::1] gb_ih, floating[::1] gb_hh,
                     floating[:, ::1] gw_hr, int n_threads):
    """After :func:`backward_steps`: every weight gradient by one GEMM over all N rows.

    gw_ih += dgx^T x, gw_hh += dgh^T hprev, gw_hr += dhtot^T extra (proj), gb_ih and
    gb_hh += column sums of dgx and dgh (pass scratch arrays without biases);
    grad_x (N, I) = dgx W_ih (added to with ``accumulate_x``) when ``want_grad_x``.
    """
    cdef Py_ssize_t N = x.shape[0], I = x.shape[1], GH = w_ih.shape[0]
    cdef Py_ssize_t Hr = hprev.shape[1], H = extra.shape[1]
    cdef Py_ssize_t r, j, blk

    with nogil:
        gemm_rm(True, False, GH, I, N, 1, &dgx[0, 0], GH, &x[0, 0], I, 1, &gw_ih[0, 0], I)
        gemm_rm(True, False, GH, Hr, N, 1, &dgh[0, 0], GH, &hprev[0, 0], Hr, 1,
                &gw_hh[0, 0], Hr)
        if has_proj:
            gemm_rm(True, False, Hr, H, N, 1, &dhtot[0, 0], Hr, &extra[0, 0], H, 1,
                    &gw_hr[0, 0], H)
        if want_grad_x:
            gemm_rm(False, False, N, I, GH, 1, &dgx[0, 0], GH, &w_ih[0, 0], I,
                    1 if accumulate_x else 0, &grad_x[0, 0], I)
        for blk in prange((GH + BIAS_BLOCK - 1) // BIAS_BLOCK, schedule="static",
                          num_threads=n_threads):
            for r in range(N):
                for j in range(blk * BIAS_BLOCK, min(GH, (blk + 1) * BIAS_BLOCK)):
                    gb_ih[j] += dgx[r, j]
                    gb_hh[j] += dgh[r, j]
