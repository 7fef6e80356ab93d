"""Numba kernels for :mod:`fastml.rl` tabular control: whole training runs (every episode,
every step) in one compiled call on a toy-text environment's tables.

The environment is the padded table of :mod:`fastml.rl.envs` (``next_state``,
cumulative outcome probabilities ``cum`` with padding -1, ``reward``, ``done``, the
cumulative initial distribution ``init_cum``; ``max_steps`` > 0 truncates an episode).
One xoshiro256** stream (``_mcmc_rng``) drives both the environment's
outcomes and the epsilon-greedy choices. Episode ``e`` explores with ``epsilon[e]``.

Updates, with TD target ``y`` (no bootstrap after a terminal transition; a truncated
episode bootstraps, as it did not end):

- Q-learning:       y = r + gamma max_a' Q(s', a')
- SARSA:            y = r + gamma Q(s', a'),  a' the next epsilon-greedy action
- Expected SARSA:   y = r + gamma sum_a' pi_eps(a'|s') Q(s', a')
- Monte Carlo:      every-visit constant-alpha on the return, Q(s, a) += alpha (G_t - Q(s, a))

and ``Q(s, a) += alpha (y - Q(s, a))``.
"""

from numba import njit

from ._mcmc_rng import randint, uniform
from ._rl_envs import categorical

Q_LEARNING, SARSA, EXPECTED_SARSA, MONTE_CARLO = 0, 1, 2, 3


@njit(cache=True, nogil=True)
def _argmax(Q, s):
    best = 0
    for a in range(1, Q.shape[1]):
        if Q[s, a] > Q[s, best]:
            best = a
    return best


@njit(cache=True, nogil=True)
def _epsilon_greedy(Q, s, eps, rng):
    if uniform(rng) < eps:
        return randint(rng, Q.shape[1])
    return _argmax(Q, s)


@njit(cache=True, nogil=True)
def _expected_q(Q, s, eps):
    A = Q.shape[1]
    best = _argmax(Q, s)
    acc = 0.0
    for a in range(A):
        acc += Q[s, a] * (eps / A + (1.0 - eps if a == best else 0.0))
    return acc


@njit(cache=True, nogil=True)
def train(method, next_state, cum, reward, done, init_cum, max_steps, Q, alpha, gamma,
          epsilon, rng, returns, lengths, buf_s, buf_a, buf_r):
    """Run ``epsilon.shape[0]`` episodes, updating ``Q`` (S, A) in place.

    ``returns``/``lengths`` receive each episode's undiscounted return and length;
    ``buf_*`` (length >= the longest episode allowed) hold Monte-Carlo trajectories.
    Returns the total number of environment steps.
    """
    total = 0
    cap = buf_s.shape[0]
    for e in range(epsilon.shape[0]):
        eps = epsilon[e]
        s = categorical(init_cum, uniform(rng))
        a = _epsilon_greedy(Q, s, eps, rng)
        G = 0.0
        t = 0
        while True:
            k = categorical(cum[s, a], uniform(rng))
            s2, r, terminal = next_state[s, a, k], reward[s, a, k], done[s, a, k]
            t += 1
            G += r
            truncated = (max_steps > 0 and t >= max_steps) or t >= cap
            if method == MONTE_CARLO:
                buf_s[t - 1], buf_a[t - 1], buf_r[t - 1] = s, a, r
                a2 = _epsilon_greedy(Q, s2, eps, rng)
            elif method == SARSA:
                a2 = _epsilon_greedy(Q, s2, eps, rng)
                target = r if terminal else r + gamma * Q[s2, a2]
                Q[s, a] += alpha * (target - Q[s, a])
            else:
                if method == Q_LEARNING:
                    target = r if terminal else r + gamma * Q[s2, _argmax(Q, s2)]
                else:
                    target = r if terminal else r + gamma * _expected_q(Q, s2, eps)
                Q[s, a] += alpha * (target - Q[s, a])
                a2 = _epsilon_greedy(Q, s2, eps, rng)
            s, a = s2, a2
            if terminal or truncated:
                break
        if method == MONTE_CARLO:
            ret = 0.0
            for j in range(t - 1, -1, -1):
                ret = buf_r[j] + gamma * ret
                Q[buf_s[j], buf_a[j]] += alpha * (ret - Q[buf_s[j], buf_a[j]])
        returns[e] = G
        lengths[e] = t
        total += t
    return total


@njit(cache=True, nogil=True)
def evaluate_greedy(next_state, cum, reward, done, init_cum, max_steps, Q, n_episodes, rng,
                    returns):
    """Undiscounted returns of ``n_episodes`` episodes of the greedy policy argmax Q."""
    for e in range(n_episodes):
        s = categorical(init_cum, uniform(rng))
        G = 0.0
        t = 0
        while True:
            a = _argmax(Q, s)
            k = categorical(cum[s, a], uniform(rng))
            G += reward[s, a, k]
            terminal = done[s, a, k]
            s = next_state[s, a, k]
            t += 1
            if terminal or (max_steps > 0 and t >= max_steps) or t >= 1_000_000:
                break
        returns[e] = G
