"""Fuzz specs of fastml.nn's recurrent and positional names (RNN/LSTM/GRU, rotary, ALiBi,
RMSNorm); the transformer blocks are still pending (see EXEMPT)."""

import numpy as np

from fastml import nn
from fastml.nn import functional as F
from fuzz_specs import HUGE, Spec
from fuzz_specs.nn import _INPUT, layer

_SIZE = [0, -1, 2.5, HUGE]


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
    _recurrent(nn.RNN), _recurrent(nn.LSTM), _recurrent(nn.GRU),
    _recurrent(nn.RNNCell, shape=(2, 3)), _recurrent(nn.LSTMCell, shape=(2, 3)),
    _recurrent(nn.GRUCell, shape=(2, 3)),
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

PENDING = "new in this session, spec still to write"

EXEMPT = {
    "fastml.nn.PackedSelfAttention": PENDING,
    "fastml.nn.TransformerDecoderLayer": PENDING,
    "fastml.nn.TransformerEncoder": PENDING,
    "fastml.nn.TransformerEncoderLayer": PENDING,
    "fastml.nn.functional.rnn": PENDING,
    "fastml.nn.functional.rnn_backward": PENDING,
}
