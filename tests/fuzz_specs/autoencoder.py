"""Fuzz specs of fastml.models.Autoencoder and fastml.models.VAE (issue 18)."""

import numpy as np

from fastml.models import VAE, Autoencoder
from fuzz_specs import HUGE, Spec


def _dtype(x):
    return x.dtype if x.dtype in (np.float32, np.float64) else np.float64


def _make(rng, dtype):
    return {"x": rng.random((5, 6)).astype(dtype),
            "eps": rng.standard_normal((5, 2)).astype(dtype)}


def _vae_run(x, eps, k=3, n_samples=2, beta=0.5):
    model = VAE((6, 4, 2), beta=beta, dtype=_dtype(x), random_state=0)
    loss = model.forward(x, eps)
    model.backward()
    mu, logvar = model.encode(x)
    return (loss, [p.grad for p in model.parameters()], mu, logvar, model.reconstruct(x),
            model.decode(mu), model.elbo(x, n_samples, random_state=1),
            model.iwae_bound(x, k, random_state=2), model.sample(3, random_state=3))


def _autoencoder_run(x, epochs=1, batch_size=2):
    model = Autoencoder((6, 4, 2), dtype=_dtype(x), random_state=0)
    loss = model.forward(x)
    model.backward()
    model.fit(x, epochs=epochs, batch_size=batch_size, random_state=0)
    return (loss, [p.grad for p in model.parameters()], model.encode(x),
            model.reconstruct(x), model.history_)


SPECS = [
    Spec("fastml.models.VAE", _make, _vae_run, arrays=("x", "eps"),
         same_length=(("x", "eps"),),
         bad_params={"k": [0, -1, 2.5, HUGE], "n_samples": [0, 1.5], "beta": [-1.0, np.nan]}),
    Spec("fastml.models.Autoencoder", lambda rng, dtype: {"x": _make(rng, dtype)["x"]},
         _autoencoder_run, arrays=("x",),
         bad_params={"epochs": [0, 2.5], "batch_size": [0, -3, HUGE]}),
]
