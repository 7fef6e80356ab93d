"""PPO for language models with a KL penalty to a frozen reference ("The N Implementation
Details of RLHF with PPO"; Ziegler et al. 2019).

One :meth:`PPOTrainer.step`:

1. rollout: y ~ pi(. | x) with ``GPT.generate`` (KV cache); with an ``eos_token_id`` a
   completion ends at its first EOS (included), the tokens after it are padding;
2. scoring: log pi_old(y_t), log pi_ref(y_t), V_old(x, y_<t), reward-model score s(x, y)
   (replaced by the fixed ``missing_eos_score`` for a completion without EOS: the EOS
   penalty); per-token reward r_t = -kl_coef (log pi_old(y_t) - log pi_ref(y_t)), plus s
   at the last valid token; optional reward whitening (scale only); GAE(gamma, lam);
   advantage whitening (all over valid tokens only);
3. update: ``ppo_epochs`` passes over minibatches of the clipped policy loss +
   ``vf_coef`` x clipped value loss - ``entropy_coef`` x mean entropy, AdamW;
4. the adaptive KL controller moves kl_coef toward ``target_kl`` (mean sequence KL).

The value function is a scalar head on the policy's own hidden states
(``share_backbone=True``) or a separate :class:`RewardModel` initialised as a copy of
the reward model (TRL's default).
"""

import copy
import numbers
import time

import numpy as np

from fastml._validation import (
    check_bool,
    check_finite_real,
    check_instance,
    check_nonempty,
    check_positive_int,
    check_random_state,
    check_scalar,
)
from fastml.nn import AdamW, Linear, utils
from fastml.rlhf._logprobs import (
    SequenceLogprobs,
    _check_model,
    _check_sequences,
    _infer_logprobs,
)
from fastml.rlhf._losses import AdaptiveKLController, _gae, _ppo_policy, _ppo_value, _whiten
from fastml.rlhf._reward import RewardModel

__all__ = ["PPOTrainer"]


def _real(x, name, min_val=0, include="both", max_val=None):
    return float(check_scalar(x, name, numbers.Real, min_val=min_val, max_val=max_val,
                              include_boundaries=include))


