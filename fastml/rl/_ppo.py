"""Proximal Policy Optimization (Schulman et al. 2017) with CleanRL's implementation
details, for discrete actions, on ``fastml.nn`` MLPs with explicit backward.

Each update collects ``n_steps`` transitions from each of the ``num_envs`` environments,
computes GAE(lambda) advantages

    delta_t = r_t + gamma V(s_{t+1}) (1 - d_{t+1}) - V(s_t),
    A_t = delta_t + gamma lambda (1 - d_{t+1}) A_{t+1},   R_t = A_t + V(s_t),

then runs ``n_epochs`` passes over shuffled minibatches of ``batch_size`` minimising

    L = E[max(-A r, -A clip(r, 1 - eps, 1 + eps))] - c_H E[H(pi(.|s))]
        + c_V 1/2 E[max((V - R)^2, (V_old + clip(V - V_old, -eps_V, eps_V) - R)^2)],

r = pi(a|s) / pi_old(a|s), with advantages normalised per minibatch, the gradient norm
clipped to ``max_grad_norm``, Adam (eps 1e-5) with the learning rate annealed linearly
to 0, and orthogonal initialisation (gain sqrt(2) hidden, 0.01 policy head, 1 value
head). Episode ends (terminated or truncated) are not bootstrapped, as in CleanRL.

Hyperparameter names follow Stable-Baselines3's ``PPO``.
"""

import json
import numbers

import numpy as np

from fastml import _kernels, nn
from fastml._validation import check_positive_int, check_random_state, check_scalar
from fastml.rl._nets import EpisodeLog, mlp, vector_env
from fastml.rl.envs import Discrete

__all__ = ["A2C", "PPO", "REINFORCE", "ppo_loss"]


def ppo_loss(logits, values, actions, old_logp, advantages, returns, old_values, *,
             clip_range=0.2, clip_range_vf=0.2, ent_coef=0.01, vf_coef=0.5):
    """The PPO loss of a minibatch and its gradient w.r.t. the network outputs.

    logits (B, A), values (B,), actions (B,) int, old_logp/advantages/returns/old_values
    (B,). ``clip_range_vf=None`` disables value clipping. Returns (loss, grad_logits,
    grad_values, stats) with stats = {loss, policy_loss, value_loss, entropy, approx_kl,
    clip_fraction}.
    """
    logits = np.ascontiguousarray(logits, dtype=np.float64)
    B, A = logits.shape
    arrays = [np.ascontiguousarray(x, dtype=np.float64).reshape(B)
              for x in (values, old_logp, advantages, returns, old_values)]
    actions = np.ascontiguousarray(actions, dtype=np.int64).reshape(B)
    if (actions < 0).any() or (actions >= A).any():
        raise ValueError(f"actions must lie in [0, {A})")
    grad_logits, grad_values, stats = np.zeros((B, A)), np.zeros(B), np.zeros(6)
    loss = _kernels.load("_rl_ppo").ppo_loss(
        logits, arrays[0], actions, *arrays[1:], float(clip_range),
        0.0 if clip_range_vf is None else float(clip_range_vf), float(ent_coef), float(vf_coef),
        grad_logits, grad_values, stats)
    names = ("loss", "policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction")
    return loss, grad_logits, grad_values, dict(zip(names, stats.tolist()))


_HPARAMS = dict(learning_rate=2.5e-4, n_steps=128, batch_size=128, n_epochs=4, gamma=0.99,
                gae_lambda=0.95, clip_range=0.2, clip_range_vf=0.2, ent_coef=0.01,
                vf_coef=0.5, max_grad_norm=0.5, normalize_advantage=True, anneal_lr=True,
                net_arch=(64, 64), num_envs=4)


