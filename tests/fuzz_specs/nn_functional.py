"""Fuzz specs of fastml.nn.functional (PyTorch layouts: NCHW, (B, H, N, d))."""

import numpy as np

from fastml.nn import functional as F
from fuzz_specs import HUGE, Spec


def _randn(rng, shape, dtype):
    return rng.standard_normal(shape).astype(dtype)


def _elementwise(name, backward_arg=None, **params):
    """Specs of an activation and its backward (``backward_arg``: "x" or "y").

    Activations propagate NaN and infinity as NumPy does (documented in _core)."""
    fn = getattr(F, name)
    specs = [Spec(f"fastml.nn.functional.{name}",
                  lambda rng, dtype: {"x": _randn(rng, (3, 4), dtype), **params},
                  lambda x, **kw: fn(x, **kw), any_ndim=("x",), nonfinite_ok=("x",))]
    if backward_arg:
        bw = getattr(F, f"{name}_backward")

        def make(rng, dtype):
            return {"grad_out": _randn(rng, (3, 4), dtype),
                    backward_arg: _randn(rng, (3, 4), dtype), **params}

        specs.append(Spec(f"fastml.nn.functional.{name}_backward", make,
                          lambda grad_out, **kw: bw(grad_out, **kw),
                          any_ndim=("grad_out", backward_arg),
                          nonfinite_ok=("grad_out", backward_arg),
                          same_length=(("grad_out", backward_arg),)))
    return specs


_GEOMETRY = {"stride": [0, -1, 1.5, HUGE], "padding": [-1, "same?", HUGE],
             "dilation": [0, -2]}


def _conv_inputs(ndim):
    def make(rng, dtype):
        spatial = (6,) * ndim
        return {"x": _randn(rng, (2, 4) + spatial, dtype),
                "w": _randn(rng, (6, 2) + (3,) * ndim, dtype),
                "b": _randn(rng, (6,), dtype), "groups": 2, "padding": 1}
    return make


def _conv_backward_inputs(ndim):
    def make(rng, dtype):
        kw = _conv_inputs(ndim)(rng, dtype)
        del kw["b"]
        kw["grad_out"] = _randn(rng, (2, 6) + (6,) * ndim, dtype)
        return kw
    return make


def _pool_inputs(rng, dtype):
    return {"x": _randn(rng, (2, 3, 6, 6), dtype), "kernel_size": 2}


def _pool_backward_inputs(rng, dtype):
    return {"grad_out": _randn(rng, (2, 3, 3, 3), dtype), **_pool_inputs(rng, dtype)}


_POOL_PARAMS = {"kernel_size": [0, -1, (2,), HUGE, 2.5], "stride": [0, -1],
                "padding": [-1, 5]}


def _attention_inputs(rng, dtype):
    return {"q": _randn(rng, (2, 2, 5, 4), dtype), "k": _randn(rng, (2, 2, 7, 4), dtype),
            "v": _randn(rng, (2, 2, 7, 3), dtype)}


def _attention_backward_inputs(rng, dtype):
    return {"grad_out": _randn(rng, (2, 2, 5, 3), dtype), **_attention_inputs(rng, dtype)}


def _mha_inputs(rng, dtype, e=6):
    kw = {"x_q": _randn(rng, (2, 5, e), dtype), "x_kv": _randn(rng, (2, 4, e), dtype),
          "num_heads": 2}
    for p in "qkvo":
        kw[f"w_{p}"] = _randn(rng, (e, e), dtype) / e
        kw[f"b_{p}"] = _randn(rng, (e,), dtype)
    return kw


def _mha_backward_inputs(rng, dtype):
    return {"grad_out": _randn(rng, (2, 5, 6), dtype), **_mha_inputs(rng, dtype)}


def _norm_inputs(rng, dtype):
    return {"x": _randn(rng, (4, 3, 2), dtype), "running_mean": _randn(rng, (3,), dtype),
            "running_var": 1 + rng.random(3).astype(dtype), "weight": _randn(rng, (3,), dtype),
            "bias": _randn(rng, (3,), dtype)}


