"""Autoencoders and variational autoencoders built from fastml.nn layers, explicit backward.

Autoencoder: z = f(x), x_hat = g(z), trained on L = mean_n l(x_n, g(f(x_n))) with l the
binary cross-entropy on logits summed over features (``loss="bce"``, data in [0, 1]) or
half the squared error summed over features (``loss="mse"``).

VAE (Kingma & Welling 2014): the encoder's last layer outputs [mu(x), logvar(x)], so
q(z|x) = N(mu, diag exp(logvar)); the prior is p(z) = N(0, I); the decoder gives
p(x|z) = Bernoulli(sigmoid(g(z))) or N(g(z), s^2 I) with a fixed s (``decoder_std``).

    ELBO(x) = E_q[log p(x|z)] - KL(q(z|x) || p(z)) <= log p(x),
    KL = 1/2 sum_j (mu_j^2 + exp(logvar_j) - 1 - logvar_j)              (analytic),
    z = mu + exp(logvar / 2) * eps, eps ~ N(0, I)                  (reparameterisation).

Training minimises L = mean_n [-log p(x_n | z_n) + beta KL_n] (beta-VAE; beta = 1 is
the ELBO) with one draw z_n per datapoint. The gradient is pathwise: with g = dL/dz from
the decoder's backward,

    dL/dmu = g + beta mu / n,   dL/dlogvar = g * eps * exp(logvar / 2) / 2
                                             + beta (exp(logvar) - 1) / (2 n).

The importance-weighted bound (Burda et al. 2016), for evaluation:
    L_k(x) = E[log 1/k sum_i p(x, z_i) / q(z_i | x)], z_i ~ q(z|x) independent;
L_1 = ELBO <= L_k <= L_{k+1} -> log p(x) as k grows.
"""

import math

import numpy as np

from fastml._validation import (
    check_array,
    check_bounds,
    check_collection,
    check_finite_real,
    check_float_dtype,
    check_min_length,
    check_nonneg,
    check_option,
    check_positive,
    check_positive_int,
    check_random_state,
    check_shape,
)
from fastml.nn import GELU, Adam, LeakyReLU, Linear, Module, ReLU, Sequential, Sigmoid, Tanh
from fastml.vi._elbo import (
    _kl_standard_normal,
    _kl_standard_normal_backward,
    _reparameterize,
    _reparameterize_backward,
)

__all__ = ["VAE", "Autoencoder"]

_ACTIVATIONS = {"relu": ReLU, "tanh": Tanh, "sigmoid": Sigmoid, "gelu": GELU,
                "leaky_relu": LeakyReLU}
_LOG_2PI = math.log(2 * math.pi)


def _check_sizes(sizes, name):
    sizes = tuple(check_collection(sizes, name, "a sequence of layer sizes"))
    check_min_length(sizes, name, 2, "sizes (an input and an output size)")
    return tuple(check_positive_int(s, f"{name}[{i}]") for i, s in enumerate(sizes))


def _check_layers(encoder, decoder):
    """Encoder sizes (input, hidden..., latent) and decoder sizes (latent, ..., input)."""
    encoder = _check_sizes(encoder, "encoder")
    decoder = encoder[::-1] if decoder is None else _check_sizes(decoder, "decoder")
    if decoder[0] != encoder[-1]:
        raise ValueError(f"decoder must start at the encoder's latent size {encoder[-1]}, "
                         f"got decoder={list(decoder)}")
    if decoder[-1] != encoder[0]:
        raise ValueError(f"decoder must end at the encoder's input size {encoder[0]}, "
                         f"got decoder={list(decoder)}")
    return encoder, decoder


def _mlp(sizes, activation, dtype, rng):
    """Linear layers between consecutive ``sizes``, ``activation`` between them (not last)."""
    layers = []
    for i in range(len(sizes) - 1):
        if i:
            layers.append(_ACTIVATIONS[activation]())
        layers.append(Linear(sizes[i], sizes[i + 1], dtype=dtype, random_state=rng))
    return Sequential(*layers)


def _sigmoid(x):
    return 0.5 * (np.tanh(0.5 * x) + 1)


