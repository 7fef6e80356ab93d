"""Dynamic programming on finite MDPs: Bellman backups, policy evaluation, value and
policy iteration.

For a policy pi the value function solves the Bellman expectation equation

    V_pi(s) = sum_a pi(a|s) [ r(s, a) + gamma sum_s' P(s'|s, a) V_pi(s') ],

i.e. ``V_pi = (I - gamma P_pi)^-1 r_pi`` (the exact linear solve); the optimal value
solves the Bellman optimality equation ``V*(s) = max_a Q*(s, a)`` with
``Q(s, a) = r(s, a) + gamma sum_s' P(s'|s, a) V(s')``. Value iteration applies the
optimality backup until the sup-norm change ``delta`` satisfies
``gamma / (1 - gamma) delta < tol`` (so ``|V - V*| < tol``); policy iteration alternates
an exact evaluation with a greedy improvement until the policy is stable.

An MDP is given either as arrays — ``P`` (S, A, S) with rows ``P[s, a]`` summing to 1
and ``R`` (S, A) expected rewards or (S, A, S) rewards per transition — or as a
Gymnasium toy-text table ``env.unwrapped.P`` (``{s: {a: [(p, s', r, terminated), ...]}}``,
``R=None``), or any object with such a table (``env``, ``env.unwrapped``). A transition
with ``terminated=True`` ends the episode: its reward counts, the successor's value does
not. Everything is computed in float64.
"""

import numbers

import numpy as np

from fastml import _kernels
from fastml._validation import (
    _shape_str,
    check_array,
    check_bounds,
    check_index_array,
    check_nonempty,
    check_option,
    check_scalar,
    check_shape,
)

__all__ = ["bellman_q", "policy_evaluation", "policy_iteration", "q_policy_evaluation",
           "q_value_iteration", "value_iteration"]

_STOCHASTIC_TOL = 1e-8


