"""RLHF losses with their gradients: Bradley-Terry, the DPO family, GAE, PPO-clip.

Each public function checks its arguments once and calls a private core (``_dpo``,
``_bradley_terry``, ``_gae``, ``_ppo_policy``, ``_ppo_value``, ``_whiten``) that the
trainers call directly. Results are in the inputs' float dtype (float64 unless all
float32). Formulas: :mod:`fastml.reference.rlhf`.
"""

import numbers
from collections import namedtuple

import numpy as np

from fastml._validation import (
    check_array,
    check_consistent_length,
    check_nonempty,
    check_option,
    check_scalar,
    check_shape,
    common_float_dtype,
)

__all__ = ["AdaptiveKLController", "bradley_terry_loss", "dpo_loss", "gae",
           "ppo_policy_loss", "ppo_value_loss", "whiten"]

DPO_LOSS_TYPES = ("sigmoid", "hinge", "ipo", "robust", "reference_free")

DPOLoss = namedtuple("DPOLoss", "losses chosen_rewards rejected_rewards "
                                "grad_policy_chosen grad_policy_rejected")
DPOLoss.__doc__ = """Per-pair DPO losses, implicit rewards beta (log pi - log pi_ref) and
d losses_i / d policy logps_i (each loss depends on its own pair only)."""
BradleyTerryLoss = namedtuple("BradleyTerryLoss", "loss grad_chosen grad_rejected")
BradleyTerryLoss.__doc__ = """Mean Bradley-Terry loss and its gradient w.r.t. the rewards."""
PPOLoss = namedtuple("PPOLoss", "loss grad clipfrac")
PPOLoss.__doc__ = """Masked-mean PPO loss, its gradient w.r.t. the first input (log-probs
or values) and the fraction of valid tokens where the clipped term was active."""


def _log_sigmoid(x):
    return -np.logaddexp(0.0, -x)


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _vectors(named, allow_none=()):
    """Check 1-D finite float vectors of one length; returns them in their common dtype."""
    arrays = [None if (a is None and name in allow_none) else
              check_array(a, name, ndim=1) for name, a in named]
    check_consistent_length(*[(name, a) for (name, _), a in zip(named, arrays)])
    dtype = common_float_dtype(*[a for a in arrays if a is not None])
    return [None if a is None else a.astype(dtype, copy=False) for a in arrays], dtype


def _check_beta(beta):
    return float(check_scalar(beta, "beta", numbers.Real, min_val=0,
                              include_boundaries="neither"))


# ---------------------------------------------------------------- DPO family
def dpo_loss(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps,
             ref_rejected_logps, beta=0.1, loss_type="sigmoid", label_smoothing=0.0):
    """The DPO family of preference losses, per pair, with gradients.

    With h = (log pi(y_c) - log pi_ref(y_c)) - (log pi(y_r) - log pi_ref(y_r)) and
    eps = ``label_smoothing``:

    - ``"sigmoid"`` (DPO; conservative DPO when eps > 0):
      -(1 - eps) log sigmoid(beta h) - eps log sigmoid(-beta h)
    - ``"robust"`` (rDPO, unbiased under label flips with rate eps):
      (-(1 - eps) log sigmoid(beta h) + eps log sigmoid(-beta h)) / (1 - 2 eps)
    - ``"hinge"`` (SLiC): max(0, 1 - beta h)
    - ``"ipo"``: (h - 1 / (2 beta))^2 (pass per-token mean log-probs for TRL's
      length-normalised IPO)
    - ``"reference_free"``: the sigmoid loss with pi_ref uniform (h = log pi(y_c) -
      log pi(y_r)); the reference log-probs may be None and are ignored.

    Parameters
    ----------
    policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps :
        arrays (n,) of summed completion log-probabilities.
    beta : float > 0
    loss_type : one of ``DPO_LOSS_TYPES``
    label_smoothing : float in [0, 0.5), only for sigmoid, robust, reference_free.

    Returns
    -------
    DPOLoss(losses, chosen_rewards, rejected_rewards, grad_policy_chosen,
    grad_policy_rejected): arrays (n,); rewards are beta (log pi - log pi_ref) (beta log pi
    when reference-free); the gradients are d losses_i / d policy logps_i.
    """
    loss_type = check_option(loss_type, "loss_type", DPO_LOSS_TYPES)
    free = loss_type == "reference_free"
    (pc, pr, rc, rr), _ = _vectors(
        [("policy_chosen_logps", policy_chosen_logps),
         ("policy_rejected_logps", policy_rejected_logps),
         ("ref_chosen_logps", ref_chosen_logps), ("ref_rejected_logps", ref_rejected_logps)],
        allow_none=("ref_chosen_logps", "ref_rejected_logps") if free else ())
    beta = _check_beta(beta)
    label_smoothing = float(check_scalar(label_smoothing, "label_smoothing", numbers.Real,
                                         min_val=0, max_val=0.5, include_boundaries="left"))
    if label_smoothing and loss_type in ("hinge", "ipo"):
        raise ValueError(f"label_smoothing must be 0 for loss_type={loss_type!r}, "
                         f"got {label_smoothing}")
    if free:
        rc = rr = None
    return _dpo(pc, pr, rc, rr, beta, loss_type, label_smoothing)


