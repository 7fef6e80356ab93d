"""diffusion suite: the swiss-roll denoiser (DiffusionMLP 3 x 128) trained and sampled and
the digits denoiser (DiffusionCNN) trained, fastml vs the same models in PyTorch (and
diffusers' DDIMScheduler for sampling).

- ``mlp_train``: size = training steps of batch 256 (epsilon loss, Adam), float32;
  reported as steps/s. Each call starts from the same initial weights.
- ``cnn_train``: size = training steps of batch 128 of the class-conditional digits
  denoiser (epsilon loss, labels dropped to the null class with probability 0.1, Adam).
- ``ddim_sample``: size = number of 2-D points drawn with 50 DDIM steps (eta = 0) by a
  denoiser trained for 300 steps in setup; fastml's sampler (the fused DDIM kernel: one
  call for all steps) vs a loop of diffusers' ``DDIMScheduler.step`` + the torch copy of
  the model (same weights, same x_T, so the answers agree up to float32 rounding, and so
  does their energy distance to 2000 held-out data points, reported for both as the
  case's metric); predicted x_0 clipped to [-3, 3] in both.
"""

import math

import numpy as np

import fastml
from fastml import diffusion
from fastml.benchmarks import Case, Impl, register

_HIDDEN, _BLOCKS, _TIME_DIM, _BATCH, _T = 128, 3, 32, 256, 1000


def swiss_roll(n, rng):
    """n points of the 2-D swiss roll (x, z of scikit-learn's), scaled to unit-ish spread."""
    u = 1.5 * math.pi * (1 + 2 * rng.random(n))
    pts = np.stack([u * np.cos(u), u * np.sin(u)], axis=1) / 5
    return (pts + 0.05 * rng.standard_normal((n, 2))).astype(np.float32)


def energy_distance(a, b):
    """2 E|X - Y| - E|X - X'| - E|Y - Y'| (Szekely), on at most 2000 points of each."""
    a, b = a[:2000].astype(np.float64), b[:2000].astype(np.float64)

    def mean_dist(p, q):
        return float(np.mean(np.sqrt(((p[:, None, :] - q[None]) ** 2).sum(-1))))
    return 2 * mean_dist(a, b) - mean_dist(a, a) - mean_dist(b, b)


def _model():
    return fastml.models.DiffusionMLP(2, _HIDDEN, _BLOCKS, _TIME_DIM, random_state=0)


def _scheduler(cls, clip=False):
    """Training: no clipping; sampling: predicted x_0 clipped to the data range [-3, 3]."""
    return cls(num_train_timesteps=_T, clip_sample=clip, clip_sample_range=3.0)


def _torch_model(state_dict):
    import torch
    from torch import nn

    torch.set_num_threads(fastml.get_num_threads())

    class Residual(nn.Module):
        def __init__(self):
            super().__init__()
            self.block = nn.Sequential(nn.LayerNorm(_HIDDEN), nn.Linear(_HIDDEN, _HIDDEN),
                                       nn.SiLU(), nn.Linear(_HIDDEN, _HIDDEN))

        def forward(self, h):
            return h + self.block(h)

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.input = nn.Linear(2 + _TIME_DIM, _HIDDEN)
            self.blocks = nn.Sequential(*[Residual() for _ in range(_BLOCKS)])
            self.head = nn.Sequential(nn.LayerNorm(_HIDDEN), nn.SiLU(), nn.Linear(_HIDDEN, 2))
            half = _TIME_DIM // 2
            self.register_buffer("freqs", torch.exp(-math.log(10000.0) *
                                                    torch.arange(half) / half), persistent=False)

        def forward(self, x, t):
            args = t.to(torch.float32)[:, None] * self.freqs
            emb = torch.cat([torch.sin(args), torch.cos(args)], dim=1)
            return self.head(self.blocks(self.input(torch.cat([x, emb], dim=1))))

    model = MLP()
    model.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in state_dict.items()})
    return model


# ------------------------------------------------------------------ training
def _train_setup(steps, rng):
    data = swiss_roll(10_000, rng)
    idx = rng.integers(0, len(data), (steps, _BATCH))
    t = rng.integers(0, _T, (steps, _BATCH))
    noise = rng.standard_normal((steps, _BATCH, 2)).astype(np.float32)
    return {"batches": data[idx], "t": t, "noise": noise}


