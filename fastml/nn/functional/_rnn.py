"""Recurrent networks (RNN tanh/relu, LSTM, GRU): forward and backpropagation through time.

With x_t the input and h_{t-1} the state of one layer and direction (PyTorch's gate order
and formulas; sigma the logistic function)::

    RNN:  h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh),   act = tanh or relu
    LSTM: i, f, g, o = sigma, sigma, tanh, sigma(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)
          c_t = f c_{t-1} + i g,   h_t = o tanh(c_t)   (h_t = W_hr o tanh(c_t) with proj_size)
    GRU:  r, z = sigma(W_i{r,z} x_t + b_i{r,z} + W_h{r,z} h_{t-1} + b_h{r,z})
          n = tanh(W_in x_t + b_in + r (W_hn h_{t-1} + b_hn)),   h_t = (1 - z) n + z h_{t-1}

Layer l > 0 reads the (concatenated, for bidirectional) outputs of layer l - 1; the
reverse direction runs from each sequence's last valid step back to t = 0.

Variable lengths follow ``torch.nn.utils.rnn.pack_padded_sequence(enforce_sorted=False)``:
the batch is sorted by length once and packed (no row of padding is computed), outputs
past a sequence's length are zero and h_n holds each sequence's state at its last valid
step. The compiled kernel (``fastml.kernels._rnn``) does one GEMM for the input
projection of all steps, one recurrent GEMM per step, a fused pass for the gate
nonlinearities, and in backward one GEMM over all steps per weight gradient.

Weights are the flat list of ``torch.nn.LSTM(...)._flat_weights``: for each layer and
direction (forward, then reverse), ``w_ih (G H, I)``, ``w_hh (G H, Hr)``, then ``b_ih``,
``b_hh`` (G H,) when there are biases and ``w_hr (P, H)`` with a projection (LSTM only);
G = 1, 4, 3 for RNN, LSTM, GRU and Hr = P or H.
"""

import contextlib

import numpy as np

from fastml import _kernels
from fastml._validation import (
    _shape_str,
    check_array,
    check_bool,
    check_dtype,
    check_nonempty_axes,
    check_option,
    check_positive_int,
    check_shape,
)

__all__ = ["gru_cell", "lstm_cell", "rnn", "rnn_backward", "rnn_relu_cell", "rnn_tanh_cell"]

MODES = ("RNN_TANH", "RNN_RELU", "LSTM", "GRU")
_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}
_PROJECTION_GRAIN = 1 << 16  # gate entries (rows x G H) per thread in the bias fill
_STEP_GRAIN = 1 << 15  # multiply-adds per step (rows x G H x Hr) worth a thread


@contextlib.contextmanager
def _time_loop_threads(spec, packing):
    """(number of tasks, row boundaries) for a time loop; BLAS pinned while it runs.

    One task per thread, each a contiguous range of sequences of about equal total
    length, when every task keeps at least one row and ``_STEP_GRAIN`` multiply-adds
    per step; serial (and BLAS left alone) otherwise, or when the BLAS cannot be pinned.
    """
    per_row = spec.gates * spec.hidden_size * spec.state_size
    n_tasks = min(_kernels.threads_for(packing.B * per_row, _STEP_GRAIN), packing.B)
    if n_tasks == 1:
        yield 1, packing.row_starts(1)
        return
    with _kernels.blas_single_threaded() as pinned:
        n_tasks = n_tasks if pinned else 1
        yield n_tasks, packing.row_starts(n_tasks)


def _rnn_kernels():
    return _kernels.load("_rnn")


def _placeholder(dtype):
    return np.zeros((1, 1), dtype)


