"""Fuzz specs of fastml.rl on tiny problems: dynamic programming on a random 4-state MDP,
tabular control on FrozenLake (a few episodes), the DQN/PPO building blocks on random
batches, the agents (a few updates, then ``predict``), the environments and the
normalisation wrappers (a few steps of Pendulum with the fuzzed actions) and the spaces."""

import numpy as np

from fastml import rl
from fastml.rl import envs
from fuzz_specs import HUGE, Spec

_S, _A = 4, 2


def _mdp(rng, dtype):
    P = rng.random((_S, _A, _S)) + 0.1
    return {"P": (P / P.sum(axis=2, keepdims=True)).astype(np.float64),
            "R": rng.standard_normal((_S, _A)).astype(dtype)}


def _dp(name, run, extra=None, **options):
    """Spec of a DP function on the random MDP (P stays float64: its rows must sum to 1
    to 1e-8, which float32 cannot hold)."""
    def make(rng, dtype):
        return {**_mdp(rng, dtype), **(extra(rng, dtype) if extra else {})}

    bad = {"gamma": [-0.1, 1.5, np.nan, "high"], **options.pop("bad_params", {})}
    return Spec(f"fastml.rl.{name}", make, run, same_length=(("P", "R"),), bad_params=bad,
                **options)


_TOL = {"tol": [0.0, -1.0, np.nan], "max_iter": [0, 2.5]}


def _policy(rng, dtype):
    pi = rng.random((_S, _A)) + 0.1
    return {"policy": (pi / pi.sum(axis=1, keepdims=True)).astype(np.float64)}


def _tabular(name):
    def make(rng, dtype):
        return {"Q0": rng.standard_normal((16, 4)).astype(dtype),
                "epsilon": np.full(6, 0.3, dtype=dtype)}

    def run(**kw):
        out = getattr(rl, name)(kw.pop("env", "FrozenLake-v1"), kw.pop("n_episodes", 6),
                                seed=0, **kw)
        return out.Q, out.policy, out.episode_returns, out.episode_lengths, out.steps

    also = ("fastml.rl.TabularResult",) if name == "q_learning" else ()
    return Spec(f"fastml.rl.{name}", make, run, also=also,
                bad_params={"env": ["CartPole-v1", 3], "n_episodes": [0, -1, 2.5],
                            "alpha": [0.0, 1.5, np.nan], "gamma": [-0.1, 1.5, np.nan]},
                aliases={"epsilon": ("episode",)},
                any_ndim=("epsilon",))  # a float (also a 0-d epsilon[0]) is documented


def _greedy(Q, n_episodes=5):
    return rl.evaluate_greedy("FrozenLake-v1", Q, n_episodes=n_episodes, seed=0)


def _batch(rng, dtype, B=5, A=3):
    return {"q": rng.standard_normal((B, A)).astype(dtype),
            "targets": rng.standard_normal(B).astype(dtype)}


def _huber(q, targets):
    return rl.huber_loss(q, np.arange(5) % 3, targets)


def _targets(rng, dtype, B=5, A=3):
    return {"rewards": rng.standard_normal(B).astype(dtype),
            "terminated": (np.arange(B) % 2).astype(dtype),
            "q_next_target": rng.standard_normal((B, A)).astype(dtype),
            "q_next_online": rng.standard_normal((B, A)).astype(dtype)}


_PPO_NAMES = ("values", "old_logp", "advantages", "returns", "old_values")


def _ppo_batch(rng, dtype, B=6, A=3):
    out = {"logits": rng.standard_normal((B, A)).astype(dtype)}
    out.update({k: rng.standard_normal(B).astype(dtype) for k in _PPO_NAMES})
    out["old_logp"] = -np.abs(out["old_logp"]) - 0.5
    return out


def _ppo_loss(logits, **kw):
    return rl.ppo_loss(logits, actions=np.arange(6) % 3, **kw)


def _buffer_batch(rng, dtype, n=3, d=2):
    return {"obs": rng.standard_normal((n, d)).astype(dtype),
            "rewards": rng.standard_normal(n).astype(dtype),
            "next_obs": rng.standard_normal((n, d)).astype(dtype),
            "terminated": np.array([0.0, 1.0, 0.0][:n], dtype=dtype)}


def _buffer(obs, rewards, next_obs, terminated, capacity=4, obs_dim=2):
    buf = rl.ReplayBuffer(capacity, obs_dim)
    buf.add(obs, np.arange(3) % 2, rewards, next_obs, terminated)
    return buf.sample(6, np.random.default_rng(0))


def _obs(rng, dtype):
    return {"obs": rng.uniform(-0.05, 0.05, (3, 4)).astype(dtype)}


