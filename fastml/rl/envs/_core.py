"""Compiled environments with Gymnasium's API: one engine (:class:`_Batch`) steps a batch
of copies of one environment in a single kernel call; :class:`Env` is a batch of one with
``gymnasium.Env``'s interface (``TimeLimit`` included), :class:`VectorEnv` a batch of
``num_envs`` with ``gymnasium.vector.VectorEnv``'s interface and autoreset modes.

Seeding follows Gymnasium: ``reset(seed=s)`` gives env ``i`` of a vector the generator
``np.random.Generator(PCG64(SeedSequence(s + i)))`` (``gymnasium.utils.seeding``),
``reset()`` continues each env's stream, and an env that was never seeded draws a random
seed. With the same seeds and actions, observations, rewards and flags are Gymnasium's.
"""

import numbers

import numpy as np

from fastml import _kernels
from fastml._validation import (
    check_array,
    check_index_array,
    check_member,
    check_option,
    check_positive_int,
    check_scalar,
    check_shape,
)
from fastml.rl.envs import _toy_text
from fastml.rl.envs._spaces import Box, Discrete, MultiDiscrete

__all__ = ["Env", "VectorEnv", "make", "make_vec", "registry"]

_BUFFER = 2048  # doubles drawn ahead per env
_REFILL_EVERY = 32  # steps between checks of the buffers (each step draws <= `draws`)


def _pi():
    return float(np.pi)


def _classic_spaces(kind):
    k = _kernels.load("_rl_envs")
    theta = 12 * 2 * _pi() / 360
    if kind == k.CARTPOLE:
        high = np.array([2.4 * 2, np.inf, theta * 2, np.inf], dtype=np.float32)
        return Box(-high, high, dtype=np.float32), Discrete(2)
    if kind == k.ACROBOT:
        high = np.array([1.0, 1.0, 1.0, 1.0, 4 * _pi(), 9 * _pi()], dtype=np.float32)
        return Box(-high, high, dtype=np.float32), Discrete(3)
    low = np.array([-1.2, -0.07], dtype=np.float32)
    high = np.array([0.6, 0.07], dtype=np.float32)
    if kind == k.MOUNTAIN_CAR:
        return Box(low, high, dtype=np.float32), Discrete(3)
    if kind == k.MOUNTAIN_CAR_CONTINUOUS:
        return Box(low, high, dtype=np.float32), Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
    high = np.array([1.0, 1.0, 8.0], dtype=np.float32)
    return Box(-high, high, dtype=np.float32), Box(-2.0, 2.0, shape=(1,), dtype=np.float32)


# id -> (family, kind name or table builder, builder kwargs, max_episode_steps)
registry = {
    "CartPole-v0": ("classic", "CARTPOLE", {}, 200),
    "CartPole-v1": ("classic", "CARTPOLE", {}, 500),
    "Acrobot-v1": ("classic", "ACROBOT", {}, 500),
    "MountainCar-v0": ("classic", "MOUNTAIN_CAR", {}, 200),
    "MountainCarContinuous-v0": ("classic", "MOUNTAIN_CAR_CONTINUOUS", {}, 999),
    "Pendulum-v1": ("classic", "PENDULUM", {}, 200),
    "FrozenLake-v1": ("toy", _toy_text.frozen_lake, {"map_name": "4x4"}, 100),
    "FrozenLake8x8-v1": ("toy", _toy_text.frozen_lake, {"map_name": "8x8"}, 200),
    "Taxi-v4": ("toy", _toy_text.taxi, {}, 200),
    "CliffWalking-v1": ("toy", _toy_text.cliff_walking, {}, None),
    "CliffWalkingSlippery-v1": ("toy", _toy_text.cliff_walking, {"is_slippery": True}, None),
}


