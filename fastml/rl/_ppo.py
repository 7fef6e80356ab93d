"""Proximal Policy Optimization (Schulman et al. 2017) with CleanRL's implementation
details, for discrete (categorical policy) and continuous (diagonal Gaussian policy with
a state-independent log standard deviation, as CleanRL's ``ppo_continuous_action``)
actions, on ``fastml.nn`` MLPs run by compiled kernels.

Each update collects ``n_steps`` transitions from each of the ``num_envs`` environments
(on the compiled classic-control environments the whole rollout, policy included, is one
kernel call per 32 steps), computes GAE(lambda) advantages

    delta_t = r_t + gamma V(s_{t+1}) (1 - d_{t+1}) - V(s_t),
    A_t = delta_t + gamma lambda (1 - d_{t+1}) A_{t+1},   R_t = A_t + V(s_t),

then runs ``n_epochs`` passes over shuffled minibatches of ``batch_size`` minimising

    L = E[max(-A r, -A clip(r, 1 - eps, 1 + eps))] - c_H E[H(pi(.|s))]
        + c_V 1/2 E[max((V - R)^2, (V_old + clip(V - V_old, -eps_V, eps_V) - R)^2)],

r = pi(a|s) / pi_old(a|s), with advantages normalised per minibatch, the gradient norm
clipped to ``max_grad_norm``, Adam (eps 1e-5) with the learning rate annealed linearly
to 0, and orthogonal initialisation (gain sqrt(2) hidden, 0.01 policy head, 1 value
head). Episode ends (terminated or truncated) are not bootstrapped, as in CleanRL.
Continuous actions are sampled unclipped (the loss sees the sample) and clipped to the
action space for the environment (Gymnasium's ``ClipAction``).

Hyperparameter names follow Stable-Baselines3's ``PPO``.
"""

import numbers

import numpy as np

from fastml import _kernels, nn
from fastml._validation import (
    check_array,
    check_index_array,
    check_interface,
    check_option,
    check_positive_int,
    check_scalar,
    check_shape,
)
from fastml.rl._nets import Agent, KernelMLP, mlp

__all__ = ["A2C", "PPO", "REINFORCE", "ppo_loss"]

_LOSS_STATS = ("loss", "policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction")


def ppo_loss(logits, values, actions, old_logp, advantages, returns, old_values, *,
             clip_range=0.2, clip_range_vf=0.2, ent_coef=0.01, vf_coef=0.5):
    """The PPO loss of a minibatch of categorical policies and its gradient w.r.t. the
    network outputs.

    logits (B, A), values (B,), actions (B,) int, old_logp/advantages/returns/old_values
    (B,). ``clip_range_vf=None`` disables value clipping. Returns (loss, grad_logits,
    grad_values, stats) with stats = {loss, policy_loss, value_loss, entropy, approx_kl,
    clip_fraction}.
    """
    logits = check_array(logits, "logits", ndim=2, dtype=np.float64, allow_empty=False)
    B, A = logits.shape
    names = ("values", "old_logp", "advantages", "returns", "old_values")
    arrays = []
    for name, x in zip(names, (values, old_logp, advantages, returns, old_values)):
        x = check_array(x, name, ndim=1, dtype=np.float64)
        arrays.append(check_shape(x, name, (B,), " (one entry per logits row)"))
    actions = check_shape(check_index_array(actions, "actions", A, what="actions", ndim=1),
                          "actions", (B,), " (one per logits row)")
    actions = np.ascontiguousarray(actions, dtype=np.int64)
    real = numbers.Real
    clip_range = check_scalar(clip_range, "clip_range", real, min_val=0.0,
                              include_boundaries="neither")
    if clip_range_vf is not None:
        check_scalar(clip_range_vf, "clip_range_vf", real, min_val=0.0,
                     include_boundaries="neither")
    check_scalar(ent_coef, "ent_coef", real, min_val=0.0)
    check_scalar(vf_coef, "vf_coef", real, min_val=0.0)
    grad_logits, grad_values, stats = np.zeros((B, A)), np.zeros(B), np.zeros(6)
    loss = _kernels.load("_rl_ppo").ppo_loss(
        logits, arrays[0], actions, *arrays[1:], float(clip_range),
        0.0 if clip_range_vf is None else float(clip_range_vf), float(ent_coef), float(vf_coef),
        grad_logits, grad_values, stats)
    return loss, grad_logits, grad_values, dict(zip(_LOSS_STATS, stats.tolist()))