# ---------------------------------------------------------------- shapes and checks
class _Spec:
    """Sizes of a stacked recurrent network: mode, layers, directions, widths, dtype."""

    def __init__(self, mode, input_size, hidden_size, num_layers, num_directions, has_bias,
                 proj_size, dtype):
        self.mode = mode
        self.code = getattr(_rnn_kernels(), mode)
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.num_directions = num_directions
        self.has_bias = has_bias
        self.proj_size = proj_size
        self.state_size = proj_size or hidden_size
        self.gates = _GATES[mode]
        self.dtype = np.dtype(dtype)

    def layer_input_size(self, layer):
        return self.input_size if layer == 0 else self.num_directions * self.state_size

    def weight_shapes(self, layer):
        """Shapes of (w_ih, w_hh[, b_ih, b_hh][, w_hr]) of one direction of ``layer``."""
        gh, h = self.gates * self.hidden_size, self.hidden_size
        shapes = [(gh, self.layer_input_size(layer)), (gh, self.state_size)]
        if self.has_bias:
            shapes += [(gh,), (gh,)]
        if self.proj_size:
            shapes.append((self.proj_size, h))
        return shapes

    def split(self, flat):
        """Per layer-direction tuples (w_ih, w_hh, b_ih, b_hh, w_hr), None where absent."""
        per = 2 + 2 * self.has_bias + bool(self.proj_size)
        out = []
        for k in range(self.num_layers * self.num_directions):
            w = list(flat[k * per:(k + 1) * per])
            w_ih, w_hh = w[0], w[1]
            b_ih, b_hh = (w[2], w[3]) if self.has_bias else (None, None)
            w_hr = w[-1] if self.proj_size else None
            out.append((w_ih, w_hh, b_ih, b_hh, w_hr))
        return out


def check_lengths(lengths, batch, steps):
    """``lengths`` as an int64 array of shape (batch,) with 1 <= lengths <= steps."""
    arr = np.asarray(lengths.detach().cpu().numpy() if hasattr(lengths, "detach") else lengths)
    if arr.ndim != 1 or arr.dtype.kind not in "iu":
        raise ValueError(f"lengths must be a 1-D array of integers, got {arr.ndim}-D array "
                         f"of dtype {arr.dtype}")
    check_shape(arr, "lengths", (batch,), " (one entry per sequence)")
    if arr.size and (arr.min() < 1 or arr.max() > steps):
        raise ValueError(f"lengths must lie in [1, {steps}] (the sequence length of x), got "
                         f"min {arr.min()} and max {arr.max()}")
    return arr.astype(np.int64)


def check_state(h, name, shape, dtype):
    """An initial state of exactly ``shape`` and ``dtype`` (C-contiguous copy-free)."""
    h = check_array(h, name, dtype=None, finite=False)
    check_shape(h, name, tuple(shape), " (num_layers * num_directions, batch, state size)")
    return check_dtype(h, name, dtype, "the input is")


class _Packing:
    """The packed (time-major, sorted by length) layout of a padded batch.

    Packed row r is step ``steps[r]`` of sequence ``seqs[r]``; step t occupies rows
    ``offsets[t] ... offsets[t] + batch_sizes[t] - 1``, sequences in decreasing length.
    Without ``lengths`` the packed array is the time-major input itself.
    """

    def __init__(self, T, B, lengths, batch_first):
        self.T, self.B, self.batch_first = T, B, batch_first
        self.order = None
        if lengths is None:
            self.batch_sizes = np.full(T, B, np.int64)
            self.sorted_lengths = np.full(B, T, np.int64)
        else:
            order = np.argsort(-lengths, kind="stable")
            self.sorted_lengths = lengths[order]
            run = int(self.sorted_lengths[0])
            self.batch_sizes = (self.sorted_lengths[None, :] > np.arange(run)[:, None]).sum(1)
            self.order = order
        self.offsets = np.concatenate([[0], np.cumsum(self.batch_sizes)[:-1]]).astype(np.int64)
        self.N = int(self.batch_sizes.sum())
        if self.order is not None:
            self.steps = np.repeat(np.arange(len(self.batch_sizes)), self.batch_sizes)
            self.seqs = self.order[np.arange(self.N) - self.offsets[self.steps]]

    def row_starts(self, n_tasks):
        """Boundaries (n_tasks + 1,) of contiguous batch-row ranges of about equal work
        (sum of lengths), for the kernels' time loops."""
        work = np.concatenate([[0], np.cumsum(self.sorted_lengths)])
        cuts = np.searchsorted(work, np.arange(1, n_tasks) * work[-1] / n_tasks)
        return np.concatenate([[0], cuts, [self.B]]).astype(np.int64)

    def _index(self):
        return (self.seqs, self.steps) if self.batch_first else (self.steps, self.seqs)

    def pack(self, x):
        """(T, B, F) or (B, T, F) padded -> (N, F) packed, C-contiguous."""
        if self.order is not None:
            return np.ascontiguousarray(x[self._index()])
        if self.batch_first:
            x = x.transpose(1, 0, 2)
        return np.ascontiguousarray(x).reshape(self.N, x.shape[-1])

    def unpack(self, y):
        """(N, F) packed -> padded (T, B, F) or (B, T, F), zeros past each length."""
        F = y.shape[-1]
        if self.order is not None:
            shape = (self.B, self.T, F) if self.batch_first else (self.T, self.B, F)
            out = np.zeros(shape, y.dtype)
            out[self._index()] = y
            return out
        y = y.reshape(self.T, self.B, F)
        return np.ascontiguousarray(y.transpose(1, 0, 2)) if self.batch_first else y

    def sort_states(self, h):
        """(K, B, S) states in the caller's batch order -> sorted order (a copy)."""
        return np.array(h if self.order is None else h[:, self.order], order="C")

    def unsort_states(self, h):
        if self.order is None:
            return h
        out = np.empty_like(h)
        out[:, self.order] = h
        return out


