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
  episodes reaches the target (475 in the full run) on CartPole-v1, fastml vs
  Stable-Baselines3, both with rl-zoo's CartPole hyperparameters (8 envs x 32 steps,
  batch 256, 20 epochs, gamma 0.98, lambda 0.8, lr 1e-3 annealed linearly, clip 0.2, no
  value clipping, no entropy bonus, 64-64 tanh MLPs) and the same number of threads. Each
  call trains one new seed (warm-up seed 0, timed repeats seeds 1, 2, ...), so the median
  over the five timed repeats of a full run is the median over five seeds. CleanRL is a
  script, not a library, so it is not run here.

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
    S, A = len(table), len(table[0])
    P, R = np.zeros((S, A, S)), np.zeros((S, A))
    for s in range(S):
        for a in range(A):
            for p, s2, r, done in table[s][a]:
                R[s, a] += p * r
                P[s, a, s2] += 0.0 if done else p
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

CARTPOLE_PPO = dict(n_steps=32, batch_size=256, n_epochs=20, gamma=0.98, gae_lambda=0.8,
                    ent_coef=0.0, learning_rate=1e-3, clip_range=0.2)
_PPO_ENVS = 8


def _ppo_setup(size, rng):
    target, budget = size
    return {"target": target, "budget": budget}


def _with_seeds(inputs):
    return {**inputs, "seeds": itertools.count()}


def _fastml_ppo(target, budget, seeds):
    model = rl.PPO("CartPole-v1", num_envs=_PPO_ENVS, clip_range_vf=None, seed=next(seeds),
                   **CARTPOLE_PPO)
    model.learn(budget, target_return=target)
    return {"steps": model.num_timesteps,
            "reached": bool(model.episode_returns[-20:].mean() >= target)}


def _sb3_prepare(inputs):
    import torch

    torch.set_num_threads(fastml.get_num_threads())
    return _with_seeds(inputs)


def _sb3_ppo(target, budget, seeds):
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env

    class StopAtReturn(BaseCallback):
        def _on_step(self):
            returns = [info["r"] for info in self.model.ep_info_buffer]
            return not (len(returns) >= 20 and np.mean(returns[-20:]) >= target)

    seed = next(seeds)
    hp = dict(CARTPOLE_PPO)
    lr = hp.pop("learning_rate")
    model = PPO("MlpPolicy", make_vec_env("CartPole-v1", n_envs=_PPO_ENVS, seed=seed),
                learning_rate=lambda remaining: lr * remaining, seed=seed, device="cpu",
                **hp)
    model.learn(budget, callback=StopAtReturn())
    returns = [info["r"] for info in model.ep_info_buffer]
    return {"steps": model.num_timesteps, "reached": bool(np.mean(returns[-20:]) >= target)}


register(Case(
    suite="rl", name="ppo_cartpole",
    setup=_ppo_setup,
    sizes=[(475, 150_000)], quick_sizes=[(200, 100_000)], test_sizes=[(15, 512)],
    rates=lambda size, answer: {"env steps": answer["steps"]},
    compare=False,
    size_key=lambda size: size[0],
    size_label=lambda size: f"return {size[0]}",
    description="PPO wall time to a mean training return (last 20 episodes), CartPole-v1",
    impls=[Impl("fastml", _fastml_ppo, prepare=_with_seeds),
           Impl("sb3", _sb3_ppo, prepare=_sb3_prepare,
                requires=("stable_baselines3", "torch"))]))