def _dpo(pc, pr, rc, rr, beta, loss_type, label_smoothing):
    """Core of :func:`dpo_loss` (ready arrays; rc, rr None when reference-free)."""
    chosen_ratio = pc if rc is None else pc - rc
    rejected_ratio = pr if rr is None else pr - rr
    h = chosen_ratio - rejected_ratio
    z = beta * h
    eps = label_smoothing
    if loss_type in ("sigmoid", "reference_free"):
        losses = -(1 - eps) * _log_sigmoid(z) - eps * _log_sigmoid(-z)
        dh = beta * (-(1 - eps) * _sigmoid(-z) + eps * _sigmoid(z))
    elif loss_type == "robust":
        losses = (-(1 - eps) * _log_sigmoid(z) + eps * _log_sigmoid(-z)) / (1 - 2 * eps)
        dh = beta * (-(1 - eps) * _sigmoid(-z) - eps * _sigmoid(z)) / (1 - 2 * eps)
    elif loss_type == "hinge":
        losses = np.maximum(0.0, 1 - z)
        dh = np.where(1 - z > 0, -beta, 0.0).astype(h.dtype)
    else:  # ipo
        losses = (h - 1 / (2 * beta)) ** 2
        dh = 2 * (h - 1 / (2 * beta))
    return DPOLoss(losses, beta * chosen_ratio, beta * rejected_ratio, dh, -dh)


# ---------------------------------------------------------------- reward model
def bradley_terry_loss(chosen_rewards, rejected_rewards, margin=None,
                       center_rewards_coefficient=None):
    """Bradley-Terry reward-model loss (TRL's reward trainer) and its gradient.

    loss = mean_i [-log sigmoid(r_c,i - r_r,i - m_i)] + c mean_i (r_c,i + r_r,i)^2

    ``margin`` (n,) or None (m = 0); ``center_rewards_coefficient`` c >= 0 or None keeps
    rewards centred at 0 (Eisenstein et al. 2023). Returns BradleyTerryLoss(loss,
    grad_chosen, grad_rejected), the gradients of the mean loss w.r.t. the rewards.
    """
    (rc, rr, m), _ = _vectors([("chosen_rewards", chosen_rewards),
                               ("rejected_rewards", rejected_rewards), ("margin", margin)],
                              allow_none=("margin",))
    check_nonempty(rc, "chosen_rewards")
    if center_rewards_coefficient is not None:
        center_rewards_coefficient = float(check_scalar(
            center_rewards_coefficient, "center_rewards_coefficient", numbers.Real, min_val=0))
    return _bradley_terry(rc, rr, m, center_rewards_coefficient)


def _bradley_terry(rc, rr, margin, center):
    n = len(rc)
    d = rc - rr if margin is None else rc - rr - margin
    loss = float(np.mean(-_log_sigmoid(d)))
    g = -_sigmoid(-d) / n
    grad_c, grad_r = g, -g
    if center:
        s = rc + rr
        loss += center * float(np.mean(s * s))
        grad_c = grad_c + 2 * center * s / n
        grad_r = grad_r + 2 * center * s / n
    return BradleyTerryLoss(loss, grad_c, grad_r)


# ---------------------------------------------------------------- PPO pieces
def _token_arrays(named, mask):
    """Check 2-D finite float arrays of one shape and a boolean mask of that shape."""
    arrays = [check_array(a, name, ndim=2) for name, a in named]
    shape = arrays[0].shape
    for (name, _), a in zip(named, arrays):
        check_shape(a, name, shape, f" (that of {named[0][0]})")
    dtype = common_float_dtype(*arrays)
    if mask is None:
        mask = np.ones(shape, bool)
    else:
        mask = check_shape(check_array(mask, "mask", ndim=2, dtype=None), "mask",
                           shape).astype(bool)
    return [a.astype(dtype, copy=False) for a in arrays], mask


def gae(rewards, values, gamma=1.0, lam=0.95, mask=None):
    """Generalised advantage estimation over rows of a batch (B, T).

    delta_t = r_t + gamma V_{t+1} - V_t,  A_t = delta_t + gamma lam A_{t+1},
    with V and A taken as 0 past the last valid step of each row (``mask`` (B, T), True =
    valid; default all valid). Returns (advantages, returns = A + V), zero where masked.
    """
    (r, v), mask = _token_arrays([("rewards", rewards), ("values", values)], mask)
    gamma = float(check_scalar(gamma, "gamma", numbers.Real, min_val=0, max_val=1))
    lam = float(check_scalar(lam, "lam", numbers.Real, min_val=0, max_val=1))
    return _gae(r, v, gamma, lam, mask)


