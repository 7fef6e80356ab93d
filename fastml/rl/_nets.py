"""Policy and value networks for the deep RL algorithms: ``fastml.nn`` MLPs (Linear/Tanh,
explicit backward) with orthogonal initialisation, and the vector-env plumbing they share.
"""

import numpy as np

from fastml import nn
from fastml._validation import check_positive_int

__all__ = ["mlp", "orthogonal_", "vector_env"]


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


def vector_env(env, num_envs, seed):
    """A vector env stepping in Gymnasium's ``same_step`` autoreset mode: an id gives
    ``fastml.rl.make_vec(id, num_envs)``; a vector env (ours or Gymnasium's) is used as is.
    Returns (env, first observations)."""
    from fastml.rl.envs import make_vec

    if isinstance(env, str):
        num_envs = check_positive_int(num_envs, "num_envs")
        env = make_vec(env, num_envs, autoreset_mode="same_step")
    if not hasattr(env, "num_envs") or not hasattr(env, "single_action_space"):
        raise TypeError(f"env must be an environment id or a vector environment, got {env!r}")
    mode = getattr(env, "autoreset_mode", None) or env.metadata.get("autoreset_mode")
    if "same" not in str(mode).lower():
        raise ValueError(f"env must autoreset in the same step (autoreset_mode='same_step'), "
                         f"got {mode!r}")
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

    def mean_return(self, last):
        return float(np.mean(self.returns[-last:])) if len(self.returns) >= last else -np.inf
