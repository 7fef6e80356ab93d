"""Deep Q-Networks (Mnih et al. 2015) with double Q-learning (van Hasselt et al. 2016),
for discrete actions, on a ``fastml.nn`` MLP with explicit backward.

Transitions (s, a, r, s', terminated) go to a circular replay buffer; every ``train_freq``
vector steps (after ``learning_starts``) ``gradient_steps`` minibatches of ``batch_size``
minimise the Huber loss of the TD error

    y = r + gamma (1 - terminated) Q_target(s', a*),
    a* = argmax_a Q(s', a) (double Q)  or  argmax_a Q_target(s', a) (plain DQN),

with Adam and gradient-norm clipping; the target network copies the online one every
``target_update_interval`` vector steps. Exploration is epsilon-greedy with epsilon
falling linearly from ``exploration_initial_eps`` to ``exploration_final_eps`` over the
first ``exploration_fraction`` of the run. A truncated episode bootstraps from its last
observation (``infos["final_obs"]``). Hyperparameter names follow Stable-Baselines3.
"""

import numbers

import numpy as np

from fastml import nn
from fastml._validation import (
    check_array,
    check_consistent_length,
    check_index_array,
    check_positive_int,
    check_scalar,
    check_shape,
)
from fastml.rl._nets import Agent, KernelMLP, mlp

__all__ = ["DQN", "ReplayBuffer", "dqn_targets", "huber_loss"]


class ReplayBuffer:
    """Circular buffer of ``capacity`` transitions (obs float32, action, reward, next obs,
    terminated); :meth:`sample` draws a uniform minibatch of indices with replacement."""

    def __init__(self, capacity, obs_dim):
        self.capacity = check_positive_int(capacity, "capacity")
        self.obs_dim = check_positive_int(obs_dim, "obs_dim")
        self.obs = np.zeros((self.capacity, self.obs_dim), dtype=np.float32)
        self.next_obs = np.zeros((self.capacity, self.obs_dim), dtype=np.float32)
        self.actions = np.zeros(self.capacity, dtype=np.int64)
        self.rewards = np.zeros(self.capacity)
        self.terminated = np.zeros(self.capacity)
        self.size = 0
        self.pos = 0

    def add(self, obs, actions, rewards, next_obs, terminated):
        """Append a batch of n transitions (one per env): obs and next_obs (n, obs_dim),
        integer actions, rewards and terminated flags (n,)."""
        obs, next_obs = (check_array(x, name, ndim=2, allow_empty=False)
                         for name, x in (("obs", obs), ("next_obs", next_obs)))
        rewards, terminated = (check_array(x, name, ndim=1)
                               for name, x in (("rewards", rewards),
                                               ("terminated", terminated)))
        actions = check_index_array(actions, "actions", None, what="actions", ndim=1)
        for name, x in (("obs", obs), ("next_obs", next_obs)):
            check_shape(x, name, ("n", self.obs_dim), " (n, obs_dim)")
        check_consistent_length(("obs", obs), ("actions", actions), ("rewards", rewards),
                                ("next_obs", next_obs), ("terminated", terminated))
        self._add(obs, actions, rewards, next_obs, terminated)

    def _add(self, obs, actions, rewards, next_obs, terminated):
        idx = (self.pos + np.arange(len(actions))) % self.capacity
        self.obs[idx], self.next_obs[idx] = obs, next_obs
        self.actions[idx], self.rewards[idx], self.terminated[idx] = actions, rewards, terminated
        self.pos = int((self.pos + len(actions)) % self.capacity)
        self.size = min(self.capacity, self.size + len(actions))

    def sample(self, batch_size, rng):
        """``batch_size`` transitions drawn uniformly with replacement by Generator ``rng``."""
        batch_size = check_positive_int(batch_size, "batch_size")
        if self.size == 0:
            raise ValueError("the buffer is empty: add transitions before sampling")
        idx = rng.integers(0, self.size, batch_size)
        return (self.obs[idx], self.actions[idx], self.rewards[idx], self.next_obs[idx],
                self.terminated[idx])


def _q_batch(q, name, B):
    q = check_array(q, name, ndim=2, allow_empty=False)
    return check_shape(q, name, (B, q.shape[1]), " (one row per transition)")


