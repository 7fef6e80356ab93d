"""Training objective of a denoiser: E_{t, eps} w(t) ||out(x_t, t) - target||^2.

target: eps ("epsilon"), x_0 ("sample") or v = sqrt(abar) eps - sqrt(1 - abar) x_0
("v_prediction"), from the scheduler's ``prediction_type``. Weight w(t) = 1, or min-SNR-gamma
(Hang et al. 2023) with snr = abar / (1 - abar): min(snr, gamma) / snr for epsilon,
min(snr, gamma) / (snr + 1) for v, min(snr, gamma) for x_0 (each equals min(snr, gamma)
times the x_0-space weight).
"""

import numbers

import numpy as np

from fastml._validation import (
    check_array,
    check_dtype,
    check_index_array,
    check_instance,
    check_min_ndim,
    check_random_state,
    check_scalar,
    check_shape,
)
from fastml.diffusion._schedulers import NoiseSchedule

__all__ = ["diffusion_loss", "train_step"]


def _snr_weights(snr, gamma, prediction_type):
    clipped = np.minimum(snr, gamma)
    if prediction_type == "epsilon":
        return clipped / snr
    if prediction_type == "v_prediction":
        return clipped / (snr + 1)
    return clipped


def _loss_core(output, target, weights):
    """Mean over the batch of w_n mean_d (out - target)^2 and its gradient."""
    diff = output - target
    per_sample = diff.reshape(diff.shape[0], -1)
    n, d = per_sample.shape
    w = np.ones(n) if weights is None else weights
    loss = float(np.mean(w * np.mean(per_sample.astype(np.float64) ** 2, axis=1)))
    grad = (2.0 / (n * d)) * w.reshape((n,) + (1,) * (diff.ndim - 1)) * diff
    return loss, grad.astype(output.dtype, copy=False)


def _check_scheduler(scheduler):
    return check_instance(scheduler, "scheduler", NoiseSchedule, "a fastml.diffusion scheduler")


def _check_labels(labels, model, n):
    """None, or (n,) class indices in [0, model.num_classes) for a conditional model."""
    if labels is None:
        return None
    if getattr(model, "num_classes", None) is None:
        raise ValueError("labels given but the model has no class conditioning")
    labels = check_index_array(labels, "labels", model.num_classes, what="class labels", ndim=1)
    return check_shape(labels, "labels", (n,), " (one per sample)")


def _check_gamma(snr_gamma):
    if snr_gamma is None:
        return None
    return float(check_scalar(snr_gamma, "snr_gamma", numbers.Real, min_val=0,
                              include_boundaries="neither"))


def diffusion_loss(model_output, target, timesteps, scheduler, snr_gamma=None):
    """The weighted denoising loss (module docstring) and d loss / d model_output.

    model_output, target : arrays (batch, ...); timesteps : (batch,) integers.
    Returns (loss float, grad array like model_output).
    """
    scheduler = _check_scheduler(scheduler)
    model_output = check_min_ndim(check_array(model_output, "model_output", allow_empty=False),
                                  "model_output", 1, " (batch, ...)")
    target = check_shape(check_array(target, "target", dtype=model_output.dtype), "target",
                         model_output.shape, " (that of model_output)")
    t = scheduler._check_timesteps(timesteps, model_output.shape[0])
    gamma = _check_gamma(snr_gamma)
    weights = None if gamma is None else _snr_weights(
        np.broadcast_to(scheduler.snr(t), model_output.shape[:1]), gamma,
        scheduler.prediction_type)
    return _loss_core(model_output, target, weights)


def _drop_labels(labels, p_uncond, num_classes, rng):
    drop = rng.random(labels.shape[0]) < p_uncond
    return np.where(drop, num_classes, labels)


def _train_step_core(model, optimizer, x0, scheduler, rng, labels, p_uncond, snr_gamma):
    T = scheduler.num_train_timesteps
    t = rng.integers(0, T, x0.shape[0])
    noise = rng.standard_normal(x0.shape).astype(x0.dtype)
    xt = scheduler._add_noise(x0, noise, t)
    if scheduler.prediction_type == "epsilon":
        target = noise
    elif scheduler.prediction_type == "sample":
        target = x0
    else:
        target = scheduler._velocity(x0, noise, t)
    if labels is not None:
        labels = _drop_labels(labels, p_uncond, model.num_classes, rng)
    out = model._forward(xt, t, labels)
    weights = None if snr_gamma is None else _snr_weights(
        scheduler.snr(t), snr_gamma, scheduler.prediction_type)
    loss, grad = _loss_core(out, target, weights)
    optimizer.zero_grad()
    model.backward(grad)
    optimizer.step()
    return loss


def train_step(model, optimizer, x0, scheduler, *, labels=None, p_uncond=0.1, snr_gamma=None,
               random_state=None):
    """One optimisation step on a batch x0: draw t ~ U{0..T-1} and eps ~ N(0, I), form x_t,
    predict, back-propagate the loss (module docstring) through ``model`` and step
    ``optimizer``.

    Parameters
    ----------
    model : a denoiser with ``_forward(x, t, y)``, ``backward`` and ``sample_shape`` (e.g.
        :class:`fastml.models.DiffusionMLP`, :class:`fastml.models.DiffusionCNN`).
    labels : (batch,) class indices, each replaced by the null class with probability
        ``p_uncond`` (classifier-free guidance training).
    snr_gamma : min-SNR-gamma weighting, None for the plain loss.

    Returns
    -------
    loss : float
    """
    scheduler = _check_scheduler(scheduler)
    x0 = check_array(x0, "x0", ndim=(2, 3, 4), allow_empty=False)
    shape = tuple(model.sample_shape)
    check_dtype(check_shape(x0, "x0", ("batch", *shape), " for this model"), "x0", model.dtype,
                "the model is")
    p_uncond = float(check_scalar(p_uncond, "p_uncond", numbers.Real, min_val=0, max_val=1))
    labels = _check_labels(labels, model, x0.shape[0])
    return _train_step_core(model, optimizer, x0, scheduler, check_random_state(random_state),
                            labels, p_uncond, _check_gamma(snr_gamma))
