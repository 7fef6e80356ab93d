"""Recurrent networks from the equations: one sequence, one step at a time, plain NumPy.

Same signatures as :func:`fastml.nn.functional.rnn` / :func:`~fastml.nn.functional.rnn_backward`
(weights in ``torch.nn.LSTM(...)._flat_weights`` order). Each sequence of a batch runs on
its own valid steps ``x[:length]``, which is exactly what packing means; the reverse
direction reads them backwards. BPTT walks the same steps in the opposite order,
carrying d loss / d h (and d loss / d c) from step to step. Batched x only.
"""

import numpy as np

__all__ = ["rnn", "rnn_backward"]


def sigmoid(a):
    return 1 / (1 + np.exp(-a))


def cell_forward(mode, x, h, c, w_ih, w_hh, b_ih, b_hh, w_hr):
    """One step of one sequence: (h', c', what the backward step needs)."""
    gx = w_ih @ x + b_ih
    gh = w_hh @ h + b_hh
    if mode in ("RNN_TANH", "RNN_RELU"):
        a = gx + gh
        h_new = np.tanh(a) if mode == "RNN_TANH" else np.maximum(a, 0)
        return h_new, c, (x, h, h_new)
    if mode == "GRU":
        gxr, gxz, gxn = np.split(gx, 3)
        ghr, ghz, ghn = np.split(gh, 3)
        r, z = sigmoid(gxr + ghr), sigmoid(gxz + ghz)
        n = np.tanh(gxn + r * ghn)
        return (1 - z) * n + z * h, c, (x, h, r, z, n, ghn)
    i, f, g, o = np.split(gx + gh, 4)
    i, f, g, o = sigmoid(i), sigmoid(f), np.tanh(g), sigmoid(o)
    c_new = f * c + i * g
    h_raw = o * np.tanh(c_new)
    h_new = h_raw if w_hr is None else w_hr @ h_raw
    return h_new, c_new, (x, h, c, i, f, g, o, c_new, h_raw)


def cell_backward(mode, dh, dc, saved, w_ih, w_hh, w_hr, grads):
    """Back through one step: (dx, dh_prev, dc_prev); adds to grads (w_ih, w_hh, b_ih,
    b_hh, w_hr)."""
    g_ih, g_hh, g_bih, g_bhh, g_hr = grads
    x, h = saved[0], saved[1]
    if mode in ("RNN_TANH", "RNN_RELU"):
        h_new = saved[2]
        da = dh * (1 - h_new**2) if mode == "RNN_TANH" else dh * (h_new > 0)
        dgx = dgh = da
        dh_direct, dc_prev = 0, dc
    elif mode == "GRU":
        r, z, n, ghn = saved[2:]
        dn = dh * (1 - z) * (1 - n**2)
        dr = dn * ghn * r * (1 - r)
        dz = dh * (h - n) * z * (1 - z)
        dgx = np.concatenate([dr, dz, dn])
        dgh = np.concatenate([dr, dz, dn * r])
        dh_direct, dc_prev = dh * z, dc
    else:
        c, i, f, g, o, c_new, h_raw = saved[2:]
        if w_hr is not None:
            g_hr += np.outer(dh, h_raw)
            dh = w_hr.T @ dh
        tc = np.tanh(c_new)
        dc = dc + dh * o * (1 - tc**2)
        dgx = dgh = np.concatenate([dc * g * i * (1 - i), dc * c * f * (1 - f),
                                    dc * i * (1 - g**2), dh * tc * o * (1 - o)])
        dh_direct, dc_prev = 0, dc * f
    g_ih += np.outer(dgx, x)
    g_hh += np.outer(dgh, h)
    g_bih += dgx
    g_bhh += dgh
    return w_ih.T @ dgx, w_hh.T @ dgh + dh_direct, dc_prev


def _unpack(weights, mode, num_layers, bidirectional):
    """Per layer-direction (w_ih, w_hh, b_ih, b_hh, w_hr) with zero biases when absent."""
    K = num_layers * (2 if bidirectional else 1)
    per = len(weights) // K
    out = []
    for k in range(K):
        w = [np.asarray(a) for a in weights[k * per:(k + 1) * per]]
        zeros = np.zeros(w[0].shape[0], w[0].dtype)
        b_ih, b_hh = (w[2], w[3]) if per >= 4 else (zeros, zeros)
        out.append((w[0], w[1], b_ih, b_hh, w[-1] if per in (3, 5) else None))
    return out