class PPOTrainer:
    """PPO with a per-token KL penalty, GAE, clipping and an adaptive KL coefficient.

    Parameters
    ----------
    policy : GPT, trained in place
    ref_policy : GPT, frozen reference (same vocabulary)
    reward_model : RewardModel, frozen
    max_new_tokens : int, completion length of the rollouts
    eos_token_id : int or None, the token that ends a completion (None: fixed length)
    missing_eos_score : float or None, the score of a completion without EOS in place of
        the reward model's (needs ``eos_token_id``; None: no EOS penalty)
    share_backbone : bool, value head on the policy (True) or a separate value model
    learning_rate, mini_batch_size, ppo_epochs : optimisation
    init_kl_coef, target_kl, horizon : KL controller (``target_kl`` None: fixed coef)
    gamma, lam : GAE
    cliprange, cliprange_value : PPO clipping of the ratio and of the value change
    vf_coef, entropy_coef : weights of the value loss and the entropy bonus
    whiten_rewards : scale per-token rewards to unit variance before GAE
    max_grad_norm : clip the global gradient norm (None: no clipping)
    random_state : seeds the rollouts and the minibatch order
    """

    def __init__(self, policy, ref_policy, reward_model, *, max_new_tokens,
                 eos_token_id=None, missing_eos_score=None, share_backbone=False,
                 learning_rate=1e-4, mini_batch_size=16, ppo_epochs=4,
                 init_kl_coef=0.1, target_kl=6.0, horizon=10000, gamma=1.0, lam=0.95,
                 cliprange=0.2, cliprange_value=0.2, vf_coef=0.1, entropy_coef=0.0,
                 whiten_rewards=False, max_grad_norm=None, random_state=None):
        self.policy = _check_model(policy, "policy")
        self.ref_policy = _check_model(ref_policy, "ref_policy")
        if ref_policy is policy:
            raise ValueError("ref_policy must be a separate (frozen) copy of the policy")
        if ref_policy.config.vocab_size != policy.config.vocab_size:
            raise ValueError("ref_policy and policy must share the vocabulary")
        self.reward_model = check_instance(reward_model, "reward_model", RewardModel)
        self.max_new_tokens = check_positive_int(max_new_tokens, "max_new_tokens")
        self.eos_token_id = None if eos_token_id is None else int(check_scalar(
            eos_token_id, "eos_token_id", numbers.Integral, min_val=0,
            max_val=policy.config.vocab_size - 1))
        if missing_eos_score is not None:
            if self.eos_token_id is None:
                raise ValueError("missing_eos_score needs an eos_token_id")
            missing_eos_score = check_finite_real(missing_eos_score, "missing_eos_score")
        self.missing_eos_score = missing_eos_score
        self.share_backbone = check_bool(share_backbone, "share_backbone")
        self.mini_batch_size = check_positive_int(mini_batch_size, "mini_batch_size")
        self.ppo_epochs = check_positive_int(ppo_epochs, "ppo_epochs")
        self.gamma = _real(gamma, "gamma", max_val=1)
        self.lam = _real(lam, "lam", max_val=1)
        self.cliprange = _real(cliprange, "cliprange")
        self.cliprange_value = _real(cliprange_value, "cliprange_value")
        self.vf_coef = _real(vf_coef, "vf_coef")
        self.entropy_coef = _real(entropy_coef, "entropy_coef")
        self.whiten_rewards = check_bool(whiten_rewards, "whiten_rewards")
        self.max_grad_norm = None if max_grad_norm is None else _real(
            max_grad_norm, "max_grad_norm", include="neither")
        if target_kl is not None:
            target_kl = _real(target_kl, "target_kl", include="neither")
        self.kl_controller = AdaptiveKLController(init_kl_coef, target_kl, horizon)
        lr = _real(learning_rate, "learning_rate", include="neither")
        self._rng = check_random_state(random_state)
        if self.share_backbone:
            self.value_head = Linear(policy.config.n_embd, 1, dtype=policy.dtype,
                                     random_state=self._rng)
            self.value_model = None
            value_params = self.value_head.parameters()
        else:
            self.value_head = None
            self.value_model = copy.deepcopy(reward_model)
            value_params = self.value_model.parameters()
        self._params = policy.parameters() + value_params
        self.optimizer = AdamW(self._params, lr=lr, weight_decay=0.0)

    # ------------------------------------------------------------ pieces
    def _values(self, hidden, prompts, completions, mask, grad=True):
        """V(x, y_<t) (B, C) from the shared head on the policy's ``hidden`` or the value
        model (its forward runs here); ``grad=False``: nothing kept for backward."""
        if self.share_backbone:
            if grad:
                return self.value_head.forward(hidden)[..., 0] * mask
            head = self.value_head
            return (hidden @ head.weight.data[0] + head.bias.data[0]) * mask
        return self.value_model._forward(prompts, completions, mask, True, grad=grad)

    def rollout(self, prompts):
        """Completions (B, max_new_tokens) sampled from the policy after ``prompts`` and
        their mask (B, max_new_tokens): all True without ``eos_token_id``; with it, True up
        to and including each row's first EOS, and the tokens after it set to EOS."""
        seed = int(self._rng.integers(2**63 - 1))
        P = prompts.shape[1]
        completions = self.policy.generate(prompts, self.max_new_tokens, seed=seed)[:, P:]
        if self.eos_token_id is None:
            return completions, np.ones(completions.shape, bool)
        is_eos = completions == self.eos_token_id
        # valid: no EOS strictly before the position
        mask = np.cumsum(is_eos, axis=1) - is_eos == 0
        return np.where(mask, completions, self.eos_token_id), mask

    def score(self, prompts, completions, mask):
        """Everything the update needs from the frozen models and the old policy (by the
        inference forward: no dropout, no activations kept)."""
        old_logps, hidden = _infer_logprobs(self.policy, prompts, completions, mask)
        values = self._values(hidden, prompts, completions, mask, grad=False)
        ref_logps, _ = _infer_logprobs(self.ref_policy, prompts, completions, mask)
        scores = self.reward_model._forward(prompts, completions, mask, False, grad=False)
        rows = np.arange(len(prompts))
        last = mask.sum(axis=1) - 1
        if self.missing_eos_score is not None:
            no_eos = completions[rows, last] != self.eos_token_id
            scores = np.where(no_eos, self.missing_eos_score, scores)
        kl = (old_logps - ref_logps).astype(np.float64)
        rewards = -self.kl_controller.value * kl
        rewards[rows, last] += scores
        if self.whiten_rewards:
            rewards = _whiten(rewards, mask, shift_mean=False)
        values = values.astype(np.float64)
        advantages, returns = _gae(rewards, values, self.gamma, self.lam, mask)
        advantages = _whiten(advantages, mask)
        return dict(old_logps=old_logps.astype(np.float64), values=values,
                    advantages=advantages, returns=returns, scores=scores.astype(np.float64),
                    kl=kl.sum(axis=1), rewards=rewards)

    def update(self, prompts, completions, mask, batch):
        """PPO epochs over minibatches; returns mean losses, entropy, clip fractions."""
        B = len(prompts)
        stats = {"policy_loss": [], "value_loss": [], "entropy": [], "clipfrac": [],
                 "value_clipfrac": [], "approx_kl": []}
        for _ in range(self.ppo_epochs):
            order = self._rng.permutation(B)
            for start in range(0, B, self.mini_batch_size):
                i = order[start:start + self.mini_batch_size]
                p, c, m = prompts[i], completions[i], mask[i]
                new = SequenceLogprobs(self.policy, p, c, m)
                values = self._values(new.hidden, p, c, m).astype(np.float64)
                logps = new.token_logps.astype(np.float64)
                pg = _ppo_policy(logps, batch["old_logps"][i], batch["advantages"][i], m,
                                 self.cliprange)
                vf = _ppo_value(values, batch["values"][i], batch["returns"][i], m,
                                self.cliprange_value)
                count = m.sum()
                self.optimizer.zero_grad()
                g_values = self.vf_coef * vf.grad
                g_hidden = None
                if self.share_backbone:
                    g_hidden = self.value_head.backward(
                        g_values[..., None].astype(self.policy.dtype))
                else:
                    self.value_model.backward(g_values)
                g_entropy = None
                if self.entropy_coef:
                    g_entropy = np.full(m.shape, -self.entropy_coef / count) * m
                new.backward(grad_token_logps=pg.grad, grad_entropy=g_entropy,
                             grad_hidden=g_hidden)
                if self.max_grad_norm is not None:
                    utils.clip_grad_norm_(self._params, self.max_grad_norm)
                self.optimizer.step()
                stats["policy_loss"].append(pg.loss)
                stats["value_loss"].append(vf.loss)
                stats["entropy"].append(float(new.entropy.sum() / count))
                stats["clipfrac"].append(pg.clipfrac)
                stats["value_clipfrac"].append(vf.clipfrac)
                stats["approx_kl"].append(float(
                    0.5 * (((logps - batch["old_logps"][i]) ** 2) * m).sum() / count))
        return {k: float(np.mean(v)) for k, v in stats.items()}

    # ------------------------------------------------------------ one iteration
    def step(self, prompts):
        """One PPO iteration on a batch of ``prompts`` (B, P).

        Returns a dict: ``score`` (mean reward-model score), ``kl`` (mean sequence KL
        to the reference, sum_t log pi_old - log pi_ref), ``kl_coef`` (after the update),
        mean ``policy_loss``, ``value_loss``, ``entropy``, ``clipfrac``,
        ``value_clipfrac``, ``approx_kl``, the ``completions`` and the wall-clock split
        ``time_generation``, ``time_scoring``, ``time_update`` (seconds); with an
        ``eos_token_id`` also ``mask`` and ``eos_fraction`` (the fraction of completions
        that reached EOS).
        """
        prompts, _, _ = _check_sequences(
            self.policy, prompts, np.zeros((len(np.asarray(prompts)), self.max_new_tokens),
                                           np.int64), None, extra=1)
        check_nonempty(prompts, "prompts")
        t0 = time.perf_counter()
        completions, mask = self.rollout(prompts)
        t1 = time.perf_counter()
        batch = self.score(prompts, completions, mask)
        t2 = time.perf_counter()
        stats = self.update(prompts, completions, mask, batch)
        t3 = time.perf_counter()
        kl = float(batch["kl"].mean())
        stats.update(score=float(batch["scores"].mean()), kl=kl,
                     kl_coef=self.kl_controller.update(kl, len(prompts)),
                     completions=completions, time_generation=t1 - t0,
                     time_scoring=t2 - t1, time_update=t3 - t2)
        if self.eos_token_id is not None:
            ended = completions[np.arange(len(prompts)), mask.sum(axis=1) - 1]
            stats.update(mask=mask, eos_fraction=float(np.mean(ended == self.eos_token_id)))
        return stats
