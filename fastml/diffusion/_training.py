"""Training objective of a denoiser: E_{t, eps} w(t) ||out(x_t, t) - target||^2.

target: eps ("epsilon"), x_0 ("sample") or v = sqrt(abar) eps - sqrt(1 - abar) x_0
("v_prediction"), from the scheduler's ``prediction_type``. Weight w(t) = 1, or min-SNR-gamma
(Hang et al. 2023) with snr = abar / (1 - abar): min(snr, gamma) / snr for epsilon,
min(snr, gamma) / (snr + 1) for v, min(snr, gamma) for x_0 (each equals min(snr, gamma)
times the x_0-space weight).
"""

import numbers

import numpy as np

from fastml._validation import check_array, check_random_state, check_scalar
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
    if not isinstance(scheduler, NoiseSchedule):
        raise TypeError(f"scheduler must be a fastml.diffusion scheduler, got "
                        f"{type(scheduler).__name__}")
    return scheduler


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
    model_output = check_array(model_output, "model_output")
    target = check_array(target, "target", dtype=model_output.dtype)
    if model_output.ndim < 1 or target.shape != model_output.shape or not model_output.size:
        raise ValueError(f"target {target.shape} must have the shape of model_output "
                         f"{model_output.shape} (batch, ...), non-empty")
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

    model : a denoiser with ``_forward(x, t, y)``, ``backward`` and ``sample_shape`` (e.g.
        :class:`fastml.models.DiffusionMLP`, :class:`fastml.models.DiffusionCNN`);
    labels : (batch,) class indices, each replaced by the null class with probability
        ``p_uncond`` (classifier-free guidance training);
    snr_gamma : min-SNR-gamma weighting, None for the plain loss.
    Returns the loss (float).
    """
    scheduler = _check_scheduler(scheduler)
    x0 = check_array(x0, "x0", ndim=(2, 3, 4), allow_empty=False)
    shape = tuple(model.sample_shape)
    if x0.shape[1:] != shape:
        raise ValueError(f"x0 must have shape (batch, {', '.join(map(str, shape))}) for this "
                         f"model, got {x0.shape}")
    if x0.dtype != model.dtype:
        raise TypeError(f"x0 has dtype {x0.dtype} but the model is {model.dtype}")
    p_uncond = float(check_scalar(p_uncond, "p_uncond", numbers.Real, min_val=0, max_val=1))
    if labels is not None:
        if getattr(model, "num_classes", None) is None:
            raise ValueError("labels given but the model has no class conditioning")
        labels = check_array(labels, "labels", dtype=None)
        if labels.shape != x0.shape[:1] or labels.dtype.kind not in "iu" or \
                labels.min() < 0 or labels.max() >= model.num_classes:
            raise ValueError(f"labels must be {x0.shape[0]} integers in "
                             f"[0, {model.num_classes})")
    return _train_step_core(model, optimizer, x0, scheduler, check_random_state(random_state),
                            labels, p_uncond, _check_gamma(snr_gamma))