def _fastml_train(batches, t, noise):
    from fastml.diffusion._training import _loss_core

    model, s = _model(), _scheduler(diffusion.DDPMScheduler)
    opt = fastml.nn.Adam(model.parameters(), lr=1e-3)
    for x0, tt, eps in zip(batches, t, noise):
        out = model._forward(s._add_noise(x0, eps, tt), tt)
        loss, grad = _loss_core(out, eps, None)
        opt.zero_grad()
        model.backward(grad)
        opt.step()
    return loss


def _torch_train_prepare(inputs):
    import torch

    s = _scheduler(diffusion.DDPMScheduler)
    return {"state": _model().state_dict(), "abar": torch.from_numpy(
        s.alphas_cumprod.astype(np.float32)),
        **{k: torch.from_numpy(v) for k, v in inputs.items()}}


def _torch_train(state, abar, batches, t, noise):
    import torch

    model = _torch_model(state)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for x0, tt, eps in zip(batches, t, noise):
        a = abar[tt][:, None]
        loss = torch.mean((model(a.sqrt() * x0 + (1 - a).sqrt() * eps, tt) - eps) ** 2)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return float(loss.detach())


register(Case(
    suite="diffusion", name="mlp_train",
    description="DiffusionMLP 3x128 (swiss roll), Adam steps of batch 256, float32; "
                "size = steps",
    setup=_train_setup, sizes=[100], quick_sizes=[10], test_sizes=[2],
    rates=lambda size, answer: {"steps": size}, compare=False,
    impls=[
        Impl("fastml", _fastml_train),
        Impl("torch", _torch_train, requires=("torch",), prepare=_torch_train_prepare),
    ],
))


# ------------------------------------------------------------------ digits denoiser
_CNN = dict(channels=32, n_blocks=2, time_dim=32, num_classes=10)
_CNN_BATCH = 128