class PPO:
    """PPO for discrete-action vector environments (SB3-like surface).

    ``PPO(env, **hparams).learn(total_timesteps)``; ``predict(obs)``; ``save``/``load``;
    ``episode_returns`` / ``episode_lengths`` / ``episode_timesteps`` log every finished
    training episode. ``env``: an environment id (``fastml.rl.make_vec(id, num_envs)``,
    compiled) or a vector env autoresetting in the same step (ours or Gymnasium's).
    Defaults are CleanRL's ``ppo.py`` (4 envs x 128 steps, 4 minibatches, 4 epochs).
    """

    def __init__(self, env, *, learning_rate=2.5e-4, n_steps=128, batch_size=128, n_epochs=4,
                 gamma=0.99, gae_lambda=0.95, clip_range=0.2, clip_range_vf=0.2,
                 ent_coef=0.01, vf_coef=0.5, max_grad_norm=0.5, normalize_advantage=True,
                 anneal_lr=True, net_arch=(64, 64), num_envs=4, seed=None):
        real = numbers.Real
        self.learning_rate = float(check_scalar(learning_rate, "learning_rate", real,
                                                min_val=0.0, include_boundaries="neither"))
        self.n_steps = check_positive_int(n_steps, "n_steps")
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.n_epochs = check_positive_int(n_epochs, "n_epochs")
        self.gamma = float(check_scalar(gamma, "gamma", real, min_val=0.0, max_val=1.0))
        self.gae_lambda = float(check_scalar(gae_lambda, "gae_lambda", real, min_val=0.0,
                                             max_val=1.0))
        self.clip_range = float(check_scalar(clip_range, "clip_range", real, min_val=0.0,
                                             include_boundaries="neither"))
        self.clip_range_vf = None if clip_range_vf is None else float(
            check_scalar(clip_range_vf, "clip_range_vf", real, min_val=0.0,
                         include_boundaries="neither"))
        self.ent_coef = float(check_scalar(ent_coef, "ent_coef", real, min_val=0.0))
        self.vf_coef = float(check_scalar(vf_coef, "vf_coef", real, min_val=0.0))
        self.max_grad_norm = float(check_scalar(max_grad_norm, "max_grad_norm", real,
                                                min_val=0.0, include_boundaries="neither"))
        self.normalize_advantage = bool(normalize_advantage)
        self.anneal_lr = bool(anneal_lr)
        self.net_arch = tuple(check_positive_int(h, "net_arch") for h in net_arch)
        self.seed = seed
        self.rng = check_random_state(seed)
        self.env, self._obs = vector_env(env, num_envs, None if seed is None else int(
            self.rng.integers(2**31)))
        self.num_envs = self.env.num_envs
        if not isinstance(self.env.single_action_space, Discrete) and \
                type(self.env.single_action_space).__name__ != "Discrete":
            raise ValueError(f"PPO here handles Discrete action spaces, got "
                             f"{self.env.single_action_space}")
        self.obs_dim = int(np.prod(self.env.single_observation_space.shape))
        self.n_actions = int(self.env.single_action_space.n)
        self.actor = mlp((self.obs_dim, *self.net_arch, self.n_actions), 0.01, self.rng)
        self.critic = mlp((self.obs_dim, *self.net_arch, 1), 1.0, self.rng)
        self.params = self.actor.parameters() + self.critic.parameters()
        self.optimizer = nn.Adam(self.params, lr=self.learning_rate, eps=1e-5)
        self._log = EpisodeLog(self.num_envs)
        self._done = np.zeros(self.num_envs)
        self.num_timesteps = 0
        self.last_stats = {}

    # ------------------------------------------------------------------ acting
    def _flat_obs(self, obs):
        return np.ascontiguousarray(obs, dtype=np.float32).reshape(-1, self.obs_dim)

    def predict(self, obs, deterministic=True):
        """Actions for observations (obs_dim,) or (n, obs_dim): argmax of the policy
        logits (``deterministic``) or a sample. Returns (actions, None) as SB3."""
        obs = np.asarray(obs)
        single = obs.ndim == len(self.env.single_observation_space.shape)
        logits = self.actor(self._flat_obs(obs)).astype(np.float64)
        if deterministic:
            actions = logits.argmax(axis=1)
        else:
            actions, _ = self._sample(logits)
        return (int(actions[0]) if single else actions), None

    def _sample(self, logits):
        actions = np.empty(len(logits), dtype=np.int64)
        logp = np.empty(len(logits))
        _kernels.load("_rl_ppo").sample_categorical(logits, self.rng.random(len(logits)),
                                                    actions, logp)
        return actions, logp

    # ------------------------------------------------------------------ training
    @property
    def episode_returns(self):
        return np.array(self._log.returns)

    @property
    def episode_lengths(self):
        return np.array(self._log.lengths)

    @property
    def episode_timesteps(self):
        return np.array(self._log.timesteps)

    def learn(self, total_timesteps, *, target_return=None, window=20, callback=None):
        """Train for ``total_timesteps`` env steps (rounded up to whole rollouts of
        ``n_steps * num_envs``). Stops early once the mean undiscounted return of the last
        ``window`` finished episodes reaches ``target_return``, or when
        ``callback(self)`` returns False after an update. Returns self."""
        total_timesteps = check_positive_int(total_timesteps, "total_timesteps")
        window = check_positive_int(window, "window")
        T, N = self.n_steps, self.num_envs
        batch = T * N
        n_updates = -(-total_timesteps // batch)
        kernels = _kernels.load("_rl_ppo")
        obs_buf = np.zeros((T, N, self.obs_dim), dtype=np.float32)
        act_buf = np.zeros((T, N), dtype=np.int64)
        logp_buf, rew_buf, done_buf, val_buf = (np.zeros((T, N)) for _ in range(4))
        adv, ret = np.zeros((T, N)), np.zeros((T, N))
        for update in range(n_updates):
            if self.anneal_lr:
                self.optimizer.param_groups[0]["lr"] = \
                    (1.0 - update / n_updates) * self.learning_rate
            for t in range(T):
                obs = self._flat_obs(self._obs)
                obs_buf[t] = obs
                done_buf[t] = self._done
                logits = self.actor(obs).astype(np.float64)
                actions, logp = self._sample(logits)
                act_buf[t], logp_buf[t] = actions, logp
                self._obs, rewards, term, trunc, _ = self.env.step(actions)
                self._done = (term | trunc).astype(np.float64)
                rew_buf[t] = rewards
                self.num_timesteps += N
                self._log.add(rewards, self._done, self.num_timesteps)
            # the critic does not change during the rollout: value it in one batch
            values = self.critic(np.concatenate([obs_buf.reshape(batch, -1),
                                                 self._flat_obs(self._obs)]))[:, 0]
            val_buf[:] = values[:batch].reshape(T, N)
            last_value = values[batch:].astype(np.float64)
            kernels.gae(rew_buf, val_buf, done_buf, last_value, self._done, self.gamma,
                        self.gae_lambda, adv, ret)
            self._update(obs_buf.reshape(batch, -1), act_buf.reshape(-1),
                         logp_buf.reshape(-1), adv.reshape(-1), ret.reshape(-1),
                         val_buf.reshape(-1))
            if target_return is not None and self._log.mean_return(window) >= target_return:
                break
            if callback is not None and callback(self) is False:
                break
        return self

    def _update(self, obs, actions, old_logp, advantages, returns, old_values):
        batch = len(actions)
        mb = min(self.batch_size, batch)
        for _ in range(self.n_epochs):
            order = self.rng.permutation(batch)
            for start in range(0, batch, mb):
                idx = order[start:start + mb]
                adv = advantages[idx]
                if self.normalize_advantage and len(idx) > 1:
                    adv = (adv - adv.mean()) / (adv.std(ddof=1) + 1e-8)
                logits = self.actor(obs[idx])
                values = self.critic(obs[idx])
                _, g_logits, g_values, self.last_stats = ppo_loss(
                    logits, values, actions[idx], old_logp[idx], adv, returns[idx],
                    old_values[idx], clip_range=self.clip_range,
                    clip_range_vf=self.clip_range_vf, ent_coef=self.ent_coef,
                    vf_coef=self.vf_coef)
                self.optimizer.zero_grad()
                self.actor.backward(g_logits.astype(np.float32))
                self.critic.backward(g_values.astype(np.float32)[:, None])
                nn.clip_grad_norm_(self.params, self.max_grad_norm)
                self.optimizer.step()

    # ------------------------------------------------------------------ persistence
    def hparams(self):
        return {k: getattr(self, k) for k in _HPARAMS if k != "num_envs"} | \
            {"num_envs": self.num_envs}

    def save(self, path):
        """Write hyperparameters and both networks' weights to ``path`` (``.npz``)."""
        arrays = {f"actor.{k}": v for k, v in self.actor.state_dict().items()}
        arrays |= {f"critic.{k}": v for k, v in self.critic.state_dict().items()}
        meta = {"hparams": self.hparams(), "env": getattr(self.env, "spec_id", None)}
        np.savez(path, __meta__=np.array(json.dumps(meta)), **arrays)

    @classmethod
    def load(cls, path, env=None):
        """A PPO from :meth:`save`; ``env`` defaults to the saved environment id."""
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["__meta__"]))
            hp = meta["hparams"]
            hp["net_arch"] = tuple(hp["net_arch"])
            model = cls.__new__(cls)      # subclasses only change PPO's defaults
            PPO.__init__(model, env if env is not None else meta["env"], **hp)
            model.actor.load_state_dict({k[6:]: data[k] for k in data.files
                                         if k.startswith("actor.")})
            model.critic.load_state_dict({k[7:]: data[k] for k in data.files
                                          if k.startswith("critic.")})
        return model


