"""Tabular control: Q-learning, SARSA, Expected SARSA and Monte-Carlo control with
epsilon-greedy exploration, each training run one compiled loop over episodes on a
compiled toy-text environment (``FrozenLake``, ``Taxi``, ``CliffWalking``).

With step size alpha and discount gamma, after each transition (s, a, r, s'):

- Q-learning      Q(s, a) += alpha (r + gamma max_a' Q(s', a') - Q(s, a))
- SARSA           Q(s, a) += alpha (r + gamma Q(s', a') - Q(s, a)),  a' ~ eps-greedy(s')
- Expected SARSA  Q(s, a) += alpha (r + gamma E_{a' ~ eps-greedy} Q(s', a') - Q(s, a))
- Monte Carlo     at the end of an episode, for every visit t: Q(s_t, a_t) += alpha (G_t - Q)

(no bootstrap after a terminal transition). Episode ``e`` explores with probability
``epsilon[e]``: a float, an array of one value per episode, or a schedule from
:func:`linear_schedule` / :func:`exponential_schedule`.
"""

import dataclasses
import numbers

import numpy as np

from fastml import _kernels
from fastml._validation import (
    check_array,
    check_interface,
    check_positive_int,
    check_random_state,
    check_scalar,
    check_shape,
)
from fastml.rl.envs import make

__all__ = ["TabularResult", "evaluate_greedy", "expected_sarsa", "exponential_schedule",
           "linear_schedule", "mc_control", "q_learning", "sarsa"]


@dataclasses.dataclass
class TabularResult:
    """Q (S, A) action values, the greedy ``policy`` (S,), per-episode undiscounted
    ``episode_returns`` and ``episode_lengths``, and the total number of env ``steps``."""

    Q: np.ndarray
    policy: np.ndarray
    episode_returns: np.ndarray
    episode_lengths: np.ndarray
    steps: int


def linear_schedule(start, end, n_episodes, fraction=1.0):
    """epsilon falling linearly from ``start`` to ``end`` over the first ``fraction`` of
    ``n_episodes`` episodes, then constant (one value per episode)."""
    start, end = _check_epsilon_bounds(start, end)
    n = check_positive_int(n_episodes, "n_episodes")
    span = max(1.0, float(check_scalar(fraction, "fraction", numbers.Real, min_val=0.0,
                                       max_val=1.0)) * n)
    return start + (end - start) * np.minimum(np.arange(n) / span, 1.0)


def exponential_schedule(start, end, n_episodes, decay=0.99):
    """epsilon_e = max(end, start decay^e), one value per episode."""
    start, end = _check_epsilon_bounds(start, end)
    n = check_positive_int(n_episodes, "n_episodes")
    decay = float(check_scalar(decay, "decay", numbers.Real, min_val=0.0, max_val=1.0,
                               include_boundaries="right"))
    return np.maximum(end, start * decay ** np.arange(n))


def _check_epsilon_bounds(start, end):
    return tuple(float(check_scalar(x, name, numbers.Real, min_val=0.0, max_val=1.0))
                 for name, x in (("start", start), ("end", end)))


def _tables(env):
    if isinstance(env, str):
        env = make(env)
    # a compiled env has P (its transition table) only when it is toy text
    check_interface(env, "env", ("P", "_batch"), "a toy-text environment id or "
                    "fastml.rl.make(...) of one (FrozenLake, Taxi, CliffWalking)")
    return env._batch


def _check_epsilon(epsilon, n_episodes):
    if isinstance(epsilon, numbers.Real) and not isinstance(epsilon, bool):
        epsilon = np.full(n_episodes, float(epsilon))
    epsilon = check_array(epsilon, "epsilon", ndim=1, dtype=np.float64)
    check_shape(epsilon, "epsilon", (n_episodes,), " (a float or one value per episode)")
    check_scalar(float(epsilon.min(initial=0.0)), "epsilon", numbers.Real, min_val=0.0)
    check_scalar(float(epsilon.max(initial=0.0)), "epsilon", numbers.Real, max_val=1.0)
    return epsilon


