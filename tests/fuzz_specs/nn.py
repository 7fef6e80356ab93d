"""Fuzz specs of fastml.nn: layers (forward + backward), losses, optimizers, schedulers,
init and utils."""

import numpy as np

from fastml import nn
from fastml.nn import init
from fuzz_specs import HUGE, Spec


def _randn(rng, shape, dtype):
    return rng.standard_normal(shape).astype(dtype)


def _forward_backward(module, x):
    out = module(x)
    grad_in = module.backward(np.ones_like(out))
    return out, grad_in, [p.grad for p in module.parameters()]


def layer(cls, shape, *, typed=True, also=(), **options):
    """Spec of an nn layer: built with ``params`` (and ``dtype`` when ``typed``), then
    forward on x of ``shape`` and backward of ones."""
    params = options.pop("params", {})

    def make(rng, dtype):
        return {"x": _randn(rng, shape, dtype), **params}

    def run(x, **kw):
        if typed:
            kw.setdefault("dtype", x.dtype if x.dtype in (np.float32, np.float64)
                          else np.float64)
        return _forward_backward(cls(**kw), x)

    if typed:
        options["bad_params"] = {**options.get("bad_params", {}), "dtype": _DTYPE}
    options.setdefault("nonfinite_ok", "all")  # NaN/inf propagate as in PyTorch
    options.setdefault("aliases", _INPUT)
    return Spec(f"fastml.nn.{cls.__name__}", make, run, also=also, **options)


_SIZE = [0, -1, 2.5, HUGE]
# layers call their argument "input"; a wrong dtype is reported as the input's "dtype"
_INPUT = {"x": ("input", "dtype")}
_PROB = [-0.1, 1.5, np.nan]
_FLAG = [1, 0.0, "yes", None]  # truthy/falsy non-bools where a bool is documented
_DTYPE = ["float16?", np.float16, np.int32, "complex128"]  # unparsable or not float32/64
_ANY = ("x",)


def _loss(cls, make, **options):
    def run(output, target, **kw):
        loss = cls(**kw)
        return loss.forward(output, target), loss.backward()

    options.setdefault("nonfinite_ok", "all")
    options.setdefault("aliases", {"output": ("input",)})  # losses name it as PyTorch
    return Spec(f"fastml.nn.{cls.__name__}", make, run, arrays=("output", "target"),
                same_length=(("output", "target"),), **options)


def _regression_targets(rng, dtype):
    return {"output": _randn(rng, (4, 3), dtype), "target": rng.random((4, 3)).astype(dtype)}


def _optimizer(cls, **options):
    """An optimizer training a small MLP for two steps on x."""
    params = options.pop("params", {})

    def run(x, **kw):
        model = nn.Sequential(nn.Linear(4, 3, dtype=x.dtype, random_state=0), nn.Tanh(),
                              nn.Linear(3, 1, dtype=x.dtype, random_state=1))
        opt = cls(model.parameters(), **{**params, **kw})
        for _ in range(2):
            opt.zero_grad()
            out = model(x)
            model.backward(np.ones_like(out))
            opt.step()
        return [p.data for p in model.parameters()]

    return Spec(f"fastml.nn.optim.{cls.__name__}",
                lambda rng, dtype: {"x": _randn(rng, (6, 4), dtype)}, run, arrays=(), **options)


def _init_spec(fn, **params):
    def run(tensor, **kw):
        fn(tensor, **kw)
        return tensor

    return Spec(f"fastml.nn.init.{fn.__name__}",
                lambda rng, dtype: {"tensor": np.zeros((5, 4), dtype), **params}, run,
                nonfinite_ok="all", inplace=("tensor",), any_ndim=("tensor",),
                aliases={"tensor": ("fan",)},
                huge=False)  # filled in place: a read-only broadcast view cannot be


def _clip(grads, **kw):
    params = [nn.Parameter(np.zeros_like(g)) for g in grads]
    for p, g in zip(params, grads):
        p.grad[...] = g
    total = nn.clip_grad_norm_(params, **kw)
    return total, [p.grad for p in params]


def _gradcheck(x, **kw):
    return nn.gradcheck(nn.Linear(3, 2, dtype=np.float64, random_state=0), x, **kw)


def _mha(x, **kw):
    return _forward_backward(nn.MultiheadAttention(dtype=x.dtype, random_state=0, **kw), x)


