"""Numba kernels for :mod:`fastml.rl` policy-gradient methods: tanh MLPs (forward and
backward on the weights of ``fastml.nn.Linear`` layers), GAE, categorical and Gaussian
action sampling, whole compiled rollouts on the classic-control batches of
``_rl_envs``, and the PPO-clip losses with their gradients w.r.t. the network outputs.

An MLP is given as homogeneous tuples: ``weights[l]`` (out, in) and ``biases[l]`` (out,)
float32, and ``hidden[l]`` (rows, out) the workspace that receives layer ``l``'s output
(tanh after every layer but the last); a call uses the first ``n`` rows.
"""

import math

import numpy as np
from numba import njit

from ._rl_envs import classic_step

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


@njit(cache=True, nogil=True, fastmath=True, inline="always")
def _tanh(x):
    """tanh(x) for float32 accuracy as a vectorisable rational function: Eigen's
    13/6-degree minimax approximation on [-7.9053, 7.9053] (+-1 in float32 outside)."""
    x = min(max(x, -7.90531110763549805), 7.90531110763549805)
    x2 = x * x
    p = x2 * -2.76076847742355e-16 + 2.00018790482477e-13
    p = x2 * p + -8.60467152213735e-11
    p = x2 * p + 5.12229709037114e-08
    p = x2 * p + 1.48572235717979e-05
    p = x2 * p + 6.37261928875436e-04
    p = x2 * p + 4.89352455891786e-03
    q = x2 * 1.19825839466702e-06 + 1.18534705686654e-04
    q = x2 * q + 2.26843463243900e-03
    q = x2 * q + 4.89352518554385e-03
    return x * p / q


@njit(cache=True, nogil=True, fastmath=True)
def _dense(inp, n, weight, bias, out, squash):
    """out[:n] = inp[:n] weight^T + bias, then tanh when ``squash``."""
    m, k = weight.shape
    for i in range(n):
        for j in range(m):
            s = np.float64(bias[j])
            for q in range(k):
                s += inp[i, q] * weight[j, q]
            out[i, j] = s
        if squash:
            for j in range(m):
                out[i, j] = _tanh(out[i, j])


@njit(cache=True, nogil=True)
def mlp_forward(x, n, weights, biases, hidden):
    """h_0 = x, h_l = tanh(h_{l-1} W_l^T + b_l), the last layer without tanh; the output
    is ``hidden[-1][:n]``."""
    depth = len(weights)
    _dense(x, n, weights[0], biases[0], hidden[0], depth > 1)
    for layer in range(1, depth):
        _dense(hidden[layer - 1], n, weights[layer], biases[layer], hidden[layer],
               layer < depth - 1)


@njit(cache=True, nogil=True, fastmath=True)
def mlp_backward(x, n, weights, hidden, deltas, grad_weights, grad_biases):
    """Backward pass of :func:`mlp_forward` (same ``x``, ``n``, ``hidden``): with
    ``deltas[-1][:n]`` = dL/d output, adds dL/dW_l and dL/db_l to ``grad_weights`` and
    ``grad_biases`` (as ``fastml.nn`` accumulates); ``deltas[l]`` are workspaces."""
    for layer in range(len(weights) - 1, -1, -1):
        weight = weights[layer]
        m, k = weight.shape
        d = deltas[layer]
        inp = x if layer == 0 else hidden[layer - 1]
        grad_w, grad_b = grad_weights[layer], grad_biases[layer]
        for i in range(n):
            for j in range(m):
                dij = d[i, j]
                grad_b[j] += dij
                for q in range(k):
                    grad_w[j, q] += dij * inp[i, q]
        if layer > 0:
            prev = deltas[layer - 1]
            for i in range(n):
                for q in range(k):
                    prev[i, q] = 0.0
                for j in range(m):
                    dij = d[i, j]
                    for q in range(k):
                        prev[i, q] += dij * weight[j, q]
                for q in range(k):
                    prev[i, q] *= 1.0 - inp[i, q] * inp[i, q]


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
def _categorical(logits, i, u):
    """Action ~ softmax(logits[i]) by inversion with the uniform ``u``, and its
    log-probability."""
    A = logits.shape[1]
    m = logits[i, 0]
    for a in range(1, A):
        m = max(m, logits[i, a])
    total = 0.0
    for a in range(A):
        total += math.exp(logits[i, a] - m)
    target = u * total
    acc = 0.0
    chosen = A - 1
    for a in range(A):
        acc += math.exp(logits[i, a] - m)
        if acc > target:
            chosen = a
            break
    return chosen, logits[i, chosen] - m - math.log(total)