class _Streams:
    """Per-env generators and doubles drawn ahead (``u[i, cursor[i]:]`` are next)."""

    def __init__(self, n):
        self.rngs = [None] * n
        self.u = np.zeros((n, _BUFFER))
        self.cursor = np.full(n, _BUFFER, dtype=np.int64)

    def seed(self, i, seed):
        self.rngs[i] = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed)))
        self.u[i] = self.rngs[i].random(_BUFFER)
        self.cursor[i] = 0

    def ensure(self, need):
        """Make sure every env has at least ``need`` doubles left."""
        low = np.flatnonzero(self.cursor > _BUFFER - need)
        for i in low:
            if self.rngs[i] is None:
                self.seed(i, None)
                continue
            left = _BUFFER - self.cursor[i]
            self.u[i, :left] = self.u[i, self.cursor[i]:]
            self.u[i, left:] = self.rngs[i].random(_BUFFER - left)
            self.cursor[i] = 0


class _Batch:
    """State arrays of ``n`` copies of one environment and the kernel calls on them."""

    def __init__(self, env_id, n, mode, max_episode_steps, kwargs):
        family, what, defaults, default_steps = registry[env_id]
        k = self.k = _kernels.load("_rl_envs")
        self.n, self.mode, self.family = n, mode, family
        self.max_steps = default_steps if max_episode_steps is None else max_episode_steps
        self.max_steps = 0 if self.max_steps is None else int(self.max_steps)
        self.streams = _Streams(n)
        self.elapsed = np.zeros(n, dtype=np.int64)
        self.needs_reset = np.zeros(n, dtype=np.bool_)
        self.reward = np.zeros(n)
        self.terminated = np.zeros(n, dtype=np.bool_)
        self.truncated = np.zeros(n, dtype=np.bool_)
        self.has_final = np.zeros(n, dtype=np.bool_)
        self._safe_steps = 0
        if family == "classic":
            if kwargs:
                raise TypeError(f"{env_id} takes no keyword arguments, got {sorted(kwargs)}")
            self.kind = getattr(k, what)
            self.observation_space, self.action_space = _classic_spaces(self.kind)
            self.state = np.zeros((n, 4))
            self.obs = np.zeros((n,) + self.observation_space.shape, dtype=np.float32)
            self.final_obs = np.zeros_like(self.obs)
            self.draws = 2 * k.RESET_DRAWS[self.kind]
            self.actions = np.zeros(n)
        else:
            self.P, initial = what(**{**defaults, **kwargs})
            (self.next_state, self.prob, self.cum, self.reward_table, self.done,
             self.init_cum) = _toy_text.padded(self.P, initial)
            S, A = self.next_state.shape[:2]
            self.observation_space, self.action_space = Discrete(S), Discrete(A)
            self.state = np.zeros(n, dtype=np.int64)
            self.obs = self.state
            self.final_obs = np.zeros(n, dtype=np.int64)
            self.prob_out = np.ones(n)
            self.draws = 2
            self.actions = np.zeros(n, dtype=np.int64)
        self.discrete = isinstance(self.action_space, Discrete)

    def reset(self, seeds, mask):
        for i in np.flatnonzero(mask):
            if seeds[i] is not None or self.streams.rngs[i] is None:
                self.streams.seed(i, seeds[i])
        self.streams.ensure(self.draws)
        self._safe_steps = 0
        s = self.streams
        if self.family == "classic":
            self.k.classic_reset_all(self.kind, self.state, mask, self.obs, self.elapsed,
                                     self.needs_reset, s.u, s.cursor)
        else:
            self.k.toy_reset_all(self.init_cum, self.state, mask, self.elapsed,
                                 self.needs_reset, s.u, s.cursor)
            self.prob_out[mask] = 1.0

    def run(self, n_steps, chunk):
        """Let a compiled loop step a classic-control batch ``n_steps`` times: calls
        ``chunk(t0, steps, *arrays)`` for chunks of at most ``_REFILL_EVERY`` steps, each
        with enough random doubles drawn ahead, ``arrays`` being ``classic_step``'s
        arguments (the loop writes ``actions`` before each step)."""
        s = self.streams
        for t0 in range(0, n_steps, _REFILL_EVERY):
            steps = min(_REFILL_EVERY, n_steps - t0)
            s.ensure(self.draws * steps)
            chunk(t0, steps, self.kind, self.state, self.actions, self.obs, self.reward,
                  self.terminated, self.truncated, self.elapsed, self.max_steps, self.mode,
                  self.needs_reset, s.u, s.cursor, self.final_obs, self.has_final, 2.0)
        self._safe_steps = 0

    def step(self):
        """Advance every env with ``self.actions`` (already checked)."""
        s = self.streams
        if self._safe_steps == 0:
            s.ensure(self.draws * _REFILL_EVERY)
            self._safe_steps = _REFILL_EVERY
        self._safe_steps -= 1
        k = self.k
        if self.family == "classic":
            arrays = (self.kind, self.state, self.actions, self.obs, self.reward,
                      self.terminated, self.truncated, self.elapsed, self.max_steps, self.mode,
                      self.needs_reset, s.u, s.cursor, self.final_obs, self.has_final, 2.0)
            serial, parallel = k.classic_step, k.classic_step_parallel
            grain = k.STEP_GRAIN[self.kind]
        else:
            arrays = (self.next_state, self.prob, self.cum, self.reward_table, self.done,
                      self.init_cum, self.state, self.actions, self.reward, self.terminated,
                      self.truncated, self.elapsed, self.max_steps, self.mode,
                      self.needs_reset, s.u, s.cursor, self.final_obs, self.has_final,
                      self.prob_out)
            serial, parallel, grain = k.toy_step, k.toy_step_parallel, k.TOY_STEP_GRAIN
        n_threads = _kernels.threads_for(self.n, grain)
        if n_threads == 1:
            serial(*arrays)
        else:
            parallel(n_threads, *arrays)


