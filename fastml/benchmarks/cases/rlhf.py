"""Suite ``rlhf``: one PPO iteration split into generation, scoring and update, the whole
iteration, and one DPO step, on the model of examples/rlhf_tiny.py (char GPT, 1 layer,
d 32; 4-token prompts, 8-token completions, 64 rollouts) and a larger one (2 layers,
d 64), vs the same computation in PyTorch: a torch GPT with copied weights, torch ops,
``torch.set_num_threads`` = fastml's threads; the rollout samples with a KV cache under
``inference_mode``, scoring runs under ``no_grad``, the updates use plain autograd (no
anomaly mode). Python loops on both sides are the same: over the generated tokens and
over the completion's positions in GAE. fastml scores by GPT's inference path too.
"""

import copy

import numpy as np

from fastml.benchmarks import Case, Impl, register

EXAMPLE = dict(n_layer=1, n_embd=32, batch=64, prompt=4, new=8)
LARGER = dict(n_layer=2, n_embd=64, batch=64, prompt=8, new=16)
TEST = dict(n_layer=1, n_embd=16, batch=4, prompt=3, new=4)
VOCAB = 8
MINI_BATCH, PPO_EPOCHS, LR = 32, 2, 5e-4


def _label(size):
    return (f"L{size['n_layer']}-d{size['n_embd']}-B{size['batch']}-"
            f"T{size['prompt']}+{size['new']}")


def _key(size):
    tokens = size["batch"] * (size["prompt"] + size["new"])
    return tokens * size["n_embd"] ** 2 * size["n_layer"]


def _setup(size, rng):
    from fastml import rlhf
    from fastml.models import GPT, GPTConfig

    config = GPTConfig(block_size=size["prompt"] + size["new"], vocab_size=VOCAB,
                       n_layer=size["n_layer"], n_head=2, n_embd=size["n_embd"])
    policy = GPT(config, random_state=0)
    reward_model = rlhf.RewardModel(GPT(config, random_state=1), random_state=2)
    value_head = rlhf.PPOTrainer(copy.deepcopy(policy), policy, reward_model,
                                 max_new_tokens=size["new"], share_backbone=True,
                                 random_state=3).value_head
    prompts = rng.integers(0, VOCAB, (size["batch"], size["prompt"]))
    completions = rng.integers(0, VOCAB, (size["batch"], size["new"]))
    rejected = rng.integers(0, VOCAB, (size["batch"], size["new"]))
    return {"policy": policy, "reward_model": reward_model, "value_head": value_head,
            "prompts": prompts, "completions": completions, "rejected": rejected}


# ---------------------------------------------------------------- fastml
def _fastml_prepare(inputs):
    from fastml import rlhf

    policy = copy.deepcopy(inputs["policy"])
    trainer = rlhf.PPOTrainer(policy, inputs["policy"], inputs["reward_model"],
                              max_new_tokens=inputs["completions"].shape[1],
                              share_backbone=True, learning_rate=LR,
                              mini_batch_size=MINI_BATCH, ppo_epochs=PPO_EPOCHS,
                              init_kl_coef=0.2, random_state=0)
    trainer.value_head.load_state_dict(inputs["value_head"].state_dict())
    mask = np.ones(inputs["completions"].shape, bool)
    batch = trainer.score(inputs["prompts"], inputs["completions"], mask)
    dpo = rlhf.DPOTrainer(copy.deepcopy(inputs["policy"]), inputs["policy"],
                          learning_rate=LR, batch_size=len(inputs["prompts"]))
    pairs = rlhf.PreferencePairs(inputs["prompts"], inputs["completions"], inputs["rejected"])
    ref_c, ref_r = dpo.reference_logps(pairs)
    return {"trainer": trainer, "prompts": inputs["prompts"],
            "completions": inputs["completions"], "mask": mask, "batch": batch,
            "dpo": dpo, "pairs": pairs, "ref": (ref_c, ref_r)}


def _fastml_generation(trainer, prompts, **_):
    return trainer.rollout(prompts)[0]


def _fastml_scoring(trainer, prompts, completions, mask, **_):
    batch = trainer.score(prompts, completions, mask)
    return np.concatenate([batch["old_logps"].ravel(), batch["scores"]])


def _fastml_update(trainer, prompts, completions, mask, batch, **_):
    return trainer.update(prompts, completions, mask, batch)["policy_loss"]


