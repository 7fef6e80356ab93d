"""Batched reverse-process samplers: one model call per inference step for the whole batch
(two halves of one call under classifier-free guidance), the update vectorised.

DDPM (ancestral) or DDIM (eta) per the scheduler's ``step`` (see the schedulers); x_T ~ N(0, I)
unless given. DDIM with a :class:`fastml.models.DiffusionMLP` runs fused: one kernel call
takes tiles of the batch through every step (``fastml.kernels._diffusion``), the same
update as the scheduler's ``step``.
"""

import math
import numbers

import numpy as np

from fastml import _kernels
from fastml._validation import (
    check_array,
    check_instance,
    check_positive_int,
    check_random_state,
    check_scalar,
    check_shape,
)
from fastml.diffusion._guidance import _guided_core
from fastml.diffusion._schedulers import DDIMScheduler, DDPMScheduler
from fastml.diffusion._training import _check_labels, _check_scheduler
from fastml.models._diffusion import DiffusionMLP, sinusoidal_embedding

__all__ = ["sample"]


def _model_output(model, x, t, labels, guidance_scale, guidance_rescale):
    tt = np.full(x.shape[0], t, dtype=np.int64)
    if labels is None or guidance_scale is None:
        return model._forward(x, tt, labels)
    if guidance_scale == 0:  # out(null) exactly: the unconditional model
        return model._forward(x, tt, None)
    n = x.shape[0]
    both = model._forward(np.concatenate([x, x]), np.concatenate([tt, tt]),
                          np.concatenate([labels, np.full(n, model.num_classes)]))
    return _guided_core(both[n:], both[:n], guidance_scale, guidance_rescale)


_TILE = 128  # rows per task of the fused sampler: 3 x 128 x H activations stay in L2
_PREDICTION = {"epsilon": 0, "sample": 1, "v_prediction": 2}


def _fused_mlp_ddim(model, scheduler, x, rng, labels, guidance_scale, guidance_rescale, eta):
    """All DDIM steps of a DiffusionMLP in one kernel call (kernels/_diffusion.pyx); x is
    updated in place. The time embedding enters as a per-step bias of the input layer."""
    kernel = _kernels.load("_diffusion")
    dtype, (n, d), ts = x.dtype, x.shape, scheduler.timesteps
    w_in, b_in = model.input.weight.data, model.input.bias.data
    emb = sinusoidal_embedding(ts, model.time_dim, dtype)
    bias = np.ascontiguousarray(emb @ w_in[:, d:].T + b_in, dtype=dtype)
    blocks = [block.block for block in model.blocks]
    hidden = model.hidden
    lns = [b[0] for b in blocks] + [model.head[0]]
    placeholder = [np.zeros((1, hidden, hidden), dtype), np.zeros((1, hidden), dtype)]

    def stack(arrays, empty):
        return np.ascontiguousarray(np.stack(arrays)) if arrays else empty
    coef = np.array([[math.sqrt(a), math.sqrt(1 - a), sp, dr, sd] for a, sp, dr, sd in
                     (scheduler._step_coefficients(int(t), eta) for t in ts)])
    conditional = model.num_classes is not None
    guided = labels is not None and guidance_scale is not None and guidance_scale != 0
    if labels is None or guidance_scale == 0:     # the null class (or no classes)
        labels = np.full(n, model.num_classes or 0, dtype=np.int64)
    table = model.class_embedding.weight.data if conditional else placeholder[1]
    noise = rng.standard_normal((len(ts), n, d)).astype(dtype) if eta > 0 else \
        np.zeros((1, 1, 1), dtype)
    with _kernels.blas_single_threaded() as pinned:
        n_threads = _kernels.threads_for(n, _TILE) if pinned else 1
        work = np.empty((n_threads, 3 * _TILE * hidden + 2 * _TILE * d), dtype)
        kernel.ddim_mlp(
            x, np.ascontiguousarray(w_in[:, :d].T), bias, table,
            np.ascontiguousarray(labels, dtype=np.int64), conditional, guided,
            float(guidance_scale or 0), guidance_rescale, model.num_classes or 0,
            np.stack([ln.weight.data for ln in lns]), np.stack([ln.bias.data for ln in lns]),
            stack([b[1].weight.data for b in blocks], placeholder[0]),
            stack([b[1].bias.data for b in blocks], placeholder[1]),
            stack([b[3].weight.data for b in blocks], placeholder[0]),
            stack([b[3].bias.data for b in blocks], placeholder[1]),
            model.head[2].weight.data, model.head[2].bias.data, len(blocks), lns[-1].eps, coef,
            _PREDICTION[scheduler.prediction_type], scheduler.clip_sample,
            float(scheduler.clip_sample_range), False, noise, eta > 0, work, _TILE, n_threads)
    return x