def _gae(rewards, values, gamma, lam, mask):
    B, T = rewards.shape
    adv = np.zeros_like(rewards)
    next_value = np.zeros(B, rewards.dtype)
    next_adv = np.zeros(B, rewards.dtype)
    for t in range(T - 1, -1, -1):
        m = mask[:, t]
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        next_adv = np.where(m, delta + gamma * lam * next_adv, 0)
        next_value = np.where(m, values[:, t], 0)
        adv[:, t] = next_adv
    return adv, np.where(mask, adv + values, 0).astype(rewards.dtype)


def whiten(x, mask=None, shift_mean=True):
    """(x - mean) / sqrt(var + 1e-8) over the valid entries (``mask``), var with Bessel's
    correction as TRL's ``masked_whiten``; ``shift_mean=False`` adds the mean back
    (reward whitening keeps the reward's sign). Masked entries are returned as 0."""
    (x,), mask = _token_arrays([("x", x)], mask)
    if mask.sum() < 2:
        raise ValueError("x must have at least 2 valid entries (mask) to whiten")
    return _whiten(x, mask, bool(shift_mean))


def _whiten(x, mask, shift_mean=True):
    n = mask.sum()
    mean = x[mask].mean()
    var = ((x[mask] - mean) ** 2).sum() / (n - 1)
    out = (x - mean) / np.sqrt(var + 1e-8)
    if not shift_mean:
        out += mean
    return np.where(mask, out, 0).astype(x.dtype)


def ppo_policy_loss(logps, old_logps, advantages, mask=None, cliprange=0.2):
    """PPO-clip policy loss: masked mean of max(-A rho, -A clip(rho, 1 - eps, 1 + eps)),
    rho = exp(logps - old_logps), arrays (B, T). Returns PPOLoss(loss, d loss / d logps,
    clipfrac)."""
    (lp, old, adv), mask = _token_arrays(
        [("logps", logps), ("old_logps", old_logps), ("advantages", advantages)], mask)
    if not mask.any():
        raise ValueError("mask must have at least one valid token")
    cliprange = float(check_scalar(cliprange, "cliprange", numbers.Real, min_val=0))
    return _ppo_policy(lp, old, adv, mask, cliprange)


def _ppo_policy(logps, old_logps, adv, mask, cliprange):
    count = mask.sum()
    rho = np.exp(logps - old_logps)
    unclipped = -adv * rho
    clipped = -adv * np.clip(rho, 1 - cliprange, 1 + cliprange)
    use_clipped = (clipped > unclipped) & mask
    loss = float(np.where(mask, np.maximum(unclipped, clipped), 0).sum() / count)
    grad = np.where(mask & ~use_clipped, -adv * rho / count, 0).astype(logps.dtype)
    return PPOLoss(loss, grad, float(use_clipped.sum() / count))


def ppo_value_loss(values, old_values, returns, mask=None, cliprange_value=0.2):
    """Clipped value loss: masked mean of 0.5 max((V - R)^2, (V_clip - R)^2),
    V_clip = V_old + clip(V - V_old, -eps, eps). Returns PPOLoss(loss, d loss / d values,
    clipfrac)."""
    (v, old, ret), mask = _token_arrays(
        [("values", values), ("old_values", old_values), ("returns", returns)], mask)
    if not mask.any():
        raise ValueError("mask must have at least one valid token")
    cliprange_value = float(check_scalar(cliprange_value, "cliprange_value", numbers.Real,
                                         min_val=0))
    return _ppo_value(v, old, ret, mask, cliprange_value)


def _ppo_value(values, old_values, returns, mask, cliprange_value):
    count = mask.sum()
    step = values - old_values
    inside = np.abs(step) < cliprange_value
    err = values - returns
    err_clipped = old_values + np.clip(step, -cliprange_value, cliprange_value) - returns
    use_clipped = (err_clipped ** 2 > err ** 2) & mask
    loss = float(np.where(mask, 0.5 * np.maximum(err ** 2, err_clipped ** 2), 0).sum() / count)
    grad = np.where(use_clipped, err_clipped * inside, err)
    grad = np.where(mask, grad / count, 0).astype(values.dtype)
    return PPOLoss(loss, grad, float(use_clipped.sum() / count))


class AdaptiveKLController:
    """Adaptive KL coefficient (Ziegler et al. 2019): after each batch of ``n_steps``
    rollouts with mean KL ``kl``, e = clip(kl / target - 1, -0.2, 0.2) and
    ``value *= 1 + e n_steps / horizon``. ``target=None`` keeps the coefficient fixed."""

    def __init__(self, init_kl_coef=0.1, target=6.0, horizon=10000):
        self.value = float(check_scalar(init_kl_coef, "init_kl_coef", numbers.Real,
                                        min_val=0))
        self.target = None if target is None else float(check_scalar(
            target, "target", numbers.Real, min_val=0, include_boundaries="neither"))
        self.horizon = float(check_scalar(horizon, "horizon", numbers.Real, min_val=0,
                                          include_boundaries="neither"))

    def update(self, kl, n_steps):
        """Adapt the coefficient to the measured mean KL; returns the new value."""
        if self.target is not None:
            error = np.clip(float(kl) / self.target - 1, -0.2, 0.2)
            self.value *= 1 + error * n_steps / self.horizon
        return self.value
