"""rl suite: compiled environments, dynamic programming, tabular and deep RL.

- ``cartpole_random_steps``: random-action CartPole-v1 env steps/s for a batch of
  ``num_envs`` environments (the size), ``fastml.rl.make_vec`` (one compiled call per
  step) vs Gymnasium's ``SyncVectorEnv`` and EnvPool (C++ thread pool, as many threads as
  fastml uses). Each call steps the batch ``max(16, 8192 // num_envs)`` times.
- ``value_iteration``: optimal values of a toy-text table to 1e-10 (the size names the
  environment; gamma 0.99), vs the dense NumPy reference.
- ``q_learning_taxi``: Q-learning on Taxi-v4 for ``n_episodes`` (the size), alpha 0.5,
  epsilon 0.1: env steps/s of the compiled loop vs the same loop in Python/NumPy on our
  compiled single env (reference) and on Gymnasium's env (envs built outside the timing).
- ``ppo_cartpole``: wall time of PPO until the mean return of the last 20 training
  episodes reaches the target on CartPole-v1, fastml vs Stable-Baselines3 and a
  CleanRL-style torch loop (``ppo.py``'s details), all with CleanRL's CartPole
  hyperparameters (4 envs x 128 steps, 4 minibatches of 128, 4 epochs, gamma 0.99,
  lambda 0.95, lr 2.5e-4 annealed linearly, clip 0.2, value clip 0.2, entropy 0.01,
  64-64 tanh MLPs) and the same number of threads. Each call trains one new seed
  (warm-up seed 0, timed repeats seeds 1, 2, ...), so the median over the five timed
  repeats is the median over five seeds. The answer records whether the target was
  reached within the step budget (lr annealed over it: 200k steps for the target 200,
  500k for 475).

Answers are random (rollouts, training runs) except for ``value_iteration``; the others
set ``compare=False`` and are tested in ``tests/test_rl*.py``.
"""

import itertools

import numpy as np

import fastml
from fastml import rl
from fastml.benchmarks import Case, Impl, register
from fastml.reference import rl as reference

# ------------------------------------------------------------------ env steps