class _MDP:
    """A validated MDP in padded sparse form (see ``kernels/_rl_dp.py``)."""

    def __init__(self, P, R, gamma):
        self.gamma = float(check_scalar(gamma, "gamma", numbers.Real, min_val=0.0, max_val=1.0))
        table = _transition_table(P)
        if table is not None:
            if R is not None:
                raise ValueError("R must be None when P is a Gymnasium transition table "
                                 "(the rewards are in the table)")
            self._from_table(table)
        else:
            self._from_arrays(P, R)
        self.n_states, self.n_actions = self.reward.shape

    def _from_table(self, table):
        S = len(check_nonempty(table, "P"))
        A = len(table[0])
        K = max(len(outcomes) for actions in table.values() for outcomes in actions.values())
        self.next_state = np.zeros((S, A, K), dtype=np.int64)
        self.prob = np.zeros((S, A, K))
        self.reward = np.zeros((S, A))
        for s in range(S):
            if s not in table or len(table[s]) != A:
                raise ValueError(f"P must list the same {A} actions for every state "
                                 f"0..{S - 1}; state {s} differs")
            for a in range(A):
                total = 0.0
                for k, (p, s_next, r, terminated) in enumerate(table[s][a]):
                    if p < 0 or not 0 <= s_next < S:
                        raise ValueError(f"P[{s}][{a}] has an invalid outcome "
                                         f"(p={p}, next state {s_next})")
                    total += p
                    self.reward[s, a] += p * r
                    self.next_state[s, a, k] = s_next
                    self.prob[s, a, k] = 0.0 if terminated else p
                if abs(total - 1.0) > _STOCHASTIC_TOL:
                    raise ValueError(f"P rows must be probability distributions: the "
                                     f"outcomes of P[{s}][{a}] sum to {total}")

    def _from_arrays(self, P, R):
        P = check_array(P, "P", ndim=3, dtype=np.float64, allow_empty=False)
        S, A, _ = P.shape
        check_shape(P, "P", (S, A, S), " = (S, A, S): next states index the states")
        check_bounds(P, "P", low=0.0, detail=" (probabilities)")
        sums = P.sum(axis=2)
        bad = np.abs(sums - 1.0) > _STOCHASTIC_TOL
        if bad.any():
            s, a = np.argwhere(bad)[0]
            raise ValueError(f"P rows must be stochastic (sum to 1 over next states): "
                             f"P[{s}, {a}] sums to {sums[s, a]}")
        if R is None:
            raise ValueError("R is required when P is an array")
        R = check_array(R, "R", ndim=(2, 3), dtype=np.float64)
        if R.shape not in ((S, A), (S, A, S)):
            raise ValueError(f"R must have shape (S, A) = {_shape_str((S, A))} or (S, A, S), "
                             f"got {_shape_str(R.shape)}")
        self.reward = np.ascontiguousarray((P * R).sum(axis=2)) if R.ndim == 3 else R
        self.next_state = np.ascontiguousarray(
            np.broadcast_to(np.arange(S, dtype=np.int64), (S, A, S)))
        self.prob = P

    def policy_probabilities(self, policy):
        """(S, A) action probabilities from a deterministic (S,) or stochastic (S, A) policy."""
        S, A = self.n_states, self.n_actions
        policy = np.asarray(policy)
        if policy.shape == (S,):
            policy = check_index_array(policy, "policy", A, what="actions", ndim=1)
            return _kernels.load("_rl_dp").one_hot(policy.astype(np.int64), A)
        pi = check_array(policy, "policy", ndim=2, dtype=np.float64)
        check_shape(pi, "policy", (S, A), f" or ({S},) (action probabilities or the "
                    "action of every state)")
        if (pi < 0).any() or (np.abs(pi.sum(axis=1) - 1.0) > _STOCHASTIC_TOL).any():
            raise ValueError("policy rows must be probability distributions over actions")
        return pi

    def threshold(self, tol):
        """Sup-norm change below which an iterate is within ``tol`` of the fixed point."""
        g = self.gamma
        return tol if g >= 1.0 else tol * (1.0 - g) / max(g, 1e-300)


def _transition_table(P):
    """The Gymnasium ``{s: {a: [(p, s', r, done)]}}`` table held by P, or None."""
    if isinstance(P, dict):
        return P
    for obj in (P, getattr(P, "unwrapped", None)):
        table = getattr(obj, "P", None)
        if isinstance(table, dict):
            return table
    return None


def _check_tol(tol, max_iter):
    check_scalar(tol, "tol", numbers.Real, min_val=0.0, include_boundaries="neither")
    check_scalar(max_iter, "max_iter", numbers.Integral, min_val=1)
    return float(tol), int(max_iter)


def _bellman_q_core(mdp, V):
    Q = np.empty((mdp.n_states, mdp.n_actions))
    _kernels.load("_rl_dp").bellman_q(mdp.next_state, mdp.prob, mdp.reward, mdp.gamma, V, Q)
    return Q


def _value_iteration_core(mdp, tol, max_iter):
    V = np.zeros(mdp.n_states)
    Q = np.empty((mdp.n_states, mdp.n_actions))
    _kernels.load("_rl_dp").value_iteration(mdp.next_state, mdp.prob, mdp.reward, mdp.gamma,
                                            mdp.threshold(tol), max_iter, V, Q)
    return _bellman_q_core(mdp, V)


def _exact_evaluation_core(mdp, pi):
    S = mdp.n_states
    P_pi = np.empty((S, S))
    r_pi = np.empty(S)
    _kernels.load("_rl_dp").policy_matrix(mdp.next_state, mdp.prob, mdp.reward, pi, P_pi, r_pi)
    return np.linalg.solve(np.eye(S) - mdp.gamma * P_pi, r_pi)


