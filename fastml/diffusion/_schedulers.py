"""Noise schedules and the DDPM / DDIM reverse steps, with diffusers' parameters.

Forward process (Ho et al. 2020): q(x_t | x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I) with
abar_t = prod_{s <= t} (1 - beta_s). Posterior
q(x_{t-1} | x_t, x_0) = N(mu_t, beta~_t I),
mu_t = sqrt(abar_{t-1}) beta_t / (1 - abar_t) x_0
       + sqrt(alpha_t) (1 - abar_{t-1}) / (1 - abar_t) x_t,
beta~_t = (1 - abar_{t-1}) / (1 - abar_t) beta_t.

The schedule arrays are float64; results have the dtype of the inputs.
"""

import math
import numbers
from collections import namedtuple

import numpy as np

from fastml._validation import (
    check_array,
    check_bool,
    check_bounds,
    check_min_ndim,
    check_ndim,
    check_option,
    check_positive_int,
    check_random_state,
    check_scalar,
    check_shape,
)

__all__ = ["DDIMScheduler", "DDPMScheduler", "NoiseSchedule", "SchedulerOutput"]

BETA_SCHEDULES = ("linear", "scaled_linear", "squaredcos_cap_v2")
PREDICTION_TYPES = ("epsilon", "sample", "v_prediction")
TIMESTEP_SPACINGS = ("leading", "trailing", "linspace")
VARIANCE_TYPES = ("fixed_small", "fixed_small_log", "fixed_large", "fixed_large_log",
                  "learned", "learned_range")

SchedulerOutput = namedtuple("SchedulerOutput", ["prev_sample", "pred_original_sample"])
SchedulerOutput.__doc__ = "prev_sample: x_{t-1}; pred_original_sample: the predicted x_0."


def _betas(num_train_timesteps, beta_start, beta_end, beta_schedule):
    T = num_train_timesteps
    if beta_schedule == "linear":
        return np.linspace(beta_start, beta_end, T)
    if beta_schedule == "scaled_linear":
        return np.linspace(beta_start**0.5, beta_end**0.5, T) ** 2
    # squaredcos_cap_v2 (Nichol & Dhariwal 2021): abar(t) = cos((t + 0.008) / 1.008 pi / 2)^2
    alpha_bar = np.cos((np.arange(T + 1) / T + 0.008) / 1.008 * math.pi / 2) ** 2
    return np.minimum(1 - alpha_bar[1:] / alpha_bar[:-1], 0.999)


def _rescale_zero_terminal_snr(betas):
    """Lin et al. 2023, Alg. 1: shift and scale sqrt(abar) so abar_0 stays and abar_{T-1} = 0."""
    sqrt_abar = np.sqrt(np.cumprod(1 - betas))
    first, last = sqrt_abar[0], sqrt_abar[-1]
    sqrt_abar = (sqrt_abar - last) * first / (first - last)
    abar = sqrt_abar**2
    alphas = np.concatenate([abar[:1], abar[1:] / abar[:-1]])
    return 1 - alphas


def _per_sample(coef, t, ndim):
    """coef[t] shaped to broadcast against an array of ``ndim`` dims (t scalar or (batch,))."""
    c = coef[t]
    return c if np.ndim(c) == 0 else c.reshape(c.shape + (1,) * (ndim - 1))


