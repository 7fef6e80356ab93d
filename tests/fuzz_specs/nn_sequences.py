"""Fuzz specs of fastml.nn's sequence names: recurrent layers, cells and the functional
rnn (RNN/LSTM/GRU), rotary, ALiBi, RMSNorm and the transformer blocks."""

import numpy as np

from fastml import nn
from fastml.nn import functional as F
from fuzz_specs import HUGE, Spec
from fuzz_specs.nn import _INPUT, layer

_SIZE = [0, -1, 2.5, HUGE]


_FLAG = [1, 0.0, "yes", None]  # truthy/falsy non-bools where a bool is documented


def _recurrent(cls, shape=(5, 2, 3), **options):
    def run(x, **kw):
        m = cls(3, 4, dtype=x.dtype if x.dtype in (np.float32, np.float64) else np.float64,
                random_state=0, **kw)
        out = m(x)
        first = out[0] if isinstance(out, tuple) else out
        return out, m.backward(np.ones_like(first)), [p.grad for p in m.parameters()]

    return Spec(f"fastml.nn.{cls.__name__}",
                lambda rng, dtype: {"x": rng.standard_normal(shape).astype(dtype)},
                run, nonfinite_ok="all", aliases=_INPUT, any_ndim=("x",), **options)


def _cell_inputs(gates):
    def make(rng, dtype):
        h = 4
        return {"x": rng.standard_normal((2, 3)).astype(dtype),
                "hx": rng.standard_normal((2, h)).astype(dtype) if gates != 4 else
                (rng.standard_normal((2, h)).astype(dtype),
                 rng.standard_normal((2, h)).astype(dtype)),
                "w_ih": rng.standard_normal((gates * h, 3)).astype(dtype),
                "w_hh": rng.standard_normal((gates * h, h)).astype(dtype),
                "b_ih": rng.standard_normal(gates * h).astype(dtype),
                "b_hh": rng.standard_normal(gates * h).astype(dtype)}
    return make


def _cell(name, gates):
    fn = getattr(F, name)
    # the cells check their parameters as the packed list weights[0..3]
    aliases = {n: (f"weights[{i}]",) for i, n in enumerate(("w_ih", "w_hh", "b_ih", "b_hh"))}
    aliases["x"] = ("h0", "c0")  # an unbatched x conflicts with the (batched) state
    return Spec(f"fastml.nn.functional.{name}", _cell_inputs(gates), lambda **kw: fn(**kw),
                same_length=(("x", "hx"),) if gates != 4 else (), nonfinite_ok="all",
                any_ndim=("x", "hx"), aliases=aliases)


def _rope(rng, dtype):
    cos, sin = F.rotary_frequencies(6, 4, dtype=dtype)
    return {"x": rng.standard_normal((2, 2, 6, 4)).astype(dtype), "cos": cos, "sin": sin}


SPECS = [
    *[_recurrent(cls, bad_params={"bias": _FLAG, "batch_first": _FLAG, "bidirectional": _FLAG,
                                  "num_layers": _SIZE, "dropout": [-0.1, 1.0, np.nan]})
      for cls in (nn.RNN, nn.LSTM, nn.GRU)],
    *[_recurrent(cls, shape=(2, 3), bad_params={"bias": _FLAG})
      for cls in (nn.RNNCell, nn.LSTMCell, nn.GRUCell)],
    _cell("rnn_tanh_cell", 1), _cell("rnn_relu_cell", 1), _cell("gru_cell", 3),
    _cell("lstm_cell", 4),
    layer(nn.RMSNorm, (3, 5), params={"normalized_shape": 5}, any_ndim=("x",),
          bad_params={"normalized_shape": [0, -1, HUGE], "eps": [-1.0]}),
    Spec("fastml.nn.functional.apply_rotary", _rope, lambda **kw: F.apply_rotary(**kw),
         also=("fastml.nn.functional.rotary_frequencies",), nonfinite_ok="all",
         any_ndim=("x",)),
    Spec("fastml.nn.functional.apply_rotary_backward",
         lambda rng, dtype: {"grad_out": _rope(rng, dtype).pop("x"),
                             **{k: v for k, v in _rope(rng, dtype).items() if k != "x"}},
         lambda **kw: F.apply_rotary_backward(**kw), nonfinite_ok="all",
         any_ndim=("grad_out",)),
    Spec("fastml.nn.functional.sinusoidal_positional_encoding",
         lambda rng, dtype: {"num_positions": 5, "dim": 4},
         lambda **kw: F.sinusoidal_positional_encoding(**kw), dtypes=("float64",),
         bad_params={"num_positions": [-1, 2.5], "dim": [0, -2], "base": [0.0, np.nan]}),
    Spec("fastml.nn.functional.alibi_bias",
         lambda rng, dtype: {"num_heads": 4, "num_queries": 3, "num_keys": 5},
         lambda **kw: (F.alibi_bias(**kw), F.alibi_slopes(kw["num_heads"])),
         also=("fastml.nn.functional.alibi_slopes",), dtypes=("float64",),
         bad_params={"num_heads": [0, -1, 2.5], "num_queries": [-1], "num_keys": [-1]}),
]