@njit(cache=True, nogil=True)
def sample_actions(head, n, gaussian, log_std, noise, actions, logp):
    """Actions of ``n`` rows of policy outputs ``head``, and their log-probabilities.

    Categorical (``gaussian`` False): ``actions[i, 0]`` ~ softmax(head[i]) by inversion
    with the uniform ``noise[i, 0]``. Gaussian: a = mu + exp(log_std) z with z =
    ``noise[i]`` standard normal, log pi(a) = sum_j -z_j^2 / 2 - log_std_j - log(2 pi) / 2.
    """
    for i in range(n):
        if gaussian:
            total = 0.0
            for j in range(head.shape[1]):
                z = noise[i, j]
                actions[i, j] = head[i, j] + math.exp(log_std[j]) * z
                total += -0.5 * z * z - log_std[j] - _HALF_LOG_2PI
            logp[i] = total
        else:
            chosen, lp = _categorical(head, i, noise[i, 0])
            actions[i, 0] = chosen
            logp[i] = lp


@njit(cache=True, nogil=True)
def classic_rollout(t0, n_steps, kind, state, env_actions, obs, reward, terminated, truncated,
                    elapsed, max_steps, mode, needs_reset, env_u, cursor, final_obs, has_final,
                    two, weights, biases, hidden, gaussian, log_std, low, high, noise,
                    obs_buf, act_buf, logp_buf, rew_buf, done_buf, next_done):
    """Steps ``t0 .. t0 + n_steps - 1`` of a rollout on a classic-control batch of
    ``_rl_envs`` (its arrays as ``classic_step`` takes them, same-step autoreset): record
    the observation and ``next_done`` (the observation starts an episode), sample the
    policy (:func:`sample_actions` with ``noise[t]``), step every env with the action
    (Gaussian: the first component clipped to [low, high]), record reward and done."""
    N = state.shape[0]
    head = hidden[len(hidden) - 1]
    for t in range(t0, t0 + n_steps):
        for i in range(N):
            for j in range(obs.shape[1]):
                obs_buf[t, i, j] = obs[i, j]
            done_buf[t, i] = next_done[i]
        mlp_forward(obs, N, weights, biases, hidden)
        sample_actions(head, N, gaussian, log_std, noise[t], act_buf[t], logp_buf[t])
        for i in range(N):
            a = act_buf[t, i, 0]
            env_actions[i] = min(max(a, low), high) if gaussian else a
        classic_step(kind, state, env_actions, obs, reward, terminated, truncated, elapsed,
                     max_steps, mode, needs_reset, env_u, cursor, final_obs, has_final, two)
        for i in range(N):
            rew_buf[t, i] = reward[i]
            next_done[i] = 1.0 if terminated[i] or truncated[i] else 0.0


@njit(cache=True, nogil=True)
def _clip_term(logp, old_logp, adv, clip):
    """max(-A r, -A clip(r, 1 - c, 1 + c)) with r = exp(logp - old_logp), its derivative
    w.r.t. logp, whether r is outside the clip range and the k3 estimate of KL."""
    log_ratio = logp - old_logp
    ratio = math.exp(log_ratio)
    unclipped = -adv * ratio
    clipped_term = -adv * min(max(ratio, 1.0 - clip), 1.0 + clip)
    if unclipped >= clipped_term:
        loss, d_ratio = unclipped, -adv
    else:
        loss = clipped_term
        d_ratio = -adv if 1.0 - clip < ratio < 1.0 + clip else 0.0
    outside = 1.0 if abs(ratio - 1.0) > clip else 0.0
    return loss, d_ratio * ratio, outside, (ratio - 1.0) - log_ratio