def _steps_setup(n, rng):
    T = max(16, 8192 // n)
    return {"actions": rng.integers(0, 2, (T, n))}


def _run_actions(env, actions):
    for a in actions:
        env.step(a)
    return actions.size


def _fastml_envs(inputs):
    n = inputs["actions"].shape[1]
    return {**inputs, "env": rl.make_vec("CartPole-v1", n, seed=0)}


def _gymnasium_envs(inputs):
    import gymnasium

    n = inputs["actions"].shape[1]
    env = gymnasium.make_vec("CartPole-v1", n, vectorization_mode="sync")
    env.reset(seed=0)
    return {**inputs, "env": env}


def _envpool_envs(inputs):
    import envpool

    n = inputs["actions"].shape[1]
    env = envpool.make("CartPole-v1", env_type="gymnasium", num_envs=n, seed=0,
                       num_threads=min(n, fastml.get_num_threads()))
    env.reset()
    return {**inputs, "env": env, "actions": inputs["actions"].astype(np.int32)}


register(Case(
    suite="rl", name="cartpole_random_steps",
    setup=_steps_setup,
    sizes=[1, 8, 64, 256], quick_sizes=[1, 64], test_sizes=[2],
    rates=lambda n, steps: {"env steps": steps},
    compare=False,
    size_label=lambda n: f"{n} envs",
    description="random-action CartPole-v1 steps/s, num_envs environments per batch",
    impls=[Impl("fastml", _run_actions, prepare=_fastml_envs),
           Impl("gymnasium-sync", _run_actions, prepare=_gymnasium_envs,
                requires=("gymnasium",)),
           Impl("envpool", _run_actions, prepare=_envpool_envs, requires=("envpool",))]))

# ------------------------------------------------------------------ dynamic programming


def _dp_setup(env_id, rng):
    table = rl.make(env_id).unwrapped.P
    P, R = reference.dense_from_table(table)
    return {"table": table, "P": P, "R": R}


register(Case(
    suite="rl", name="value_iteration",
    setup=_dp_setup,
    sizes=["FrozenLake8x8-v1", "Taxi-v4"], test_sizes=["FrozenLake-v1"],
    size_key=lambda env_id: {"FrozenLake-v1": 16, "FrozenLake8x8-v1": 64}.get(env_id, 500),
    rtol=0, atol=1e-9,
    description="optimal values of a toy-text MDP to 1e-10, gamma 0.99",
    impls=[Impl("fastml", lambda table, P, R: rl.value_iteration(table, gamma=0.99)[0]),
           Impl("reference", lambda table, P, R: reference.value_iteration(P, R, 0.99)[0])]))

# ------------------------------------------------------------------ tabular


def _q_fastml(env, n_episodes):
    return rl.q_learning(env, n_episodes, alpha=0.5, epsilon=0.1, seed=0).steps


def _q_loop(env, n_episodes):
    return reference.q_learning_taxi(env, n_episodes, alpha=0.5, epsilon=0.1, seed=0)[1]


def _taxi(make):
    def prepare(inputs):
        return {**inputs, "env": make()}
    return prepare


def _gymnasium_taxi():
    import gymnasium

    return gymnasium.make("Taxi-v4")


register(Case(
    suite="rl", name="q_learning_taxi",
    setup=lambda n, rng: {"n_episodes": n},
    sizes=[200, 5000], quick_sizes=[200], test_sizes=[3],
    rates=lambda n, steps: {"env steps": steps},
    compare=False,
    size_label=lambda n: f"{n} episodes",
    description="Q-learning on Taxi-v4 (alpha 0.5, epsilon 0.1): env steps/s",
    impls=[Impl("fastml", _q_fastml, prepare=_taxi(lambda: rl.make("Taxi-v4"))),
           Impl("reference", _q_loop, prepare=_taxi(lambda: rl.make("Taxi-v4")), max_size=200),
           Impl("gymnasium+numpy", _q_loop, prepare=_taxi(_gymnasium_taxi),
                requires=("gymnasium",), max_size=200)]))

# ------------------------------------------------------------------ PPO

# CleanRL ppo.py's CartPole settings (fastml.rl.PPO's defaults), written out for the peers.
CARTPOLE_PPO = dict(n_steps=128, batch_size=128, n_epochs=4, gamma=0.99, gae_lambda=0.95,
                    ent_coef=0.01, vf_coef=0.5, max_grad_norm=0.5, learning_rate=2.5e-4,
                    clip_range=0.2, clip_range_vf=0.2)
_PPO_ENVS = 4
_WINDOW = 20  # episodes in the mean training return compared with the target


def _ppo_setup(size, rng):
    target, budget = size
    return {"target": target, "budget": budget}


def _with_seeds(inputs):
    return {**inputs, "seeds": itertools.count()}


def _torch_prepare(inputs):
    import torch

    torch.set_num_threads(fastml.get_num_threads())
    return _with_seeds(inputs)


def _result(steps, returns, target):
    return {"steps": int(steps),
            "reached": bool(len(returns) >= _WINDOW and np.mean(returns[-_WINDOW:]) >= target)}


def _fastml_ppo(target, budget, seeds):
    model = rl.PPO("CartPole-v1", num_envs=_PPO_ENVS, seed=next(seeds), **CARTPOLE_PPO)
    model.learn(budget, target_return=target, window=_WINDOW)
    return _result(model.num_timesteps, model.episode_returns, target)


def _sb3_ppo(target, budget, seeds):
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env

    class StopAtReturn(BaseCallback):
        def _on_step(self):
            returns = [info["r"] for info in self.model.ep_info_buffer]
            return not _result(0, returns, target)["reached"]

    seed = next(seeds)
    hp = dict(CARTPOLE_PPO)
    lr = hp.pop("learning_rate")
    model = PPO("MlpPolicy", make_vec_env("CartPole-v1", n_envs=_PPO_ENVS, seed=seed),
                learning_rate=lambda remaining: lr * remaining, seed=seed, device="cpu",
                stats_window_size=_WINDOW, **hp)
    model.learn(budget, callback=StopAtReturn())
    return _result(model.num_timesteps, [info["r"] for info in model.ep_info_buffer], target)


def _cleanrl_ppo(target, budget, seeds):
    """CleanRL ppo.py's loop (orthogonal init, Adam eps 1e-5, linear lr annealing, GAE,
    normalised advantages, clipped value loss, gradient clipping) on Gymnasium's
    SyncVectorEnv (same-step autoreset, as ppo.py was written for), stopping at the target."""
    import gymnasium
    import torch
    from gymnasium.vector import AutoresetMode
    from torch import nn

    seed, hp = next(seeds), CARTPOLE_PPO
    torch.manual_seed(seed)
    envs = gymnasium.make_vec("CartPole-v1", _PPO_ENVS, vectorization_mode="sync",
                              vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP})

    def layer(i, o, std=2**0.5):
        lin = nn.Linear(i, o)
        nn.init.orthogonal_(lin.weight, std)
        nn.init.constant_(lin.bias, 0.0)
        return lin

    def mlp(out, std):
        return nn.Sequential(layer(4, 64), nn.Tanh(), layer(64, 64), nn.Tanh(),
                             layer(64, out, std))

    actor, critic = mlp(2, 0.01), mlp(1, 1.0)
    params = list(actor.parameters()) + list(critic.parameters())
    opt = torch.optim.Adam(params, lr=hp["learning_rate"], eps=1e-5)
    T, N, gamma, lam = hp["n_steps"], _PPO_ENVS, hp["gamma"], hp["gae_lambda"]
    obs_buf, act_buf = torch.zeros((T, N, 4)), torch.zeros((T, N), dtype=torch.long)
    logp_buf, rew_buf, done_buf, val_buf = (torch.zeros((T, N)) for _ in range(4))
    obs, _ = envs.reset(seed=seed)
    obs, done = torch.tensor(obs), torch.zeros(N)
    ep_ret, returns, steps = np.zeros(N), [], 0
    n_updates = -(-budget // (T * N))
    for update in range(n_updates):
        for g in opt.param_groups:
            g["lr"] = (1.0 - update / n_updates) * hp["learning_rate"]
        for t in range(T):
            obs_buf[t], done_buf[t] = obs, done
            with torch.no_grad():
                dist = torch.distributions.Categorical(logits=actor(obs))
                action = dist.sample()
                logp_buf[t], val_buf[t] = dist.log_prob(action), critic(obs).flatten()
            act_buf[t] = action
            o, r, term, trunc, _ = envs.step(action.numpy())
            rew_buf[t] = torch.tensor(r, dtype=torch.float32)
            obs, done = torch.tensor(o), torch.tensor(term | trunc, dtype=torch.float32)
            ep_ret += r
            for i in np.flatnonzero(term | trunc):
                returns.append(ep_ret[i])
                ep_ret[i] = 0.0
        steps += T * N
        with torch.no_grad():
            adv, last = torch.zeros((T, N)), torch.zeros(N)
            next_value, next_done = critic(obs).flatten(), done
            for t in reversed(range(T)):
                if t < T - 1:
                    next_value, next_done = val_buf[t + 1], done_buf[t + 1]
                delta = rew_buf[t] + gamma * next_value * (1 - next_done) - val_buf[t]
                adv[t] = last = delta + gamma * lam * (1 - next_done) * last
            ret = adv + val_buf
        b_obs, b_act, b_logp = obs_buf.reshape(-1, 4), act_buf.reshape(-1), logp_buf.reshape(-1)
        b_adv, b_ret, b_val = adv.reshape(-1), ret.reshape(-1), val_buf.reshape(-1)
        for _ in range(hp["n_epochs"]):
            perm = torch.randperm(T * N)
            for mb in perm.split(hp["batch_size"]):
                dist = torch.distributions.Categorical(logits=actor(b_obs[mb]))
                ratio = (dist.log_prob(b_act[mb]) - b_logp[mb]).exp()
                a = b_adv[mb]
                a = (a - a.mean()) / (a.std() + 1e-8)
                clip = hp["clip_range"]
                pg = torch.max(-a * ratio, -a * ratio.clamp(1 - clip, 1 + clip)).mean()
                v = critic(b_obs[mb]).flatten()
                v_clipped = b_val[mb] + (v - b_val[mb]).clamp(-clip, clip)
                v_loss = 0.5 * torch.max((v - b_ret[mb]) ** 2,
                                         (v_clipped - b_ret[mb]) ** 2).mean()
                loss = pg - hp["ent_coef"] * dist.entropy().mean() + hp["vf_coef"] * v_loss
                opt.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(params, hp["max_grad_norm"])
                opt.step()
        if _result(steps, returns, target)["reached"]:
            break
    return _result(steps, returns, target)


register(Case(
    suite="rl", name="ppo_cartpole",
    setup=_ppo_setup,
    sizes=[(200, 200_000), (475, 500_000)], quick_sizes=[(100, 50_000)],
    test_sizes=[(15, 512)],
    rates=lambda size, answer: {"env steps": answer["steps"]},
    compare=False,
    size_key=lambda size: size[0],
    size_label=lambda size: f"return {size[0]}",
    description="PPO wall time to a mean training return (last 20 episodes), CartPole-v1, "
                "CleanRL's hyperparameters, 4 envs",
    impls=[Impl("fastml", _fastml_ppo, prepare=_with_seeds),
           Impl("sb3", _sb3_ppo, prepare=_torch_prepare,
                requires=("stable_baselines3", "torch")),
           Impl("cleanrl-torch", _cleanrl_ppo, prepare=_torch_prepare,
                requires=("gymnasium", "torch"))]))