class _LogStd(nn.Module):
    """The state-independent log standard deviation of a Gaussian policy (CleanRL's
    ``actor_logstd``, initialised to 0)."""

    def __init__(self, n):
        super().__init__()
        self.log_std = nn.Parameter(np.zeros(n, dtype=np.float32))


class PPO(Agent):
    """PPO for vector environments with Discrete or one-dimensional Box actions
    (SB3-like surface).

    ``PPO(env, **hparams).learn(total_timesteps)``; ``predict(obs)``; ``save``/``load``;
    ``episode_returns`` / ``episode_lengths`` / ``episode_timesteps`` log every finished
    training episode. ``env``: an environment id (``fastml.rl.make_vec(id, num_envs)``,
    compiled) or a vector env autoresetting in the same step (ours or Gymnasium's).
    Defaults are CleanRL's ``ppo.py`` (4 envs x 128 steps, 4 minibatches, 4 epochs).
    Box actions get a Gaussian policy N(mu(s), exp(log_std)^2) (``log_std`` a parameter);
    for continuous control wrap the env in :class:`~fastml.rl.NormalizeObservation` and
    :class:`~fastml.rl.NormalizeReward` (``examples/rl_pendulum_ppo.py``); the episode log
    then holds the original returns.
    """

    _HPARAMS = ("learning_rate", "n_steps", "batch_size", "n_epochs", "gamma", "gae_lambda",
                "clip_range", "clip_range_vf", "ent_coef", "vf_coef", "max_grad_norm",
                "normalize_advantage", "anneal_lr", "net_arch", "num_envs")

    def __init__(self, env, *, learning_rate=2.5e-4, n_steps=128, batch_size=128, n_epochs=4,
                 gamma=0.99, gae_lambda=0.95, clip_range=0.2, clip_range_vf=0.2,
                 ent_coef=0.01, vf_coef=0.5, max_grad_norm=0.5, normalize_advantage=True,
                 anneal_lr=True, net_arch=(64, 64), num_envs=4, seed=None):
        real = numbers.Real
        self.n_steps = check_positive_int(n_steps, "n_steps")
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.n_epochs = check_positive_int(n_epochs, "n_epochs")
        self.gae_lambda = float(check_scalar(gae_lambda, "gae_lambda", real, min_val=0.0,
                                             max_val=1.0))
        self.clip_range = float(check_scalar(clip_range, "clip_range", real, min_val=0.0,
                                             include_boundaries="neither"))
        self.clip_range_vf = None if clip_range_vf is None else float(
            check_scalar(clip_range_vf, "clip_range_vf", real, min_val=0.0,
                         include_boundaries="neither"))
        self.ent_coef = float(check_scalar(ent_coef, "ent_coef", real, min_val=0.0))
        self.vf_coef = float(check_scalar(vf_coef, "vf_coef", real, min_val=0.0))
        self.normalize_advantage = bool(normalize_advantage)
        self.anneal_lr = bool(anneal_lr)
        self._setup(env, learning_rate=learning_rate, gamma=gamma, max_grad_norm=max_grad_norm,
                    net_arch=net_arch, num_envs=num_envs, seed=seed)
        space = self.env.single_action_space
        kind = check_option(type(space).__name__, "env.single_action_space",
                            ("Discrete", "Box"))
        if kind == "Discrete":
            self.gaussian, self.act_dim, n_out = False, 1, int(space.n)
            self._low = self._high = 0.0
        else:
            check_shape(space, "env.single_action_space", (1,),
                        " (PPO handles one-dimensional Box actions)")
            self.gaussian, self.act_dim, n_out = True, 1, 1
            self._low, self._high = float(space.low[0]), float(space.high[0])
        self.actor = mlp((self.obs_dim, *self.net_arch, n_out), 0.01, self.rng)
        self.critic = mlp((self.obs_dim, *self.net_arch, 1), 1.0, self.rng)
        self.log_std = _LogStd(n_out if self.gaussian else 0)
        self.params = self.actor.parameters() + self.critic.parameters() + \
            (self.log_std.parameters() if self.gaussian else [])
        self.optimizer = nn.Adam(self.params, lr=self.learning_rate, eps=1e-5)
        self._actor, self._critic = KernelMLP(self.actor), KernelMLP(self.critic)
        self._done = np.zeros(self.num_envs)
        self.last_stats = {}

    _restore = __init__

    def _networks(self):
        nets = {"actor": self.actor, "critic": self.critic}
        return nets | ({"log_std": self.log_std} if self.gaussian else {})

    # ------------------------------------------------------------------ acting
    def predict(self, obs, deterministic=True):
        """Actions for observations (obs_dim,) or (n, obs_dim): the most likely action
        (argmax of the logits, or the Gaussian mean clipped to the action space) when
        ``deterministic``, else a sample. Returns (actions, None) as SB3."""
        x, single = self._single(obs)
        head = self._actor(x)
        if deterministic:
            actions = head.argmax(axis=1) if not self.gaussian else \
                np.clip(head, self._low, self._high)
        else:
            actions = self._sample(head)[0]
            actions = np.clip(actions, self._low, self._high) if self.gaussian else \
                actions[:, 0].astype(np.int64)
        if self.gaussian:
            return (actions[0].astype(np.float32) if single else actions.astype(np.float32)), \
                None
        return (int(actions[0]) if single else actions), None

    def _noise(self, shape):
        return self.rng.standard_normal(shape + (self.act_dim,)) if self.gaussian else \
            self.rng.random(shape + (1,))

    def _sample(self, head, noise=None):
        n = len(head)
        actions, logp = np.zeros((n, self.act_dim)), np.zeros(n)
        _kernels.load("_rl_ppo").sample_actions(
            np.ascontiguousarray(head, dtype=np.float32), n, self.gaussian,
            self.log_std.log_std.data, self._noise((n,)) if noise is None else noise,
            actions, logp)
        return actions, logp

    # ------------------------------------------------------------------ training
    def learn(self, total_timesteps, *, target_return=None, window=20, callback=None):
        """Train for ``total_timesteps`` env steps (rounded up to whole rollouts of
        ``n_steps * num_envs``). Stops early once the mean undiscounted return of the last
        ``window`` finished episodes reaches ``target_return``, or when
        ``callback(self)`` returns False after an update. Returns self."""
        total_timesteps = check_positive_int(total_timesteps, "total_timesteps")
        window = check_positive_int(window, "window")
        if target_return is not None:
            target_return = float(check_scalar(target_return, "target_return", numbers.Real))
        T, N = self.n_steps, self.num_envs
        batch = T * N
        n_updates = -(-total_timesteps // batch)
        kernels = _kernels.load("_rl_ppo")
        buffers = dict(obs=np.zeros((T, N, self.obs_dim), dtype=np.float32),
                       actions=np.zeros((T, N, self.act_dim)), logp=np.zeros((T, N)),
                       rewards=np.zeros((T, N)), dones=np.zeros((T, N)),
                       original_rewards=np.zeros((T, N)))
        adv, ret = np.zeros((T, N)), np.zeros((T, N))
        for update in range(n_updates):
            if self.anneal_lr:
                self.optimizer.param_groups[0]["lr"] = \
                    (1.0 - update / n_updates) * self.learning_rate
            episode_rewards = self._rollout(buffers)
            self.num_timesteps += batch
            # the done flag of step t is dones[t + 1] (the next observation starts anew)
            self._log.add_rollout(episode_rewards,
                                  np.concatenate([buffers["dones"][1:], self._done[None]]),
                                  self.num_timesteps)
            # the critic does not change during the rollout: value it in one batch
            hidden, _ = self._critic.forward(np.concatenate(
                [buffers["obs"].reshape(batch, -1), self._flat_obs(self._obs)]))
            values = hidden[-1][:batch + N, 0].astype(np.float64)
            val = values[:batch].reshape(T, N)
            kernels.gae(buffers["rewards"], val, buffers["dones"], values[batch:], self._done,
                        self.gamma, self.gae_lambda, adv, ret)
            actions = buffers["actions"].reshape(batch, self.act_dim)
            self._update(buffers["obs"].reshape(batch, -1),
                         actions if self.gaussian else actions[:, 0].astype(np.int64),
                         buffers["logp"].reshape(-1), adv.reshape(-1), ret.reshape(-1),
                         val.reshape(-1))
            if target_return is not None and self._log.mean_return(window) >= target_return:
                break
            if callback is not None and callback(self) is False:
                break
        return self

    def _rollout(self, buf):
        """Fill the (T, N) buffers with one rollout from the current observations.
        Returns the rewards the episode log counts: the env's, or, behind
        :class:`~fastml.rl.NormalizeReward`, the rewards before it scaled them
        (``infos["original_reward"]``)."""
        T, N = self.n_steps, self.num_envs
        noise = self._noise((T, N))
        batch = getattr(self.env, "_batch", None)
        if batch is not None and batch.family == "classic":
            kernel = _kernels.load("_rl_ppo").classic_rollout
            weights, biases = self._actor._tuples()
            hidden, _ = self._actor.workspace(N)
            log_std = self.log_std.log_std.data

            def chunk(t0, steps, *env_arrays):
                kernel(t0, steps, *env_arrays, weights, biases, hidden, self.gaussian, log_std,
                       self._low, self._high, noise, buf["obs"], buf["actions"], buf["logp"],
                       buf["rewards"], buf["dones"], self._done)

            batch.run(T, chunk)
            self._obs = batch.obs.copy()
            return buf["rewards"]
        for t in range(T):
            obs = self._flat_obs(self._obs)
            buf["obs"][t] = obs
            buf["dones"][t] = self._done
            actions, buf["logp"][t] = self._sample(self._actor(obs), noise[t])
            buf["actions"][t] = actions
            env_actions = np.clip(actions, self._low, self._high).astype(np.float32) if \
                self.gaussian else actions[:, 0].astype(np.int64)
            self._obs, rewards, term, trunc, infos = self.env.step(env_actions)
            buf["rewards"][t] = rewards
            buf["original_rewards"][t] = infos.get("original_reward", rewards)
            self._done = (np.asarray(term) | np.asarray(trunc)).astype(np.float64)
        return buf["original_rewards"]

    def _update(self, obs, actions, old_logp, advantages, returns, old_values):
        batch = len(old_logp)
        mb = min(self.batch_size, batch)
        for _ in range(self.n_epochs):
            order = self.rng.permutation(batch)
            shuffled = [np.ascontiguousarray(x[order]) for x in
                        (obs, actions, old_logp, advantages, returns, old_values)]
            for start in range(0, batch, mb):
                self._minibatch(*(x[start:start + mb] for x in shuffled), rows=mb)

    def _minibatch(self, obs, actions, old_logp, adv, returns, old_values, rows):
        """One gradient step of the PPO loss on a minibatch (compiled forward, loss and
        backward; ``fastml.nn``'s gradient clipping and Adam)."""
        kernels = _kernels.load("_rl_ppo")
        n = len(old_logp)
        if self.normalize_advantage and n > 1:
            adv = (adv - adv.mean()) / (adv.std(ddof=1) + 1e-8)
        a_hidden, a_deltas = self._actor.forward(obs, rows)
        c_hidden, c_deltas = self._critic.forward(obs, rows)
        head, grad_head = a_hidden[-1][:n], a_deltas[-1][:n]
        values, grad_values = c_hidden[-1][:n, 0], c_deltas[-1][:n, 0]
        self.optimizer.zero_grad()
        stats = np.zeros(6)
        clip_vf = 0.0 if self.clip_range_vf is None else self.clip_range_vf
        if self.gaussian:
            kernels.gaussian_ppo_loss(head, self.log_std.log_std.data, values, actions,
                                      old_logp, adv, returns, old_values, self.clip_range,
                                      clip_vf, self.ent_coef, self.vf_coef, grad_head,
                                      self.log_std.log_std.grad, grad_values, stats)
        else:
            kernels.ppo_loss(head, values, actions, old_logp, adv, returns, old_values,
                             self.clip_range, clip_vf, self.ent_coef, self.vf_coef, grad_head,
                             grad_values, stats)
        self.last_stats = dict(zip(_LOSS_STATS, stats.tolist()))
        self._actor.backward(obs, a_hidden, a_deltas)
        self._critic.backward(obs, c_hidden, c_deltas)
        nn.clip_grad_norm_(self.params, self.max_grad_norm)
        self.optimizer.step()


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
                         batch_size=check_positive_int(n_steps, "n_steps") * _num_envs(
                             env, num_envs),
                         n_epochs=1, gamma=gamma, gae_lambda=gae_lambda, clip_range=0.2,
                         clip_range_vf=None, ent_coef=ent_coef, vf_coef=vf_coef,
                         max_grad_norm=max_grad_norm, normalize_advantage=normalize_advantage,
                         anneal_lr=anneal_lr, net_arch=net_arch, num_envs=num_envs, seed=seed)


def _num_envs(env, num_envs):
    """Envs per rollout: ``num_envs`` for an id, else the vector env's own count."""
    if isinstance(env, str):
        return check_positive_int(num_envs, "num_envs")
    check_interface(env, "env", ("num_envs",), "an environment id or a vector environment")
    return check_positive_int(env.num_envs, "env.num_envs")


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
