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

Arrays are C-contiguous of the right dtype and every size is >= 1 (the caller passes
1-element placeholders for what a mode does not use). ``out`` and ``grad_out`` are the
(N, D Hr) outputs of the layer; this direction owns columns ``col ... col + Hr - 1``.
BLAS runs outside the parallel loops (threaded by the BLAS itself).
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport exp, expf, tanh, tanhf
from libc.string cimport memcpy
from kernels._blas cimport gemm_rm

RNN_TANH = 0
RNN_RELU = 1
LSTM = 2
GRU = 3

DEF C_RNN_TANH = 0
DEF C_RNN_RELU = 1
DEF C_LSTM = 2
DEF C_GRU = 3
DEF BIAS_BLOCK = 64  # bias-gradient columns per task (row-wise reads)


cdef inline floating _sigmoid(floating x) noexcept nogil:
    if floating is float:
        return 1.0 / (1.0 + expf(-x))
    else:
        return 1.0 / (1.0 + exp(-x))


cdef inline floating _tanh(floating x) noexcept nogil:
    if floating is float:
        return tanhf(x)
    else:
        return tanh(x)


cdef inline Py_ssize_t _step_time(Py_ssize_t s, Py_ssize_t T, bint reverse) noexcept nogil:
    return T - 1 - s if reverse else s


def forward(int mode, const floating[:, ::1] x, const floating[:, ::1] w_ih,
            const floating[:, ::1] w_hh, const floating[::1] b_ih, const floating[::1] b_hh,
            bint has_bias, const floating[:, ::1] w_hr, bint has_proj,
            const long long[::1] batch_sizes, const long long[::1] offsets, bint reverse,
            floating[:, ::1] out, int col, floating[:, ::1] gates, floating[:, ::1] hprev,
            floating[:, ::1] cprev, floating[:, ::1] cell, floating[:, ::1] extra,
            floating[:, ::1] h_state, floating[:, ::1] c_state, floating[:, ::1] work,
            int n_threads):
    """Run one layer-direction; ``h_state``/``c_state`` hold h0/c0 on entry, h_n/c_n on exit.

    gates (N, G H): activated gates. hprev (N, Hr), cprev and cell (N, H) (LSTM),
    extra (N, H): GRU h W_hn^T + b_hn or LSTM unprojected h (proj). work (B, G H): GRU
    hidden gates of one step.
    """
    cdef Py_ssize_t N = x.shape[0], I = x.shape[1]
    cdef Py_ssize_t GH = w_ih.shape[0], Hr = w_hh.shape[1]
    cdef Py_ssize_t H = GH // (4 if mode == C_LSTM else 3 if mode == C_GRU else 1)
    cdef Py_ssize_t T = batch_sizes.shape[0]
    cdef Py_ssize_t s, t, bs, off, r, b, j, row
    cdef bint add_hh_bias = has_bias and mode != C_GRU
    cdef floating ig, fg, gg, og, c, h, rg, zg, ng, hn
    cdef floating *gr
    cdef floating *hr

    with nogil:
        for r in prange(N, schedule="static", num_threads=n_threads):
            for j in range(GH):
                gates[r, j] = (b_ih[j] if has_bias else 0) + (b_hh[j] if add_hh_bias else 0)
        gemm_rm(False, True, N, GH, I, 1, &x[0, 0], I, &w_ih[0, 0], I, 1, &gates[0, 0], GH)

        for s in range(T):
            t = _step_time(s, T, reverse)
            bs = batch_sizes[t]
            off = offsets[t]
            memcpy(&hprev[off, 0], &h_state[0, 0], bs * Hr * sizeof(floating))
            if mode == C_LSTM:
                memcpy(&cprev[off, 0], &c_state[0, 0], bs * H * sizeof(floating))
            if mode == C_GRU:
                gemm_rm(False, True, bs, GH, Hr, 1, &h_state[0, 0], Hr, &w_hh[0, 0], Hr, 0,
                        &work[0, 0], GH)
            else:
                gemm_rm(False, True, bs, GH, Hr, 1, &h_state[0, 0], Hr, &w_hh[0, 0], Hr, 1,
                        &gates[off, 0], GH)
            for b in prange(bs, schedule="static", num_threads=n_threads):
                row = off + b
                gr = &gates[row, 0]
                if mode == C_LSTM:
                    hr = &extra[row, 0] if has_proj else &h_state[b, 0]
                    for j in range(H):
                        ig = _sigmoid(gr[j])
                        fg = _sigmoid(gr[H + j])
                        gg = _tanh(gr[2 * H + j])
                        og = _sigmoid(gr[3 * H + j])
                        gr[j] = ig
                        gr[H + j] = fg
                        gr[2 * H + j] = gg
                        gr[3 * H + j] = og
                        c = fg * c_state[b, j] + ig * gg
                        c_state[b, j] = c
                        cell[row, j] = c
                        h = og * _tanh(c)
                        hr[j] = h
                        if not has_proj:
                            out[row, col + j] = h
                elif mode == C_GRU:
                    hr = &work[b, 0]
                    for j in range(H):
                        hn = hr[2 * H + j] + (b_hh[2 * H + j] if has_bias else 0)
                        rg = _sigmoid(gr[j] + hr[j] + (b_hh[j] if has_bias else 0))
                        zg = _sigmoid(gr[H + j] + hr[H + j] + (b_hh[H + j] if has_bias else 0))
                        ng = _tanh(gr[2 * H + j] + rg * hn)
                        gr[j] = rg
                        gr[H + j] = zg
                        gr[2 * H + j] = ng
                        extra[row, j] = hn
                        h = (1 - zg) * ng + zg * h_state[b, j]
                        h_state[b, j] = h
                        out[row, col + j] = h
                else:
                    for j in range(H):
                        h = gr[j]
                        if mode == C_RNN_TANH:
                            h = _tanh(h)
                        elif h < 0:
                            h = 0
                        gr[j] = h
                        h_state[b, j] = h
                        out[row, col + j] = h
            if has_proj:
                gemm_rm(False, True, bs, Hr, H, 1, &extra[off, 0], H, &w_hr[0, 0], H, 0,
                        &h_state[0, 0], Hr)
                for b in range(bs):
                    memcpy(&out[off + b, col], &h_state[b, 0], Hr * sizeof(floating))


