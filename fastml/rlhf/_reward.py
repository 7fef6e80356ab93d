"""Reward model: a GPT backbone with a scalar head, trained from preference pairs.

    r(x, y) = w^T h_L(x, y)[last valid token] + b

(h_L: the backbone's final, layer-normalised hidden state). With ``per_token=True`` the
head reads the positions that predict each completion token instead, which makes the
same class a per-token value model V(x, y_<t) for PPO.
"""

import numbers

import numpy as np

from fastml._validation import (
    check_array,
    check_instance,
    check_nonempty,
    check_positive_int,
    check_random_state,
    check_scalar,
    check_shape,
)
from fastml.nn import AdamW, Linear, Module
from fastml.rlhf._logprobs import (
    _LAST_FORWARD,
    _check_model,
    _check_sequences,
    _grad,
    _hidden_backward,
    _hidden_forward,
    _hidden_infer,
)
from fastml.rlhf._losses import _bradley_terry
from fastml.rlhf._task import PreferencePairs

__all__ = ["RewardModel", "RewardTrainer"]


class RewardModel(Module):
    """GPT backbone + scalar head (``score``: Linear(n_embd, 1), N(0, 1/(n_embd + 1))
    weights, zero bias, as TRL's sequence-classification head).

    ``forward(prompts, completions, completion_mask=None, per_token=False)``: rewards (B,)
    at each row's last valid token, or (``per_token``) values (B, C) at the positions
    predicting the completion tokens (0 at padding). ``backward(grad)`` adds the parameter
    gradients (backbone and head) for d loss / d output ``grad``. The backbone is used as
    given (pass a copy to keep the original).
    """

    def __init__(self, backbone, *, random_state=None):
        super().__init__()
        self.backbone = _check_model(backbone, "backbone")
        E = backbone.config.n_embd
        rng = check_random_state(random_state)
        self.score = Linear(E, 1, dtype=backbone.dtype, random_state=rng)
        self.score.weight.data[...] = rng.normal(0.0, 1 / np.sqrt(E + 1), (1, E))
        self.score.bias.data[...] = 0
        self._cache = None

    def forward(self, prompts, completions, completion_mask=None, per_token=False):
        prompts, completions, mask = _check_sequences(self.backbone, prompts, completions,
                                                      completion_mask,
                                                      extra=0 if per_token else 1)
        return self._forward(prompts, completions, mask, bool(per_token))

    def _forward(self, prompts, completions, mask, per_token, grad=True):
        """Scores of checked inputs; ``grad=False``: the inference forward (no dropout,
        nothing kept for backward)."""
        P = prompts.shape[1]
        tail = completions[:, :-1] if per_token else completions
        window = np.concatenate([prompts, tail], axis=1)
        hidden = (_hidden_forward if grad else _hidden_infer)(self.backbone, window)
        if per_token:
            rows = (slice(None), slice(P - 1, None))
        else:
            rows = (np.arange(len(prompts)), P + mask.sum(axis=1) - 1)
        features = np.ascontiguousarray(hidden[rows])
        if grad:
            out = self.score.forward(features)[..., 0]
            self._cache = (hidden.shape, rows, mask if per_token else None)
            _LAST_FORWARD[self.backbone] = self
        else:
            out = (features @ self.score.weight.data[0] + self.score.bias.data[0])
        if per_token:
            out = np.where(mask, out, 0).astype(out.dtype)
        return out

    def backward(self, grad):
        shape, rows, mask = self._saved()
        if _LAST_FORWARD.get(self.backbone) is not self:
            raise RuntimeError("RewardModel.backward needs its latest forward: another "
                               "forward on the backbone ran since")
        grad = _grad(grad, shape[:1] if mask is None else mask.shape, "grad")
        grad = grad.astype(self.dtype, copy=False)
        if mask is not None:
            grad = grad * mask
        g = self.score.backward(np.ascontiguousarray(grad[..., None]))
        full = np.zeros(shape, self.dtype)
        full[rows] = g
        _hidden_backward(self.backbone, full)