class _Base(Module):
    """Shared by Autoencoder and VAE: layer sizes, input checks, the training loop."""

    def __init__(self, encoder, decoder, activation, dtype, random_state):
        super().__init__()
        enc, dec = _check_layers(encoder, decoder)
        activation = check_option(activation, "activation", tuple(_ACTIVATIONS))
        dtype = check_float_dtype(dtype)
        self.n_features, self.n_latent = enc[0], enc[-1]
        self.activation = activation
        object.__setattr__(self, "_sizes", (enc, dec))
        object.__setattr__(self, "_rng", check_random_state(random_state))
        self._cache = None

    def extra_repr(self):
        enc, dec = self._sizes
        return f"encoder={list(enc)}, decoder={list(dec)}, activation={self.activation!r}"

    def _check_data(self, x, name="x"):
        """x as (batch >= 1, n_features) of the parameters' dtype; values in [0, 1] for
        Bernoulli / cross-entropy models."""
        x = check_shape(self._check_input(x, name), name, ("batch", self.n_features))
        check_min_length(x, name, 1, "samples")
        x = check_array(x, name, dtype=None, order=None)  # finite
        if self._binary:
            check_bounds(x, name, low=0, high=1,
                         detail=" for a Bernoulli / cross-entropy decoder")
        return x

    def _check_latent(self, z):
        return check_shape(self._check_input(z, "z"), "z", ("batch", self.n_latent))

    def _output(self, logits):
        """The decoder's mean in data space: sigmoid of the logits, or the logits."""
        return _sigmoid(logits) if self._binary else logits

    def decode(self, z):
        """Mean of the reconstruction for latent codes z (batch, n_latent)."""
        return self._output(self.decoder.forward(self._check_latent(z)))

    def fit(self, X, *, epochs=10, batch_size=64, lr=1e-3, random_state=None):
        """Train with Adam on shuffled mini-batches; ``history_`` holds each epoch's mean
        training loss (for a VAE, the beta-weighted negative ELBO per datapoint).

        X : (n_samples, n_features) of the parameters' dtype. Returns self.
        """
        X = self._check_data(X, "X")
        epochs = check_positive_int(epochs, "epochs")
        batch_size = check_positive_int(batch_size, "batch_size")
        lr = check_positive(lr, "lr")
        rng = check_random_state(random_state) if random_state is not None else self._rng
        opt = Adam(self.parameters(), lr=lr)
        history = []
        for _ in range(epochs):
            order = rng.permutation(len(X))
            total = 0.0
            for i in range(0, len(X), batch_size):
                batch = X[order[i:i + batch_size]]
                loss = self._loss(batch, rng)
                opt.zero_grad()
                self.backward()
                opt.step()
                total += loss * len(batch)
            history.append(total / len(X))
        self.history_ = np.asarray(history)
        return self


class Autoencoder(_Base):
    """Deterministic MLP autoencoder: z = encoder(x), reconstruction = decoder(z).

    Parameters
    ----------
    encoder : sizes (n_features, hidden..., n_latent) of the encoder's Linear layers
    decoder : sizes (n_latent, ..., n_features); None mirrors the encoder
    activation : "relu", "tanh", "sigmoid", "gelu" or "leaky_relu", between layers
    loss : "bce" (decoder outputs logits, data in [0, 1], reconstruction sigmoid(logits))
        or "mse" (1/2 squared error; reconstruction = decoder output)
    dtype : float32 or float64; random_state : seed of the initialisation and of ``fit``

    ``forward(x)`` -> mean over the batch of the per-sample loss summed over features;
    ``backward(grad=1.0)`` adds d (grad * loss) / d theta to the parameters' ``grad``.
    Sub-modules ``encoder`` and ``decoder`` are ``Sequential`` (PyTorch's state_dict names).
    """

    def __init__(self, encoder=(64, 128, 2), decoder=None, *, activation="relu", loss="bce",
                 dtype=np.float32, random_state=None):
        super().__init__(encoder, decoder, activation, dtype, random_state)
        enc, dec = self._sizes
        self.loss = check_option(loss, "loss", ("bce", "mse"))
        self.encoder = _mlp(enc, activation, dtype, self._rng)
        self.decoder = _mlp(dec, activation, dtype, self._rng)

    @property
    def _binary(self):
        return self.loss == "bce"

    def extra_repr(self):
        return super().extra_repr() + f", loss={self.loss!r}"

    def encode(self, x):
        """Latent codes (batch, n_latent) of x (batch, n_features)."""
        return self.encoder.forward(self._check_data(x))

    def reconstruct(self, x):
        """decode(encode(x)) in data space."""
        return self._output(self.decoder.forward(self.encoder.forward(self._check_data(x))))

    def forward(self, x):
        return self._loss(self._check_data(x))

    def _loss(self, x, rng=None):
        out = self.decoder.forward(self.encoder.forward(x))
        if self._binary:
            per_sample = np.sum(np.logaddexp(0, out) - x * out, axis=1)
        else:
            per_sample = 0.5 * np.sum((out - x) ** 2, axis=1)
        self._cache = (x, out)
        return float(np.mean(per_sample))

    def backward(self, grad=1.0):
        """Add d (grad * loss) / d theta to every parameter's grad (after ``forward``)."""
        x, out = self._saved()
        g = (self._output(out) - x) * (grad / len(x))
        self.encoder.backward(self.decoder.backward(g.astype(x.dtype, copy=False)))