def backward(int mode, const floating[:, ::1] x, const floating[:, ::1] w_ih,
             const floating[:, ::1] w_hh, bint has_bias, const floating[:, ::1] w_hr,
             bint has_proj, const long long[::1] batch_sizes, const long long[::1] offsets,
             bint reverse, const floating[:, ::1] grad_out, int col,
             const floating[:, ::1] gates, const floating[:, ::1] hprev,
             const floating[:, ::1] cprev, const floating[:, ::1] cell,
             const floating[:, ::1] extra, floating[:, ::1] dh_state, floating[:, ::1] dc_state,
             floating[:, ::1] dgx, floating[:, ::1] dgh, floating[:, ::1] dhtot,
             floating[:, ::1] dhraw, floating[:, ::1] grad_x, bint want_grad_x,
             bint accumulate_x, floating[:, ::1] gw_ih, floating[:, ::1] gw_hh,
             floating[::1] gb_ih, floating[::1] gb_hh, floating[:, ::1] gw_hr, int n_threads):
    """Backpropagation through time for one layer-direction saved by :func:`forward`.

    dh_state (B, Hr) / dc_state (B, H) hold d loss / d h_n, c_n on entry and
    d loss / d h0, c0 on exit. dgx (N, G H): gradients of the gate pre-activations
    (input side); dgh: the hidden side (differs from dgx only for the GRU's n gate,
    where it is multiplied by r; otherwise pass dgx again). dhtot (N, Hr): total
    d loss / d h per step; dhraw (B, H): d loss / d unprojected h of one step.
    grad_x (N, I) is written (or added to, ``accumulate_x``) when ``want_grad_x``;
    parameter gradients are always added to.
    """
    cdef Py_ssize_t N = x.shape[0], I = x.shape[1]
    cdef Py_ssize_t GH = w_ih.shape[0], Hr = w_hh.shape[1]
    cdef Py_ssize_t H = GH // (4 if mode == C_LSTM else 3 if mode == C_GRU else 1)
    cdef Py_ssize_t T = batch_sizes.shape[0]
    cdef Py_ssize_t s, t, bs, off, r, b, j, row, blk
    cdef floating ig, fg, gg, og, tc, dh, dc, rg, zg, ng, dn, dr, h
    cdef const floating *gr
    cdef const floating *dhp
    cdef floating *dxr
    cdef floating *dhr

    with nogil:
        for s in range(T - 1, -1, -1):
            t = _step_time(s, T, reverse)
            bs = batch_sizes[t]
            off = offsets[t]
            for b in prange(bs, schedule="static", num_threads=n_threads):
                for j in range(Hr):
                    dhtot[off + b, j] = dh_state[b, j] + grad_out[off + b, col + j]
            if has_proj:
                gemm_rm(False, False, bs, H, Hr, 1, &dhtot[off, 0], Hr, &w_hr[0, 0], H, 0,
                        &dhraw[0, 0], H)
            for b in prange(bs, schedule="static", num_threads=n_threads):
                row = off + b
                gr = &gates[row, 0]
                dxr = &dgx[row, 0]
                dhp = &dhraw[b, 0] if has_proj else &dhtot[row, 0]
                if mode == C_LSTM:
                    for j in range(H):
                        ig = gr[j]
                        fg = gr[H + j]
                        gg = gr[2 * H + j]
                        og = gr[3 * H + j]
                        tc = _tanh(cell[row, j])
                        dh = dhp[j]
                        dc = dc_state[b, j] + dh * og * (1 - tc * tc)
                        dxr[j] = dc * gg * ig * (1 - ig)
                        dxr[H + j] = dc * cprev[row, j] * fg * (1 - fg)
                        dxr[2 * H + j] = dc * ig * (1 - gg * gg)
                        dxr[3 * H + j] = dh * tc * og * (1 - og)
                        dc_state[b, j] = dc * fg
                elif mode == C_GRU:
                    dhr = &dgh[row, 0]
                    for j in range(H):
                        rg = gr[j]
                        zg = gr[H + j]
                        ng = gr[2 * H + j]
                        dh = dhp[j]
                        dn = dh * (1 - zg) * (1 - ng * ng)
                        dr = dn * extra[row, j] * rg * (1 - rg)
                        dxr[j] = dr
                        dxr[H + j] = dh * (hprev[row, j] - ng) * zg * (1 - zg)
                        dxr[2 * H + j] = dn
                        dhr[j] = dr
                        dhr[H + j] = dxr[H + j]
                        dhr[2 * H + j] = dn * rg
                else:
                    for j in range(H):
                        h = gr[j]
                        if mode == C_RNN_TANH:
                            dxr[j] = dhp[j] * (1 - h * h)
                        else:
                            dxr[j] = dhp[j] if h > 0 else 0
            gemm_rm(False, False, bs, Hr, GH, 1, &dgh[off, 0], GH, &w_hh[0, 0], Hr, 0,
                    &dh_state[0, 0], Hr)
            if mode == C_GRU:
                for b in prange(bs, schedule="static", num_threads=n_threads):
                    for j in range(H):
                        dh_state[b, j] += dhtot[off + b, j] * gates[off + b, H + j]

        gemm_rm(True, False, GH, I, N, 1, &dgx[0, 0], GH, &x[0, 0], I, 1, &gw_ih[0, 0], I)
        gemm_rm(True, False, GH, Hr, N, 1, &dgh[0, 0], GH, &hprev[0, 0], Hr, 1,
                &gw_hh[0, 0], Hr)
        if has_proj:
            gemm_rm(True, False, Hr, H, N, 1, &dhtot[0, 0], Hr, &extra[0, 0], H, 1,
                    &gw_hr[0, 0], H)
        if want_grad_x:
            gemm_rm(False, False, N, I, GH, 1, &dgx[0, 0], GH, &w_ih[0, 0], I,
                    1 if accumulate_x else 0, &grad_x[0, 0], I)
        if has_bias:
            for blk in prange((GH + BIAS_BLOCK - 1) // BIAS_BLOCK, schedule="static",
                              num_threads=n_threads):
                for r in range(N):
                    for j in range(blk * BIAS_BLOCK, min(GH, (blk + 1) * BIAS_BLOCK)):
                        gb_ih[j] += dgx[r, j]
                        gb_hh[j] += dgh[r, j]