def _check_seed(seed):
    return None if seed is None else int(check_scalar(seed, "seed", numbers.Integral,
                                                      min_val=0))


class Env:
    """One compiled environment with Gymnasium's ``Env`` API (made by :func:`make`).

    ``reset(seed=None, options=None) -> (obs, info)``;
    ``step(action) -> (obs, reward, terminated, truncated, info)``, truncated once
    ``max_episode_steps`` steps have passed since the reset (Gymnasium's ``TimeLimit``).
    Toy-text environments expose their transition table as ``unwrapped.P`` and report
    ``info["prob"]`` (Gymnasium's Taxi also returns an ``action_mask``; not computed here).
    """

    metadata = {"render_modes": []}
    render_mode = None

    def __init__(self, env_id, max_episode_steps=None, **kwargs):
        self.spec_id = env_id
        self._batch = _Batch(env_id, 1, _kernels.load("_rl_envs").DISABLED, max_episode_steps,
                             kwargs)
        self.observation_space = self._batch.observation_space
        self.action_space = self._batch.action_space
        self.max_episode_steps = self._batch.max_steps or None
        self._ready = False

    @property
    def unwrapped(self):
        return self

    @property
    def P(self):
        """Gymnasium-format transition table (toy-text environments)."""
        if self._batch.family != "toy":
            raise AttributeError(f"{self.spec_id} has no transition table P")
        return self._batch.P

    @property
    def np_random(self):
        if self._batch.streams.rngs[0] is None:
            self._batch.streams.seed(0, None)
        return self._batch.streams.rngs[0]

    def _obs(self):
        b = self._batch
        return b.obs[0].copy() if b.family == "classic" else int(b.state[0])

    def _info(self):
        return {"prob": float(self._batch.prob_out[0])} if self._batch.family == "toy" else {}

    def reset(self, *, seed=None, options=None):
        self._batch.reset([_check_seed(seed)], np.ones(1, dtype=np.bool_))
        self._ready = True
        return self._obs(), self._info()

    def step(self, action):
        if not self._ready:
            raise RuntimeError("Cannot call env.step() before calling env.reset()")
        b = self._batch
        b.actions[0] = _check_action(action, b.action_space)
        b.step()
        reward = float(b.reward[0])
        return self._obs(), reward, bool(b.terminated[0]), bool(b.truncated[0]), self._info()

    def close(self):
        pass

    def render(self):
        return None

    def __repr__(self):
        return f"fastml.rl.envs.Env({self.spec_id!r})"


