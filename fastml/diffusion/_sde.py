"""Score-based diffusion with SDEs (Song et al. 2021): VP and VE SDEs, denoising score
matching, Euler–Maruyama reverse-SDE and probability-flow ODE samplers.

Forward SDE dx = f(x, t) dt + g(t) dw on t in [0, 1], with Gaussian marginals
x_t = m(t) x_0 + s(t) z:
- VP: f = -beta(t) x / 2, g = sqrt(beta(t)), beta(t) = beta_min + t (beta_max - beta_min),
  m(t) = exp(-t^2 (beta_max - beta_min) / 4 - t beta_min / 2), s(t) = sqrt(1 - m(t)^2);
- VE: f = 0, g = sigma(t) sqrt(2 log(sigma_max / sigma_min)),
  sigma(t) = sigma_min (sigma_max / sigma_min)^t, m = 1, s = sigma(t).
The denoiser predicts the noise z, so score(x, t) = -model(x, 999 t) / s(t); the denoising
score matching loss with weight s(t)^2 is E ||model(x_t, 999 t) - z||^2.
Reverse SDE: dx = [f - g^2 score] dt + g dw_bar; probability-flow ODE:
dx/dt = f - g^2 score / 2; both integrated from t = 1 to t = eps with N Euler steps (the
SDE's last step returns its mean, as score_sde).
"""

import math
import numbers

import numpy as np

from fastml._validation import (
    check_array,
    check_dtype,
    check_instance,
    check_option,
    check_positive_int,
    check_random_state,
    check_scalar,
    check_shape,
)
from fastml.diffusion._training import _loss_core

__all__ = ["VESDE", "VPSDE", "sde_sample", "sde_train_step"]

TIME_SCALE = 999.0  # continuous t in [0, 1] enters the denoiser as 999 t (its timestep scale)


class VPSDE:
    """Variance-preserving SDE (module docstring); beta_min, beta_max > 0."""

    def __init__(self, beta_min=0.1, beta_max=20.0):
        self.beta_min = float(check_scalar(beta_min, "beta_min", numbers.Real, min_val=0,
                                           include_boundaries="neither"))
        self.beta_max = float(check_scalar(beta_max, "beta_max", numbers.Real,
                                           min_val=beta_min))

    def coefficients(self, t):
        """f(x, t) = a(t) x and g(t) as (a, g)."""
        beta = self.beta_min + t * (self.beta_max - self.beta_min)
        return -0.5 * beta, np.sqrt(beta)

    def marginal(self, t):
        """(m(t), s(t)) of x_t = m x_0 + s z."""
        log_m = -0.25 * t**2 * (self.beta_max - self.beta_min) - 0.5 * t * self.beta_min
        return np.exp(log_m), np.sqrt(-np.expm1(2 * log_m))

    def prior_std(self):
        return 1.0


class VESDE:
    """Variance-exploding SDE (module docstring); 0 < sigma_min < sigma_max."""

    def __init__(self, sigma_min=0.01, sigma_max=50.0):
        self.sigma_min = float(check_scalar(sigma_min, "sigma_min", numbers.Real, min_val=0,
                                            include_boundaries="neither"))
        self.sigma_max = float(check_scalar(sigma_max, "sigma_max", numbers.Real,
                                            min_val=sigma_min, include_boundaries="neither"))

    def coefficients(self, t):
        sigma = self.sigma_min * (self.sigma_max / self.sigma_min) ** t
        return 0.0 * t, sigma * math.sqrt(2 * math.log(self.sigma_max / self.sigma_min))

    def marginal(self, t):
        return np.ones_like(t), self.sigma_min * (self.sigma_max / self.sigma_min) ** t

    def prior_std(self):
        return self.sigma_max


def _check_sde(sde):
    return check_instance(sde, "sde", (VPSDE, VESDE), "a VPSDE or a VESDE")


def sde_train_step(model, optimizer, x0, sde, *, eps=1e-5, random_state=None):
    """One denoising-score-matching step: t ~ U(eps, 1), z ~ N(0, I),
    x_t = m(t) x_0 + s(t) z, loss = mean ||model(x_t, 999 t) - z||^2 (the s(t)^2-weighted
    DSM loss), explicit backward through ``model``, then ``optimizer.step()``.
    Returns the loss."""
    sde = _check_sde(sde)
    x0 = check_dtype(check_array(x0, "x0", ndim=2, allow_empty=False), "x0", model.dtype,
                     "the model is")
    eps = float(check_scalar(eps, "eps", numbers.Real, min_val=0, max_val=1,
                             include_boundaries="right"))
    rng = check_random_state(random_state)
    t = rng.uniform(eps, 1.0, x0.shape[0])
    z = rng.standard_normal(x0.shape).astype(x0.dtype)
    m, s = sde.marginal(t)
    xt = (m[:, None] * x0 + s[:, None] * z).astype(x0.dtype)
    loss, grad = _loss_core(model._forward(xt, TIME_SCALE * t), z, None)
    optimizer.zero_grad()
    model.backward(grad)
    optimizer.step()
    return loss


def _sde_sample_core(model, sde, x, rng, method, num_steps, eps):
    times = np.linspace(1.0, eps, num_steps)
    dt = (1.0 - eps) / (num_steps - 1) if num_steps > 1 else 1.0 - eps
    n = x.shape[0]
    for i, t in enumerate(times):
        a, g = sde.coefficients(t)
        _, s = sde.marginal(t)
        score = -model._forward(x, np.full(n, TIME_SCALE * t)) / s
        if method == "ode":
            x = x - (a * x - 0.5 * g * g * score) * dt
        else:
            mean = x - (a * x - g * g * score) * dt
            last = i == num_steps - 1
            x = mean if last else mean + g * math.sqrt(dt) * rng.standard_normal(x.shape)
        x = x.astype(model.dtype, copy=False)
    return x


def sde_sample(model, sde, n_samples=None, *, method="euler_maruyama", num_steps=500,
               eps=1e-3, x_T=None, random_state=None):
    """Samples by integrating the reverse SDE (``method="euler_maruyama"``) or the
    probability-flow ODE (``"ode"``) from x_1 ~ N(0, prior_std^2 I) to t = eps.

    Returns (n, data_dim) samples of the model's dtype."""
    sde = _check_sde(sde)
    method = check_option(method, "method", ("euler_maruyama", "ode"))
    num_steps = check_positive_int(num_steps, "num_steps", max_val=10**6)
    eps = float(check_scalar(eps, "eps", numbers.Real, min_val=0, max_val=1,
                             include_boundaries="neither"))
    rng = check_random_state(random_state)
    if x_T is None:
        if n_samples is None:
            raise ValueError("give n_samples or x_T")
        n = check_positive_int(n_samples, "n_samples")
        x = (sde.prior_std() * rng.standard_normal((n, model.data_dim))).astype(model.dtype)
    else:
        x = check_shape(check_array(x_T, "x_T", ndim=2, dtype=model.dtype, allow_empty=False,
                                    copy=True), "x_T", ("n", model.data_dim))
    return _sde_sample_core(model, sde, x, rng, method, num_steps, eps)