def _layer_norm_inputs(rng, dtype):
    return {"x": _randn(rng, (3, 2, 5), dtype), "normalized_shape": (5,),
            "weight": _randn(rng, (5,), dtype), "bias": _randn(rng, (5,), dtype)}


def _loss_inputs(rng, dtype):
    return {"input": _randn(rng, (4, 3), dtype), "target": rng.random((4, 3)).astype(dtype)}


def _ce_inputs(rng, dtype):
    return {"input": _randn(rng, (5, 3), dtype), "target": rng.integers(0, 3, 5)}


_REDUCTION = {"reduction": ["average", None, 1]}

SPECS = [
    *_elementwise("relu", "x"),
    *_elementwise("gelu", "x"),
    *_elementwise("leaky_relu", "x"),
    *_elementwise("sigmoid", "y"),
    *_elementwise("silu", "x"),
    *_elementwise("tanh", "y"),
    *_elementwise("softmax", "y"),
    *_elementwise("log_softmax"),
    Spec("fastml.nn.functional.conv1d", _conv_inputs(1), lambda **kw: F.conv1d(**kw),
         any_ndim=("x",),
         bad_params={**_GEOMETRY, "groups": [0, 3, -1]}),
    Spec("fastml.nn.functional.conv2d", _conv_inputs(2), lambda **kw: F.conv2d(**kw),
         any_ndim=("x",),
         bad_params={**_GEOMETRY, "groups": [0, 3, -1]}),
    Spec("fastml.nn.functional.conv1d_backward", _conv_backward_inputs(1),
         lambda **kw: F.conv1d_backward(**kw), bad_params={"groups": [0, 3]}),
    Spec("fastml.nn.functional.conv2d_backward", _conv_backward_inputs(2),
         lambda **kw: F.conv2d_backward(**kw), bad_params={"groups": [0, 3]}),
    Spec("fastml.nn.functional.max_pool2d", _pool_inputs, lambda **kw: F.max_pool2d(**kw),
         any_ndim=("x",),
         nonfinite_ok=("x",), bad_params=_POOL_PARAMS),
    Spec("fastml.nn.functional.max_pool2d_backward", _pool_backward_inputs,
         lambda **kw: F.max_pool2d_backward(**kw), nonfinite_ok=("x",),
         bad_params=_POOL_PARAMS),
    Spec("fastml.nn.functional.avg_pool2d", _pool_inputs, lambda **kw: F.avg_pool2d(**kw),
         any_ndim=("x",),
         bad_params=_POOL_PARAMS),
    Spec("fastml.nn.functional.avg_pool2d_backward", _pool_backward_inputs,
         lambda **kw: F.avg_pool2d_backward(**kw), bad_params=_POOL_PARAMS),
    Spec("fastml.nn.functional.scaled_dot_product_attention", _attention_inputs,
         lambda **kw: F.scaled_dot_product_attention(**kw),
         any_ndim=("q", "k", "v"), same_length=(("q", "k", "v"),),
         bad_params={"scale": [np.nan, "one"], "causal": ["yes"], "mask": [np.ones(3)]}),
    Spec("fastml.nn.functional.scaled_dot_product_attention_backward",
         _attention_backward_inputs, lambda **kw: F.scaled_dot_product_attention_backward(**kw),
         any_ndim=("q", "k", "v", "grad_out"), same_length=(("q", "k", "v", "grad_out"),)),
    Spec("fastml.nn.functional.multi_head_attention", _mha_inputs,
         lambda **kw: F.multi_head_attention(**kw), same_length=(("x_q", "x_kv"),),
         bad_params={"num_heads": [0, 4, -1, 2.0]}),
    Spec("fastml.nn.functional.multi_head_attention_backward", _mha_backward_inputs,
         lambda **kw: F.multi_head_attention_backward(**kw),
         same_length=(("grad_out", "x_q", "x_kv"),), bad_params={"num_heads": [0, 4]},
         dtypes=("float64",)),
    Spec("fastml.nn.functional.batch_norm", _norm_inputs, lambda **kw: F.batch_norm(**kw),
         inplace=("running_mean", "running_var"),
         bad_params={"eps": [-1.0, np.nan], "momentum": [np.nan]}),
    Spec("fastml.nn.functional.batch_norm_backward",
         lambda rng, dtype: {"grad_out": _randn(rng, (4, 3, 2), dtype), **_norm_inputs(rng, dtype)},
         lambda **kw: F.batch_norm_backward(**kw), same_length=(("grad_out", "x"),),
         inplace=("running_mean", "running_var")),
    Spec("fastml.nn.functional.layer_norm", _layer_norm_inputs, lambda **kw: F.layer_norm(**kw),
         any_ndim=("x",), bad_params={"normalized_shape": [(4,), (0,), -5], "eps": [-1.0]}),
    Spec("fastml.nn.functional.layer_norm_backward",
         lambda rng, dtype: {"grad_out": _randn(rng, (3, 2, 5), dtype),
                             **_layer_norm_inputs(rng, dtype)},
         lambda **kw: F.layer_norm_backward(**kw), any_ndim=("x", "grad_out"),
         same_length=(("grad_out", "x"),)),
    Spec("fastml.nn.functional.linear",
         lambda rng, dtype: {"x": _randn(rng, (3, 4), dtype), "weight": _randn(rng, (2, 4), dtype),
                             "bias": _randn(rng, (2,), dtype)},
         lambda **kw: F.linear(**kw), any_ndim=("x",)),
    Spec("fastml.nn.functional.linear_backward",
         lambda rng, dtype: {"grad_out": _randn(rng, (3, 2), dtype),
                             "x": _randn(rng, (3, 4), dtype), "weight": _randn(rng, (2, 4), dtype)},
         lambda **kw: F.linear_backward(**kw), any_ndim=("x", "grad_out"),
         same_length=(("grad_out", "x"),)),
    Spec("fastml.nn.functional.mse_loss", _loss_inputs, lambda **kw: F.mse_loss(**kw),
         any_ndim=("input", "target"), same_length=(("input", "target"),), bad_params=_REDUCTION),
    Spec("fastml.nn.functional.mse_loss_backward", _loss_inputs,
         lambda **kw: F.mse_loss_backward(**kw), any_ndim=("input", "target"),
         same_length=(("input", "target"),), bad_params={**_REDUCTION, "grad": [np.nan, "1"]}),
    Spec("fastml.nn.functional.binary_cross_entropy_with_logits", _loss_inputs,
         lambda **kw: F.binary_cross_entropy_with_logits(**kw), any_ndim=("input", "target"),
         same_length=(("input", "target"),), bad_params=_REDUCTION),
    Spec("fastml.nn.functional.binary_cross_entropy_with_logits_backward", _loss_inputs,
         lambda **kw: F.binary_cross_entropy_with_logits_backward(**kw),
         any_ndim=("input", "target"), same_length=(("input", "target"),),
         bad_params=_REDUCTION),
    Spec("fastml.nn.functional.cross_entropy", _ce_inputs, lambda **kw: F.cross_entropy(**kw),
         arrays=("input", "target"), same_length=(("input", "target"),),
         bad_params={**_REDUCTION, "label_smoothing": [-0.1, 1.5, np.nan]}),
    Spec("fastml.nn.functional.cross_entropy_backward", _ce_inputs,
         lambda **kw: F.cross_entropy_backward(**kw), arrays=("input", "target"),
         same_length=(("input", "target"),), bad_params={"label_smoothing": [-0.1]}),
    Spec("fastml.nn.functional.dropout",
         lambda rng, dtype: {"x": _randn(rng, (4, 5), dtype), "p": 0.3, "random_state": 0},
         lambda **kw: F.dropout(**kw), any_ndim=("x",), nonfinite_ok=("x",),
         bad_params={"p": [-0.1, 1.5, np.nan, "half"]}),
]

# NaN and infinity propagate through convolutions, pooling, activations, norms and losses
# as in PyTorch (documented in _conv and _core); attention rejects them (its docstring).
for _spec in SPECS:
    if "attention" not in _spec.name:
        _spec.nonfinite_ok = "all"