SPECS = [
    layer(nn.Linear, (5, 4), params={"in_features": 4, "out_features": 3, "random_state": 0},
          any_ndim=_ANY, bad_params={"in_features": _SIZE[1:], "out_features": _SIZE[1:],
                                     "bias": _FLAG}),
    layer(nn.Identity, (3, 4), typed=False, arrays=()),  # returns any input unchanged
    layer(nn.ReLU, (3, 4), typed=False, any_ndim=_ANY),
    layer(nn.LeakyReLU, (3, 4), typed=False, any_ndim=_ANY,
          bad_params={"negative_slope": [np.nan, "small"]}),
    layer(nn.GELU, (3, 4), typed=False, any_ndim=_ANY, bad_params={"approximate": ["erf?"]}),
    layer(nn.Tanh, (3, 4), typed=False, any_ndim=_ANY),
    layer(nn.Sigmoid, (3, 4), typed=False, any_ndim=_ANY),
    layer(nn.SiLU, (3, 4), typed=False, any_ndim=_ANY),
    layer(nn.Softmax, (3, 4), typed=False, any_ndim=_ANY, bad_params={"dim": [5, 1.5]}),
    layer(nn.Flatten, (2, 3, 4), typed=False, any_ndim=_ANY, bad_params={"start_dim": [7]}),
    layer(nn.Dropout, (4, 5), typed=False, any_ndim=_ANY, params={"random_state": 0},
          bad_params={"p": _PROB}),
    layer(nn.BatchNorm1d, (6, 3), params={"num_features": 3}, any_ndim=_ANY,
          bad_params={"num_features": _SIZE, "eps": [-1.0], "momentum": [np.nan],
                      "affine": _FLAG, "track_running_stats": _FLAG}),
    layer(nn.BatchNorm2d, (4, 3, 2, 2), params={"num_features": 3},
          bad_params={"num_features": _SIZE, "eps": [-1.0]}),
    layer(nn.LayerNorm, (3, 5), params={"normalized_shape": 5}, any_ndim=_ANY,
          bad_params={"normalized_shape": [0, -1, HUGE], "eps": [-1.0],
                      "elementwise_affine": _FLAG, "bias": _FLAG}),
    layer(nn.Conv1d, (2, 2, 8), params={"in_channels": 2, "out_channels": 3, "kernel_size": 3,
                                        "random_state": 0}, any_ndim=_ANY,
          bad_params={"in_channels": _SIZE, "kernel_size": _SIZE, "stride": [0, HUGE],
                      "groups": [0, 3], "bias": _FLAG}),
    layer(nn.Conv2d, (2, 2, 6, 6), params={"in_channels": 2, "out_channels": 4,
                                           "kernel_size": 3, "padding": 1, "random_state": 0},
          any_ndim=_ANY, bad_params={"out_channels": _SIZE, "kernel_size": _SIZE,
                                     "padding": [-1, HUGE], "dilation": [0]}),
    layer(nn.MaxPool2d, (2, 2, 6, 6), typed=False, params={"kernel_size": 2}, any_ndim=_ANY,
          bad_params={"kernel_size": _SIZE, "stride": [0, -1]}),
    layer(nn.AvgPool2d, (2, 2, 6, 6), typed=False, params={"kernel_size": 2}, any_ndim=_ANY,
          bad_params={"kernel_size": _SIZE, "padding": [-1]}),
    Spec("fastml.nn.MultiheadAttention",
         lambda rng, dtype: {"x": _randn(rng, (2, 5, 6), dtype), "embed_dim": 6, "num_heads": 2},
         _mha, bad_params={"embed_dim": _SIZE, "num_heads": [0, 4, -1], "causal": _FLAG,
                           "bias": _FLAG},
         any_ndim=_ANY, aliases={"x": ("input", "dtype", "x_q")}),
    Spec("fastml.nn.Embedding",
         lambda rng, dtype: {"idx": rng.integers(0, 5, (3, 4)), "num_embeddings": 5,
                             "embedding_dim": 3},
         lambda idx, **kw: _forward_backward(nn.Embedding(random_state=0, **kw), idx),
         arrays=("idx",), dtypes=("float64",), any_ndim=("idx",),
         bad_params={"num_embeddings": _SIZE, "embedding_dim": _SIZE, "padding_idx": [7],
                     "dtype": _DTYPE}),
    Spec("fastml.nn.Sequential",
         lambda rng, dtype: {"x": _randn(rng, (4, 3), dtype)},
         lambda x: _forward_backward(nn.Sequential(
             nn.Linear(3, 5, dtype=x.dtype, random_state=0), nn.ReLU(),
             nn.Residual(nn.Linear(5, 5, dtype=x.dtype, random_state=1)),
             nn.Linear(5, 2, dtype=x.dtype, random_state=2)), x),
         also=("fastml.nn.Residual", "fastml.nn.Module", "fastml.nn.Parameter"),
         nonfinite_ok="all", any_ndim=_ANY, aliases=_INPUT),
    _loss(nn.MSELoss, _regression_targets, bad_params={"reduction": ["avg"]}),
    _loss(nn.BCEWithLogitsLoss, _regression_targets, bad_params={"reduction": ["avg"]}),
    _loss(nn.CrossEntropyLoss,
          lambda rng, dtype: {"output": _randn(rng, (5, 3), dtype),
                              "target": rng.integers(0, 3, 5)},
          bad_params={"label_smoothing": _PROB, "reduction": ["avg"]}),
    _optimizer(nn.SGD, params={"lr": 0.1, "momentum": 0.9},
               bad_params={"lr": [-1.0, np.nan], "momentum": [-0.5], "nesterov": _FLAG}),
    _optimizer(nn.Adam, params={"lr": 0.01},
               bad_params={"lr": [-1.0, np.nan], "eps": [-1.0],
                           "betas": [(1.5, 0.9), (0.9,), (0.9, 0.99, 0.9), 0.9, "ab", None]}),
    _optimizer(nn.AdamW, params={"lr": 0.01}, bad_params={"weight_decay": [-1.0, np.nan]}),
    ]