@njit(cache=True, nogil=True)
def _value_term(v, R, old_v, clip_vf):
    """1/2 max((v - R)^2, (old_v + clip(v - old_v, -c, c) - R)^2) (plain 1/2 (v - R)^2
    when c <= 0) and its derivative w.r.t. v."""
    if clip_vf > 0:
        dv = v - old_v
        v_clip = old_v + min(max(dv, -clip_vf), clip_vf)
        if (v - R) ** 2 >= (v_clip - R) ** 2:
            return 0.5 * (v - R) ** 2, v - R
        return 0.5 * (v_clip - R) ** 2, (v_clip - R) if -clip_vf < dv < clip_vf else 0.0
    return 0.5 * (v - R) ** 2, v - R


@njit(cache=True, nogil=True)
def _finish(B, pg, v_loss, entropy, kl, clipped, ent_coef, vf_coef, stats):
    pg /= B
    v_loss /= B
    entropy /= B
    loss = pg - ent_coef * entropy + vf_coef * v_loss
    stats[0], stats[1], stats[2], stats[3] = loss, pg, v_loss, entropy
    stats[4], stats[5] = kl / B, clipped / B
    return loss


@njit(cache=True, nogil=True)
def ppo_loss(logits, values, actions, old_logp, advantages, returns, old_values, clip,
             clip_vf, ent_coef, vf_coef, grad_logits, grad_values, stats):
    """PPO-clip loss of one minibatch of categorical policies and its gradient w.r.t.
    logits (B, A) and values (B,):

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
        term, d_logp, outside, k3 = _clip_term(logits[i, act] - m - log_total, old_logp[i],
                                               advantages[i], clip)
        pg += term
        clipped += outside
        kl += k3
        entropy += h
        d_logp /= B
        for a in range(A):
            logp_a = logits[i, a] - m - log_total
            # d logp / d z_a = [a == act] - p_a;  d H / d z_a = -p_a (log p_a + h)
            grad_logits[i, a] = d_logp * ((1.0 if a == act else 0.0) - p[a]) \
                + ent_coef / B * p[a] * (logp_a + h)
        term, d_v = _value_term(values[i], returns[i], old_values[i], clip_vf)
        v_loss += term
        grad_values[i] = vf_coef * d_v / B
    return _finish(B, pg, v_loss, entropy, kl, clipped, ent_coef, vf_coef, stats)


@njit(cache=True, nogil=True)
def gaussian_ppo_loss(mean, log_std, values, actions, old_logp, advantages, returns,
                      old_values, clip, clip_vf, ent_coef, vf_coef, grad_mean, grad_log_std,
                      grad_values, stats):
    """:func:`ppo_loss` for a diagonal Gaussian policy N(mean (B, A), diag exp(2 log_std))
    with a state-independent ``log_std`` (A,) and actions (B, A):

        log pi(a) = sum_j -(a_j - mu_j)^2 / (2 sigma_j^2) - log sigma_j - log(2 pi) / 2,
        H = sum_j log sigma_j + (1 + log(2 pi)) / 2,

    so d log pi / d mu_j = (a_j - mu_j) / sigma_j^2, d log pi / d log sigma_j = z_j^2 - 1
    (z = (a - mu) / sigma) and d H / d log sigma_j = 1. Gradients go to ``grad_mean``,
    ``grad_log_std`` (overwritten) and ``grad_values``. Returns L.
    """
    B, A = mean.shape
    h = 0.0
    for j in range(A):
        h += log_std[j] + 0.5 + _HALF_LOG_2PI
        grad_log_std[j] = -ent_coef
    pg = v_loss = kl = clipped = 0.0
    for i in range(B):
        logp = 0.0
        for j in range(A):
            z = (actions[i, j] - mean[i, j]) * math.exp(-log_std[j])
            logp += -0.5 * z * z - log_std[j] - _HALF_LOG_2PI
        term, d_logp, outside, k3 = _clip_term(logp, old_logp[i], advantages[i], clip)
        pg += term
        clipped += outside
        kl += k3
        d_logp /= B
        for j in range(A):
            inv_std = math.exp(-log_std[j])
            z = (actions[i, j] - mean[i, j]) * inv_std
            grad_mean[i, j] = d_logp * z * inv_std
            grad_log_std[j] += d_logp * (z * z - 1.0)
        term, d_v = _value_term(values[i], returns[i], old_values[i], clip_vf)
        v_loss += term
        grad_values[i] = vf_coef * d_v / B
    return _finish(B, pg, v_loss, h * B, kl, clipped, ent_coef, vf_coef, stats)