_AGENT_BAD = {"learning_rate": [-1.0, np.nan], "gamma": [1.5, np.nan],
              "num_envs": [0, 2.5], "net_arch": [(0,), "wide"], "env": ["Nope-v0", 3]}


def _agent(cls, params, timesteps, bad):
    """Spec of a deep RL agent: a few updates on CartPole-v1 (seeded), then the greedy
    actions for a batch of observations (and for one, as a scalar)."""
    def run(obs, env="CartPole-v1", **kw):
        model = cls(env, seed=0, **{**params, **kw}).learn(timesteps)
        batch, _ = model.predict(obs)
        single, _ = model.predict(obs[0]) if np.ndim(obs) == 2 and len(obs) else (0, None)
        return batch, single, model.episode_returns.size

    return Spec(f"fastml.rl.{cls.__name__}", _obs, run, bad_params={**_AGENT_BAD, **bad},
                aliases={"env": ("env_id",)}, any_ndim=("obs",))  # one obs or a batch


def _pendulum_action(rng, dtype):
    return {"action": rng.uniform(-2, 2, 1).astype(dtype)}


def _single_env(action, env_id="Pendulum-v1", **kw):
    env = rl.make(env_id, **kw)
    obs = [env.reset(seed=0)[0]]
    rewards = []
    for _ in range(3):
        o, r, term, trunc, _ = env.step(action)
        obs.append(o)
        rewards.append(r)
    return np.array(obs), np.array(rewards)


def _vector_env(actions, env_id="Pendulum-v1", num_envs=3, **kw):
    env = rl.make_vec(env_id, num_envs, seed=0, **kw)
    out = []
    for _ in range(3):
        obs, rewards, term, trunc, _ = env.step(actions)
        out += [obs, rewards, term, trunc]
    return out


def _normalized(actions, epsilon=1e-8, clip=None, gamma=0.99):
    """Three steps of Pendulum behind NormalizeReward(NormalizeObservation(...))."""
    env = rl.make_vec("Pendulum-v1", 3, autoreset_mode="same_step")
    env = rl.NormalizeReward(rl.NormalizeObservation(env, epsilon=epsilon, clip=clip),
                             gamma=gamma, epsilon=epsilon, clip=clip)
    out = [env.reset(seed=0)[0]]
    for _ in range(3):
        obs, rewards, _, _, info = env.step(actions)
        out += [obs, rewards, info["original_reward"]]
    return out


def _box(low, high):
    space = envs.Box(low, high, dtype=np.float64, seed=0)
    x = space.sample()
    return x, space.contains(x), space.low, space.high


def _discrete(n=5, start=0):
    space = envs.Discrete(n, seed=0, start=start)
    x = np.array([space.sample() for _ in range(4)])
    return x, space.contains(int(x[0]))


def _multi_discrete(nvec):
    space = envs.MultiDiscrete(nvec, seed=0)
    x = space.sample()
    return x, space.contains(x)


