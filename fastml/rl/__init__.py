"""Reinforcement learning: dynamic programming, tabular control, compiled environments.

- Dynamic programming on finite MDPs (:mod:`fastml.rl._dp`): :func:`value_iteration`,
  :func:`policy_iteration`, :func:`policy_evaluation` (exact linear solve or iterative),
  their Q forms and :func:`bellman_q`; Gymnasium toy-text tables (``env.unwrapped.P``)
  are accepted directly.
- Tabular control (:mod:`fastml.rl._tabular`): :func:`q_learning`, :func:`sarsa`,
  :func:`expected_sarsa`, :func:`mc_control` with epsilon schedules, whole runs compiled.
- Policy gradients on ``fastml.nn`` MLPs (:mod:`fastml.rl._ppo`): :class:`PPO` (CleanRL's
  details), :class:`A2C`, :class:`REINFORCE` with baseline; SB3-like ``learn``/``predict``/
  ``save``/``load``; :class:`DQN` (replay buffer, target network, double Q).
- Environments (:mod:`fastml.rl.envs`): :func:`make` and :func:`make_vec` build
  compiled classic-control and toy-text environments with Gymnasium's API and dynamics;
  :class:`NormalizeObservation` / :class:`NormalizeReward` normalise a vector env's
  observations and rewards (Gymnasium's wrappers, SB3 ``VecNormalize``'s clipping).

Kernels (Numba) are compiled on first use and cached on disk.
"""

from fastml.rl import envs
from fastml.rl._dp import (
    bellman_q,
    policy_evaluation,
    policy_iteration,
    q_policy_evaluation,
    q_value_iteration,
    value_iteration,
)
from fastml.rl._dqn import DQN, ReplayBuffer, dqn_targets, huber_loss
from fastml.rl._ppo import A2C, PPO, REINFORCE, ppo_loss
from fastml.rl._tabular import (
    TabularResult,
    evaluate_greedy,
    expected_sarsa,
    exponential_schedule,
    linear_schedule,
    mc_control,
    q_learning,
    sarsa,
)
from fastml.rl.envs import NormalizeObservation, NormalizeReward, make, make_vec

__all__ = ["A2C", "DQN", "NormalizeObservation", "NormalizeReward", "PPO", "REINFORCE",
           "ReplayBuffer", "TabularResult", "bellman_q",
           "dqn_targets", "envs", "evaluate_greedy", "expected_sarsa", "exponential_schedule",
           "huber_loss", "linear_schedule", "make", "make_vec", "mc_control",
           "policy_evaluation", "policy_iteration", "ppo_loss", "q_learning",
           "q_policy_evaluation", "q_value_iteration", "sarsa", "value_iteration"]
