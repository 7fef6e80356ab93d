"""DPO trainer: the policy learns from preference pairs directly, the reference model's
log-probabilities computed once before training (they never change)."""

import numbers

import numpy as np

from fastml._validation import (
    check_option,
    check_positive_int,
    check_random_state,
    check_scalar,
)
from fastml.nn import AdamW
from fastml.rlhf._logprobs import (
    SequenceLogprobs,
    _check_model,
    _check_sequences,
    _infer_logprobs,
)
from fastml.rlhf._losses import DPO_LOSS_TYPES, _check_beta, _dpo
from fastml.rlhf._reward import _check_pairs, _stack_pairs

__all__ = ["DPOTrainer"]


class DPOTrainer:
    """Direct preference optimisation of ``policy`` against a frozen ``ref_policy``.

    Each step takes ``batch_size`` pairs, runs chosen and rejected completions in one
    forward, and follows the mean of :func:`fastml.rlhf.dpo_loss` (``beta``,
    ``loss_type``, ``label_smoothing``) with AdamW. ``ref_policy=None`` requires
    ``loss_type="reference_free"``.
    """

    def __init__(self, policy, ref_policy=None, *, beta=0.1, loss_type="sigmoid",
                 label_smoothing=0.0, learning_rate=1e-4, batch_size=32, epochs=1,
                 weight_decay=0.0, random_state=None):
        self.policy = _check_model(policy, "policy")
        self.loss_type = check_option(loss_type, "loss_type", DPO_LOSS_TYPES)
        if ref_policy is None and self.loss_type != "reference_free":
            raise ValueError(f"ref_policy is needed for loss_type={loss_type!r}")
        if ref_policy is not None:
            _check_model(ref_policy, "ref_policy")
            if ref_policy is policy:
                raise ValueError("ref_policy must be a separate (frozen) copy of the policy")
        self.ref_policy = ref_policy
        self.beta = _check_beta(beta)
        self.label_smoothing = float(check_scalar(
            label_smoothing, "label_smoothing", numbers.Real, min_val=0, max_val=0.5,
            include_boundaries="left"))
        if self.label_smoothing and self.loss_type in ("hinge", "ipo"):
            raise ValueError(f"label_smoothing must be 0 for loss_type={loss_type!r}")
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.epochs = check_positive_int(epochs, "epochs")
        lr = float(check_scalar(learning_rate, "learning_rate", numbers.Real, min_val=0,
                                include_boundaries="neither"))
        wd = float(check_scalar(weight_decay, "weight_decay", numbers.Real, min_val=0))
        self.optimizer = AdamW(policy.parameters(), lr=lr, weight_decay=wd)
        self._rng = check_random_state(random_state)

    def reference_logps(self, pairs):
        """Summed reference log-probs (chosen (n,), rejected (n,)), computed in batches
        (None, None when reference-free)."""
        if self.loss_type == "reference_free":
            return None, None
        return _pair_logps(self.ref_policy, pairs, max(self.batch_size, 256))

    def train(self, pairs):
        """Run the epochs over ``pairs``; returns per-step lists ``loss``,
        ``reward_margin`` (mean chosen - rejected implicit reward) and
        ``reward_accuracy`` (fraction with chosen reward > rejected)."""
        pairs = _check_pairs(pairs)
        for tokens in (pairs.chosen, pairs.rejected):
            _check_sequences(self.policy, pairs.prompts, tokens, None, extra=0)
        ref_chosen, ref_rejected = self.reference_logps(pairs)
        self.policy.train()
        history = {"loss": [], "reward_margin": [], "reward_accuracy": []}
        n = len(pairs)
        for _ in range(self.epochs):
            order = self._rng.permutation(n)
            for start in range(0, n, self.batch_size):
                index = order[start:start + self.batch_size]
                out = self._step(pairs, index, ref_chosen, ref_rejected)
                margin = out.chosen_rewards - out.rejected_rewards
                history["loss"].append(float(out.losses.mean()))
                history["reward_margin"].append(float(margin.mean()))
                history["reward_accuracy"].append(float(np.mean(margin > 0)))
        return history

    def _step(self, pairs, index, ref_chosen, ref_rejected):
        prompts, completions, mask = _stack_pairs(pairs, index)
        logps = SequenceLogprobs(self.policy, prompts, completions, mask)
        b = len(index)
        summed = logps.logps.astype(np.float64)
        out = _dpo(summed[:b], summed[b:],
                   None if ref_chosen is None else ref_chosen[index],
                   None if ref_rejected is None else ref_rejected[index],
                   self.beta, self.loss_type, self.label_smoothing)
        self.optimizer.zero_grad()
        logps.backward(grad_logps=np.concatenate([out.grad_policy_chosen,
                                                  out.grad_policy_rejected]) / b)
        self.optimizer.step()
        return out


def _pair_logps(model, pairs, batch_size):
    """Summed log-probs of chosen and rejected completions under ``model`` (float64)."""
    out = []
    for start in range(0, len(pairs), batch_size):
        index = np.arange(start, min(start + batch_size, len(pairs)))
        prompts, completions, mask = _stack_pairs(pairs, index)
        logps = _infer_logprobs(model, prompts, completions, mask)[0].sum(axis=1)
        out.append(logps.astype(np.float64).reshape(2, -1))
    both = np.concatenate(out, axis=1)
    return both[0], both[1]