SPECS += [
    Spec("fastml.nn.optim.StepLR", lambda rng, dtype: {"step_size": 2},
         lambda **kw: _run_scheduler(lambda opt: nn.StepLR(opt, **kw)), dtypes=("float64",),
         bad_params={"step_size": [0, -1, 1.5], "gamma": [np.nan, -1.0]}),
    Spec("fastml.nn.optim.LinearLR", lambda rng, dtype: {"total_iters": 3},
         lambda **kw: _run_scheduler(lambda opt: nn.LinearLR(opt, **kw)), dtypes=("float64",),
         bad_params={"total_iters": [0, -1], "start_factor": [0.0, 2.0, np.nan]}),
    Spec("fastml.nn.optim.CosineAnnealingLR", lambda rng, dtype: {"T_max": 4},
         lambda **kw: _run_scheduler(lambda opt: nn.CosineAnnealingLR(opt, **kw)),
         dtypes=("float64",), bad_params={"T_max": [0, -1, 1.5], "eta_min": [np.nan]}),
    Spec("fastml.nn.optim.SequentialLR", lambda rng, dtype: {"milestones": [2]},
         lambda **kw: _run_scheduler(lambda opt: nn.SequentialLR(
             opt, [nn.LinearLR(opt, total_iters=2), nn.StepLR(opt, 2)], **kw)),
         dtypes=("float64",),
         bad_params={"milestones": [[2, 3], [-1], [0], [1.5], "2", 2, None]}),
    *[_init_spec(fn) for fn in (init.zeros_, init.ones_)],
    _init_spec(init.constant_, val=0.5),
    *[_init_spec(fn, random_state=0) for fn in (init.normal_, init.uniform_, init.xavier_normal_,
                                                init.xavier_uniform_, init.kaiming_normal_,
                                                init.kaiming_uniform_)],
    Spec("fastml.nn.init.calculate_gain", lambda rng, dtype: {"nonlinearity": "leaky_relu",
                                                              "param": 0.2},
         lambda **kw: init.calculate_gain(**kw), dtypes=("float64",),
         bad_params={"nonlinearity": ["swish?"], "param": ["x"]}),
    Spec("fastml.nn.init.manual_seed", lambda rng, dtype: {"seed": 3},
         lambda seed: (init.manual_seed(seed), init.normal_(np.zeros(3)))[1],
         also=("fastml.nn.manual_seed",), dtypes=("float64",),
         bad_params={"seed": [-1, 1.5, "3", None, True]}),
    Spec("fastml.nn.utils.clip_grad_norm_",
         lambda rng, dtype: {"grads": [_randn(rng, (3, 2), dtype), _randn(rng, (4,), dtype)],
                             "max_norm": 1.0},
         _clip, dtypes=("float64",), bad_params={"max_norm": [-1.0, np.nan, "1"],
                                                 "norm_type": [0.0, -1.0, "fro?"]}),
    Spec("fastml.nn.gradcheck", lambda rng, dtype: {"x": rng.standard_normal((4, 3))},
         _gradcheck, dtypes=("float64",), nonfinite_ok="all", any_ndim=("x",), huge=False,
         aliases=_INPUT, errors=(nn.GradcheckError,),
         bad_params={"eps": [0.0, -1.0, np.nan], "atol": [-1.0], "rtol": [-1.0]}),
]


def _run_scheduler(make_scheduler):
    opt = nn.SGD([nn.Parameter(np.ones(3))], lr=0.1)
    sched = make_scheduler(opt)
    lrs = []
    for _ in range(6):
        opt.step()
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    return np.array(lrs, dtype=float)


EXEMPT = {
    "fastml.nn.optim.Optimizer": "abstract base of SGD/Adam/AdamW (their specs run it)",
    "fastml.nn.optim.LRScheduler": "abstract base of the schedulers (their specs run it)",
}