# ---------------------------------------------------------------- core
def _sizes(spec, packing):
    """(dtype, N, B, H, Hr, GH, D, lstm, gru, n_threads) of a run: packed rows, batch,
    hidden and state size, gate width, directions, the mode flags and the projection
    GEMMs' thread count."""
    GH = spec.gates * spec.hidden_size
    return (spec.dtype, packing.N, packing.B, spec.hidden_size, spec.state_size, GH,
            spec.num_directions, spec.mode == "LSTM", spec.mode == "GRU",
            _kernels.threads_for(packing.N * GH, _PROJECTION_GRAIN))


def _forward_core(spec, weights, x, packing, h0, c0, dropout_masks=None):
    """Run every layer on packed ``x`` (N, I) from sorted states h0 (K, B, Hr), c0 (K, B, H).

    ``weights``: per layer-direction tuples from :meth:`_Spec.split` (ready arrays).
    ``dropout_masks``: multipliers (N, D Hr) for the outputs of layers 0 ... L-2, or None.
    Returns (packed output, h_n, c_n, cache for :func:`_backward_core`); states sorted.
    """
    kern = _rnn_kernels()
    dt, N, B, H, Hr, GH, D, lstm, gru, n_threads = _sizes(spec, packing)
    h_n = np.empty_like(h0)
    c_n = np.empty_like(c0) if lstm else None
    dummy = _placeholder(dt)
    work = np.empty((B, GH), dt) if gru else dummy
    zero_bias = None if spec.has_bias else np.zeros(GH, dt)
    inputs, saved = [], []
    inp = x
    for layer in range(spec.num_layers):
        out = np.empty((N, D * Hr), dt)
        for d in range(D):
            k = layer * D + d
            w_ih, w_hh, b_ih, b_hh, w_hr = weights[k]
            gates = np.empty((N, GH), dt)
            hprev = np.empty((N, Hr), dt)
            cprev, cell = (np.empty((N, H), dt), np.empty((N, H), dt)) if lstm \
                else (dummy, dummy)
            extra = np.empty((N, H), dt) if gru or spec.proj_size else dummy
            h_n[k] = h0[k]
            if lstm:
                c_n[k] = c0[k]
            b_ih, b_hh = (b_ih, b_hh) if spec.has_bias else (zero_bias, zero_bias)
            kern.input_projection(inp, w_ih, b_ih, b_hh, not gru, gates, n_threads)
            with _time_loop_threads(spec, packing) as (n_tasks, row_starts):
                kern.forward_steps(spec.code, w_hh, b_hh, w_hr if spec.proj_size else dummy,
                                   bool(spec.proj_size), packing.batch_sizes,
                                   packing.offsets, d == 1, out, d * Hr, gates, hprev, cprev,
                                   cell, extra, h_n[k], c_n[k] if lstm else dummy, work,
                                   row_starts, n_tasks)
            saved.append((gates, hprev, cprev, cell, extra))
        inputs.append(inp)
        if dropout_masks is not None and layer < spec.num_layers - 1:
            out = out * dropout_masks[layer]
        inp = out
    cache = (spec, weights, packing, inputs, saved, dropout_masks)
    return inp, h_n, c_n, cache


