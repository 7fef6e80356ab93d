"""transformer suite: GPT training steps and KV-cache sampling vs the same model in PyTorch.

- ``gpt_train_step``: one forward + backward + AdamW step of a GPT (nanoGPT's CPU
  config: 4 layers, 4 heads, d=128, block 64, batch 12, vocabulary 65; and 6 layers,
  6 heads, d=384, block 256, batch 8). fastml: :class:`fastml.models.GPT`; torch: the
  same model written as nanoGPT (``F.scaled_dot_product_attention(is_causal=True)``,
  tied weights, foreach AdamW). FLOPs: 6 N + 6 L T d per token (forward + backward,
  N weights, causal attention), so GFLOP/s compares with the f32 GEMM roofline.
- ``gpt_prefill`` / ``gpt_decode``: batch-1 sampling of the 6-layer model: prefill of a
  128-token prompt; decoding 128 tokens one at a time after a 16-token prompt (its
  prefill is included and small); fastml with its KV cache, torch with a KV cache
  written the same way, and torch without a cache (recomputing the window per token).

The torch model (:func:`torch_gpt`) is also the oracle of ``tests/test_gpt.py``.
"""

import numpy as np

import fastml
from fastml.benchmarks import Case, Impl, register

VOCAB = 65
SMALL = dict(n_layer=4, n_head=4, n_embd=128, block_size=64, batch=12)
MEDIUM = dict(n_layer=6, n_head=6, n_embd=384, block_size=256, batch=8)
TINY = dict(n_layer=2, n_head=2, n_embd=16, block_size=8, batch=2)


def _config(size):
    from fastml.models import GPTConfig

    return GPTConfig(vocab_size=VOCAB, block_size=size["block_size"], n_layer=size["n_layer"],
                     n_head=size["n_head"], n_embd=size["n_embd"], dropout=0.0, bias=True)