def _fastml_iteration(trainer, prompts, **_):
    return trainer.step(prompts)["score"]


def _fastml_dpo_step(dpo, pairs, ref, **_):
    return float(dpo._step(pairs, np.arange(len(pairs)), *ref).losses.mean())


# ---------------------------------------------------------------- torch
def _torch_prepare(inputs):
    import torch

    import fastml
    from fastml.benchmarks.cases.transformer import torch_gpt

    torch.set_num_threads(fastml.get_num_threads())

    def load(model):
        t = torch_gpt(model.config)
        t.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in
                           model.state_dict().items()}, strict=False)
        return t

    policy, ref = load(inputs["policy"]), load(inputs["policy"])
    rm_backbone = load(inputs["reward_model"].backbone)
    rm_head = torch.nn.Linear(policy.config.n_embd, 1)
    value_head = torch.nn.Linear(policy.config.n_embd, 1)
    for head, src in ((rm_head, inputs["reward_model"].score),
                      (value_head, inputs["value_head"])):
        head.load_state_dict({k: torch.from_numpy(v) for k, v in src.state_dict().items()})
    params = list(policy.parameters()) + list(value_head.parameters())
    opt = torch.optim.AdamW(params, lr=LR, weight_decay=0.0)
    dpo_policy = load(inputs["policy"])
    dpo_opt = torch.optim.AdamW(dpo_policy.parameters(), lr=LR, weight_decay=0.0)
    state = dict(policy=policy, ref=ref, rm_backbone=rm_backbone, rm_head=rm_head,
                 value_head=value_head, opt=opt, kl_coef=0.2,
                 prompts=torch.from_numpy(inputs["prompts"]),
                 completions=torch.from_numpy(inputs["completions"]),
                 rejected=torch.from_numpy(inputs["rejected"]),
                 dpo_policy=dpo_policy, dpo_opt=dpo_opt, gen=torch.Generator().manual_seed(0))
    with torch.no_grad():
        state["batch"] = _torch_score(state, state["completions"])
        pr = torch.cat([state["prompts"], state["prompts"]])
        both = torch.cat([state["completions"], state["rejected"]])
        state["dpo_ref"] = _torch_logps(ref, pr, both)[0].sum(1)
    return {"state": state}


def _torch_hidden(model, idx):
    import torch

    t = model.transformer
    x = t.wte(idx) + t.wpe(torch.arange(idx.shape[1]))
    for block in t.h:
        x = block(x)
    return t.ln_f(x)


def _torch_logps(model, prompts, completions):
    """(token log-probs, hidden) at the positions predicting the completion (no entropy:
    the update has no entropy bonus, fastml's computes it for its statistics only)."""
    import torch

    P = prompts.shape[1]
    hidden = _torch_hidden(model, torch.cat([prompts, completions[:, :-1]], 1))[:, P - 1:]
    logp = torch.log_softmax(model.lm_head(hidden), -1)
    return logp.gather(-1, completions[..., None])[..., 0], hidden


def _torch_generate(state, prompts, new):
    import torch

    model = state["policy"]
    caches = model.new_caches(len(prompts))
    out = prompts
    with torch.inference_mode():
        logits, _ = model(prompts, caches=caches, start=0)
        for step in range(new):
            probs = torch.softmax(logits[:, -1].double(), -1)
            nxt = torch.multinomial(probs, 1, generator=state["gen"])
            out = torch.cat([out, nxt], 1)
            if step < new - 1:
                logits, _ = model(nxt, caches=caches, start=out.shape[1] - 1)
    return out[:, prompts.shape[1]:]


def _torch_whiten(x):
    import torch

    return (x - x.mean()) * torch.rsqrt(x.var(unbiased=True) + 1e-8)


def _torch_score(state, completions):
    import torch

    prompts = state["prompts"]
    with torch.no_grad():
        old, hidden = _torch_logps(state["policy"], prompts, completions)
        values = state["value_head"](hidden)[..., 0]
        ref, _ = _torch_logps(state["ref"], prompts, completions)
        rm_hidden = _torch_hidden(state["rm_backbone"], torch.cat([prompts, completions], 1))
        scores = state["rm_head"](rm_hidden[:, -1])[:, 0]
        rewards = -state["kl_coef"] * (old - ref)
        rewards[:, -1] += scores
        adv = torch.zeros_like(rewards)
        last = torch.zeros(len(prompts))
        next_value = torch.zeros(len(prompts))
        for t in range(rewards.shape[1] - 1, -1, -1):
            delta = rewards[:, t] + next_value - values[:, t]
            last = delta + 0.95 * last
            adv[:, t] = last
            next_value = values[:, t]
        returns = adv + values
        adv = _torch_whiten(adv)
    return dict(old=old, values=values, adv=adv, returns=returns, scores=scores)