class VAE(_Base):
    """Variational autoencoder with a Gaussian encoder and a Bernoulli or Gaussian decoder.

    Parameters
    ----------
    encoder : sizes (n_features, hidden..., n_latent); the last Linear layer has
        2 n_latent outputs, [mu, logvar] of q(z|x)
    decoder : sizes (n_latent, ..., n_features); None mirrors the encoder
    likelihood : "bernoulli" (data in [0, 1], decoder outputs logits) or "gaussian"
        (decoder outputs the mean, standard deviation ``decoder_std``)
    decoder_std : s > 0 of the Gaussian likelihood
    beta : weight of the KL term in the training loss (beta-VAE), >= 0
    activation : "relu", "tanh", "sigmoid", "gelu" or "leaky_relu", between layers
    dtype : float32 or float64; random_state : seed of the initialisation and of the
        noise and shuffling used by ``forward`` (without ``eps``) and ``fit``

    ``forward(x, eps=None)`` -> L = mean_n [-log p(x_n|z_n) + beta KL_n] (module
    docstring) with z_n = mu_n + exp(logvar_n / 2) eps_n; ``eps`` (batch, n_latent) is
    drawn from the model's generator when None. ``backward(grad=1.0)`` adds the pathwise
    gradient d (grad * L) / d theta to every parameter's ``grad``.
    """

    def __init__(self, encoder=(64, 256, 2), decoder=None, *, likelihood="bernoulli",
                 decoder_std=1.0, beta=1.0, activation="relu", dtype=np.float32,
                 random_state=None):
        super().__init__(encoder, decoder, activation, dtype, random_state)
        enc, dec = self._sizes
        self.likelihood = check_option(likelihood, "likelihood", ("bernoulli", "gaussian"))
        self.decoder_std = check_finite_real(check_positive(decoder_std, "decoder_std"),
                                             "decoder_std")
        self.beta = check_finite_real(check_nonneg(beta, "beta"), "beta")
        self.encoder = _mlp(enc[:-1] + (2 * enc[-1],), activation, dtype, self._rng)
        self.decoder = _mlp(dec, activation, dtype, self._rng)

    @property
    def _binary(self):
        return self.likelihood == "bernoulli"

    def extra_repr(self):
        return (super().extra_repr() + f", likelihood={self.likelihood!r}, "
                f"beta={self.beta}")

    # ------------------------------------------------------------ pieces
    def _encode(self, x):
        h = self.encoder.forward(x)
        return h[:, :self.n_latent], h[:, self.n_latent:]

    def encode(self, x):
        """(mu, logvar) of q(z|x), each (batch, n_latent), for x (batch, n_features)."""
        mu, logvar = self._encode(self._check_data(x))
        return mu.copy(), logvar.copy()

    def reconstruct(self, x):
        """decode(mu(x)): the decoder's mean at the posterior mean."""
        mu, _ = self._encode(self._check_data(x))
        return self._output(self.decoder.forward(np.ascontiguousarray(mu)))

    def sample(self, n_samples, random_state=None):
        """Decoder means at n_samples draws z ~ N(0, I): (n_samples, n_features)."""
        n_samples = check_positive_int(n_samples, "n_samples")
        rng = check_random_state(random_state) if random_state is not None else self._rng
        z = rng.standard_normal((n_samples, self.n_latent)).astype(self.dtype)
        return self._output(self.decoder.forward(z))

    def _log_likelihood(self, x, logits):
        """log p(x | z) summed over the last axis from the decoder output (logits or mean);
        x broadcasts against the output. Bernoulli: x l - log(1 + e^l), written as
        x l - max(l, 0) - log1p(e^-|l|) (stable, one exp per entry)."""
        if self._binary:
            return np.sum(x * logits - np.maximum(logits, 0) - np.log1p(np.exp(-np.abs(logits))),
                          axis=-1)
        s = self.decoder_std
        return (-0.5 / s**2) * np.sum((x - logits) ** 2, axis=-1) - \
            x.shape[-1] * (math.log(s) + 0.5 * _LOG_2PI)

    def _draw(self, shape, rng):
        return rng.standard_normal(shape).astype(self.dtype)

    # ------------------------------------------------------------ training
    def forward(self, x, eps=None):
        x = self._check_data(x)
        if eps is not None:
            eps = check_shape(self._check_input(eps, "eps"), "eps", (len(x), self.n_latent))
            eps = check_array(eps, "eps", dtype=None, order=None)  # finite
        return self._loss(x, self._rng, eps)

    def _loss(self, x, rng, eps=None):
        """The training loss on checked x with noise eps (drawn from rng when None)."""
        mu, logvar = self._encode(x)
        if eps is None:
            eps = self._draw(mu.shape, rng)
        z, std = _reparameterize(mu, logvar, eps)
        logits = self.decoder.forward(z)
        kl = _kl_standard_normal(mu, logvar)
        recon = -self._log_likelihood(x, logits)
        self._cache = (x, mu, logvar, std, eps, logits)
        return float(np.mean(recon + self.beta * kl))

    def backward(self, grad=1.0):
        """Add d (grad * L) / d theta to every parameter's grad (after ``forward``)."""
        x, mu, logvar, std, eps, logits = self._saved()
        scale = grad / len(x)
        if self._binary:
            g_out = (_sigmoid(logits) - x) * scale
        else:
            g_out = (logits - x) * (scale / self.decoder_std**2)
        g_z = self.decoder.backward(g_out.astype(x.dtype, copy=False))
        g_mu, g_logvar = _reparameterize_backward(g_z, std, eps)
        kl_mu, kl_logvar = _kl_standard_normal_backward(mu, logvar, self.beta * scale)
        g_h = np.concatenate([g_mu + kl_mu, g_logvar + kl_logvar], axis=1)
        self.encoder.backward(g_h.astype(x.dtype, copy=False))

    # ------------------------------------------------------------ bounds
    def _log_weights(self, x, mu, logvar, eps):
        """log p(x, z) - log q(z | x), shape (m, n), for the draws eps (m, n, d) and
        z = mu + exp(logvar / 2) eps (the normalising constants of p(z) and q cancel)."""
        z, _ = _reparameterize(mu, logvar, eps)
        log_prior = -0.5 * np.sum(z * z, axis=-1)
        log_q = -0.5 * np.sum(eps * eps + logvar, axis=-1)
        out = self.decoder.forward(z.reshape(-1, z.shape[-1])).reshape(z.shape[:2] + (-1,))
        return self._log_likelihood(x, out) + log_prior - log_q

    def elbo(self, x, n_samples=1, random_state=None):
        """ELBO per datapoint (beta = 1): E_q[log p(x|z)] by n_samples draws, minus the
        analytic KL. Returns (batch,) of x's dtype."""
        x = self._check_data(x)
        n_samples = check_positive_int(n_samples, "n_samples")
        rng = check_random_state(random_state) if random_state is not None else self._rng
        mu, logvar = self._encode(x)
        recon = np.zeros(len(x))
        for _ in range(n_samples):
            z, _ = _reparameterize(mu, logvar, self._draw(mu.shape, rng))
            recon += self._log_likelihood(x, self.decoder.forward(z))
        kl = _kl_standard_normal(mu, logvar)
        return (recon / n_samples - kl).astype(x.dtype)

    def iwae_bound(self, x, k=64, random_state=None):
        """Importance-weighted bound L_k per datapoint (module docstring), with k draws
        from q(z|x): log (1/k) sum_i w_i by a stable log-sum-exp. (batch,) of x's dtype."""
        x = self._check_data(x)
        k = check_positive_int(k, "k")
        rng = check_random_state(random_state) if random_state is not None else self._rng
        mu, logvar = self._encode(x)
        n, d = mu.shape
        # rows of draws per decoder call: keeps memory at a few thousand rows
        per_call = max(1, 4096 // max(n, 1))
        log_w = np.empty((k, n))
        for start in range(0, k, per_call):
            m = min(per_call, k - start)
            eps = self._draw((m * n, d), rng)
            log_w[start:start + m] = self._log_weights(x, mu, logvar, eps.reshape(m, n, d))
        top = log_w.max(axis=0)
        bound = top + np.log(np.mean(np.exp(log_w - top), axis=0))
        return bound.astype(x.dtype)
