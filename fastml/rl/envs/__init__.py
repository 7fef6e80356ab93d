"""Compiled environments with the Gymnasium API (no Gymnasium needed).

Classic control (``CartPole-v1``, ``Acrobot-v1``, ``MountainCar-v0``,
``MountainCarContinuous-v0``, ``Pendulum-v1``) and toy text (``FrozenLake-v1``,
``FrozenLake8x8-v1``, ``Taxi-v4``, ``CliffWalking-v1``), with Gymnasium's dynamics, seeding,
time limits and autoreset modes: for the same seeds and actions they return Gymnasium's
observations, rewards and flags. :func:`make` gives one environment, :func:`make_vec` a
batch stepped in one compiled call. :class:`NormalizeObservation` and
:class:`NormalizeReward` wrap a vector env (Gymnasium's wrappers of the same names, with
SB3 ``VecNormalize``'s optional clipping).
"""

from fastml.rl.envs._core import Env, VectorEnv, make, make_vec, registry
from fastml.rl.envs._spaces import Box, Discrete, MultiDiscrete, Space
from fastml.rl.envs._wrappers import NormalizeObservation, NormalizeReward

__all__ = ["Box", "Discrete", "Env", "MultiDiscrete", "NormalizeObservation", "NormalizeReward",
           "Space", "VectorEnv", "make", "make_vec", "registry"]