SPECS = [
    _dp("value_iteration", lambda **kw: rl.value_iteration(**kw), bad_params=_TOL),
    _dp("q_value_iteration", lambda **kw: rl.q_value_iteration(**kw), bad_params=_TOL),
    _dp("policy_iteration", lambda **kw: rl.policy_iteration(**kw),
        bad_params={"max_iter": [0, 2.5]}),
    _dp("bellman_q", lambda **kw: rl.bellman_q(**kw),
        extra=lambda rng, dtype: {"V": rng.standard_normal(_S).astype(dtype)}),
    _dp("policy_evaluation", lambda **kw: rl.policy_evaluation(**kw), extra=_policy,
        bad_params={"method": ["lu"], **_TOL}),
    _dp("q_policy_evaluation", lambda **kw: rl.q_policy_evaluation(**kw), extra=_policy,
        bad_params={"method": ["lu"], **_TOL}),
    *[_tabular(name) for name in ("q_learning", "sarsa", "expected_sarsa", "mc_control")],
    Spec("fastml.rl.evaluate_greedy",
         lambda rng, dtype: {"Q": rng.standard_normal((16, 4)).astype(dtype)}, _greedy,
         bad_params={"n_episodes": [0, -1, 2.5]}),
    Spec("fastml.rl.linear_schedule",
         lambda rng, dtype: {"start": 1.0, "end": 0.1, "n_episodes": 7, "fraction": 0.5},
         lambda **kw: rl.linear_schedule(**kw), dtypes=("float64",),
         bad_params={"start": [np.nan, -0.5, "one"], "end": [1.5, np.nan],
                     "n_episodes": [0, -1, 2.5, HUGE], "fraction": [-0.1, 1.5, np.nan]}),
    Spec("fastml.rl.exponential_schedule",
         lambda rng, dtype: {"start": 1.0, "end": 0.1, "n_episodes": 7, "decay": 0.9},
         lambda **kw: rl.exponential_schedule(**kw), dtypes=("float64",),
         bad_params={"start": [np.nan, -0.5, "one"], "end": [1.5, np.nan],
                     "n_episodes": [0, -1, 2.5, HUGE], "decay": [0.0, 1.5, np.nan]}),
    Spec("fastml.rl.huber_loss", _batch, _huber, same_length=(("q", "targets"),)),
    Spec("fastml.rl.dqn_targets", _targets, lambda **kw: rl.dqn_targets(**kw),
         same_length=(("rewards", "terminated", "q_next_target", "q_next_online"),),
         bad_params={"gamma": [-0.1, 1.5, np.nan]}),
    Spec("fastml.rl.ppo_loss", _ppo_batch, _ppo_loss,
         same_length=(("logits",) + _PPO_NAMES,),
         bad_params={"clip_range": [0.0, -0.1, np.nan], "clip_range_vf": [0.0, np.nan],
                     "ent_coef": [-1.0, np.nan], "vf_coef": [-1.0, np.nan]}),
    Spec("fastml.rl.ReplayBuffer", _buffer_batch, _buffer,
         same_length=(("obs", "rewards", "next_obs", "terminated"),),
         bad_params={"capacity": [0, -1, 2.5], "obs_dim": [0, -1, 2.5]},
         aliases={"obs": ("obs_dim",), "next_obs": ("obs_dim",)}),
    _agent(rl.PPO, {"n_steps": 8, "batch_size": 8, "n_epochs": 1, "num_envs": 2}, 32,
           {"n_steps": [0, 2.5], "batch_size": [0], "clip_range": [0.0, np.nan],
            "gae_lambda": [1.5], "ent_coef": [-1.0]}),
    _agent(rl.A2C, {"n_steps": 4, "num_envs": 2}, 16, {"n_steps": [0, 2.5]}),
    _agent(rl.REINFORCE, {"n_steps": 8, "num_envs": 2}, 32, {"n_steps": [0, 2.5]}),
    _agent(rl.DQN, {"buffer_size": 32, "learning_starts": 8, "batch_size": 4,
                    "train_freq": 2, "target_update_interval": 4}, 24,
           {"buffer_size": [0, 2.5], "batch_size": [0], "train_freq": [0],
            "exploration_fraction": [1.5, np.nan], "exploration_final_eps": [-0.1]}),
    Spec("fastml.rl.make", _pendulum_action, _single_env,
         also=("fastml.rl.envs.Env",),
         bad_params={"env_id": ["Nope-v0", 3], "max_episode_steps": [0, -1, 2.5]}),
    Spec("fastml.rl.make_vec",
         lambda rng, dtype: {"actions": rng.uniform(-2, 2, (3, 1)).astype(dtype)},
         _vector_env, also=("fastml.rl.envs.VectorEnv",),
         bad_params={"env_id": ["Nope-v0", 3], "num_envs": [0, -1, 2.5, HUGE],
                     "autoreset_mode": ["never"], "max_episode_steps": [0, 2.5]}),
    Spec("fastml.rl.NormalizeObservation",
         lambda rng, dtype: {"actions": rng.uniform(-2, 2, (3, 1)).astype(dtype)},
         _normalized, also=("fastml.rl.NormalizeReward",),
         bad_params={"epsilon": [0.0, -1.0, np.nan, "small"], "clip": [0.0, -1.0, np.nan],
                     "gamma": [-0.1, 1.5, np.nan]}),
    Spec("fastml.rl.envs.Box",
         lambda rng, dtype: {"low": -rng.random(3).astype(dtype),
                             "high": rng.random(3).astype(dtype)}, _box,
         same_length=(("low", "high"),), any_ndim=("low", "high"),
         nonfinite_ok=("low", "high")),
    Spec("fastml.rl.envs.Discrete", lambda rng, dtype: {"n": 5, "start": 2}, _discrete,
         dtypes=("float64",), bad_params={"n": [0, -1, 2.5, "five"], "start": [2.5, "one"]}),
    Spec("fastml.rl.envs.MultiDiscrete", lambda rng, dtype: {"nvec": np.array([2, 3, 4])},
         _multi_discrete, arrays=("nvec",), any_ndim=("nvec",), dtypes=("float64",),
         huge=False),
]

EXEMPT = {
    "fastml.rl.envs.Space": "abstract base of Box, Discrete and MultiDiscrete (no sample or "
                            "contains of its own); their specs construct and sample it",
}