class A2C(PPO):
    """Advantage actor-critic (synchronous, Mnih et al. 2016): one gradient step per
    rollout of ``n_steps`` x ``num_envs`` on L = -E[A log pi(a|s)] - c_H E[H]
    + c_V 1/2 E[(V - R)^2]. It is PPO with one epoch over one minibatch (the ratio is then
    exactly 1, so the clipped objective's gradient is the vanilla policy gradient) and no
    value clipping; defaults follow SB3's A2C (Adam instead of RMSprop)."""

    def __init__(self, env, *, learning_rate=7e-4, n_steps=5, gamma=0.99, gae_lambda=1.0,
                 ent_coef=0.0, vf_coef=0.5, max_grad_norm=0.5, normalize_advantage=False,
                 anneal_lr=False, net_arch=(64, 64), num_envs=8, seed=None):
        super().__init__(env, learning_rate=learning_rate, n_steps=n_steps,
                         batch_size=n_steps * (num_envs if isinstance(env, str)
                                               else env.num_envs),
                         n_epochs=1, gamma=gamma, gae_lambda=gae_lambda, clip_range=0.2,
                         clip_range_vf=None, ent_coef=ent_coef, vf_coef=vf_coef,
                         max_grad_norm=max_grad_norm, normalize_advantage=normalize_advantage,
                         anneal_lr=anneal_lr, net_arch=net_arch, num_envs=num_envs, seed=seed)


class REINFORCE(A2C):
    """REINFORCE with a learned baseline (Williams 1992): the policy gradient
    E[(G_t - V(s_t)) grad log pi(a_t|s_t)] with Monte-Carlo returns G_t (GAE with
    lambda = 1) over rollouts of ``n_steps`` per env (episodes cut by the rollout end
    bootstrap from V), one gradient step per rollout, and V fitted to G_t."""

    def __init__(self, env, *, learning_rate=3e-3, n_steps=128, gamma=0.99, ent_coef=0.0,
                 vf_coef=0.5, max_grad_norm=0.5, normalize_advantage=True, anneal_lr=False,
                 net_arch=(64, 64), num_envs=4, seed=None):
        super().__init__(env, learning_rate=learning_rate, n_steps=n_steps, gamma=gamma,
                         gae_lambda=1.0, ent_coef=ent_coef, vf_coef=vf_coef,
                         max_grad_norm=max_grad_norm, normalize_advantage=normalize_advantage,
                         anneal_lr=anneal_lr, net_arch=net_arch, num_envs=num_envs, seed=seed)
