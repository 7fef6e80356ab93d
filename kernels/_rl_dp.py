"""Numba kernels for :mod:`fastml.rl` dynamic programming: Bellman backups on a tabular MDP.

The MDP arrives in padded sparse form, the same for dense matrices and Gymnasium's
toy-text tables: for state ``s`` and action ``a`` the outcomes ``k < K`` lead to
``next_state[s, a, k]`` with continuation probability ``prob[s, a, k]`` (zero for
padding and for transitions that end the episode, whose successor value is not
bootstrapped), and ``reward[s, a]`` is the expected immediate reward. Then

    Q(s, a) = reward[s, a] + gamma * sum_k prob[s, a, k] V(next_state[s, a, k]).
"""

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def bellman_q(next_state, prob, reward, gamma, V, Q):
    """Q(s, a) = r(s, a) + gamma sum_k p_k V(s'_k), written into ``Q`` (S, A)."""
    S, A, K = prob.shape
    for s in range(S):
        for a in range(A):
            acc = 0.0
            for k in range(K):
                acc += prob[s, a, k] * V[next_state[s, a, k]]
            Q[s, a] = reward[s, a] + gamma * acc


@njit(cache=True, nogil=True)
def value_iteration(next_state, prob, reward, gamma, threshold, max_iter, V, Q):
    """Iterate V <- max_a Q(V) (Jacobi sweeps) until max |V_new - V| < threshold.

    ``V`` holds the start and receives the result, ``Q`` the last backup.
    Returns the number of sweeps.
    """
    S, A = reward.shape
    for it in range(max_iter):
        bellman_q(next_state, prob, reward, gamma, V, Q)
        delta = 0.0
        for s in range(S):
            best = Q[s, 0]
            for a in range(1, A):
                if Q[s, a] > best:
                    best = Q[s, a]
            diff = abs(best - V[s])
            if diff > delta:
                delta = diff
            V[s] = best
        if delta < threshold:
            return it + 1
    return max_iter


@njit(cache=True, nogil=True)
def policy_evaluation(next_state, prob, reward, gamma, pi, threshold, max_iter, V, Q):
    """Iterate V <- sum_a pi(a|s) Q(V)(s, a) until max |V_new - V| < threshold.

    ``pi`` (S, A) holds action probabilities. Returns the number of sweeps.
    """
    S, A = reward.shape
    for it in range(max_iter):
        bellman_q(next_state, prob, reward, gamma, V, Q)
        delta = 0.0
        for s in range(S):
            v = 0.0
            for a in range(A):
                v += pi[s, a] * Q[s, a]
            diff = abs(v - V[s])
            if diff > delta:
                delta = diff
            V[s] = v
        if delta < threshold:
            return it + 1
    return max_iter


@njit(cache=True, nogil=True)
def policy_matrix(next_state, prob, reward, pi, P_pi, r_pi):
    """P_pi[s, s'] = sum_a pi(a|s) sum_k p_k [s'_k = s'] and r_pi[s] = sum_a pi(a|s) r(s, a)."""
    S, A, K = prob.shape
    P_pi[:, :] = 0.0
    for s in range(S):
        acc = 0.0
        for a in range(A):
            w = pi[s, a]
            if w == 0.0:
                continue
            acc += w * reward[s, a]
            for k in range(K):
                P_pi[s, next_state[s, a, k]] += w * prob[s, a, k]
        r_pi[s] = acc


@njit(cache=True, nogil=True)
def greedy_policy(Q, policy, tie_tol):
    """policy[s] <- argmax_a Q(s, a), keeping the current action when it is within
    ``tie_tol`` of the best (so policy iteration stops instead of cycling between ties).
    Returns the number of states whose action changed."""
    S, A = Q.shape
    changed = 0
    for s in range(S):
        best = 0
        for a in range(1, A):
            if Q[s, a] > Q[s, best]:
                best = a
        current = policy[s]
        if current < 0 or Q[s, current] < Q[s, best] - tie_tol:
            policy[s] = best
            changed += 1
    return changed


@njit(cache=True, nogil=True)
def one_hot(policy, A):
    """(S, A) action probabilities of a deterministic policy."""
    pi = np.zeros((policy.shape[0], A))
    for s in range(policy.shape[0]):
        pi[s, policy[s]] = 1.0
    return pi