def _backward_core(cache, grad_out, grad_h_n, grad_c_n, grads, need_grad_x=True):
    """BPTT through the network of ``cache``; adds parameter gradients to ``grads``.

    grad_out (N, D Hr) packed; grad_h_n (K, B, Hr), grad_c_n (K, B, H) sorted (zeros
    when the loss does not use them). ``grads``: per layer-direction tuples of arrays
    shaped like the weights (None where absent). Returns (grad_x packed or None,
    grad_h0, grad_c0), states sorted.
    """
    spec, weights, packing, inputs, saved, dropout_masks = cache
    kern = _rnn_kernels()
    dt, N, B, H, Hr, GH, D, lstm, gru, n_threads = _sizes(spec, packing)
    dummy = _placeholder(dt)
    dgx = np.empty((N, GH), dt)
    dgh = np.empty((N, GH), dt) if gru else dgx
    dhtot = np.empty((N, Hr), dt)
    dhraw = np.empty((B, H), dt) if spec.proj_size else dummy
    scratch_bias = None if spec.has_bias else np.zeros(GH, dt)  # sums nobody reads
    grad_h0 = np.array(grad_h_n, dt, order="C")
    grad_c0 = np.array(grad_c_n, dt, order="C") if lstm else None
    g = np.ascontiguousarray(grad_out)
    for layer in range(spec.num_layers - 1, -1, -1):
        want_x = layer > 0 or need_grad_x
        grad_x = np.empty((N, spec.layer_input_size(layer)), dt) if want_x else dummy
        for d in range(D):
            k = layer * D + d
            w_ih, w_hh, _, _, w_hr = weights[k]
            gw_ih, gw_hh, gb_ih, gb_hh, gw_hr = grads[k]
            gates, hprev, cprev, cell, extra = saved[k]
            with _time_loop_threads(spec, packing) as (n_tasks, row_starts):
                kern.backward_steps(spec.code, w_hh, w_hr if spec.proj_size else dummy,
                                    bool(spec.proj_size), packing.batch_sizes,
                                    packing.offsets, d == 1, g, d * Hr, gates, hprev, cprev,
                                    cell, extra, grad_h0[k], grad_c0[k] if lstm else dummy,
                                    dgx, dgh, dhtot, dhraw, row_starts, n_tasks)
            kern.weight_gradients(inputs[layer], w_ih, dgx, dgh, hprev, dhtot, extra,
                                  bool(spec.proj_size), grad_x, want_x, d > 0, gw_ih, gw_hh,
                                  gb_ih if spec.has_bias else scratch_bias,
                                  gb_hh if spec.has_bias else scratch_bias,
                                  gw_hr if spec.proj_size else dummy, n_threads)
        if layer > 0 and dropout_masks is not None:
            grad_x *= dropout_masks[layer - 1]
        g = grad_x
    return (g if need_grad_x else None), grad_h0, grad_c0


