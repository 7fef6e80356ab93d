"""Numba kernels for :mod:`fastml.rl` policy-gradient methods: GAE, categorical sampling
and the PPO-clip loss with its gradient with respect to the network outputs.
"""

import math

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def gae(rewards, values, dones, last_value, last_done, gamma, lam, advantages, returns):
    """Generalised advantage estimation over a (T, N) rollout (CleanRL's convention:
    ``dones[t]`` = s_t starts a new episode):

        delta_t = r_t + gamma V_{t+1} (1 - d_{t+1}) - V_t,
        A_t = delta_t + gamma lam (1 - d_{t+1}) A_{t+1},   returns = A + V.
    """
    T, N = rewards.shape
    for n in range(N):
        running = 0.0
        for t in range(T - 1, -1, -1):
            if t == T - 1:
                next_value, next_nonterminal = last_value[n], 1.0 - last_done[n]
            else:
                next_value, next_nonterminal = values[t + 1, n], 1.0 - dones[t + 1, n]
            delta = rewards[t, n] + gamma * next_value * next_nonterminal - values[t, n]
            running = delta + gamma * lam * next_nonterminal * running
            advantages[t, n] = running
            returns[t, n] = running + values[t, n]


@njit(cache=True, nogil=True)
def sample_categorical(logits, u, actions, logp):
    """actions[i] ~ softmax(logits[i]) by inversion with the uniform u[i]; logp[i] its
    log-probability."""
    B, A = logits.shape
    for i in range(B):
        m = logits[i, 0]
        for a in range(1, A):
            m = max(m, logits[i, a])
        total = 0.0
        for a in range(A):
            total += math.exp(logits[i, a] - m)
        target = u[i] * total
        acc = 0.0
        chosen = A - 1
        for a in range(A):
            acc += math.exp(logits[i, a] - m)
            if acc > target:
                chosen = a
                break
        actions[i] = chosen
        logp[i] = logits[i, chosen] - m - math.log(total)


@njit(cache=True, nogil=True)
def ppo_loss(logits, values, actions, old_logp, advantages, returns, old_values, clip,
             clip_vf, ent_coef, vf_coef, grad_logits, grad_values, stats):
    """PPO-clip loss of one minibatch and its gradient w.r.t. logits (B, A) and values (B,).

        r = exp(logp - old_logp),
        L_pi = mean max(-A r, -A clip(r, 1 - c, 1 + c)),
        L_v = 1/2 mean max((v - R)^2, (old_v + clip(v - old_v, -c_v, c_v) - R)^2)
              (plain 1/2 mean (v - R)^2 when c_v <= 0),
        H = mean entropy of softmax(logits),
        L = L_pi - ent_coef H + vf_coef L_v.

    ``stats`` receives (L, L_pi, L_v, H, approx_kl, clip_fraction). Returns L.
    """
    B, A = logits.shape
    p = np.empty(A)
    pg = v_loss = entropy = kl = clipped = 0.0
    for i in range(B):
        m = logits[i, 0]
        for a in range(1, A):
            m = max(m, logits[i, a])
        total = 0.0
        for a in range(A):
            p[a] = math.exp(logits[i, a] - m)
            total += p[a]
        log_total = math.log(total)
        h = 0.0
        for a in range(A):
            p[a] /= total
            if p[a] > 0:
                h -= p[a] * (logits[i, a] - m - log_total)
        act = actions[i]
        logp = logits[i, act] - m - log_total
        log_ratio = logp - old_logp[i]
        ratio = math.exp(log_ratio)
        adv = advantages[i]
        unclipped = -adv * ratio
        r_clip = min(max(ratio, 1.0 - clip), 1.0 + clip)
        clipped_term = -adv * r_clip
        if unclipped >= clipped_term:
            pg += unclipped
            d_ratio = -adv
        else:
            pg += clipped_term
            d_ratio = -adv if 1.0 - clip < ratio < 1.0 + clip else 0.0
        if abs(ratio - 1.0) > clip:
            clipped += 1.0
        kl += (ratio - 1.0) - log_ratio
        d_logp = d_ratio * ratio / B
        entropy += h
        for a in range(A):
            logp_a = logits[i, a] - m - log_total
            # d logp / d z_a = [a == act] - p_a;  d H / d z_a = -p_a (log p_a + h)
            grad_logits[i, a] = d_logp * ((1.0 if a == act else 0.0) - p[a]) \
                + ent_coef / B * p[a] * (logp_a + h)
        v, R = values[i], returns[i]
        if clip_vf > 0:
            dv = v - old_values[i]
            v_clip = old_values[i] + min(max(dv, -clip_vf), clip_vf)
            if (v - R) ** 2 >= (v_clip - R) ** 2:
                v_loss += 0.5 * (v - R) ** 2
                grad_values[i] = vf_coef * (v - R) / B
            else:
                v_loss += 0.5 * (v_clip - R) ** 2
                inside = -clip_vf < dv < clip_vf
                grad_values[i] = vf_coef * (v_clip - R) / B if inside else 0.0
        else:
            v_loss += 0.5 * (v - R) ** 2
            grad_values[i] = vf_coef * (v - R) / B
    pg /= B
    v_loss /= B
    entropy /= B
    loss = pg - ent_coef * entropy + vf_coef * v_loss
    stats[0], stats[1], stats[2], stats[3] = loss, pg, v_loss, entropy
    stats[4], stats[5] = kl / B, clipped / B
    return loss
