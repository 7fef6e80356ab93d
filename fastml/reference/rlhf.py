"""RLHF losses written straight from their papers, one pair / one token at a time.

- Bradley-Terry reward-model loss (Ouyang et al. 2022, InstructGPT eq. 1; TRL's reward
  trainer): ``-log sigmoid(r_c - r_r - m)`` plus ``c (r_c + r_r)^2`` (reward centering,
  Eisenstein et al. 2023).
- DPO and its family (Rafailov et al. 2023; IPO, Azar et al. 2023; conservative DPO by
  label smoothing, Mitchell 2023; robust DPO, Chowdhury et al. 2024; hinge, SLiC,
  Zhao et al. 2023), as eric-mitchell/direct-preference-optimization ``preference_loss``.
- GAE (Schulman et al. 2016) by its backward recursion.
- PPO-clip policy and clipped value losses (Schulman et al. 2017; "The N Implementation
  Details of RLHF with PPO").
"""

import math

import numpy as np

from fastml._validation import check_option

__all__ = ["bradley_terry_loss", "dpo_loss", "gae", "ppo_policy_loss", "ppo_value_loss"]


def _log_sigmoid(x):
    return -math.log1p(math.exp(-x)) if x >= 0 else x - math.log1p(math.exp(x))


def bradley_terry_loss(chosen_rewards, rejected_rewards, margin=None,
                       center_rewards_coefficient=None):
    """mean_i [-log sigmoid(r_c,i - r_r,i - m_i)] + c mean_i (r_c,i + r_r,i)^2."""
    n = len(chosen_rewards)
    total = 0.0
    for i in range(n):
        m = 0.0 if margin is None else float(margin[i])
        total += -_log_sigmoid(float(chosen_rewards[i]) - float(rejected_rewards[i]) - m)
        if center_rewards_coefficient is not None:
            total += center_rewards_coefficient * (float(chosen_rewards[i])
                                                   + float(rejected_rewards[i])) ** 2
    return total / n


def dpo_loss(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps,
             ref_rejected_logps, beta=0.1, loss_type="sigmoid", label_smoothing=0.0):
    """Per-pair losses and implicit rewards of the DPO family.

    h = (log pi(y_c) - log pi_ref(y_c)) - (log pi(y_r) - log pi_ref(y_r))
    (reference-free: h = log pi(y_c) - log pi(y_r)); with eps = label_smoothing:

    - sigmoid (DPO; cDPO when eps > 0): -(1 - eps) log s(beta h) - eps log s(-beta h)
    - robust (rDPO): (-(1 - eps) log s(beta h) + eps log s(-beta h)) / (1 - 2 eps)
    - hinge: max(0, 1 - beta h)
    - ipo: (h - 1 / (2 beta))^2
    - reference_free: the sigmoid loss of the reference-free h

    Rewards r = beta (log pi(y) - log pi_ref(y)) (beta log pi(y) when reference-free).
    Returns (losses, chosen_rewards, rejected_rewards), float64 arrays (n,).
    """
    check_option(loss_type, "loss_type", ("sigmoid", "robust", "hinge", "ipo", "reference_free"))
    n = len(policy_chosen_logps)
    losses, chosen, rejected = np.empty(n), np.empty(n), np.empty(n)
    eps = label_smoothing
    for i in range(n):
        pc, pr = float(policy_chosen_logps[i]), float(policy_rejected_logps[i])
        if loss_type == "reference_free":
            rc = rr = 0.0
        else:
            rc, rr = float(ref_chosen_logps[i]), float(ref_rejected_logps[i])
        h = (pc - rc) - (pr - rr)
        if loss_type in ("sigmoid", "reference_free"):
            losses[i] = -(1 - eps) * _log_sigmoid(beta * h) - eps * _log_sigmoid(-beta * h)
        elif loss_type == "robust":
            losses[i] = (-(1 - eps) * _log_sigmoid(beta * h)
                         + eps * _log_sigmoid(-beta * h)) / (1 - 2 * eps)
        elif loss_type == "hinge":
            losses[i] = max(0.0, 1 - beta * h)
        else:  # ipo
            losses[i] = (h - 1 / (2 * beta)) ** 2
        chosen[i] = beta * (pc - rc)
        rejected[i] = beta * (pr - rr)
    return losses, chosen, rejected


def gae(rewards, values, gamma=1.0, lam=0.95, mask=None):
    """Generalised advantage estimation by the backward recursion, row by row:

    delta_t = r_t + gamma V_{t+1} - V_t,  A_t = delta_t + gamma lam A_{t+1},
    with V and A zero after the last valid step (mask), returns R_t = A_t + V_t.
    """
    rewards = np.asarray(rewards, np.float64)
    values = np.asarray(values, np.float64)
    B, T = rewards.shape
    mask = np.ones((B, T), bool) if mask is None else np.asarray(mask, bool)
    adv = np.zeros((B, T))
    for b in range(B):
        next_value = next_adv = 0.0
        for t in reversed(range(T)):
            if not mask[b, t]:
                next_value = next_adv = 0.0
                continue
            delta = rewards[b, t] + gamma * next_value - values[b, t]
            next_adv = delta + gamma * lam * next_adv
            adv[b, t] = next_adv
            next_value = values[b, t]
    return adv, np.where(mask, adv + values, 0.0)


def ppo_policy_loss(logps, old_logps, advantages, mask, cliprange=0.2):
    """Masked mean over tokens of max(-A rho, -A clip(rho, 1 - eps, 1 + eps)),
    rho = exp(log pi - log pi_old)."""
    total, count = 0.0, 0
    for b in range(len(logps)):
        for t in range(len(logps[b])):
            if not mask[b][t]:
                continue
            rho = math.exp(float(logps[b][t]) - float(old_logps[b][t]))
            a = float(advantages[b][t])
            clipped = min(max(rho, 1 - cliprange), 1 + cliprange)
            total += max(-a * rho, -a * clipped)
            count += 1
    return total / count


def ppo_value_loss(values, old_values, returns, mask, cliprange_value=0.2):
    """Masked mean over tokens of 0.5 max((V - R)^2, (V_old + clip(V - V_old, +-eps) - R)^2)."""
    total, count = 0.0, 0
    for b in range(len(values)):
        for t in range(len(values[b])):
            if not mask[b][t]:
                continue
            v, v_old, r = float(values[b][t]), float(old_values[b][t]), float(returns[b][t])
            v_clip = v_old + min(max(v - v_old, -cliprange_value), cliprange_value)
            total += 0.5 * max((v - r) ** 2, (v_clip - r) ** 2)
            count += 1
    return total / count