def _sample_core(model, scheduler, x, rng, labels, guidance_scale, guidance_rescale, eta):
    ddim = isinstance(scheduler, DDIMScheduler)
    if ddim and isinstance(model, DiffusionMLP) and type(model)._forward is DiffusionMLP._forward:
        return _fused_mlp_ddim(model, scheduler, x, rng, labels, guidance_scale,
                               guidance_rescale, eta)
    for t in scheduler.timesteps:
        t = int(t)
        out = _model_output(model, x, t, labels, guidance_scale, guidance_rescale)
        if ddim:
            noise = rng.standard_normal(x.shape).astype(x.dtype) if eta > 0 else None
            x = scheduler._step(out, t, x, eta, noise)[0]
        else:
            noise = rng.standard_normal(x.shape).astype(x.dtype) if t > 0 else None
            x = scheduler._step(out, t, x, noise)[0]
    return x


def sample(model, scheduler, n_samples=None, *, num_inference_steps=50, labels=None,
           guidance_scale=None, guidance_rescale=0.0, eta=0.0, x_T=None, random_state=None):
    """Draw samples by running the reverse process from x_T ~ N(0, I).

    Parameters
    ----------
    model : denoiser with ``_forward(x, t, y)`` and ``sample_shape``
        (:class:`fastml.models.DiffusionMLP`, :class:`fastml.models.DiffusionCNN`)
    scheduler : :class:`DDPMScheduler` or :class:`DDIMScheduler` (its ``set_timesteps`` is
        called with ``num_inference_steps``)
    n_samples : int (x_T drawn, shape ``(n, *model.sample_shape)``) or None when ``x_T`` is
        given
    labels : (n,) class indices for a conditional model, or None (null class / no classes)
    guidance_scale : w of classifier-free guidance (needs labels and a conditional model);
        None uses out(c) alone; 0 is the unconditional model
    guidance_rescale : phi in [0, 1] of Lin et al. 2023
    eta : DDIM's noise scale (0: deterministic given x_T); ignored by DDPM

    Returns
    -------
    x_0 : samples of shape ``(n, *sample_shape)`` in the model's dtype.
    """
    scheduler = _check_scheduler(scheduler)
    check_instance(scheduler, "scheduler", (DDPMScheduler, DDIMScheduler),
                   "a DDPMScheduler or a DDIMScheduler")
    dtype, shape = model.dtype, tuple(model.sample_shape)
    rng = check_random_state(random_state)
    if x_T is None:
        if n_samples is None:
            raise ValueError("give n_samples or x_T")
        n = check_positive_int(n_samples, "n_samples")
        x = rng.standard_normal((n, *shape)).astype(dtype)
    else:
        x = check_shape(check_array(x_T, "x_T", ndim=1 + len(shape), dtype=dtype,
                                    allow_empty=False, copy=True), "x_T", ("n", *shape))
    conditional = getattr(model, "num_classes", None) is not None
    labels = _check_labels(labels, model, x.shape[0])
    if guidance_scale is not None:
        if not conditional or labels is None:
            raise ValueError("guidance_scale needs a conditional model (num_classes) and "
                             "labels")
        guidance_scale = float(check_scalar(guidance_scale, "guidance_scale", numbers.Real))
    guidance_rescale = float(check_scalar(guidance_rescale, "guidance_rescale", numbers.Real,
                                          min_val=0, max_val=1))
    eta = float(check_scalar(eta, "eta", numbers.Real, min_val=0))
    scheduler.set_timesteps(num_inference_steps)
    return _sample_core(model, scheduler, x, rng, labels, guidance_scale, guidance_rescale, eta)