def dqn_targets(rewards, terminated, q_next_target, q_next_online=None, gamma=0.99):
    """y = r + gamma (1 - terminated) Q_target(s', a*), a* from the online net (double Q)
    when ``q_next_online`` is given, else from the target net.

    rewards, terminated : (B,); q_next_target, q_next_online : (B, A). Returns y (B,).
    """
    rewards = check_array(rewards, "rewards", ndim=1, allow_empty=False)
    terminated = check_array(terminated, "terminated", ndim=1)
    check_consistent_length(("rewards", rewards), ("terminated", terminated))
    q_next_target = _q_batch(q_next_target, "q_next_target", len(rewards))
    if q_next_online is not None:
        q_next_online = check_shape(_q_batch(q_next_online, "q_next_online", len(rewards)),
                                    "q_next_online", q_next_target.shape,
                                    " (the shape of q_next_target)")
    gamma = float(check_scalar(gamma, "gamma", numbers.Real, min_val=0.0, max_val=1.0))
    return _dqn_targets(rewards, terminated, q_next_target, q_next_online, gamma)


def _dqn_targets(rewards, terminated, q_next_target, q_next_online, gamma):
    chooser = q_next_target if q_next_online is None else q_next_online
    best = np.argmax(chooser, axis=1)
    bootstrap = q_next_target[np.arange(len(best)), best]
    return rewards + gamma * (1.0 - terminated) * bootstrap


def huber_loss(q, actions, targets):
    """mean_i huber(Q(s_i, a_i) - y_i) (delta 1, as ``smooth_l1_loss``) and its gradient
    w.r.t. the (B, A) Q-values (nonzero only at the taken actions).

    q : (B, A); actions : (B,) integers in [0, A); targets : (B,). Returns (loss, grad).
    """
    targets = check_array(targets, "targets", ndim=1, allow_empty=False)
    q = _q_batch(q, "q", len(targets))
    actions = check_shape(check_index_array(actions, "actions", q.shape[1], what="actions",
                                            ndim=1), "actions", targets.shape, " (one per target)")
    return _huber_loss(q, actions, targets)


def _huber_loss(q, actions, targets):
    B = len(actions)
    diff = q[np.arange(B), actions] - targets
    small = np.abs(diff) <= 1.0
    loss = float(np.mean(np.where(small, 0.5 * diff * diff, np.abs(diff) - 0.5)))
    grad = np.zeros_like(q)
    grad[np.arange(B), actions] = np.clip(diff, -1.0, 1.0) / B
    return loss, grad