# ---------------------------------------------------------------- public functional form
class _Problem:
    """Validated arguments of :func:`rnn` / :func:`rnn_backward`."""

    def __init__(self, x, weights, hx, mode, num_layers, bidirectional, batch_first,
                 lengths):
        self.mode = check_option(mode, "mode", MODES)
        num_layers = check_positive_int(num_layers, "num_layers")
        batch_first = check_bool(batch_first, "batch_first")
        D = 2 if check_bool(bidirectional, "bidirectional") else 1
        K = int(num_layers) * D
        weights = list(weights)
        if not weights or len(weights) % K:
            raise ValueError(f"weights must hold the same number of arrays for each of the "
                             f"{K} layer-directions, got {len(weights)}")
        per = len(weights) // K
        if per not in (2, 3, 4, 5) or (per in (3, 5) and self.mode != "LSTM"):
            raise ValueError(f"weights: {per} arrays per layer-direction; expected w_ih, "
                             f"w_hh[, b_ih, b_hh][, w_hr (LSTM only)]")
        biases = (2, 3) if per >= 4 else ()  # w_ih, w_hh[, b_ih, b_hh][, w_hr]
        weights = [check_array(w, f"weights[{i}]", ndim=1 if i % per in biases else 2,
                               finite=False) for i, w in enumerate(weights)]
        x = check_array(x, "x", ndim=(2, 3))
        self.unbatched = x.ndim == 2
        if self.unbatched:
            x = x[:, None] if not batch_first else x[None]
        if batch_first:
            B, T = x.shape[:2]
        else:
            T, B = x.shape[:2]
        check_nonempty_axes(x, "x", (0, 1), "step and sequence axes")
        if lengths is not None and self.unbatched:
            raise ValueError("lengths needs a batched x (3-D)")
        dtype = weights[0].dtype
        check_dtype(x, "x", dtype, "the weights are")
        H = weights[1].shape[1] if per in (2, 4) else weights[per - 1].shape[1]
        proj = weights[per - 1].shape[0] if per in (3, 5) else 0
        self.spec = _Spec(self.mode, weights[0].shape[1], H, int(num_layers), D, per >= 4,
                          proj, dtype)
        if x.shape[-1] != self.spec.input_size:
            raise ValueError(f"x must have {self.spec.input_size} features (the columns of "
                             f"w_ih), got shape {_shape_str(x.shape)}")
        for i, (w, shape) in enumerate(zip(weights, (s for layer in range(num_layers)
                                                     for _ in range(D)
                                                     for s in self.spec.weight_shapes(layer)))):
            if w.shape != shape or w.dtype != dtype:
                raise ValueError(f"weights[{i}] must have shape {_shape_str(shape)} and dtype "
                                 f"{dtype}, got {_shape_str(w.shape)} {w.dtype}")
        self.weights = self.spec.split(weights)
        lengths = None if lengths is None else check_lengths(lengths, B, T)
        self.packing = _Packing(T, B, lengths, batch_first)
        self.x = self.packing.pack(x)
        self.hx_given = hx is not None
        self.h0, self.c0 = self._states(hx, B)

    def _states(self, hx, B):
        spec = self.spec
        K = spec.num_layers * spec.num_directions
        h_shape, c_shape = (K, B, spec.state_size), (K, B, spec.hidden_size)
        if hx is None:
            h0 = np.zeros(h_shape, spec.dtype)
            return h0, np.zeros(c_shape, spec.dtype) if spec.mode == "LSTM" else None
        if spec.mode == "LSTM":
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError("hx of an LSTM must be a tuple (h0, c0)")
            h0, c0 = hx
        else:
            h0, c0 = hx, None
        h0 = self._state(h0, "hx" if c0 is None else "h0", h_shape)
        c0 = None if c0 is None else self._state(c0, "c0", c_shape)
        return h0, c0

    def _state(self, h, name, shape):
        if self.unbatched:
            h = check_state(h, name, (shape[0], shape[2]), self.spec.dtype)[:, None]
        else:
            h = check_state(h, name, shape, self.spec.dtype)
        return self.packing.sort_states(h)

    def shape_states(self, h):
        h = self.packing.unsort_states(h)
        return h[:, 0] if self.unbatched else h

    def shape_output(self, y):
        out = self.packing.unpack(y)
        if self.unbatched:
            out = out[:, 0] if not self.packing.batch_first else out[0]
        return out

    def pack_grad(self, grad, name, shape):
        """A gradient of the (padded) output, checked against its ``shape``, or None."""
        if grad is None:
            return None
        g = check_array(grad, name, dtype=None, finite=False)
        return check_dtype(check_shape(g, name, tuple(shape)), name, self.spec.dtype,
                           "the output is")


def _result(mode, out, h_n, c_n):
    return (out, (h_n, c_n)) if mode == "LSTM" else (out, h_n)


def rnn(x, weights, hx=None, *, mode, num_layers=1, bidirectional=False, batch_first=False,
        lengths=None):
    """Stacked recurrent network (RNN_TANH, RNN_RELU, LSTM, GRU), PyTorch's semantics.

    Parameters
    ----------
    x : array_like, shape (T, B, I), (B, T, I) with ``batch_first``, or unbatched (T, I)
    weights : sequence of arrays, ``torch.nn.<RNN>._flat_weights`` order (module docstring)
    hx : array (K, B, Hr) for RNN/GRU, tuple (h0 (K, B, Hr), c0 (K, B, H)) for LSTM;
        K = num_layers * (2 if bidirectional else 1); zeros when None.
    mode : "RNN_TANH", "RNN_RELU", "LSTM" or "GRU"
    lengths : 1-D ints (B,), optional; valid steps of each sequence (1 ... T).

    Returns
    -------
    (output, h_n) or, for LSTM, (output, (h_n, c_n)); output is (T, B, D Hr)
    (batch_first: (B, T, D Hr)), zero past each sequence's length; dtype of x.
    """
    prob = _Problem(x, weights, hx, mode, num_layers, bidirectional, batch_first, lengths)
    y, h_n, c_n, _ = _forward_core(prob.spec, prob.weights, prob.x, prob.packing, prob.h0,
                                   prob.c0)
    c_n = None if c_n is None else prob.shape_states(c_n)
    return _result(prob.mode, prob.shape_output(y), prob.shape_states(h_n), c_n)