class NoiseSchedule:
    """The forward process q(x_t | x_0) of a discrete-time diffusion (diffusers' schedules).

    Parameters
    ----------
    num_train_timesteps : int, T
    beta_start, beta_end : float, the first and last beta of "linear" / "scaled_linear"
    beta_schedule : "linear" (beta = linspace(start, end, T)), "scaled_linear"
        (linspace(sqrt(start), sqrt(end), T)^2) or "squaredcos_cap_v2" (cosine abar, betas
        capped at 0.999)
    trained_betas : array (T,), optional; overrides beta_schedule
    rescale_betas_zero_snr : bool, rescale to a zero terminal SNR (Lin et al. 2023)
    prediction_type : "epsilon", "sample" (x_0) or "v_prediction"
        (v = sqrt(abar) eps - sqrt(1 - abar) x_0)

    Attributes
    ----------
    betas, alphas, alphas_cumprod : float64 arrays (T,)
    """

    def __init__(self, num_train_timesteps=1000, beta_start=0.0001, beta_end=0.02,
                 beta_schedule="linear", trained_betas=None, prediction_type="epsilon",
                 rescale_betas_zero_snr=False):
        self.prediction_type = check_option(prediction_type, "prediction_type",
                                            PREDICTION_TYPES)
        self.rescale_betas_zero_snr = check_bool(rescale_betas_zero_snr,
                                                 "rescale_betas_zero_snr")
        if trained_betas is not None:
            betas = check_array(trained_betas, "trained_betas", ndim=1, dtype=np.float64,
                                allow_empty=False).copy()
            check_bounds(betas, "trained_betas", low=0, high=1, closed="right")
            self.num_train_timesteps = betas.shape[0]
        else:
            T = check_positive_int(num_train_timesteps, "num_train_timesteps",
                                   max_val=10**7)
            self.num_train_timesteps = T
            self.beta_schedule = check_option(beta_schedule, "beta_schedule", BETA_SCHEDULES)
            self.beta_start = check_scalar(beta_start, "beta_start", numbers.Real,
                                           min_val=0, max_val=1, include_boundaries="neither")
            self.beta_end = check_scalar(beta_end, "beta_end", numbers.Real,
                                         min_val=0, max_val=1, include_boundaries="neither")
            betas = _betas(T, float(beta_start), float(beta_end), beta_schedule)
        if self.rescale_betas_zero_snr:
            betas = _rescale_zero_terminal_snr(betas)
        self.betas = betas
        self.alphas = 1.0 - betas
        self.alphas_cumprod = np.cumprod(self.alphas)

    # ---- argument checks shared by the public methods ----
    def _check_timesteps(self, t, batch=None, name="timesteps"):
        arr = np.asarray(t)
        if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
            if not (np.issubdtype(arr.dtype, np.floating) and np.all(arr == np.round(arr))):
                raise TypeError(f"{name} must be integers, got dtype {arr.dtype}")
        arr = check_bounds(check_ndim(arr, name, (0, 1)).astype(np.int64), name, low=0,
                           high=self.num_train_timesteps, closed="left")
        if arr.ndim == 1 and batch is not None and arr.shape[0] != batch:
            raise ValueError(f"{name} has {arr.shape[0]} entries for a batch of {batch}")
        return int(arr) if arr.ndim == 0 else arr

    def _check_pair(self, a, a_name, b, b_name, t):
        a = check_min_ndim(check_array(a, a_name, dtype="float"), a_name, 1)
        b = check_shape(check_array(b, b_name, dtype=a.dtype), b_name, a.shape,
                        f" (that of {a_name})")
        return a, b, self._check_timesteps(t, a.shape[0])

    # ---- forward process ----
    def add_noise(self, original_samples, noise, timesteps):
        """x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps; timesteps: int or (batch,)."""
        x0, noise, t = self._check_pair(original_samples, "original_samples", noise, "noise",
                                        timesteps)
        return self._add_noise(x0, noise, t)

    def _add_noise(self, x0, noise, t):
        a = _per_sample(self.alphas_cumprod, t, x0.ndim)
        return (np.sqrt(a) * x0 + np.sqrt(1 - a) * noise).astype(x0.dtype, copy=False)

    def get_velocity(self, sample, noise, timesteps):
        """v = sqrt(abar_t) eps - sqrt(1 - abar_t) x_0 (Salimans & Ho 2022)."""
        x0, noise, t = self._check_pair(sample, "sample", noise, "noise", timesteps)
        return self._velocity(x0, noise, t)

    def _velocity(self, x0, noise, t):
        a = _per_sample(self.alphas_cumprod, t, x0.ndim)
        return (np.sqrt(a) * noise - np.sqrt(1 - a) * x0).astype(x0.dtype, copy=False)

    def snr(self, timesteps):
        """Signal-to-noise ratio abar_t / (1 - abar_t)."""
        t = self._check_timesteps(timesteps)
        a = self.alphas_cumprod[t]
        return a / (1 - a)

    def posterior_mean_variance(self, original_sample, sample, timestep):
        """Mean and variance of q(x_{t-1} | x_t, x_0) (module docstring); at t = 0 the
        posterior is the point x_0 (variance 0). Returns (mean, variance)."""
        x0, xt, t = self._check_pair(original_sample, "original_sample", sample, "sample",
                                     timestep)
        return self._posterior(x0, xt, t)

    def _posterior(self, x0, xt, t):
        abar = self.alphas_cumprod
        abar_prev = np.concatenate([[1.0], abar[:-1]])
        c0 = np.sqrt(abar_prev) * self.betas / (1 - abar)
        ct = np.sqrt(self.alphas) * (1 - abar_prev) / (1 - abar)
        var = (1 - abar_prev) / (1 - abar) * self.betas
        mean = _per_sample(c0, t, x0.ndim) * x0 + _per_sample(ct, t, x0.ndim) * xt
        return mean.astype(x0.dtype, copy=False), _per_sample(var, t, x0.ndim)

    # ---- shared by the samplers ----
    def _predict_x0_eps(self, model_output, sample, abar_t):
        """(x_0, eps) predicted from the model output and x_t, per prediction_type."""
        a, b = math.sqrt(abar_t), math.sqrt(1 - abar_t)
        if self.prediction_type == "epsilon":
            return (sample - b * model_output) / a, model_output
        if self.prediction_type == "sample":
            return model_output, (sample - a * model_output) / b
        return a * sample - b * model_output, a * model_output + b * sample

    def _spaced_timesteps(self, num_inference_steps):
        T, n = self.num_train_timesteps, num_inference_steps
        if self.timestep_spacing == "linspace":
            ts = np.linspace(0, T - 1, n).round()[::-1].astype(np.int64)
        elif self.timestep_spacing == "leading":
            ts = (np.arange(0, n) * (T // n)).round()[::-1].astype(np.int64) + self.steps_offset
        else:
            ts = np.round(np.arange(T, 0, -T / n)).astype(np.int64) - 1
        return np.ascontiguousarray(ts)

    def set_timesteps(self, num_inference_steps):
        """The inference timesteps (descending) for ``timestep_spacing`` (Lin et al. 2023,
        Table 2): "linspace" round(linspace(0, T-1, n)), "leading" arange(n) * (T // n)
        + steps_offset, "trailing" round(arange(T, 0, -T/n)) - 1. Sets ``timesteps``."""
        n = check_positive_int(num_inference_steps, "num_inference_steps",
                               max_val=self.num_train_timesteps)
        self.num_inference_steps = n
        self.timesteps = self._spaced_timesteps(n)
        return self.timesteps

    def _check_step(self, model_output, timestep, sample, out_channels=1):
        sample = check_min_ndim(check_array(sample, "sample", dtype="float"), "sample", 1)
        model_output = check_array(model_output, "model_output", dtype=sample.dtype)
        if model_output.shape != sample.shape and not (
                out_channels == 2 and sample.ndim >= 2 and model_output.shape ==
                sample.shape[:1] + (2 * sample.shape[1],) + sample.shape[2:]):
            raise ValueError(f"model_output must have the shape of sample {sample.shape}, "
                             f"got {model_output.shape}")
        check_ndim(np.asarray(timestep), "timestep", 0)
        t = self._check_timesteps(timestep, name="timestep")
        if getattr(self, "num_inference_steps", None) is None:
            raise ValueError("call set_timesteps(num_inference_steps) before step")
        return model_output, t, sample

    def _noise(self, variance_noise, random_state, shape, dtype):
        if variance_noise is not None:
            return check_shape(check_array(variance_noise, "variance_noise", dtype=dtype),
                               "variance_noise", shape)
        return check_random_state(random_state).standard_normal(shape).astype(dtype)


def _scheduler_params(self, clip_sample, clip_sample_range, timestep_spacing, steps_offset):
    self.clip_sample = check_bool(clip_sample, "clip_sample")
    self.clip_sample_range = check_scalar(clip_sample_range, "clip_sample_range",
                                          numbers.Real, min_val=0,
                                          include_boundaries="neither")
    self.timestep_spacing = check_option(timestep_spacing, "timestep_spacing",
                                         TIMESTEP_SPACINGS)
    self.steps_offset = check_positive_int(steps_offset, "steps_offset", min_val=0,
                                           max_val=self.num_train_timesteps - 1)
    self.num_inference_steps = None
    self.timesteps = np.arange(self.num_train_timesteps)[::-1].copy()


class DDPMScheduler(NoiseSchedule):
    """Ancestral sampling of Ho et al. 2020, diffusers' ``DDPMScheduler`` semantics.

    step: x_0 from the model output (``prediction_type``), clipped to +-clip_sample_range
    if ``clip_sample``; x_{t-1} = c0 x_0 + ct x_t + sigma_t z with
    c0 = sqrt(abar_prev) beta'_t / (1 - abar_t), ct = sqrt(alpha'_t) (1 - abar_prev) / (1 - abar_t),
    alpha'_t = abar_t / abar_prev, beta'_t = 1 - alpha'_t (prev = the previous inference
    timestep; abar_prev = 1 past the last). sigma_t^2 by ``variance_type``: "fixed_small"
    beta~_t = (1 - abar_prev) / (1 - abar_t) beta'_t (clamped >= 1e-20), "fixed_large"
    beta'_t, "learned" / "learned_range" from the second half of the model output's
    channels (axis 1: the log-variance, or v in [-1, 1] interpolating log beta~ and
    log beta'); the "_log" variants as diffusers. No noise at t = 0.

    Other parameters: see :class:`NoiseSchedule`; ``timestep_spacing`` and ``steps_offset``
    as :meth:`set_timesteps`.
    """

    def __init__(self, num_train_timesteps=1000, beta_start=0.0001, beta_end=0.02,
                 beta_schedule="linear", trained_betas=None, variance_type="fixed_small",
                 clip_sample=True, prediction_type="epsilon", clip_sample_range=1.0,
                 timestep_spacing="leading", steps_offset=0, rescale_betas_zero_snr=False):
        super().__init__(num_train_timesteps, beta_start, beta_end, beta_schedule,
                         trained_betas, prediction_type, rescale_betas_zero_snr)
        self.variance_type = check_option(variance_type, "variance_type", VARIANCE_TYPES)
        _scheduler_params(self, clip_sample, clip_sample_range, timestep_spacing, steps_offset)

    def previous_timestep(self, timestep):
        """The next timestep of the inference chain (t - 1 before set_timesteps), -1 last."""
        if self.num_inference_steps is None:
            return timestep - 1
        index = np.flatnonzero(self.timesteps == timestep)
        if index.size == 0:
            raise ValueError(f"timestep {timestep} is not one of the inference timesteps")
        i = int(index[0])
        return int(self.timesteps[i + 1]) if i + 1 < self.timesteps.size else -1

    def _variance(self, t, prev_t, predicted_variance=None):
        abar_t = self.alphas_cumprod[t]
        abar_prev = self.alphas_cumprod[prev_t] if prev_t >= 0 else 1.0
        beta_t = 1 - abar_t / abar_prev
        small = max((1 - abar_prev) / (1 - abar_t) * beta_t, 1e-20)
        vt = self.variance_type
        if vt == "fixed_small":
            return small
        if vt == "fixed_small_log":
            return math.log(small)
        if vt == "fixed_large":
            return beta_t
        if vt == "fixed_large_log":
            return math.log(beta_t)
        if vt == "learned":
            return predicted_variance
        frac = (predicted_variance + 1) / 2
        return frac * math.log(beta_t) + (1 - frac) * math.log(small)

    def step(self, model_output, timestep, sample, *, variance_noise=None, random_state=None):
        """x_{t-1} from x_t (``sample``) and the model output at ``timestep``.

        variance_noise : array like sample, the z of the update (else drawn from
            ``random_state``: None, int or numpy Generator).
        Returns :class:`SchedulerOutput` (prev_sample, pred_original_sample).
        """
        model_output, t, sample = self._check_step(
            model_output, timestep, sample,
            2 if self.variance_type in ("learned", "learned_range") else 1)
        if t > 0:
            noise = self._noise(variance_noise, random_state, sample.shape, sample.dtype)
        else:
            noise = None
        return self._step(model_output, t, sample, noise)

    def _step(self, model_output, t, sample, noise):
        predicted_variance = None
        if model_output.shape != sample.shape:
            c = sample.shape[1]
            model_output, predicted_variance = model_output[:, :c], model_output[:, c:]
        prev_t = self.previous_timestep(t)
        abar_t = self.alphas_cumprod[t]
        abar_prev = self.alphas_cumprod[prev_t] if prev_t >= 0 else 1.0
        alpha_t = abar_t / abar_prev
        x0, _ = self._predict_x0_eps(model_output, sample, abar_t)
        if self.clip_sample:
            x0 = np.clip(x0, -self.clip_sample_range, self.clip_sample_range)
        prev = (math.sqrt(abar_prev) * (1 - alpha_t) / (1 - abar_t)) * x0 + \
            (math.sqrt(alpha_t) * (1 - abar_prev) / (1 - abar_t)) * sample
        if t > 0:
            var = self._variance(t, prev_t, predicted_variance)
            if self.variance_type in ("fixed_small_log", "learned_range"):
                prev = prev + np.exp(0.5 * var) * noise
            else:
                prev = prev + np.sqrt(var) * noise
        dtype = sample.dtype
        return SchedulerOutput(prev.astype(dtype, copy=False), x0.astype(dtype, copy=False))


class DDIMScheduler(NoiseSchedule):
    """Denoising diffusion implicit models (Song et al. 2021), diffusers' ``DDIMScheduler``.

    step (eq. 12): x_{t-1} = sqrt(abar_prev) x_0 + sqrt(1 - abar_prev - sigma_t^2) eps
    + sigma_t z, sigma_t = eta sqrt((1 - abar_prev) / (1 - abar_t) (1 - abar_t / abar_prev)),
    prev = t - T // num_inference_steps; abar_prev = 1 (``set_alpha_to_one``) or abar_0
    past the start. eta = 0 is deterministic. x_0 is clipped as in :class:`DDPMScheduler`.
    """

    def __init__(self, num_train_timesteps=1000, beta_start=0.0001, beta_end=0.02,
                 beta_schedule="linear", trained_betas=None, clip_sample=True,
                 set_alpha_to_one=True, steps_offset=0, prediction_type="epsilon",
                 clip_sample_range=1.0, timestep_spacing="leading",
                 rescale_betas_zero_snr=False):
        super().__init__(num_train_timesteps, beta_start, beta_end, beta_schedule,
                         trained_betas, prediction_type, rescale_betas_zero_snr)
        self.set_alpha_to_one = check_bool(set_alpha_to_one, "set_alpha_to_one")
        self.final_alpha_cumprod = 1.0 if set_alpha_to_one else float(self.alphas_cumprod[0])
        _scheduler_params(self, clip_sample, clip_sample_range, timestep_spacing, steps_offset)

    def step(self, model_output, timestep, sample, *, eta=0.0, use_clipped_model_output=False,
             variance_noise=None, random_state=None):
        """x_{t-1} from x_t (``sample``); eta > 0 adds sigma_t z with z = ``variance_noise``
        or drawn from ``random_state``. Returns :class:`SchedulerOutput`."""
        model_output, t, sample = self._check_step(model_output, timestep, sample)
        eta = check_scalar(eta, "eta", numbers.Real, min_val=0)
        use_clipped = check_bool(use_clipped_model_output, "use_clipped_model_output")
        noise = self._noise(variance_noise, random_state, sample.shape, sample.dtype) \
            if eta > 0 else None
        return self._step(model_output, t, sample, eta, noise, use_clipped)

    def _step_coefficients(self, t, eta):
        """(abar_t, sqrt(abar_prev), sqrt(1 - abar_prev - sigma_t^2), sigma_t) of step t."""
        prev_t = t - self.num_train_timesteps // self.num_inference_steps
        abar_t = float(self.alphas_cumprod[t])
        abar_prev = float(self.alphas_cumprod[prev_t]) if prev_t >= 0 else \
            self.final_alpha_cumprod
        variance = (1 - abar_prev) / (1 - abar_t) * (1 - abar_t / abar_prev)
        std = eta * math.sqrt(variance)
        return abar_t, math.sqrt(abar_prev), math.sqrt(max(1 - abar_prev - std**2, 0.0)), std

    def _step(self, model_output, t, sample, eta=0.0, noise=None, use_clipped=False):
        abar_t, sqrt_prev, direction, std = self._step_coefficients(t, eta)
        x0, eps = self._predict_x0_eps(model_output, sample, abar_t)
        if self.clip_sample:
            x0 = np.clip(x0, -self.clip_sample_range, self.clip_sample_range)
        if use_clipped:
            eps = (sample - math.sqrt(abar_t) * x0) / math.sqrt(1 - abar_t)
        prev = sqrt_prev * x0 + direction * eps
        if eta > 0:
            prev = prev + std * noise
        dtype = sample.dtype
        return SchedulerOutput(prev.astype(dtype, copy=False), x0.astype(dtype, copy=False))
