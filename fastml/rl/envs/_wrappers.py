"""Observation and reward normalisation for vector environments (Gymnasium's
``gymnasium.wrappers.vector.NormalizeObservation`` / ``NormalizeReward``, with the
clipping of Stable-Baselines3's ``VecNormalize`` and CleanRL's ``ppo_continuous_action``).

Both keep running moments of a stream of batches with the parallel update of Chan et al.
(count ``c``, mean ``m``, variance ``v``; a batch of ``k`` rows with mean ``m_b`` and
variance ``v_b``):

    delta = m_b - m,   c' = c + k,   m' = m + delta k / c',
    v' = (v c + v_b k + delta^2 c k / c') / c',

starting from ``c = 1e-4``, ``m = 0``, ``v = 1`` (Gymnasium's and SB3's ``RunningMeanStd``).

- :class:`NormalizeObservation`: ``o -> clip((o - m) / sqrt(v + epsilon), -clip, clip)``
  with the moments of every observation returned so far (per coordinate).
- :class:`NormalizeReward`: ``r_t -> clip(r_t / sqrt(v_G + epsilon), -clip, clip)`` with
  ``v_G`` the running variance of the discounted return accumulated backwards in time,
  ``G_t = gamma G_{t-1} (1 - terminated_t) + r_t`` (the reward is scaled, not centred).

With ``clip=None`` (the default) the outputs are Gymnasium's for the same stream;
``clip=10`` is SB3's ``VecNormalize(clip_obs=10, clip_reward=10)`` and CleanRL's
``TransformObservation``/``TransformReward`` clips.
"""

import numbers

import numpy as np

from fastml._validation import check_bool, check_interface, check_scalar

__all__ = ["NormalizeObservation", "NormalizeReward"]


class RunningMeanStd:
    """Running mean, variance and count of a stream of batches (the update above).

    ``mean``/``var`` have ``shape`` and ``dtype``; ``update(x)`` adds the rows of ``x``
    (first axis: samples).
    """

    def __init__(self, shape=(), dtype=np.float64, epsilon=1e-4):
        self.mean = np.zeros(shape, dtype=dtype)
        self.var = np.ones(shape, dtype=dtype)
        self.count = epsilon

    def update(self, x):
        x = np.asarray(x)
        batch_mean, batch_var, k = np.mean(x, axis=0), np.var(x, axis=0), x.shape[0]
        delta = batch_mean - self.mean
        total = self.count + k
        self.mean = self.mean + delta * k / total
        m2 = self.var * self.count + batch_var * k + np.square(delta) * self.count * k / total
        self.var = m2 / total
        self.count = total


class _VectorWrapper:
    """Forwards a vector environment's interface (spaces, ``num_envs``, autoreset mode);
    the subclasses change what ``reset``/``step`` return. It does not expose the compiled
    batch of the wrapped env, so agents step it through ``step`` (the wrapper sees every
    transition)."""

    def __init__(self, env):
        check_interface(env, "env", ("num_envs", "single_observation_space",
                                     "single_action_space", "reset", "step"),
                        "a vector environment")
        self.env = env
        self.num_envs = env.num_envs
        self.single_observation_space = env.single_observation_space
        self.observation_space = env.observation_space
        self.single_action_space = env.single_action_space
        self.action_space = env.action_space
        self.metadata = dict(getattr(env, "metadata", {}))
        mode = getattr(env, "autoreset_mode", None) or self.metadata.get("autoreset_mode")
        self.autoreset_mode = mode
        self._same_step = "same" in str(mode).lower()

    @property
    def unwrapped(self):
        return self.env.unwrapped

    def reset(self, *, seed=None, options=None):
        return self.env.reset(seed=seed, options=options)

    def step(self, actions):
        return self.env.step(actions)

    def close(self):
        self.env.close()

    def __repr__(self):
        return f"{type(self).__name__}({self.env!r})"


class _Normalizer(_VectorWrapper):
    """A wrapper keeping running moments: ``epsilon`` (> 0) under the square root,
    ``clip`` (> 0, or None) on the output, and the ``update_running_mean`` switch."""

    def __init__(self, env, epsilon, clip):
        super().__init__(env)
        self.epsilon = float(check_scalar(epsilon, "epsilon", numbers.Real, min_val=0.0,
                                          include_boundaries="neither"))
        self.clip = None if clip is None else float(
            check_scalar(clip, "clip", numbers.Real, min_val=0.0, include_boundaries="neither"))
        self._update = True

    @property
    def update_running_mean(self):
        """Whether the stream updates the moments (set False to freeze them)."""
        return self._update

    @update_running_mean.setter
    def update_running_mean(self, setting):
        self._update = check_bool(setting, "update_running_mean")

    def _clip(self, x):
        return x if self.clip is None else np.clip(x, -self.clip, self.clip)