def _stack_pairs(pairs, index):
    """Prompts, completions and masks of [chosen; rejected] for the pairs at ``index``,
    both halves padded to one width."""
    C = max(pairs.chosen.shape[1], pairs.rejected.shape[1])

    def pad(tokens, mask):
        tokens, mask = tokens[index], mask[index]
        extra = C - tokens.shape[1]
        return (np.pad(tokens, ((0, 0), (0, extra))),
                np.pad(mask, ((0, 0), (0, extra)), constant_values=False))

    chosen, chosen_mask = pad(pairs.chosen, pairs.chosen_mask)
    rejected, rejected_mask = pad(pairs.rejected, pairs.rejected_mask)
    prompts = pairs.prompts[index]
    return (np.concatenate([prompts, prompts]), np.concatenate([chosen, rejected]),
            np.concatenate([chosen_mask, rejected_mask]))


def _check_pairs(pairs):
    return check_nonempty(check_instance(pairs, "pairs", PreferencePairs, "PreferencePairs"),
                          "pairs")


class RewardTrainer:
    """Trains a :class:`RewardModel` on preference pairs with the Bradley-Terry loss
    (``-log sigmoid(r_c - r_r - margin)`` + reward centering), AdamW, minibatches of
    ``batch_size`` pairs (chosen and rejected in one forward), ``epochs`` passes.
    """

    def __init__(self, model, *, learning_rate=1e-3, batch_size=32, epochs=1,
                 weight_decay=0.0, center_rewards_coefficient=None, random_state=None):
        self.model = check_instance(model, "model", RewardModel)
        self.learning_rate = float(check_scalar(learning_rate, "learning_rate", numbers.Real,
                                                min_val=0, include_boundaries="neither"))
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.epochs = check_positive_int(epochs, "epochs")
        self.center_rewards_coefficient = None if center_rewards_coefficient is None else \
            float(check_scalar(center_rewards_coefficient, "center_rewards_coefficient",
                               numbers.Real, min_val=0))
        self.optimizer = AdamW(model.parameters(), lr=self.learning_rate,
                               weight_decay=float(check_scalar(
                                   weight_decay, "weight_decay", numbers.Real, min_val=0)))
        self._rng = check_random_state(random_state)

    def train(self, pairs, margin=None):
        """Run the epochs over ``pairs`` (``margin`` (n,) or None); returns the loss of
        every step."""
        pairs = _check_pairs(pairs)
        _check_sequences(self.model.backbone, pairs.prompts, pairs.chosen, None, extra=1)
        _check_sequences(self.model.backbone, pairs.prompts, pairs.rejected, None, extra=1)
        if margin is not None:
            margin = check_shape(check_array(margin, "margin", ndim=1, dtype=np.float64),
                                 "margin", (len(pairs),), " (one per pair)")
        self.model.train()
        losses = []
        n = len(pairs)
        for _ in range(self.epochs):
            order = self._rng.permutation(n)
            for start in range(0, n, self.batch_size):
                index = order[start:start + self.batch_size]
                prompts, completions, mask = _stack_pairs(pairs, index)
                scores = self.model._forward(prompts, completions, mask, False)
                b = len(index)
                bt = _bradley_terry(scores[:b].astype(np.float64),
                                    scores[b:].astype(np.float64),
                                    None if margin is None else margin[index],
                                    self.center_rewards_coefficient)
                self.optimizer.zero_grad()
                self.model.backward(np.concatenate([bt.grad_chosen, bt.grad_rejected]))
                self.optimizer.step()
                losses.append(bt.loss)
        return losses

    def evaluate(self, pairs):
        """{"accuracy": fraction of pairs with r_c > r_r, "loss": Bradley-Terry loss,
        "margin": mean r_c - r_r} on ``pairs``."""
        pairs = _check_pairs(pairs)
        chosen, rejected = score_pairs(self.model, pairs, self.batch_size)
        return {"accuracy": float(np.mean(chosen > rejected)),
                "loss": _bradley_terry(chosen, rejected, None, None).loss,
                "margin": float(np.mean(chosen - rejected))}


def score_pairs(model, pairs, batch_size=256):
    """Rewards (chosen (n,), rejected (n,)) of a RewardModel on every pair (float64)."""
    out = []
    for start in range(0, len(pairs), batch_size):
        index = np.arange(start, min(start + batch_size, len(pairs)))
        prompts, completions, mask = _stack_pairs(pairs, index)
        out.append(model._forward(prompts, completions, mask, False, grad=False)
                   .astype(np.float64))
    scores = np.concatenate([s.reshape(2, -1) for s in out], axis=1)
    return scores[0], scores[1]