def _evaluation_core(mdp, pi, method, tol, max_iter):
    if method == "exact":
        return _exact_evaluation_core(mdp, pi)
    V = np.zeros(mdp.n_states)
    Q = np.empty((mdp.n_states, mdp.n_actions))
    _kernels.load("_rl_dp").policy_evaluation(mdp.next_state, mdp.prob, mdp.reward, mdp.gamma,
                                              pi, mdp.threshold(tol), max_iter, V, Q)
    return V


def bellman_q(P, R=None, V=None, gamma=0.99):
    """One Bellman backup: ``Q(s, a) = r(s, a) + gamma sum_s' P(s'|s, a) V(s')``.

    V : (S,) values. Returns Q (S, A), float64.
    """
    mdp = _MDP(P, R, gamma)
    V = check_shape(check_array(V, "V", ndim=1, dtype=np.float64), "V", (mdp.n_states,),
                    " (one value per state)")
    return _bellman_q_core(mdp, V)


def q_value_iteration(P, R=None, gamma=0.99, tol=1e-10, *, max_iter=1_000_000):
    """Optimal action values Q* (S, A) by value iteration, to within ``tol`` (sup norm)."""
    mdp = _MDP(P, R, gamma)
    return _value_iteration_core(mdp, *_check_tol(tol, max_iter))


def value_iteration(P, R=None, gamma=0.99, tol=1e-10, *, max_iter=1_000_000):
    """Optimal values and a greedy optimal policy by value iteration.

    Returns ``(V, policy)``: V (S,) float64 within ``tol`` of V*, policy (S,) int64 with
    ``policy[s] = argmax_a Q(s, a)`` (first maximiser).
    """
    Q = q_value_iteration(P, R, gamma, tol, max_iter=max_iter)
    return Q.max(axis=1), Q.argmax(axis=1)


def policy_evaluation(P, R=None, policy=None, gamma=0.99, *, method="exact", tol=1e-10,
                      max_iter=1_000_000):
    """V_pi (S,) of a policy: ``method="exact"`` solves ``(I - gamma P_pi) V = r_pi``;
    ``"iterative"`` applies the expectation backup until within ``tol``.

    policy : (S,) integer actions or (S, A) action probabilities.
    """
    mdp = _MDP(P, R, gamma)
    check_option(method, "method", ("exact", "iterative"))
    tol, max_iter = _check_tol(tol, max_iter)
    return _evaluation_core(mdp, mdp.policy_probabilities(policy), method, tol, max_iter)


def q_policy_evaluation(P, R=None, policy=None, gamma=0.99, *, method="exact", tol=1e-10,
                        max_iter=1_000_000):
    """Q_pi (S, A) = r + gamma P V_pi for a policy (see :func:`policy_evaluation`)."""
    mdp = _MDP(P, R, gamma)
    check_option(method, "method", ("exact", "iterative"))
    tol, max_iter = _check_tol(tol, max_iter)
    V = _evaluation_core(mdp, mdp.policy_probabilities(policy), method, tol, max_iter)
    return _bellman_q_core(mdp, V)


def policy_iteration(P, R=None, gamma=0.99, *, max_iter=10_000):
    """Optimal values and policy by policy iteration (exact evaluation, greedy improvement).

    Starts from the policy that is greedy for the immediate reward and stops when no
    action changes (ties within 1e-12 relative keep the current action). Returns
    ``(V, policy)`` as :func:`value_iteration`.
    """
    mdp = _MDP(P, R, gamma)
    check_scalar(max_iter, "max_iter", numbers.Integral, min_val=1)
    kernels = _kernels.load("_rl_dp")
    policy = np.full(mdp.n_states, -1, dtype=np.int64)
    Q = mdp.reward.copy()
    V = None
    for _ in range(int(max_iter)):
        tie_tol = 1e-12 * max(1.0, float(np.abs(Q).max()))
        if kernels.greedy_policy(Q, policy, tie_tol) == 0:
            break
        V = _exact_evaluation_core(mdp, kernels.one_hot(policy, mdp.n_actions))
        Q = _bellman_q_core(mdp, V)
    return V, policy