def _torch_update(state, completions, batch):
    import torch

    prompts = state["prompts"]
    B = len(prompts)
    losses = []
    for _ in range(PPO_EPOCHS):
        order = torch.randperm(B, generator=state["gen"])
        for start in range(0, B, MINI_BATCH):
            i = order[start:start + MINI_BATCH]
            token, hidden = _torch_logps(state["policy"], prompts[i], completions[i])
            values = state["value_head"](hidden)[..., 0]
            ratio = torch.exp(token - batch["old"][i])
            adv = batch["adv"][i]
            pg = torch.max(-adv * ratio, -adv * torch.clamp(ratio, 0.8, 1.2)).mean()
            v_old, ret = batch["values"][i], batch["returns"][i]
            v_clip = v_old + torch.clamp(values - v_old, -0.2, 0.2)
            vf = 0.5 * torch.max((values - ret) ** 2, (v_clip - ret) ** 2).mean()
            loss = pg + 0.1 * vf
            state["opt"].zero_grad(set_to_none=True)
            loss.backward()
            state["opt"].step()
            losses.append(pg.item())
    return float(np.mean(losses))


def _torch_generation(state):
    return _torch_generate(state, state["prompts"], state["completions"].shape[1])


def _torch_scoring(state):
    batch = _torch_score(state, state["completions"])
    return np.concatenate([batch["old"].double().numpy().ravel(),
                           batch["scores"].double().numpy()])


def _torch_update_case(state):
    return _torch_update(state, state["completions"], state["batch"])


def _torch_iteration(state):
    completions = _torch_generation(state)
    batch = _torch_score(state, completions)
    _torch_update(state, completions, batch)
    return float(batch["scores"].mean())


def _torch_dpo_step(state):
    import torch

    B = len(state["prompts"])
    pr = torch.cat([state["prompts"], state["prompts"]])
    both = torch.cat([state["completions"], state["rejected"]])
    logps = _torch_logps(state["dpo_policy"], pr, both)[0].sum(1)
    ratio = logps - state["dpo_ref"]
    loss = -torch.nn.functional.logsigmoid(0.1 * (ratio[:B] - ratio[B:])).mean()
    state["dpo_opt"].zero_grad(set_to_none=True)
    loss.backward()
    state["dpo_opt"].step()
    return loss.item()


def _register(name, description, fastml_fn, torch_fn, compare=True, rtol=1e-4, atol=0.0):
    register(Case(
        suite="rlhf", name=name, description=description, setup=_setup,
        sizes=[EXAMPLE, LARGER], quick_sizes=[EXAMPLE], test_sizes=[TEST],
        size_key=_key, size_label=_label, compare=compare, rtol=rtol, atol=atol,
        rates=lambda size, answer: {"rollouts": size["batch"]},
        impls=[Impl("fastml", fastml_fn, prepare=_fastml_prepare),
               Impl("torch", torch_fn, requires=("torch",), prepare=_torch_prepare)]))


_register("ppo_generation", "PPO rollout: sample the completions with a KV cache "
          "(random draws differ between implementations: not compared).",
          _fastml_generation, _torch_generation, compare=False)
_register("ppo_scoring", "PPO scoring: policy and reference log-probs, values, "
          "reward-model scores, KL-penalised rewards, GAE, whitening (the log-probs and "
          "scores are compared).", _fastml_scoring, _torch_scoring, rtol=1e-4, atol=1e-4)
_register("ppo_update", "PPO update: 2 epochs x 2 minibatches of clipped policy + value "
          "loss, backward, AdamW (minibatch orders differ: not compared).",
          _fastml_update, _torch_update_case, compare=False)
_register("ppo_iteration", "One PPO iteration: generation + scoring + update "
          "(stochastic: not compared).", _fastml_iteration, _torch_iteration, compare=False)
_register("dpo_step", "One DPO step on the batch of pairs: chosen and rejected in one "
          "forward, sigmoid loss, backward, AdamW (the first step's loss is compared).",
          _fastml_dpo_step, _torch_dpo_step, rtol=1e-4)