def digits_images():
    """scikit-learn's 8x8 digits as (1797, 1, 8, 8) float32 in [-1, 1], and the labels."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return (X / 8.0 - 1).astype(np.float32).reshape(-1, 1, 8, 8), y


def _cnn():
    return fastml.models.DiffusionCNN(1, 8, **_CNN, random_state=0)


def torch_diffusion_cnn(state_dict, channels=_CNN["channels"], n_blocks=_CNN["n_blocks"],
                        time_dim=_CNN["time_dim"], num_classes=_CNN["num_classes"],
                        dtype=None):
    """The torch copy of :class:`fastml.models.DiffusionCNN` (same names), weights loaded
    (torch dtype ``dtype``, float32 by default); ``forward(x, t, y)`` with y = num_classes
    for the null class."""
    import torch
    from torch import nn

    torch.set_num_threads(fastml.get_num_threads())
    F = nn.functional

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
            self.shift = nn.Linear(channels, channels)
            self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

        def forward(self, h, c):
            a = self.conv1(F.silu(h)) + self.shift(c)[:, :, None, None]
            return h + self.conv2(F.silu(a))

    class CNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.time = nn.Linear(time_dim, channels)
            self.class_embedding = nn.Embedding(num_classes + 1, channels)
            self.conv_in = nn.Conv2d(1, channels, 3, padding=1)
            self.blocks = nn.ModuleList([Block() for _ in range(n_blocks)])
            self.head = nn.Sequential(nn.SiLU(), nn.Conv2d(channels, 1, 3, padding=1))
            half = time_dim // 2
            # float64 as fastml's embedding, kept out of .to(dtype) (a plain attribute)
            self.freqs = torch.exp(-math.log(10000.0) *
                                   torch.arange(half, dtype=torch.float64) / half)

        def forward(self, x, t, y):
            args = t.to(torch.float64)[:, None] * self.freqs
            emb = torch.cat([torch.sin(args), torch.cos(args)], dim=1).to(x.dtype)
            c = F.silu(self.time(emb) + self.class_embedding(y))
            h = self.conv_in(x)
            for block in self.blocks:
                h = block(h, c)
            return self.head(h)

    model = CNN().to(dtype or torch.float32)
    model.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in state_dict.items()})
    return model


def _cnn_setup(steps, rng):
    images, labels = digits_images()
    idx = rng.integers(0, len(images), (steps, _CNN_BATCH))
    drop = rng.random((steps, _CNN_BATCH)) < 0.1     # classifier-free guidance label dropout
    return {"batches": images[idx], "labels": np.where(drop, _CNN["num_classes"], labels[idx]),
            "t": rng.integers(0, _T, (steps, _CNN_BATCH)),
            "noise": rng.standard_normal((steps, _CNN_BATCH, 1, 8, 8)).astype(np.float32)}


def _fastml_cnn_train(batches, labels, t, noise):
    from fastml.diffusion._training import _loss_core

    model, s = _cnn(), _scheduler(diffusion.DDPMScheduler)
    opt = fastml.nn.Adam(model.parameters(), lr=1e-3)
    for x0, y, tt, eps in zip(batches, labels, t, noise):
        out = model._forward(s._add_noise(x0, eps, tt), tt, y)
        loss, grad = _loss_core(out, eps, None)
        opt.zero_grad()
        model.backward(grad)
        opt.step()
    return loss


def _torch_cnn_prepare(inputs):
    import torch

    s = _scheduler(diffusion.DDPMScheduler)
    return {"state": _cnn().state_dict(), "abar": torch.from_numpy(
        s.alphas_cumprod.astype(np.float32)),
        **{k: torch.from_numpy(v) for k, v in inputs.items()}}


def _torch_cnn_train(state, abar, batches, labels, t, noise):
    import torch

    model = torch_diffusion_cnn(state)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for x0, y, tt, eps in zip(batches, labels, t, noise):
        a = abar[tt][:, None, None, None]
        loss = torch.mean((model(a.sqrt() * x0 + (1 - a).sqrt() * eps, tt, y) - eps) ** 2)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return float(loss.detach())


register(Case(
    suite="diffusion", name="cnn_train",
    description="DiffusionCNN (32 channels, 2 blocks, 10 classes + null) on the 8x8 digits, "
                "Adam steps of batch 128, float32; size = steps",
    setup=_cnn_setup, sizes=[20], quick_sizes=[3], test_sizes=[2],
    rates=lambda size, answer: {"steps": size}, compare=False,
    impls=[
        Impl("fastml", _fastml_cnn_train),
        Impl("torch", _torch_cnn_train, requires=("torch",), prepare=_torch_cnn_prepare),
    ],
))


# ------------------------------------------------------------------ sampling
def _sample_setup(n, rng, train_steps=300):
    model, s = _model(), _scheduler(diffusion.DDPMScheduler)
    opt = fastml.nn.Adam(model.parameters(), lr=2e-3)
    data = swiss_roll(10_000, rng)
    for _ in range(train_steps if n > 100 else 2):
        diffusion.train_step(model, opt, data[rng.integers(0, len(data), _BATCH)], s,
                             random_state=rng)
    return {"model": model, "x_T": rng.standard_normal((n, 2)).astype(np.float32)}


def _fastml_sample(model, x_T):
    return diffusion.sample(model, _scheduler(diffusion.DDIMScheduler, clip=True), x_T=x_T,
                            num_inference_steps=50)


def _diffusers_prepare(inputs):
    import torch

    return {"model": _torch_model(inputs["model"].state_dict()),
            "x_T": torch.from_numpy(inputs["x_T"])}


def _diffusers_sample(model, x_T):
    import diffusers
    import torch

    s = diffusers.DDIMScheduler(num_train_timesteps=_T, clip_sample=True, clip_sample_range=3.0)
    s.set_timesteps(50)
    x = x_T
    with torch.no_grad():
        for t in s.timesteps:
            x = s.step(model(x, t.expand(x.shape[0])), t, x).prev_sample
    return x.numpy()


# held-out swiss-roll points the samples are compared with (energy distance)
_DATA_SAMPLE = swiss_roll(2000, np.random.default_rng(12345))


def _same_samples(expected, actual, size):
    # same weights and x_T, deterministic DDIM; float32 rounding over 50 steps
    np.testing.assert_allclose(actual, expected, atol=1e-3 * max(1.0, np.abs(expected).max()))


register(Case(
    suite="diffusion", name="ddim_sample",
    description="50 DDIM steps (eta = 0) of the swiss-roll DiffusionMLP 3x128, float32; "
                "size = points",
    setup=_sample_setup, sizes=[10_000], quick_sizes=[1_000], test_sizes=[16],
    rates=lambda size, answer: {"points": size}, check=_same_samples,
    metrics=lambda size, answer: {"energy distance": energy_distance(answer, _DATA_SAMPLE)},
    impls=[
        Impl("fastml", _fastml_sample),
        Impl("diffusers+torch", _diffusers_sample, requires=("torch", "diffusers"),
             prepare=_diffusers_prepare),
    ],
))