class NormalizeObservation(_Normalizer):
    """Observations standardised per coordinate by their running mean and variance.

    ``env``: a vector environment with Box observations (ours or Gymnasium's, either
    autoreset mode). Every observation ``reset``/``step`` return updates ``obs_rms`` (a
    :class:`RunningMeanStd`) first, then is returned as
    ``clip((o - mean) / sqrt(var + epsilon), -clip, clip)`` in float32 (no clipping when
    ``clip`` is None). In ``same_step`` mode ``infos["final_obs"]`` is normalised too,
    without updating the moments (as SB3's ``VecNormalize``). Set
    ``update_running_mean = False`` to freeze the moments (evaluation).
    """

    def __init__(self, env, epsilon=1e-8, clip=None):
        super().__init__(env, epsilon, clip)
        space = self.single_observation_space
        check_interface(space, "env.single_observation_space", ("low", "high", "shape"),
                        "a Box space")
        self.obs_rms = RunningMeanStd(tuple(space.shape), np.float32)

    def normalize(self, obs):
        """``obs`` (any batch shape ending in the observation shape) normalised with the
        current moments, which it does not update."""
        out = (np.asarray(obs) - self.obs_rms.mean) / np.sqrt(self.obs_rms.var + self.epsilon)
        return self._clip(out).astype(np.float32, copy=False)

    def _observations(self, obs):
        if self._update:
            self.obs_rms.update(obs)
        return self.normalize(obs)

    def reset(self, *, seed=None, options=None):
        obs, infos = self.env.reset(seed=seed, options=options)
        return self._observations(obs), infos

    def step(self, actions):
        obs, rewards, terminated, truncated, infos = self.env.step(actions)
        obs = self._observations(obs)
        if self._same_step and "final_obs" in infos:
            final = infos["final_obs"].copy()
            for i in np.flatnonzero(infos["_final_obs"]):
                final[i] = self.normalize(final[i])
            infos = {**infos, "final_obs": final}
        return obs, rewards, terminated, truncated, infos


class NormalizeReward(_Normalizer):
    """Rewards divided by the running standard deviation of the discounted return.

    Each step accumulates ``G = gamma G (1 - terminated) + r`` per env, adds ``G`` of the
    envs that stepped to ``return_rms`` (a :class:`RunningMeanStd`), and returns
    ``clip(r / sqrt(return_rms.var + epsilon), -clip, clip)`` (float64; no clipping when
    ``clip`` is None). Gymnasium's bookkeeping of episode ends: in ``next_step`` mode the
    reset step after an episode end does not count; in ``same_step`` mode ``G`` restarts
    at 0 after a terminated or truncated step. ``update_running_mean = False`` freezes
    the moments. ``infos["original_reward"]`` holds the rewards before scaling (SB3's
    ``get_original_reward``): agents log episode returns from it.
    """

    def __init__(self, env, gamma=0.99, epsilon=1e-8, clip=None):
        super().__init__(env, epsilon, clip)
        self.gamma = float(check_scalar(gamma, "gamma", numbers.Real, min_val=0.0,
                                        max_val=1.0))
        self.return_rms = RunningMeanStd(())
        self.accumulated_reward = np.zeros(self.num_envs, dtype=np.float32)
        self._prev_dones = np.zeros(self.num_envs, dtype=np.bool_)

    def reset(self, *, seed=None, options=None):
        self.accumulated_reward[:] = 0
        self._prev_dones[:] = False
        return self.env.reset(seed=seed, options=options)

    def step(self, actions):
        obs, rewards, terminated, truncated, infos = self.env.step(actions)
        rewards = np.asarray(rewards, dtype=np.float64)
        terminated, truncated = np.asarray(terminated), np.asarray(truncated)
        active = np.ones(self.num_envs, dtype=np.bool_) if self._same_step else \
            ~self._prev_dones
        G = self.accumulated_reward
        G[active] = G[active] * self.gamma * (1 - terminated[active]) + rewards[active]
        if self._update and active.any():
            self.return_rms.update(G[active])
        self._prev_dones = terminated | truncated
        if self._same_step:
            G[self._prev_dones] = 0
        infos = {**infos, "original_reward": rewards,
                 "_original_reward": np.ones(self.num_envs, dtype=np.bool_)}
        rewards = self._clip(rewards / np.sqrt(self.return_rms.var + self.epsilon))
        return obs, rewards, terminated, truncated, infos