def _train(method, env, n_episodes, alpha, gamma, epsilon, seed, Q0):
    batch = _tables(env)
    n_episodes = check_positive_int(n_episodes, "n_episodes")
    alpha = float(check_scalar(alpha, "alpha", numbers.Real, min_val=0.0, max_val=1.0,
                               include_boundaries="right"))
    gamma = float(check_scalar(gamma, "gamma", numbers.Real, min_val=0.0, max_val=1.0))
    epsilon = _check_epsilon(epsilon, n_episodes)
    S, A = batch.next_state.shape[:2]
    if Q0 is None:
        Q = np.zeros((S, A))
    else:
        Q = check_shape(check_array(Q0, "Q0", ndim=2, dtype=np.float64, copy=True), "Q0",
                        (S, A), " (states x actions of env)")
    rng = _stream(seed)
    kernels = _kernels.load("_rl_tabular")
    cap = batch.max_steps if batch.max_steps > 0 else 100_000
    returns, lengths = np.zeros(n_episodes), np.zeros(n_episodes, dtype=np.int64)
    steps = kernels.train(getattr(kernels, method), batch.next_state, batch.cum,
                          batch.reward_table, batch.done, batch.init_cum, batch.max_steps, Q,
                          alpha, gamma, epsilon, rng, returns, lengths,
                          np.zeros(cap, dtype=np.int64), np.zeros(cap, dtype=np.int64),
                          np.zeros(cap))
    return TabularResult(Q, Q.argmax(axis=1), returns, lengths, int(steps))


def _stream(seed):
    """A xoshiro256** state (4 uint64) seeded from ``seed`` through a SeedSequence."""
    words = check_random_state(seed).integers(0, 2**63, size=4)
    return np.random.SeedSequence(words).generate_state(4, dtype=np.uint64)


def _doc(name, rule):
    return f"""{name}: {rule}

    env : toy-text env id or ``fastml.rl.make(...)`` of one.
    n_episodes : int; alpha : step size in (0, 1]; gamma : discount in [0, 1];
    epsilon : float or one value per episode; seed : int or Generator;
    Q0 : optional (S, A) initial values (default zeros).
    Returns a :class:`TabularResult`.
    """


def q_learning(env, n_episodes=1000, *, alpha=0.1, gamma=0.99, epsilon=0.1, seed=None,
               Q0=None):
    return _train("Q_LEARNING", env, n_episodes, alpha, gamma, epsilon, seed, Q0)


def sarsa(env, n_episodes=1000, *, alpha=0.1, gamma=0.99, epsilon=0.1, seed=None, Q0=None):
    return _train("SARSA", env, n_episodes, alpha, gamma, epsilon, seed, Q0)


def expected_sarsa(env, n_episodes=1000, *, alpha=0.1, gamma=0.99, epsilon=0.1, seed=None,
                   Q0=None):
    return _train("EXPECTED_SARSA", env, n_episodes, alpha, gamma, epsilon, seed, Q0)


def mc_control(env, n_episodes=1000, *, alpha=0.1, gamma=0.99, epsilon=0.1, seed=None,
               Q0=None):
    return _train("MONTE_CARLO", env, n_episodes, alpha, gamma, epsilon, seed, Q0)


q_learning.__doc__ = _doc("Q-learning", "off-policy TD control, target r + gamma max Q(s', .)")
sarsa.__doc__ = _doc("SARSA", "on-policy TD control, target r + gamma Q(s', a')")
expected_sarsa.__doc__ = _doc("Expected SARSA",
                              "target r + gamma E_{a' ~ eps-greedy(s')} Q(s', a')")
mc_control.__doc__ = _doc("Monte-Carlo control",
                          "every-visit constant-alpha updates toward the return G_t")


def evaluate_greedy(env, Q, n_episodes=100, seed=None):
    """Undiscounted returns (n_episodes,) of the greedy policy argmax_a Q(s, a) on ``env``."""
    batch = _tables(env)
    Q = check_array(Q, "Q", ndim=2, dtype=np.float64)
    S, A = batch.next_state.shape[:2]
    check_shape(Q, "Q", (S, A), f" ({batch.observation_space} states x "
                f"{batch.action_space} actions)")
    n_episodes = check_positive_int(n_episodes, "n_episodes")
    returns = np.zeros(n_episodes)
    _kernels.load("_rl_tabular").evaluate_greedy(
        batch.next_state, batch.cum, batch.reward_table, batch.done, batch.init_cum,
        batch.max_steps, Q, n_episodes, _stream(seed), returns)
    return returns
