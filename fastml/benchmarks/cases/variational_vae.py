"""variational suite, VAE part: fastml.models.VAE on scikit-learn's digits vs the same
model in PyTorch (same initial weights, data order and noise draws), float32.

- ``vae_epoch_digits``: one epoch of Adam (lr 1e-3, batch 64) on the 1347 training
  digits of a 64-H-2 VAE with a Bernoulli decoder; size = hidden width H. The answer is
  the epoch's mean loss (negative ELBO per digit); both start from the same weights and
  draw nothing (order and eps come from setup), so they agree up to float32 rounding.
- ``vae_iwae_digits``: the importance-weighted bound L_k on n test digits of a 64-256-2
  VAE; size = (n, k); the k x n x 2 draws are the ones ``iwae_bound(random_state=0)``
  makes. Reference: the per-datapoint loops of ``fastml.reference.vae``.

The helpers ``torch_vae`` and ``torch_vae_loss`` are the PyTorch copy of a fastml VAE and
its loss (the tests use them too).
"""

import numpy as np

import fastml
from fastml.benchmarks import Case, Impl, register
from fastml.reference import vae as ref_vae

_BATCH, _LR = 64, 1e-3


def digits_split(dtype=np.float32):
    """Digits scaled to [0, 1]: (train 1347 x 64, test 450 x 64), split with seed 0."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X = (load_digits().data / 16.0).astype(dtype)
    return train_test_split(X, test_size=0.25, random_state=0)


def torch_vae(model):
    """torch.nn.Sequential copies (encoder, decoder) of a fastml VAE/Autoencoder with
    ReLU activations, same weights and dtype."""
    import torch

    torch.set_num_threads(fastml.get_num_threads())

    def copy(seq):
        net = torch.nn.Sequential(*[
            torch.nn.Linear(m.in_features, m.out_features) if hasattr(m, "weight")
            else torch.nn.ReLU() for m in seq])
        net = net.to(torch.float64 if model.dtype == np.float64 else torch.float32)
        net.load_state_dict({k: torch.from_numpy(v) for k, v in seq.state_dict().items()})
        return net
    return copy(model.encoder), copy(model.decoder)


def torch_vae_loss(encoder, decoder, x, eps, beta=1.0):
    """mean_n [BCE-with-logits summed over features + beta KL(q || N(0, I))], as
    ``VAE.forward(x, eps)``."""
    import torch

    h = encoder(x)
    d = h.shape[1] // 2
    mu, logvar = h[:, :d], h[:, d:]
    z = mu + torch.exp(0.5 * logvar) * eps
    recon = torch.nn.functional.binary_cross_entropy_with_logits(decoder(z), x,
                                                                 reduction="none")
    return (recon.sum(1) + beta * 0.5 * (mu**2 + logvar.exp() - 1 - logvar).sum(1)).mean()


# ------------------------------------------------------------------ one epoch
def _epoch_setup(hidden, rng):
    X, _ = digits_split()
    model = fastml.models.VAE((64, hidden, 2), random_state=0)
    return {"state": model.state_dict(), "hidden": hidden, "X": X,
            "order": rng.permutation(len(X)),
            "eps": rng.standard_normal((len(X), 2)).astype(np.float32)}


def _fastml_epoch(state, hidden, X, order, eps):
    model = fastml.models.VAE((64, hidden, 2), random_state=0).load_state_dict(state)
    opt = fastml.nn.Adam(model.parameters(), lr=_LR)
    total = 0.0
    for i in range(0, len(X), _BATCH):
        batch = order[i:i + _BATCH]
        total += model.forward(X[batch], eps[i:i + _BATCH]) * len(batch)
        opt.zero_grad()
        model.backward()
        opt.step()
    return total / len(X)


def _torch_epoch_prepare(inputs):
    import torch

    model = fastml.models.VAE((64, inputs["hidden"], 2), random_state=0)
    model.load_state_dict(inputs["state"])
    return {"model": model, "X": torch.from_numpy(inputs["X"]),
            "order": torch.from_numpy(inputs["order"]), "eps": torch.from_numpy(inputs["eps"])}


def _torch_epoch(model, X, order, eps):
    import torch

    encoder, decoder = torch_vae(model)     # fresh copies of the initial weights
    opt = torch.optim.Adam(list(encoder.parameters()) + list(decoder.parameters()), lr=_LR)
    total = 0.0
    for i in range(0, len(X), _BATCH):
        batch = order[i:i + _BATCH]
        loss = torch_vae_loss(encoder, decoder, X[batch], eps[i:i + _BATCH])
        opt.zero_grad()
        loss.backward()
        opt.step()
        total += float(loss.detach()) * len(batch)
    return total / len(X)


register(Case(
    suite="variational", name="vae_epoch_digits",
    description="VAE 64-H-2 (Bernoulli decoder) one Adam epoch on 1347 digits, batch 64, "
                "float32; size = H",
    setup=_epoch_setup, sizes=[256, 512], quick_sizes=[256], test_sizes=[8],
    rates=lambda size, answer: {"steps": -(-1347 // _BATCH)}, rtol=1e-4,
    impls=[
        Impl("fastml", _fastml_epoch),
        Impl("torch", _torch_epoch, requires=("torch", "sklearn"),
             prepare=_torch_epoch_prepare),
    ],
))


# ------------------------------------------------------------------ IWAE bound
def _iwae_setup(size, rng):
    n, k = size
    _, X = digits_split()
    model = fastml.models.VAE((64, 256, 2), random_state=0)
    return {"model": model, "x": X[:n], "k": k}


def _fastml_iwae(model, x, k):
    return model.iwae_bound(x, k, random_state=0)


def _draws(model, x, k):
    return np.random.default_rng(0).standard_normal((k, len(x), model.n_latent))


def _reference_iwae(model, x, k):
    layers = [[(m.weight.data.astype(np.float64), m.bias.data.astype(np.float64))
               for m in seq if hasattr(m, "weight")] for seq in (model.encoder, model.decoder)]
    return np.asarray(ref_vae.iwae_bound(x.astype(np.float64), *layers, _draws(model, x, k)))


def _torch_iwae_prepare(inputs):
    import torch

    model, x, k = inputs["model"], inputs["x"], inputs["k"]
    encoder, decoder = torch_vae(model)
    return {"encoder": encoder, "decoder": decoder, "x": torch.from_numpy(x),
            "eps": torch.from_numpy(_draws(model, x, k).astype(np.float32))}


def _torch_iwae(encoder, decoder, x, eps):
    import torch

    with torch.no_grad():
        h = encoder(x)
        d = h.shape[1] // 2
        mu, logvar = h[:, :d], h[:, d:]
        z = mu + torch.exp(0.5 * logvar) * eps                        # (k, n, d)
        log_lik = -torch.nn.functional.binary_cross_entropy_with_logits(
            decoder(z), x.expand(eps.shape[0], -1, -1), reduction="none").sum(-1)
        log_w = log_lik - 0.5 * (z**2).sum(-1) + 0.5 * (eps**2 + logvar).sum(-1)
        return (torch.logsumexp(log_w, 0) - np.log(eps.shape[0])).numpy()


register(Case(
    suite="variational", name="vae_iwae_digits",
    description="IWAE bound L_k of a 64-256-2 VAE on n test digits, float32; size = (n, k)",
    setup=_iwae_setup, sizes=[(450, 64), (450, 512)], quick_sizes=[(450, 64)],
    test_sizes=[(3, 4)], size_key=lambda size: size[0] * size[1],
    size_label=lambda size: f"n={size[0]} k={size[1]}", rtol=1e-4, atol=1e-3,
    impls=[
        Impl("fastml", _fastml_iwae),
        Impl("reference", _reference_iwae, max_size=12),
        Impl("torch", _torch_iwae, requires=("torch", "sklearn"), prepare=_torch_iwae_prepare),
    ],
))
