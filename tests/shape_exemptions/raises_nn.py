"""Raises in fastml/nn/ that are not single-argument checks (see __init__.py)."""
RAISES = {
    "fastml/nn/_attention.py": {
        "cross-argument: x's width vs the layer's embed_dim": 1,
    },
    "fastml/nn/_gradcheck.py": {
        "state: the module's parameters are not float64 (call .double())": 1,
    },
    "fastml/nn/_layers.py": {
        "cross-argument: x's features / channels vs the layer's in_features, num_features "
        "or in_channels": 3,
        "cross-argument: start_dim / end_dim out of range for x's ndim, or start_dim after "
        "end_dim": 2,
    },
    "fastml/nn/_module.py": {
        "cross-argument: a state_dict entry's shape vs the module's parameter": 1,
        "cross-argument: the block's and the skip path's outputs for x differ in shape": 1,
    },
    "fastml/nn/_rnn.py": {
        "cross-argument: proj_size must be smaller than hidden_size": 1,
        "cross-argument: x's shape vs the module's input_size (and batch_first)": 2,
        "cross-argument: a cell-state gradient given to a module without a cell (not LSTM)": 2,
    },
    "fastml/nn/_transformer.py": {
        "cross-argument: x's trailing axes / width vs the layer's normalized_shape, n_embd or "
        "d_model": 3,
        "cross-argument: attn_mask / key_padding_mask shape vs batch, heads and the query and "
        "key lengths": 2,
        "cross-argument: tgt and memory batch sizes differ": 1,
    },
    "fastml/nn/functional/_attention.py": {
        "cross-argument: q, k, v (or x_q, x_kv) disagree in ndim, batch axes, head dimension "
        "or sequence length": 5,
        "cross-argument: mask not broadcastable to (batch..., Nq, Nk), or a 4-D mask with "
        "unbatched inputs": 2,
        "data content: an additive mask holds NaN or +inf (-inf is allowed)": 1,
        "cross-argument: grad_out / out / lse shapes vs the output of q, k, v": 3,
        "cross-argument: give both out and lse or neither": 1,
        "cross-argument: num_heads must divide x_q's embedding dimension": 1,
    },
    "fastml/nn/functional/_conv.py": {
        "cross-argument: channels of x vs w and groups (and at least one input channel)": 3,
        "cross-argument: padding='same' with a stride != 1": 1,
        "cross-argument: the dilated kernel or the pooling window is larger than the padded "
        "input": 2,
        "cross-argument: pooling padding more than half the kernel size": 1,
        "cross-argument: grad_out / indices shape vs the output geometry of x, w, stride, "
        "padding": 3,
    },
    "fastml/nn/functional/_core.py": {
        "cross-argument: x's features vs weight's in_features, or x's trailing axes vs "
        "normalized_shape": 2,
        "cross-argument: running_mean / running_var must be C-contiguous in-place buffers of "
        "x's dtype and channels": 1,
        "cross-argument: training needs more than one value per channel / eval needs the "
        "running statistics": 2,
        "cross-argument: target's length and values vs input's rows, classes and "
        "ignore_index": 2,
        "cross-argument: pos_weight does not broadcast to input": 1,
    },
    "fastml/nn/functional/_positional.py": {
        "cross-argument: cos and sin shape vs x's (seq_len, head_dim / 2)": 1,
    },
    "fastml/nn/functional/_rnn.py": {
        "data content: lengths must be whole numbers (a test pins ValueError for float "
        "lengths, where check_index_array raises TypeError)": 1,
        "cross-argument: lengths vs x's sequence length, or lengths with an unbatched x": 2,
        "cross-argument: the number, shapes and dtypes of weights vs num_layers, "
        "bidirectional, mode and each other": 3,
        "cross-argument: x's features vs the columns of w_ih": 1,
        "cross-argument: hx of an LSTM (mode) must be a tuple (h0, c0)": 1,
    },
    "fastml/nn/optim.py": {
        "state: a parameter's data or grad changed dtype, size or layout after the optimizer "
        "was created": 1,
        "cross-argument: a state_dict's groups / state sizes vs this optimizer's": 2,
        "cross-argument: nesterov needs momentum > 0 and dampening == 0": 1,
        "cross-argument: milestones vs the number of schedulers, schedulers vs the "
        "optimizer": 2,
    },
}
