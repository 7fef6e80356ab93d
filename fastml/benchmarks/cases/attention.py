"""attention suite: scaled dot-product attention and multi-head attention vs PyTorch.

A size is (B, H, N, d): batch, heads, sequence length (queries = keys) and head dimension,
float32 unless the case says otherwise. Forward cases time
``scaled_dot_product_attention``; backward cases time only the backward pass, given the
saved output and log-sum-exp (fastml: ``out=``/``lse=``; torch: the
``aten._scaled_dot_product_flash_attention_for_cpu_backward`` op that autograd runs).
The NumPy reference materialises the N x N scores, so it runs only up to (4, 8, 1024, 64).

FLOPs: 4 B H N^2 d forward (Q K^T and P V), 10 B H N^2 d backward (the five GEMMs of
FlashAttention-2, recomputing Q K^T), half of each with ``causal``.
"""

import numpy as np

import fastml
from fastml.benchmarks import Case, Impl, register
from fastml.nn import functional as F
from fastml.reference import attention as reference

_REFERENCE_MAX_FLOPS = 4 * 4 * 8 * 1024**2 * 64  # (4, 8, 1024, 64): ~0.5 GB of scores


def _flops(size):
    B, H, N, d = size
    return 4.0 * B * H * N * N * d


def _label(size):
    return "x".join(map(str, size))


def _setup(size, rng, dtype=np.float32, backward=False, padding=False):
    B, H, N, d = size
    inputs = {name: rng.standard_normal((B, H, N, d), dtype=np.float64).astype(dtype)
              for name in ("q", "k", "v")}
    if backward:
        inputs["grad_out"] = rng.standard_normal((B, H, N, d)).astype(dtype)
    if padding:
        # key padding: batch b keeps its first N - b N / (2 B) keys (True = attend)
        keep = np.arange(N)[None, :] < (N - np.arange(B)[:, None] * N // (2 * B))
        inputs["mask"] = keep[:, None, None, :]
    return inputs


def _check(rtol):
    def check(expected, actual, size):
        """Agreement to ``rtol`` of the largest entry of all expected arrays (gradients
        that are exactly zero, as grad_q with one key, are zero up to rounding)."""
        pairs = list(zip(expected, actual)) if isinstance(expected, tuple) else \
            [(expected, actual)]
        scale = max([float(np.max(np.abs(np.asarray(e)), initial=0.0)) for e, _ in pairs]
                    + [1e-30])
        for e, a in pairs:
            np.testing.assert_allclose(np.asarray(a), np.asarray(e), rtol=rtol,
                                       atol=rtol * scale)
    return check


def _torch_inputs(inputs):
    import torch

    torch.set_num_threads(fastml.get_num_threads())
    return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in inputs.items()}


def _torch_numpy(answer):
    if isinstance(answer, (tuple, list)):
        return tuple(a.detach().numpy() for a in answer)
    return answer.detach().numpy()


def _torch_backward_inputs(causal):
    def prepare(inputs):
        import torch

        t = _torch_inputs(inputs)
        out, lse = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(
            t["q"], t["k"], t["v"], 0.0, causal)
        return {**t, "out": out, "lse": lse}
    return prepare


def _torch_backward(causal):
    def run(grad_out, q, k, v, out, lse):
        import torch

        return torch.ops.aten._scaled_dot_product_flash_attention_for_cpu_backward(
            grad_out, q, k, v, out, lse, 0.0, causal)
    return run


def _fastml_backward_inputs(causal):
    def prepare(inputs):
        out, lse = F.scaled_dot_product_attention(inputs["q"], inputs["k"], inputs["v"],
                                                  causal=causal, return_lse=True)
        return {**inputs, "out": out, "lse": lse}
    return prepare