def _check_action(action, space):
    if isinstance(space, Discrete):
        return int(check_member(action, "action", space))
    check_shape(np.asarray(action), "action", space.shape, " (the action space's)")
    return float(check_array(action, "action", dtype=np.float32)[0])


class VectorEnv:
    """``num_envs`` compiled environments stepped in one call, with Gymnasium's
    ``VectorEnv`` API (made by :func:`make_vec`).

    ``reset(seed=None, options=None) -> (obs, infos)`` (env ``i`` seeded with
    ``seed + i``), ``step(actions) -> (obs, rewards, terminations, truncations, infos)``
    with batched arrays. ``autoreset_mode="next_step"`` (Gymnasium's default): the call
    after an env ends resets it (that env's action is ignored, reward 0, flags False);
    ``"same_step"``: it is reset at once and ``infos["final_obs"]`` (object array, mask
    ``infos["_final_obs"]``) holds its last observation.
    """

    metadata = {"render_modes": []}
    render_mode = None

    def __init__(self, env_id, num_envs, autoreset_mode="next_step", max_episode_steps=None,
                 **kwargs):
        k = _kernels.load("_rl_envs")
        self.autoreset_mode = autoreset_mode
        mode = k.NEXT_STEP if autoreset_mode == "next_step" else k.SAME_STEP
        self.spec_id = env_id
        self.num_envs = num_envs
        self._batch = b = _Batch(env_id, num_envs, mode, max_episode_steps, kwargs)
        self.single_observation_space = b.observation_space
        self.single_action_space = b.action_space
        self.metadata = {"autoreset_mode": autoreset_mode}
        self.observation_space = _batched(b.observation_space, num_envs)
        self.action_space = _batched(b.action_space, num_envs)
        self.closed = False
        self._ready = False

    @property
    def unwrapped(self):
        return self

    def reset(self, *, seed=None, options=None):
        n = self.num_envs
        if seed is None or isinstance(seed, numbers.Integral):
            seed = _check_seed(seed)
            seeds = [None] * n if seed is None else [seed + i for i in range(n)]
        else:
            seeds = [_check_seed(s) for s in seed]
            if len(seeds) != n:
                raise ValueError(f"seed must be an int or a list of {n} seeds, got {len(seeds)}")
        mask = np.ones(n, dtype=np.bool_)
        if options is not None and "reset_mask" in options:
            mask = np.asarray(options["reset_mask"], dtype=np.bool_)
        self._batch.reset(seeds, mask)
        self._ready = True
        return self._batch.obs.copy(), {}

    def step(self, actions):
        if not self._ready:
            raise RuntimeError("Cannot call VectorEnv.step() before calling reset()")
        b = self._batch
        b.actions[:] = self._check_actions(actions)
        b.step()
        infos = {}
        if b.mode == b.k.SAME_STEP and b.has_final.any():
            final = np.full(self.num_envs, None, dtype=object)
            for i in np.flatnonzero(b.has_final):
                final[i] = b.final_obs[i].copy() if b.family == "classic" else \
                    int(b.final_obs[i])
            infos = {"final_obs": final, "_final_obs": b.has_final.copy(),
                     "final_info": {}, "_final_info": b.has_final.copy()}
        return (b.obs.copy(), b.reward.copy(), b.terminated.copy(), b.truncated.copy(),
                infos)

    def _check_actions(self, actions):
        """The batch of actions as an array the kernel reads (its first column for Box
        actions). The common case (an ndarray of the right shape and kind, values valid) is
        tested inline, as a step costs a few microseconds; anything else goes through the
        checks, which raise naming ``actions``."""
        b = self._batch
        shape = (self.num_envs,) + b.action_space.shape
        a = actions
        if type(a) is np.ndarray and a.shape == shape:
            if b.discrete and a.dtype.kind in "iu" and a.min() >= 0 and \
                    a.max() < b.action_space.n:
                return a
            if not b.discrete and a.dtype.kind == "f" and np.isfinite(a).all():
                return a[:, 0]
        # shapes first: a wrong-size batch is rejected before it is converted
        check_shape(np.asarray(actions), "actions", shape, " (one action per env)")
        if b.discrete:
            return check_index_array(actions, "actions", b.action_space.n, what="actions")
        return check_array(actions, "actions", dtype=np.float32)[:, 0]

    def close(self):
        self.closed = True

    def __repr__(self):
        return f"fastml.rl.envs.VectorEnv({self.spec_id!r}, num_envs={self.num_envs})"


