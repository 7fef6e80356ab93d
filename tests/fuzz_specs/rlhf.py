"""Fuzz specs of fastml.rlhf: the losses on random log-probs, the trainers and
sequence_logprobs on a tiny GPT (bad sizes and options must raise naming the argument)."""


import numpy as np

from fastml import rlhf
from fastml.models import GPT, GPTConfig
from fuzz_specs import Spec

_TASK = rlhf.CharCountTask(prompt_length=3, completion_length=4, random_state=0)
_CONFIG = GPTConfig(block_size=8, vocab_size=8, n_layer=1, n_head=2, n_embd=8)


def _gpt(dtype="float64"):
    return GPT(_CONFIG, dtype=np.dtype(dtype), random_state=0)


def _logps(rng, dtype, n=6):
    names = ("policy_chosen_logps", "policy_rejected_logps", "ref_chosen_logps",
             "ref_rejected_logps")
    return {k: -rng.uniform(1, 5, n).astype(dtype) for k in names}


def _tokens(rng, dtype):
    return {"x": rng.standard_normal((3, 4)).astype(dtype)}


def _pairs():
    return _TASK.preference_pairs(8, 0)


def _rm():
    return rlhf.RewardModel(_gpt(), random_state=0)


def _dpo_run(loss_type="sigmoid", **kw):
    out = rlhf.dpo_loss(**kw, loss_type=loss_type)
    return tuple(out)


def _sequence_logprobs(x, **kw):
    out = rlhf.sequence_logprobs(_gpt(), _TASK.sample_prompts(3, 0),
                                 _TASK.sample_completions(_TASK.sample_prompts(3, 0), 1))
    out.backward(grad_token_logps=x)
    return out.token_logps


def _reward_model(x, per_token=True):
    rm = _rm()
    prompts = _TASK.sample_prompts(3, 0)
    scores = rm.forward(prompts, _TASK.sample_completions(prompts, 1), per_token=per_token)
    rm.backward(x)
    return scores


def _ppo(**kw):
    rm = _rm()
    policy = _gpt()
    trainer = rlhf.PPOTrainer(policy, _gpt(), rm, max_new_tokens=4, mini_batch_size=2,
                              ppo_epochs=1, random_state=0, **kw)
    return trainer.step(_TASK.sample_prompts(4, 0))["policy_loss"]


def _dpo_trainer(**kw):
    trainer = rlhf.DPOTrainer(_gpt(), _gpt(), batch_size=4, random_state=0, **kw)
    return trainer.train(_pairs())["loss"]


def _reward_trainer(**kw):
    trainer = rlhf.RewardTrainer(_rm(), batch_size=4, random_state=0, **kw)
    return trainer.train(_pairs())


def _sft(**kw):
    return rlhf.sft_train(_gpt(), _TASK.sample_text(16, 0)[:, :8], batch_size=4,
                          random_state=0, **kw)


def _task(**kw):
    task = rlhf.CharCountTask(**kw)
    return task.reward(task.preference_pairs(4, 0).chosen)


def _kl(**kw):
    ctl = rlhf.AdaptiveKLController(**kw)
    return ctl.update(1.0, 10)


_FOUR = ("policy_chosen_logps", "policy_rejected_logps", "ref_chosen_logps",
         "ref_rejected_logps")
_TOKEN = lambda names: lambda rng, dtype: {  # noqa: E731
    k: rng.standard_normal((3, 5)).astype(dtype) for k in names}

SPECS = [
    Spec("fastml.rlhf.dpo_loss", _logps, _dpo_run, same_length=(_FOUR,),
         bad_params={"beta": [0.0, -1.0, float("nan"), "x"], "loss_type": ["kto"],
                     "label_smoothing": [0.5, -0.1]}),
    Spec("fastml.rlhf.bradley_terry_loss",
         lambda rng, dtype: {"chosen_rewards": rng.standard_normal(5).astype(dtype),
                             "rejected_rewards": rng.standard_normal(5).astype(dtype),
                             "margin": rng.random(5).astype(dtype)},
         lambda **kw: tuple(rlhf.bradley_terry_loss(**kw)),
         same_length=(("chosen_rewards", "rejected_rewards", "margin"),),
         bad_params={"center_rewards_coefficient": [-1.0, "x"]}),
    Spec("fastml.rlhf.gae", _TOKEN(("rewards", "values")), lambda **kw: rlhf.gae(**kw),
         bad_params={"gamma": [1.5, -0.1], "lam": [2.0]}),
    Spec("fastml.rlhf.ppo_policy_loss", _TOKEN(("logps", "old_logps", "advantages")),
         lambda **kw: tuple(rlhf.ppo_policy_loss(**kw)),
         bad_params={"cliprange": [-0.1, "x"]}),
    Spec("fastml.rlhf.ppo_value_loss", _TOKEN(("values", "old_values", "returns")),
         lambda **kw: tuple(rlhf.ppo_value_loss(**kw)),
         bad_params={"cliprange_value": [-0.1, "x"]}),
    Spec("fastml.rlhf.whiten", _TOKEN(("x",)), lambda **kw: rlhf.whiten(**kw)),
    Spec("fastml.rlhf.AdaptiveKLController", lambda rng, dtype: {"target": 2.0}, _kl,
         dtypes=("float64",), bad_params={"target": [0.0, -1.0], "horizon": [0, -5],
                                          "init_kl_coef": [-1.0]}),
    Spec("fastml.rlhf.sequence_logprobs",
         lambda rng, dtype: {"x": rng.standard_normal((3, 4))}, _sequence_logprobs,
         also=("fastml.rlhf.SequenceLogprobs",), dtypes=("float64",), huge=False,
         aliases={"x": ("grad_token_logps",)}),
    Spec("fastml.rlhf.RewardModel",
         lambda rng, dtype: {"x": rng.standard_normal((3, 4))}, _reward_model,
         dtypes=("float64",), huge=False, aliases={"x": ("grad",)}),
    Spec("fastml.rlhf.RewardTrainer", lambda rng, dtype: {}, _reward_trainer,
         dtypes=("float64",), bad_params={"batch_size": [0, 2.5], "epochs": [0],
                                          "learning_rate": [0.0, -1.0],
                                          "center_rewards_coefficient": [-1.0]}),
    Spec("fastml.rlhf.PPOTrainer", lambda rng, dtype: {}, _ppo, dtypes=("float64",),
         bad_params={"mini_batch_size": [0], "ppo_epochs": [0], "gamma": [1.5],
                     "lam": [-0.5], "cliprange": [-1.0], "learning_rate": [0.0],
                     "target_kl": [0.0], "share_backbone": ["yes"],
                     "eos_token_id": [8, -1, 2.5], "missing_eos_score": [-1.0]}),
    Spec("fastml.rlhf.DPOTrainer", lambda rng, dtype: {}, _dpo_trainer, dtypes=("float64",),
         bad_params={"beta": [0.0, -1.0], "loss_type": ["kto"], "batch_size": [0],
                     "label_smoothing": [0.5]}),
    Spec("fastml.rlhf.sft_train", lambda rng, dtype: {"steps": 2}, _sft, dtypes=("float64",),
         deterministic=True, bad_params={"steps": [0, 1.5], "learning_rate": [0.0]}),
    Spec("fastml.rlhf.CharCountTask", lambda rng, dtype: {"random_state": 0}, _task,
         also=("fastml.rlhf.PreferencePairs",), dtypes=("float64",),
         bad_params={"prompt_length": [0], "completion_length": [-1],
                     "concentration": [0.0], "scale": [-1.0], "target": ["z", 3],
                     "alphabet": ["a", "aab"]}),
]