def _register_sdpa(causal, sizes, quick_sizes, test_sizes):
    tag = "_causal" if causal else ""
    what = "causal " if causal else ""
    half = 0.5 if causal else 1.0
    register(Case(
        suite="attention", name=f"sdpa_forward{tag}",
        description=f"{what}softmax(q k^T / sqrt(d)) v, float32, tiled online softmax.",
        setup=_setup, sizes=sizes, quick_sizes=quick_sizes, test_sizes=test_sizes,
        flops=lambda s: half * _flops(s), size_key=_flops, size_label=_label,
        check=_check(1e-4),
        impls=[
            Impl("fastml", lambda q, k, v: F.scaled_dot_product_attention(
                q, k, v, causal=causal)),
            Impl("reference", lambda q, k, v: reference.scaled_dot_product_attention(
                q, k, v, causal=causal), max_size=_REFERENCE_MAX_FLOPS),
            Impl("torch", lambda q, k, v: _sdpa_torch(q, k, v, causal),
                 requires=("torch",), prepare=_torch_inputs, to_numpy=_torch_numpy),
        ],
    ))
    register(Case(
        suite="attention", name=f"sdpa_backward{tag}",
        description=f"{what}attention backward (grad_q, grad_k, grad_v) from the saved "
                    "output and log-sum-exp, float32.",
        setup=lambda s, rng: _setup(s, rng, backward=True), sizes=sizes,
        quick_sizes=quick_sizes, test_sizes=test_sizes,
        flops=lambda s: 2.5 * half * _flops(s), size_key=_flops, size_label=_label,
        check=_check(1e-4),
        impls=[
            Impl("fastml", lambda grad_out, q, k, v, out, lse:
                 F.scaled_dot_product_attention_backward(grad_out, q, k, v, causal=causal,
                                                         out=out, lse=lse),
                 prepare=_fastml_backward_inputs(causal)),
            Impl("reference", lambda grad_out, q, k, v:
                 reference.scaled_dot_product_attention_backward(grad_out, q, k, v,
                                                                 causal=causal),
                 max_size=_REFERENCE_MAX_FLOPS),
            Impl("torch", _torch_backward(causal), requires=("torch",),
                 prepare=_torch_backward_inputs(causal), to_numpy=_torch_numpy),
        ],
    ))


def _sdpa_torch(q, k, v, causal, mask=None):
    import torch

    return torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask,
                                                            is_causal=causal)


_TEST_SIZES = [(1, 1, 1, 8), (2, 2, 17, 8), (1, 2, 70, 16)]
_register_sdpa(False, [(4, 8, 1024, 64), (1, 8, 4096, 64), (2, 16, 512, 128)],
               [(1, 2, 128, 32)], _TEST_SIZES)
_register_sdpa(True, [(4, 8, 1024, 64), (1, 8, 4096, 64), (1, 8, 16384, 64)],
               [(1, 2, 128, 32)], _TEST_SIZES)

register(Case(
    suite="attention", name="sdpa_forward_padding_mask",
    description="Boolean key-padding mask of shape (B, 1, 1, N) (batch b drops its last "
                "b N / 2B keys), float32.",
    setup=lambda s, rng: _setup(s, rng, padding=True),
    sizes=[(4, 8, 1024, 64)], quick_sizes=[(2, 2, 64, 32)], test_sizes=[(3, 2, 20, 8)],
    flops=_flops, size_key=_flops, size_label=_label, check=_check(1e-4),
    impls=[
        Impl("fastml", lambda q, k, v, mask: F.scaled_dot_product_attention(q, k, v, mask)),
        Impl("reference", lambda q, k, v, mask: reference.scaled_dot_product_attention(
            q, k, v, mask), max_size=_REFERENCE_MAX_FLOPS),
        Impl("torch", lambda q, k, v, mask: _sdpa_torch(q, k, v, False, mask),
             requires=("torch",), prepare=_torch_inputs, to_numpy=_torch_numpy),
    ],
))

register(Case(
    suite="attention", name="sdpa_forward_f64",
    description="Non-causal attention in float64.",
    setup=lambda s, rng: _setup(s, rng, dtype=np.float64),
    sizes=[(2, 8, 1024, 64)], quick_sizes=[(1, 2, 64, 32)], test_sizes=[(2, 2, 33, 8)],
    flops=_flops, size_key=_flops, size_label=_label, check=_check(1e-10),
    impls=[
        Impl("fastml", lambda q, k, v: F.scaled_dot_product_attention(q, k, v)),
        Impl("reference", lambda q, k, v: reference.scaled_dot_product_attention(q, k, v),
             max_size=_REFERENCE_MAX_FLOPS),
        Impl("torch", lambda q, k, v: _sdpa_torch(q, k, v, False), requires=("torch",),
             prepare=_torch_inputs, to_numpy=_torch_numpy),
    ],
))


# ---------------------------------------------------------------- multi-head attention
_MHA_NAMES = ("w_q", "w_k", "w_v", "w_o", "b_q", "b_k", "b_v", "b_o")


def _mha_setup(size, rng):
    """Self-attention inputs; a size is (B, N, E, num_heads)."""
    B, N, E, num_heads = size
    params = {name: (rng.standard_normal((E, E)) / np.sqrt(E)).astype(np.float32)
              for name in _MHA_NAMES[:4]}
    params.update({name: (0.1 * rng.standard_normal(E)).astype(np.float32)
                   for name in _MHA_NAMES[4:]})
    return {"x": rng.standard_normal((B, N, E)).astype(np.float32), "num_heads": num_heads,
            **params}