def _batched(space, n):
    if isinstance(space, Discrete):
        return MultiDiscrete(np.full(n, space.n))
    return Box(np.broadcast_to(space.low, (n,) + space.shape),
               np.broadcast_to(space.high, (n,) + space.shape), dtype=space.dtype)


def _check_id(env_id):
    check_option(env_id, "env_id", sorted(registry))


def make(env_id, max_episode_steps=None, **kwargs):
    """A compiled environment by Gymnasium id (``"CartPole-v1"``, ``"Taxi-v4"``, ...).

    ``max_episode_steps`` overrides the registered time limit; ``kwargs`` go to the
    toy-text builders (``map_name``, ``is_slippery``, ``desc``).
    """
    _check_id(env_id)
    if max_episode_steps is not None:
        max_episode_steps = check_positive_int(max_episode_steps, "max_episode_steps")
    return Env(env_id, max_episode_steps, **kwargs)


def make_vec(env_id, num_envs=1, autoreset_mode="next_step", seed=None, max_episode_steps=None,
             **kwargs):
    """``num_envs`` compiled copies of ``env_id`` stepped in one call (:class:`VectorEnv`).

    With ``seed`` the vector is reset once (env ``i`` seeded with ``seed + i``); otherwise
    call ``reset`` first as with Gymnasium. An id not compiled here is built with
    ``gymnasium.make_vec`` (a ``SyncVectorEnv``, Python speed) when Gymnasium is installed.
    """
    check_scalar(env_id, "env_id", str)
    num_envs = check_positive_int(num_envs, "num_envs")
    check_option(autoreset_mode, "autoreset_mode", ("next_step", "same_step"))
    if max_episode_steps is not None:
        max_episode_steps = check_positive_int(max_episode_steps, "max_episode_steps")
    if env_id not in registry:
        env = _gymnasium_vector(env_id, num_envs, autoreset_mode, max_episode_steps, kwargs)
    else:
        env = VectorEnv(env_id, num_envs, autoreset_mode, max_episode_steps, **kwargs)
    if seed is not None:
        env.reset(seed=seed)
    return env


def _gymnasium_vector(env_id, num_envs, autoreset_mode, max_episode_steps, kwargs):
    try:
        import gymnasium
    except ImportError:
        _check_id(env_id)
    from gymnasium.vector import AutoresetMode

    mode = AutoresetMode.NEXT_STEP if autoreset_mode == "next_step" else AutoresetMode.SAME_STEP
    try:
        return gymnasium.make_vec(env_id, num_envs, vectorization_mode="sync",
                                  vector_kwargs={"autoreset_mode": mode},
                                  max_episode_steps=max_episode_steps, **kwargs)
    except gymnasium.error.Error as exc:
        raise ValueError(f"env_id {env_id!r} is neither compiled here ({', '.join(registry)}) "
                         f"nor a Gymnasium id: {exc}") from None