def _prepare(x, hx, mode, layers, batch_first, lengths):
    x = np.asarray(x)
    if batch_first:
        x = x.transpose(1, 0, 2)
    T, B = x.shape[:2]
    K, Hr = len(layers), layers[0][1].shape[1]
    H = layers[0][1].shape[0] // {"LSTM": 4, "GRU": 3}.get(mode, 1)
    if hx is None:
        hx = (np.zeros((K, B, Hr), x.dtype), np.zeros((K, B, H), x.dtype))
    elif mode != "LSTM":
        hx = (np.asarray(hx), np.zeros((K, B, H), x.dtype))
    lengths = np.full(B, T) if lengths is None else np.asarray(lengths)
    return x, np.asarray(hx[0]), np.asarray(hx[1]), lengths


def _run(x, hx, weights, mode, num_layers, bidirectional, batch_first, lengths):
    """Forward pass, keeping every step's saved values: (x, h0, c0, lengths, outputs,
    h_n, c_n, tape), tape[b][k] the saved values of sequence b, layer-direction k."""
    layers = _unpack(weights, mode, num_layers, bidirectional)
    D = 2 if bidirectional else 1
    x, h0, c0, lengths = _prepare(x, hx, mode, layers, batch_first, lengths)
    T, B = x.shape[:2]
    Hr = layers[0][1].shape[1]
    out = np.zeros((T, B, D * Hr), x.dtype)
    h_n, c_n = np.zeros_like(h0), np.zeros_like(c0)
    tape = [[None] * len(layers) for _ in range(B)]
    for b in range(B):
        inp = x[:lengths[b], b]
        for layer in range(num_layers):
            y = np.zeros((lengths[b], D * Hr), x.dtype)
            for d in range(D):
                k = layer * D + d
                h, c, steps = h0[k, b], c0[k, b], []
                for t in (reversed(range(lengths[b])) if d else range(lengths[b])):
                    h, c, saved = cell_forward(mode, inp[t], h, c, *layers[k])
                    y[t, d * Hr:(d + 1) * Hr] = h
                    steps.append((t, saved))
                h_n[k, b], c_n[k, b], tape[b][k] = h, c, steps
            inp = y
        out[:lengths[b], b] = inp
    return layers, x, h0, c0, lengths, out, h_n, c_n, tape


def rnn(x, weights, hx=None, *, mode, num_layers=1, bidirectional=False, batch_first=False,
        lengths=None):
    """(output, h_n) or, for LSTM, (output, (h_n, c_n)); see fastml.nn.functional.rnn."""
    *_, out, h_n, c_n, _ = _run(x, hx, weights, mode, num_layers, bidirectional, batch_first,
                                lengths)
    if batch_first:
        out = out.transpose(1, 0, 2)
    return (out, (h_n, c_n)) if mode == "LSTM" else (out, h_n)


def rnn_backward(grad_output, x, weights, hx=None, grad_h_n=None, grad_c_n=None, *, mode,
                 num_layers=1, bidirectional=False, batch_first=False, lengths=None):
    """(grad_x, grad_hx, grad_weights) by BPTT; see fastml.nn.functional.rnn_backward."""
    layers, x, h0, c0, lengths, out, h_n, c_n, tape = _run(
        x, hx, weights, mode, num_layers, bidirectional, batch_first, lengths)
    D = 2 if bidirectional else 1
    Hr = h0.shape[2]
    g_out = np.asarray(grad_output)
    g_out = g_out.transpose(1, 0, 2) if batch_first else g_out
    g_hn = np.zeros_like(h_n) if grad_h_n is None else np.asarray(grad_h_n)
    g_cn = np.zeros_like(c_n) if grad_c_n is None else np.asarray(grad_c_n)
    grads = [tuple(np.zeros_like(w) if w is not None else None for w in k) for k in layers]
    grad_x, grad_h0, grad_c0 = np.zeros_like(x), np.zeros_like(h0), np.zeros_like(c0)
    for b in range(len(lengths)):
        g_y = g_out[:lengths[b], b]
        for layer in reversed(range(num_layers)):
            g_in = np.zeros((lengths[b], layers[layer * D][0].shape[1]), x.dtype)
            for d in range(D):
                k = layer * D + d
                dh, dc = g_hn[k, b], g_cn[k, b]
                for t, saved in reversed(tape[b][k]):
                    dh = dh + g_y[t, d * Hr:(d + 1) * Hr]
                    dx, dh, dc = cell_backward(mode, dh, dc, saved, layers[k][0], layers[k][1],
                                               layers[k][4], grads[k])
                    g_in[t] += dx
                grad_h0[k, b], grad_c0[k, b] = dh, dc
            g_y = g_in
        grad_x[:lengths[b], b] = g_y
    grad_x = grad_x.transpose(1, 0, 2) if batch_first else grad_x
    per = len(weights) // len(layers)
    flat = [g for k in grads for g in (k[:2] + (k[2:4] if per >= 4 else ()) +
                                       ((k[4],) if per in (3, 5) else ()))]
    grad_hx = None if hx is None else ((grad_h0, grad_c0) if mode == "LSTM" else grad_h0)
    return grad_x, grad_hx, flat