def _mha_flops(size):
    B, N, E, _ = size
    return 8.0 * B * N * E * E + 4.0 * B * N * N * E


def _mha(module):
    def run(x, num_heads, **params):
        return module.multi_head_attention(x, x, *(params[n] for n in _MHA_NAMES),
                                           num_heads=num_heads)
    return run


def _mha_torch_prepare(inputs):
    import torch

    torch.set_num_threads(fastml.get_num_threads())
    E = inputs["x"].shape[-1]
    mha = torch.nn.MultiheadAttention(E, inputs["num_heads"], batch_first=True).eval()
    with torch.no_grad():
        mha.in_proj_weight.copy_(torch.from_numpy(
            np.concatenate([inputs["w_q"], inputs["w_k"], inputs["w_v"]])))
        mha.in_proj_bias.copy_(torch.from_numpy(
            np.concatenate([inputs["b_q"], inputs["b_k"], inputs["b_v"]])))
        mha.out_proj.weight.copy_(torch.from_numpy(inputs["w_o"]))
        mha.out_proj.bias.copy_(torch.from_numpy(inputs["b_o"]))
    return {"x": torch.from_numpy(inputs["x"]), "mha": mha}


def _mha_torch(x, mha):
    import torch

    with torch.no_grad():
        return mha(x, x, x, need_weights=False)[0]


register(Case(
    suite="attention", name="mha_forward",
    description="Multi-head self-attention (input projections, heads, output projection), "
                "float32, vs torch.nn.MultiheadAttention(batch_first=True). Size: (B, N, E, "
                "heads).",
    setup=_mha_setup, sizes=[(4, 512, 512, 8)], quick_sizes=[(1, 64, 64, 2)],
    test_sizes=[(2, 9, 8, 2), (1, 20, 12, 3)],
    flops=_mha_flops, size_key=_mha_flops, size_label=_label, check=_check(1e-4),
    impls=[
        Impl("fastml", _mha(F)),
        Impl("reference", _mha(reference), max_size=_mha_flops((4, 512, 512, 8))),
        Impl("torch", _mha_torch, requires=("torch",), prepare=_mha_torch_prepare,
             to_numpy=_torch_numpy),
    ],
))


def _mha_backward_setup(size, rng):
    inputs = _mha_setup(size, rng)
    inputs["grad_out"] = rng.standard_normal(inputs["x"].shape).astype(np.float32)
    return inputs


def _mha_fastml_backward(x, num_heads, grad_out, **params):
    grads = F.multi_head_attention_backward(grad_out, x, x, *(params[n] for n in _MHA_NAMES),
                                            num_heads=num_heads)
    return (grads[0] + grads[1], *grads[2:])


def _mha_torch_backward_prepare(inputs):
    import torch

    prepared = _mha_torch_prepare(inputs)
    mha, x = prepared["mha"].train(), prepared["x"].requires_grad_()
    out = mha(x, x, x, need_weights=False)[0]
    return {"out": out, "grad_out": torch.from_numpy(inputs["grad_out"]),
            "wrt": (x, mha.in_proj_weight, mha.out_proj.weight, mha.in_proj_bias,
                    mha.out_proj.bias)}


def _mha_torch_backward(out, grad_out, wrt):
    import torch

    return torch.autograd.grad(out, wrt, grad_out, retain_graph=True)


def _mha_torch_backward_numpy(grads):
    """(x, in_proj_weight, out_proj.weight, in_proj_bias, out_proj.bias) -> fastml order."""
    gx, gw_in, gw_o, gb_in, gb_o = (g.numpy() for g in grads)
    return (gx, *np.split(gw_in, 3), gw_o, *np.split(gb_in, 3), gb_o)


register(Case(
    suite="attention", name="mha_backward",
    description="Multi-head self-attention backward: gradients of x, the four weights and "
                "the four biases (recomputing the forward), float32, vs torch autograd "
                "(backward only).",
    setup=_mha_backward_setup, sizes=[(4, 512, 512, 8)], quick_sizes=[(1, 64, 64, 2)],
    test_sizes=[(2, 9, 8, 2), (1, 20, 12, 3)],
    flops=lambda s: 2 * _mha_flops(s), size_key=_mha_flops, size_label=_label,
    check=_check(1e-4),
    impls=[
        Impl("fastml", _mha_fastml_backward),
        Impl("torch", _mha_torch_backward, requires=("torch",),
             prepare=_mha_torch_backward_prepare, to_numpy=_mha_torch_backward_numpy),
    ],
))