class DQN(Agent):
    """DQN / double DQN (SB3-like surface: ``learn``, ``predict``, ``save``/``load``,
    ``episode_returns``). ``env``: an id (compiled ``fastml.rl.make_vec``) or a vector env
    autoresetting in the same step."""

    _HPARAMS = ("learning_rate", "buffer_size", "learning_starts", "batch_size", "gamma",
                "train_freq", "gradient_steps", "target_update_interval",
                "exploration_fraction", "exploration_initial_eps", "exploration_final_eps",
                "max_grad_norm", "double_q", "net_arch", "num_envs")

    def __init__(self, env, *, learning_rate=1e-4, buffer_size=100_000, learning_starts=1000,
                 batch_size=64, gamma=0.99, train_freq=4, gradient_steps=1,
                 target_update_interval=1000, exploration_fraction=0.1,
                 exploration_initial_eps=1.0, exploration_final_eps=0.05,
                 max_grad_norm=10.0, double_q=True, net_arch=(64, 64), num_envs=1, seed=None):
        real = numbers.Real
        self.buffer_size = check_positive_int(buffer_size, "buffer_size")
        self.learning_starts = check_positive_int(learning_starts, "learning_starts", min_val=0)
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.train_freq = check_positive_int(train_freq, "train_freq")
        self.gradient_steps = check_positive_int(gradient_steps, "gradient_steps")
        self.target_update_interval = check_positive_int(target_update_interval,
                                                         "target_update_interval")
        self.exploration_fraction = float(check_scalar(
            exploration_fraction, "exploration_fraction", real, min_val=0.0, max_val=1.0))
        self.exploration_initial_eps = float(check_scalar(
            exploration_initial_eps, "exploration_initial_eps", real, min_val=0.0, max_val=1.0))
        self.exploration_final_eps = float(check_scalar(
            exploration_final_eps, "exploration_final_eps", real, min_val=0.0, max_val=1.0))
        self.double_q = bool(double_q)
        self._setup(env, learning_rate=learning_rate, gamma=gamma, max_grad_norm=max_grad_norm,
                    net_arch=net_arch, num_envs=num_envs, seed=seed)
        self.n_actions = self._discrete_actions("DQN")
        self.q_net = mlp((self.obs_dim, *self.net_arch, self.n_actions), 1.0, self.rng)
        self.q_target = mlp((self.obs_dim, *self.net_arch, self.n_actions), 1.0, self.rng)
        self.q_target.load_state_dict(self.q_net.state_dict())
        self._q, self._q_target = KernelMLP(self.q_net), KernelMLP(self.q_target)
        self.optimizer = nn.Adam(self.q_net.parameters(), lr=self.learning_rate)
        self.buffer = ReplayBuffer(self.buffer_size, self.obs_dim)
        self.last_loss = np.nan

    _restore = __init__

    def _networks(self):
        return {"q_net": self.q_net}

    @classmethod
    def load(cls, path, env=None):
        model = super().load(path, env)
        model.q_target.load_state_dict(model.q_net.state_dict())
        return model

    def predict(self, obs, deterministic=True):
        """Greedy actions argmax_a Q(s, a) for obs (obs_dim,) or (n, obs_dim)."""
        x, single = self._single(obs)
        actions = self._q(x).argmax(axis=1)
        return (int(actions[0]) if single else actions), None

    def _epsilon(self, progress):
        frac = min(1.0, progress / max(self.exploration_fraction, 1e-12))
        return self.exploration_initial_eps + frac * (
            self.exploration_final_eps - self.exploration_initial_eps)

    def learn(self, total_timesteps, *, target_return=None, window=20):
        """Train for ``total_timesteps`` env steps; stop early once the mean return of
        the last ``window`` episodes reaches ``target_return``. Returns self."""
        total_timesteps = check_positive_int(total_timesteps, "total_timesteps")
        window = check_positive_int(window, "window")
        N = self.num_envs
        n_iters = -(-total_timesteps // N)
        for it in range(n_iters):
            obs = self._flat_obs(self._obs)
            eps = self._epsilon(it / n_iters)
            actions = self._q(obs).argmax(axis=1)
            explore = self.rng.random(N) < eps
            actions[explore] = self.rng.integers(0, self.n_actions, int(explore.sum()))
            self._obs, rewards, term, trunc, infos = self.env.step(actions)
            next_obs = self._flat_obs(self._obs).copy()
            if "_final_obs" in infos:
                for i in np.flatnonzero(infos["_final_obs"]):
                    next_obs[i] = np.asarray(infos["final_obs"][i], dtype=np.float32).ravel()
            self.buffer._add(obs, actions, rewards, next_obs, term.astype(np.float64))
            self.num_timesteps += N
            self._log.add(rewards, term | trunc, self.num_timesteps)
            if self.num_timesteps > self.learning_starts and it % self.train_freq == 0:
                for _ in range(self.gradient_steps):
                    self._train_step()
            if it % self.target_update_interval == 0:
                self.q_target.load_state_dict(self.q_net.state_dict())
            if target_return is not None and self._log.mean_return(window) >= target_return:
                break
        return self

    def _train_step(self):
        obs, actions, rewards, next_obs, terminated = self.buffer.sample(self.batch_size,
                                                                         self.rng)
        q_next_target = self._q_target(next_obs).astype(np.float64)
        q_next_online = self._q(next_obs).astype(np.float64) if self.double_q else None
        targets = _dqn_targets(rewards, terminated, q_next_target, q_next_online, self.gamma)
        hidden, deltas = self._q.forward(obs)
        q = hidden[-1][:len(obs)].astype(np.float64)
        self.last_loss, grad = _huber_loss(q, actions, targets)
        deltas[-1][:len(obs)] = grad
        self.optimizer.zero_grad()
        self._q.backward(obs, hidden, deltas)
        nn.clip_grad_norm_(self.q_net.parameters(), self.max_grad_norm)
        self.optimizer.step()