def rnn_backward(grad_output, x, weights, hx=None, grad_h_n=None, grad_c_n=None, *, mode,
                 num_layers=1, bidirectional=False, batch_first=False, lengths=None):
    """Gradients of ``sum(grad_output * output) + sum(grad_h_n * h_n) + sum(grad_c_n * c_n)``.

    Arguments as :func:`rnn` (the forward pass is recomputed); ``grad_output`` has the
    output's shape, ``grad_h_n`` / ``grad_c_n`` the final states' (None = zero).

    Returns
    -------
    grad_x : shaped like x
    grad_hx : like hx (a tuple for LSTM), None when hx is None
    grad_weights : list shaped like ``weights``
    """
    prob = _Problem(x, weights, hx, mode, num_layers, bidirectional, batch_first, lengths)
    spec = prob.spec
    y, h_n, c_n, cache = _forward_core(spec, prob.weights, prob.x, prob.packing, prob.h0,
                                       prob.c0)
    g = prob.pack_grad(grad_output, "grad_output", prob.shape_output(y).shape)
    g = np.zeros_like(y) if g is None else prob.packing.pack(_batched(g, prob))
    gh = np.zeros_like(h_n) if grad_h_n is None else prob._state(grad_h_n, "grad_h_n",
                                                                    h_n.shape)
    gc = None
    if c_n is not None:
        gc = np.zeros_like(c_n) if grad_c_n is None else prob._state(grad_c_n, "grad_c_n",
                                                                        c_n.shape)
    flat_grads = [None if w is None else np.zeros_like(w) for k in prob.weights for w in k]
    grads = [tuple(flat_grads[5 * k:5 * k + 5]) for k in range(len(prob.weights))]
    grad_x, grad_h0, grad_c0 = _backward_core(cache, g, gh, gc, grads)
    grad_x = prob.shape_output(grad_x)
    grad_hx = None
    if prob.hx_given:
        grad_hx = prob.shape_states(grad_h0)
        if spec.mode == "LSTM":
            grad_hx = (grad_hx, prob.shape_states(grad_c0))
    return grad_x, grad_hx, [g for g in flat_grads if g is not None]


def _batched(a, prob):
    """A padded output-shaped array of an unbatched problem with its batch axis back."""
    if not prob.unbatched:
        return a
    return a[None] if prob.packing.batch_first else a[:, None]


# ---------------------------------------------------------------- cells
def _cell(mode, x, hx, w_ih, w_hh, b_ih, b_hh):
    weights = [w_ih, w_hh] + ([b_ih, b_hh] if b_ih is not None else [])
    x = check_array(x, "x", ndim=(1, 2))
    if mode == "LSTM":
        hx = None if hx is None else tuple(np.asarray(h)[None] for h in hx)
    elif hx is not None:
        hx = np.asarray(hx)[None]
    out, state = rnn(x[None], weights, hx, mode=mode)
    if mode == "LSTM":
        return state[0][0], state[1][0]
    return out[0]


def rnn_tanh_cell(x, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One step h' = tanh(W_ih x + b_ih + W_hh h + b_hh); x (B, I) or (I,), hx like h'."""
    return _cell("RNN_TANH", x, hx, w_ih, w_hh, b_ih, b_hh)


def rnn_relu_cell(x, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One step h' = relu(W_ih x + b_ih + W_hh h + b_hh)."""
    return _cell("RNN_RELU", x, hx, w_ih, w_hh, b_ih, b_hh)


def lstm_cell(x, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One LSTM step; ``hx = (h, c)`` (or None for zeros); returns (h', c')."""
    return _cell("LSTM", x, hx, w_ih, w_hh, b_ih, b_hh)


def gru_cell(x, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One GRU step (reset gate applied to W_hn h + b_hn, as PyTorch); returns h'."""
    return _cell("GRU", x, hx, w_ih, w_hh, b_ih, b_hh)