def torch_gpt(config):
    """nanoGPT's GPT (pre-norm, tied lm_head, causal SDPA) as a torch module, with the
    same parameter names as :class:`fastml.models.GPT`; call ``load_state_dict`` with a
    fastml state_dict to copy weights. ``forward(idx, targets=None)`` -> (logits, loss)."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    class Attention(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
            self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)

        def qkv(self, x):
            B, T, C = x.shape
            q, k, v = self.c_attn(x).split(C, dim=2)
            return [t.view(B, T, config.n_head, C // config.n_head).transpose(1, 2)
                    for t in (q, k, v)]

        def merge(self, y):
            B, H, T, D = y.shape
            return self.c_proj(y.transpose(1, 2).contiguous().view(B, T, H * D))

        def forward(self, x, cache=None, start=0):
            q, k, v = self.qkv(x)
            if cache is None:
                y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            else:
                ck, cv = cache
                T = x.shape[1]
                ck[:, :, start:start + T] = k
                cv[:, :, start:start + T] = v
                y = F.scaled_dot_product_attention(q, ck[:, :, :start + T],
                                                   cv[:, :, :start + T], is_causal=T > 1)
            return self.merge(y)

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
            self.gelu = nn.GELU()
            self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)

        def forward(self, x):
            return self.c_proj(self.gelu(self.c_fc(x)))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1 = nn.LayerNorm(config.n_embd, bias=config.bias)
            self.attn = Attention()
            self.ln_2 = nn.LayerNorm(config.n_embd, bias=config.bias)
            self.mlp = MLP()

        def forward(self, x, cache=None, start=0):
            x = x + self.attn(self.ln_1(x), cache, start)
            return x + self.mlp(self.ln_2(x))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.config = config
            self.transformer = nn.ModuleDict(dict(
                wte=nn.Embedding(config.vocab_size, config.n_embd),
                wpe=nn.Embedding(config.block_size, config.n_embd),
                h=nn.ModuleList([Block() for _ in range(config.n_layer)]),
                ln_f=nn.LayerNorm(config.n_embd, bias=config.bias)))
            self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
            self.lm_head.weight = self.transformer.wte.weight

        def forward(self, idx, targets=None, caches=None, start=0):
            t = self.transformer
            pos = torch.arange(start, start + idx.shape[1])
            x = t.wte(idx) + t.wpe(pos)
            for i, block in enumerate(t.h):
                x = block(x, None if caches is None else caches[i], start)
            x = t.ln_f(x)
            if targets is None:
                return self.lm_head(x[:, [-1]]), None
            logits = self.lm_head(x)
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1),
                                   ignore_index=-1)
            return logits, loss

        def new_caches(self, batch):
            shape = (batch, config.n_head, config.block_size, config.n_embd // config.n_head)
            return [(torch.empty(shape), torch.empty(shape)) for _ in range(config.n_layer)]

    return GPT()


def _tokens(size, rng, length):
    return rng.integers(0, VOCAB, (size["batch"], length)).astype(np.int64)


def _train_setup(size, rng):
    from fastml.models import GPT

    idx = _tokens(size, rng, size["block_size"] + 1)
    return {"model": GPT(_config(size), random_state=0),
            "x": np.ascontiguousarray(idx[:, :-1]), "y": np.ascontiguousarray(idx[:, 1:])}


def _fastml_train_prepare(inputs):
    from fastml.models import GPT

    # A copy: the step updates the weights, and the peer starts from the same ones.
    model = GPT(inputs["model"].config).load_state_dict(inputs["model"].state_dict())
    return {**inputs, "model": model,
            "opt": model.configure_optimizers(0.1, 1e-3, (0.9, 0.99))}


def _fastml_train_step(model, opt, x, y):
    _, loss = model(x, y)
    opt.zero_grad()
    model.backward()
    opt.step()
    return loss


def _torch_train_prepare(inputs):
    import torch

    torch.set_num_threads(fastml.get_num_threads())
    model = torch_gpt(inputs["model"].config)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in
                           inputs["model"].state_dict().items()})
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=1e-3, betas=(0.9, 0.99), foreach=True)
    return {"model": model, "opt": opt, "x": torch.from_numpy(inputs["x"]),
            "y": torch.from_numpy(inputs["y"])}


def _torch_train_step(model, opt, x, y):
    _, loss = model(x, y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss.item()


def _n_params(size):
    d, L = size["n_embd"], size["n_layer"]
    return 12 * L * d * d + VOCAB * d


def _train_flops(size):
    """6 N per token for the weights + 6 L T d per token for attention (fwd + bwd)."""
    tokens = size["batch"] * size["block_size"]
    return tokens * (6 * _n_params(size) +
                     6 * size["n_layer"] * size["block_size"] * size["n_embd"])


def _label(size):
    return (f"L{size['n_layer']}-d{size['n_embd']}-T{size['block_size']}-"
            f"B{size['batch']}")


register(Case(
    suite="transformer", name="gpt_train_step",
    description="GPT forward + backward + AdamW step, float32 (the loss is compared: "
                "same weights and batch).",
    setup=_train_setup, sizes=[SMALL, MEDIUM], quick_sizes=[SMALL], test_sizes=[TINY],
    flops=_train_flops, size_key=_train_flops, size_label=_label,
    rates=lambda size, answer: {"tokens": size["batch"] * size["block_size"]},
    rtol=1e-4,
    impls=[
        Impl("fastml", _fastml_train_step, prepare=_fastml_train_prepare),
        Impl("torch", _torch_train_step, requires=("torch",), prepare=_torch_train_prepare),
    ],
))


# ---------------------------------------------------------------- sampling (batch 1)
PROMPT, NEW = 128, 128
SAMPLE_TEST = dict(TINY, batch=1, prompt=4, new=3)
PREFILL = dict(MEDIUM, batch=1, prompt=PROMPT, new=0)
DECODE = dict(MEDIUM, batch=1, prompt=16, new=NEW)


def _sample_setup(size, rng):
    from fastml.models import GPT

    return {"model": GPT(_config(size), random_state=0),
            "idx": _tokens(size, rng, size["prompt"]), "new": size["new"]}


def _fastml_prefill(model, idx, new):
    c = model.config
    shape = (1, c.n_head, c.block_size, c.n_embd // c.n_head)
    caches = [(np.empty(shape, np.float32), np.empty(shape, np.float32))
              for _ in range(c.n_layer)]
    return model._prefill(idx, caches)


def _fastml_decode(model, idx, new):
    return model.generate(idx, new, temperature=1.0, top_k=1)[:, idx.shape[1]:]


def _torch_prepare(inputs):
    import torch

    torch.set_num_threads(fastml.get_num_threads())
    model = torch_gpt(inputs["model"].config)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in
                           inputs["model"].state_dict().items()})
    return {"model": model.eval(), "idx": torch.from_numpy(inputs["idx"]),
            "new": inputs["new"]}


def _torch_prefill(model, idx, new):
    import torch

    with torch.inference_mode():
        logits, _ = model(idx, caches=model.new_caches(1))
    return logits[:, -1].numpy()


def _torch_decode_cache(model, idx, new):
    """Greedy decoding with a KV cache (the same algorithm as fastml's)."""
    import torch

    with torch.inference_mode():
        caches = model.new_caches(1)
        logits, _ = model(idx, caches=caches)
        out, start = [], idx.shape[1]
        for step in range(new):
            nxt = logits[:, -1].argmax(-1, keepdim=True)
            out.append(nxt)
            if step < new - 1:
                logits, _ = model(nxt, caches=caches, start=start)
                start += 1
    return torch.cat(out, 1).numpy()


def _torch_decode_no_cache(model, idx, new):
    """Greedy decoding recomputing the whole window for every token (nanoGPT)."""
    import torch

    with torch.inference_mode():
        for _ in range(new):
            logits, _ = model(idx[:, -model.config.block_size:])
            idx = torch.cat([idx, logits[:, -1].argmax(-1, keepdim=True)], 1)
    return idx[:, -new:].numpy()


def _sample_label(size):
    return f"L{size['n_layer']}-d{size['n_embd']}-prompt{size['prompt']}-new{size['new']}"


register(Case(
    suite="transformer", name="gpt_prefill",
    description=f"GPT batch-1 prefill of a {PROMPT}-token prompt (logits of the last "
                "position), float32.",
    setup=_sample_setup, sizes=[PREFILL], quick_sizes=[PREFILL], test_sizes=[SAMPLE_TEST],
    size_key=lambda s: s["prompt"] * _n_params(s), size_label=_sample_label,
    rates=lambda size, answer: {"tokens": size["prompt"]}, rtol=1e-4, atol=1e-4,
    impls=[
        Impl("fastml", _fastml_prefill),
        Impl("torch", _torch_prefill, requires=("torch",), prepare=_torch_prepare),
    ],
))

register(Case(
    suite="transformer", name="gpt_decode",
    description=f"GPT batch-1 greedy decoding of {NEW} tokens after a 16-token "
                "prompt (prefill included), float32: fastml and torch with a KV cache, "
                "torch without one.",
    setup=_sample_setup, sizes=[DECODE], quick_sizes=[DECODE], test_sizes=[SAMPLE_TEST],
    size_key=lambda s: s["new"] * _n_params(s), size_label=_sample_label,
    rates=lambda size, answer: {"tokens": size["new"]},
    impls=[
        Impl("fastml", _fastml_decode),
        Impl("torch_kv_cache", _torch_decode_cache, requires=("torch",),
             prepare=_torch_prepare),
        Impl("torch_no_cache", _torch_decode_no_cache, requires=("torch",),
             prepare=_torch_prepare),
    ],
))

