"""What the deep RL algorithms share: ``fastml.nn`` MLPs (Linear/Tanh) with orthogonal
initialisation run through the compiled MLP kernels of ``_rl_ppo``, the vector-env
plumbing, the episode log, and the :class:`Agent` base (common hyperparameters, seeding,
environment, persistence).
"""

import json
import numbers

import numpy as np

from fastml import _kernels, nn
from fastml._validation import (
    check_array,
    check_collection,
    check_interface,
    check_option,
    check_positive_int,
    check_random_state,
    check_scalar,
    check_shape,
)

__all__ = ["Agent", "EpisodeLog", "KernelMLP", "mlp", "orthogonal_", "vector_env"]


def orthogonal_(weight, gain, rng):
    """Fill ``weight`` (out, in) with a (semi-)orthogonal matrix times ``gain``, as
    ``torch.nn.init.orthogonal_``: Q of the QR factorisation of a Gaussian matrix, with
    the signs of R's diagonal folded in."""
    rows, cols = weight.shape
    a = rng.standard_normal((rows, cols) if rows >= cols else (cols, rows))
    q, r = np.linalg.qr(a)
    q *= np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    weight[...] = gain * q


def mlp(sizes, out_gain, rng, dtype=np.float32):
    """Linear-Tanh-...-Linear with hidden gains sqrt(2), the last layer's ``out_gain``,
    zero biases (CleanRL's ``layer_init``)."""
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layer = nn.Linear(n_in, n_out, dtype=dtype)
        last = i == len(sizes) - 2
        orthogonal_(layer.weight.data, out_gain if last else np.sqrt(2.0), rng)
        layer.bias.data[...] = 0
        layers.append(layer)
        if not last:
            layers.append(nn.Tanh())
    return nn.Sequential(*layers)


class KernelMLP:
    """An :func:`mlp` evaluated by the compiled kernels on its own parameter arrays
    (``fastml.nn`` stays the owner: optimizers, ``state_dict`` and ``backward`` see the
    same arrays). Workspaces are kept per row count."""

    def __init__(self, module):
        self.module = module
        self.linears = [m for m in module if isinstance(m, nn.Linear)]
        self._work = {}

    def _tuples(self):
        return (tuple(m.weight.data for m in self.linears),
                tuple(m.bias.data for m in self.linears))

    def workspace(self, rows):
        """(hidden, deltas): per-layer (rows, out) float32 arrays, reused."""
        work = self._work.get(rows)
        if work is None:
            work = self._work[rows] = tuple(
                tuple(np.zeros((rows, m.out_features), dtype=np.float32)
                      for m in self.linears) for _ in range(2))
        return work

    def forward(self, x, rows=None):
        """Outputs for ``x`` (n, in) float32 C-contiguous, in a workspace of ``rows`` rows
        (default n): returns (hidden, deltas), the output being ``hidden[-1][:n]``."""
        n = len(x)
        hidden, deltas = self.workspace(n if rows is None else rows)
        weights, biases = self._tuples()
        _kernels.load("_rl_ppo").mlp_forward(x, n, weights, biases, hidden)
        return hidden, deltas

    def backward(self, x, hidden, deltas):
        """Add the parameter gradients, given dL/d output in ``deltas[-1][:len(x)]``."""
        weights, _ = self._tuples()
        _kernels.load("_rl_ppo").mlp_backward(
            x, len(x), weights, hidden, deltas, tuple(m.weight.grad for m in self.linears),
            tuple(m.bias.grad for m in self.linears))

    def __call__(self, x):
        hidden, _ = self.forward(x)
        return hidden[-1][:len(x)].copy()


def vector_env(env, num_envs, seed):
    """A vector env stepping in Gymnasium's ``same_step`` autoreset mode: an id gives
    ``fastml.rl.make_vec(id, num_envs)``; a vector env (ours or Gymnasium's) is used as is.
    Returns (env, first observations)."""
    from fastml.rl.envs import make_vec

    if isinstance(env, str):
        num_envs = check_positive_int(num_envs, "num_envs")
        env = make_vec(env, num_envs, autoreset_mode="same_step")
    check_interface(env, "env", ("num_envs", "single_action_space", "reset", "step"),
                    "an environment id or a vector environment")
    mode = getattr(env, "autoreset_mode", None) or env.metadata.get("autoreset_mode")
    # ours says "same_step", Gymnasium's AutoresetMode.SAME_STEP
    check_option("same_step" if "same" in str(mode).lower() else str(mode),
                 "env.autoreset_mode", ("same_step",))
    obs, _ = env.reset(seed=seed)
    return env, obs