def _gru_weights(rng, dtype, hidden=4, inputs=3):
    """One GRU layer's weights in torch's ``_flat_weights`` order."""
    return [rng.standard_normal(shape).astype(dtype) for shape in
            ((3 * hidden, inputs), (3 * hidden, hidden), (3 * hidden,), (3 * hidden,))]


def _rnn_inputs(rng, dtype):
    return {"x": rng.standard_normal((5, 2, 3)).astype(dtype),
            "weights": _gru_weights(rng, dtype),
            "hx": rng.standard_normal((1, 2, 4)).astype(dtype), "mode": "GRU"}


def _rnn_backward_inputs(rng, dtype):
    return {"grad_output": rng.standard_normal((5, 2, 4)).astype(dtype),
            **_rnn_inputs(rng, dtype)}


# x and hx conflict with each other and with the weights: an error may name any of them
_RNN_ALIASES = {"x": ("weights", "hx", "lengths"), "hx": ("weights", "x"),
                "grad_output": ("x",)}
_RNN_BAD = {"mode": ["XYZ", None], "num_layers": [0, -1, 2.5], "bidirectional": _FLAG,
            "batch_first": _FLAG, "lengths": [[6, 1], [0, 1], [1.5, 2.0], [1, 2, 3]]}


def _transformer_layer(cls, arrays, **options):
    """A torch-style transformer layer (batch_first, no dropout) forward + backward."""
    def make(rng, dtype):
        shapes = {"src": (2, 5, 8), "tgt": (2, 4, 8), "memory": (2, 5, 8)}
        return {n: rng.standard_normal(shapes[n]).astype(dtype) for n in arrays}

    def run(**kw):
        inputs = [kw.pop(n) for n in arrays]
        dtype = inputs[0].dtype if inputs[0].dtype in (np.float32, np.float64) else np.float64
        m = cls(**{"d_model": 8, "nhead": 2, "dim_feedforward": 16, "dropout": 0.0,
                   "batch_first": True, "random_state": 0, "dtype": dtype, **kw})
        out = m(*inputs)
        return out, m.backward(np.ones_like(out)), [p.grad for p in m.parameters()]

    aliases = {n: ("input", "dtype", *arrays) for n in arrays}
    return Spec(f"fastml.nn.{cls.__name__}", make, run, arrays=arrays, nonfinite_ok="all",
                aliases=aliases, any_ndim=arrays,  # (S, E) is an unbatched input
                bad_params={"d_model": _SIZE, "nhead": [0, 3, -1], "dim_feedforward": _SIZE,
                            "layer_norm_eps": [-1.0, np.nan], "activation": ["swish?"],
                            "dropout": [-0.1, 1.5], "batch_first": _FLAG,
                            "norm_first": _FLAG, "bias": _FLAG},
                **options)


def _encoder(src, **kw):
    dtype = src.dtype if src.dtype in (np.float32, np.float64) else np.float64
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0,
                                       batch_first=True, dtype=dtype, random_state=0)
    m = nn.TransformerEncoder(layer, **{"num_layers": 2, **kw})
    out = m(src)
    return out, m.backward(np.ones_like(out)), [p.grad for p in m.parameters()]


def _packed_attention(x, **kw):
    dtype = x.dtype if x.dtype in (np.float32, np.float64) else np.float64
    m = nn.PackedSelfAttention(**{"n_embd": 6, "n_head": 2, "random_state": 0,
                                  "dtype": dtype, **kw})
    out = m(x)
    return out, m.backward(np.ones_like(out)), [p.grad for p in m.parameters()]


SPECS += [
    Spec("fastml.nn.functional.rnn", _rnn_inputs,
         lambda **kw: F.rnn(**kw), arrays=("x", "hx"), any_ndim=("x", "hx"),
         nonfinite_ok=("hx",), aliases=_RNN_ALIASES, bad_params=_RNN_BAD),
    Spec("fastml.nn.functional.rnn_backward", _rnn_backward_inputs,
         lambda **kw: F.rnn_backward(**kw), arrays=("grad_output", "x", "hx"),
         any_ndim=("x", "hx"), nonfinite_ok=("grad_output", "hx"), aliases=_RNN_ALIASES,
         same_length=(("x", "grad_output"),), bad_params=_RNN_BAD),
    Spec("fastml.nn.PackedSelfAttention",
         lambda rng, dtype: {"x": rng.standard_normal((2, 5, 6)).astype(dtype)},
         _packed_attention, nonfinite_ok="all", aliases=_INPUT, any_ndim=("x",),
         bad_params={"n_embd": _SIZE, "n_head": [0, 4, -1], "dropout": [-0.1, 1.5],
                     "causal": _FLAG, "bias": _FLAG}),
    _transformer_layer(nn.TransformerEncoderLayer, ("src",)),
    _transformer_layer(nn.TransformerDecoderLayer, ("tgt", "memory"),
                       same_length=(("tgt", "memory"),)),
    Spec("fastml.nn.TransformerEncoder",
         lambda rng, dtype: {"src": rng.standard_normal((2, 5, 8)).astype(dtype)},
         _encoder, nonfinite_ok="all", aliases={"src": ("input", "dtype")},
         any_ndim=("src",), bad_params={"num_layers": _SIZE}),
]
