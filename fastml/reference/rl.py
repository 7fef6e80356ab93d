"""Reference reinforcement learning, written straight from the equations.

Dense MDP arrays only: ``P`` (S, A, S) transition probabilities, ``R`` (S, A) expected
rewards (transitions that end an episode are given by rows of ``P`` that do not sum to
one). Loops and textbook formulas, no tricks: the oracle for :mod:`fastml.rl`.
"""

import numpy as np

__all__ = ["bellman_q", "dense_from_table", "gae", "gaussian_log_prob", "policy_evaluation",
           "ppo_clip_loss", "q_learning_taxi", "reinforce_gradient_logits", "value_iteration"]


def dense_from_table(table):
    """Dense (P, R) from a Gymnasium toy-text table ``table[s][a] = [(p, s', r, done)]``:
    R(s, a) = sum p r over the outcomes, P(s'|s, a) = sum p over the outcomes that go on
    to s' (an outcome that ends the episode contributes no continuation)."""
    S, A = len(table), len(table[0])
    P, R = np.zeros((S, A, S)), np.zeros((S, A))
    for s in range(S):
        for a in range(A):
            for p, s2, r, done in table[s][a]:
                R[s, a] += p * r
                if not done:
                    P[s, a, s2] += p
    return P, R


def bellman_q(P, R, V, gamma):
    """Q(s, a) = R(s, a) + gamma sum_s' P(s'|s, a) V(s')."""
    return R + gamma * np.einsum("sat,t->sa", P, V)


def value_iteration(P, R, gamma=0.99, tol=1e-10):
    """V <- max_a Q(V) until gamma / (1 - gamma) max |V_new - V| < tol; returns (V, policy)."""
    V = np.zeros(P.shape[0])
    while True:
        Q = bellman_q(P, R, V, gamma)
        V_new = Q.max(axis=1)
        delta = np.abs(V_new - V).max()
        V = V_new
        if delta * gamma / (1 - gamma) < tol:
            break
    Q = bellman_q(P, R, V, gamma)
    return Q.max(axis=1), Q.argmax(axis=1)


def policy_evaluation(P, R, policy, gamma=0.99):
    """V_pi = (I - gamma P_pi)^-1 r_pi for a deterministic policy (S,)."""
    S = P.shape[0]
    P_pi = np.array([P[s, policy[s]] for s in range(S)])
    r_pi = np.array([R[s, policy[s]] for s in range(S)])
    return np.linalg.solve(np.eye(S) - gamma * P_pi, r_pi)


def gae(rewards, values, dones, last_value, last_done, gamma=0.99, lam=0.95):
    """Generalised advantage estimation, one env at a time, backwards in time:

    delta_t = r_t + gamma V(s_{t+1}) (1 - d_{t+1}) - V(s_t),
    A_t = delta_t + gamma lam (1 - d_{t+1}) A_{t+1},

    where ``dones[t]`` says whether s_t starts a new episode (CleanRL's convention:
    ``d_{T} = last_done``, ``V(s_T) = last_value``). Arrays (T, N). Returns (advantages,
    returns = advantages + values).
    """
    T, N = rewards.shape
    adv = np.zeros((T, N))
    for n in range(N):
        running = 0.0
        for t in reversed(range(T)):
            next_value = last_value[n] if t == T - 1 else values[t + 1, n]
            next_nonterminal = 1.0 - (last_done[n] if t == T - 1 else dones[t + 1, n])
            delta = rewards[t, n] + gamma * next_value * next_nonterminal - values[t, n]
            running = delta + gamma * lam * next_nonterminal * running
            adv[t, n] = running
    return adv, adv + values


def ppo_clip_loss(new_logp, old_logp, advantages, clip=0.2):
    """PPO-clip policy loss: mean of max(-A r, -A clip(r, 1 - eps, 1 + eps)),
    r = exp(new_logp - old_logp)."""
    loss = 0.0
    for lp, olp, a in zip(new_logp, old_logp, advantages):
        ratio = np.exp(lp - olp)
        loss += max(-a * ratio, -a * min(max(ratio, 1 - clip), 1 + clip))
    return loss / len(advantages)


def reinforce_gradient_logits(logits, actions, returns):
    """Gradient of -mean_t G_t log softmax(logits_t)[a_t] with respect to the logits:
    (softmax(logits_t) - onehot(a_t)) G_t / T."""
    T = len(actions)
    grad = np.zeros_like(logits, dtype=np.float64)
    for t in range(T):
        z = logits[t] - logits[t].max()
        p = np.exp(z) / np.exp(z).sum()
        onehot = np.zeros_like(p)
        onehot[actions[t]] = 1.0
        grad[t] = (p - onehot) * returns[t] / T
    return grad


def q_learning_taxi(env, episodes, alpha=0.1, gamma=0.99, epsilon=0.1, seed=0):
    """Tabular Q-learning in plain Python/NumPy on any Gymnasium-API discrete env:
    Q(s, a) += alpha (r + gamma (1 - terminated) max_a' Q(s', a') - Q(s, a)),
    epsilon-greedy behaviour. Returns (Q, number of env steps)."""
    rng = np.random.default_rng(seed)
    Q = np.zeros((env.observation_space.n, env.action_space.n))
    steps = 0
    for episode in range(episodes):
        s, _ = env.reset(seed=seed + episode)
        done = False
        while not done:
            if rng.random() < epsilon:
                a = int(rng.integers(Q.shape[1]))
            else:
                a = int(np.argmax(Q[s]))
            s2, r, terminated, truncated, _ = env.step(a)
            target = r + (0.0 if terminated else gamma * Q[s2].max())
            Q[s, a] += alpha * (target - Q[s, a])
            s, done = s2, terminated or truncated
            steps += 1
    return Q, steps


def gaussian_log_prob(actions, mean, log_std):
    """log N(a; mu, diag sigma^2) summed over the action dimensions, sigma = exp(log_std):
    sum_j -(a_j - mu_j)^2 / (2 sigma_j^2) - log sigma_j - log(2 pi) / 2."""
    actions, mean = np.atleast_2d(actions), np.atleast_2d(mean)
    out = np.zeros(len(actions))
    for i in range(len(actions)):
        for j in range(actions.shape[1]):
            sigma = np.exp(log_std[j])
            out[i] += -(actions[i, j] - mean[i, j]) ** 2 / (2 * sigma**2) - log_std[j] \
                - 0.5 * np.log(2 * np.pi)
    return out