class EpisodeLog:
    """Undiscounted returns and lengths of finished episodes, with the global step at
    which each ended (the learning curve)."""

    def __init__(self, num_envs):
        self.returns, self.lengths, self.timesteps = [], [], []
        self._ret = np.zeros(num_envs)
        self._len = np.zeros(num_envs, dtype=np.int64)

    def add(self, rewards, dones, step):
        self._ret += rewards
        self._len += 1
        for i in np.flatnonzero(dones):
            self.returns.append(float(self._ret[i]))
            self.lengths.append(int(self._len[i]))
            self.timesteps.append(int(step))
            self._ret[i] = 0.0
            self._len[i] = 0

    def add_rollout(self, rewards, dones, step):
        """:meth:`add` for (T, N) rewards and done flags ending at global ``step``."""
        T, N = rewards.shape
        for t in range(T):
            self.add(rewards[t], dones[t], step - (T - 1 - t) * N)

    def mean_return(self, last):
        return float(np.mean(self.returns[-last:])) if len(self.returns) >= last else -np.inf


class Agent:
    """Base of the deep RL algorithms (SB3-like surface): :meth:`_setup` checks the
    hyperparameters every algorithm has, seeds the generator and builds the vector env;
    ``episode_returns`` / ``episode_lengths`` / ``episode_timesteps`` log every finished
    training episode; :meth:`save` / :meth:`load` store ``hparams()`` and the networks
    named by ``_networks()``."""

    _HPARAMS = ()

    def _setup(self, env, *, learning_rate, gamma, max_grad_norm, net_arch, num_envs, seed):
        real = numbers.Real
        self.learning_rate = float(check_scalar(learning_rate, "learning_rate", real,
                                                min_val=0.0, include_boundaries="neither"))
        self.gamma = float(check_scalar(gamma, "gamma", real, min_val=0.0, max_val=1.0))
        self.max_grad_norm = float(check_scalar(max_grad_norm, "max_grad_norm", real,
                                                min_val=0.0, include_boundaries="neither"))
        self.net_arch = tuple(check_positive_int(h, "net_arch") for h in check_collection(
            net_arch, "net_arch", "a sequence of layer widths"))
        self.seed = seed
        self.rng = check_random_state(seed)
        self.env, self._obs = vector_env(env, num_envs, None if seed is None else int(
            self.rng.integers(2**31)))
        self.num_envs = self.env.num_envs
        self.obs_dim = int(np.prod(self.env.single_observation_space.shape))
        self._log = EpisodeLog(self.num_envs)
        self.num_timesteps = 0

    def _discrete_actions(self, name):
        space = self.env.single_action_space
        check_option(type(space).__name__, f"env.single_action_space ({name})", ("Discrete",))
        return int(space.n)

    def _flat_obs(self, obs):
        return np.ascontiguousarray(obs, dtype=np.float32).reshape(-1, self.obs_dim)

    def _single(self, obs):
        """(observations as a float32 batch, whether ``obs`` was one observation): ``obs``
        is one observation of the env's shape or a batch (n, *shape), finite."""
        shape = tuple(self.env.single_observation_space.shape)
        obs = check_array(obs, "obs", ndim=(len(shape), len(shape) + 1), dtype=np.float32)
        single = obs.ndim == len(shape)
        check_shape(obs, "obs", ("n",) * (not single) + shape,
                    " (one observation of the env's shape or a batch of them)")
        return self._flat_obs(obs), single

    @property
    def episode_returns(self):
        return np.array(self._log.returns)

    @property
    def episode_lengths(self):
        return np.array(self._log.lengths)

    @property
    def episode_timesteps(self):
        return np.array(self._log.timesteps)

    def hparams(self):
        return {k: getattr(self, k) for k in self._HPARAMS}

    def save(self, path):
        """Write hyperparameters and the networks' weights to ``path`` (``.npz``)."""
        arrays = {f"{name}.{k}": v for name, net in self._networks().items()
                  for k, v in net.state_dict().items()}
        meta = {"hparams": self.hparams(), "env": getattr(self.env, "spec_id", None)}
        np.savez(path, __meta__=np.array(json.dumps(meta)), **arrays)

    @classmethod
    def load(cls, path, env=None):
        """The model written by :meth:`save`; ``env`` defaults to the saved environment id."""
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["__meta__"]))
            hp = meta["hparams"]
            hp["net_arch"] = tuple(hp["net_arch"])
            model = cls.__new__(cls)
            cls._restore(model, env if env is not None else meta["env"], **hp)
            for name, net in model._networks().items():
                prefix = name + "."
                net.load_state_dict({k[len(prefix):]: data[k] for k in data.files
                                     if k.startswith(prefix)})
        return model
