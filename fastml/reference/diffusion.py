"""Diffusion models from the equations: schedules, forward process, posterior, DDPM and
DDIM steps (loops over elements), sliced score matching.

Notation: abar_t = prod_{s<=t} (1 - beta_s); x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps.
"""

import math

import numpy as np


def betas(T, beta_start, beta_end, schedule, rescale_zero_snr=False):
    """beta_t for t = 0..T-1: linear, scaled_linear or squaredcos_cap_v2 (cosine abar)."""
    out = []
    for t in range(T):
        if schedule == "linear":
            out.append(beta_start + (beta_end - beta_start) * t / (T - 1))
        elif schedule == "scaled_linear":
            r = math.sqrt(beta_start) + (math.sqrt(beta_end) - math.sqrt(beta_start)) * t / (T - 1)
            out.append(r * r)
        else:
            def abar(u):
                return math.cos((u + 0.008) / 1.008 * math.pi / 2) ** 2
            out.append(min(1 - abar((t + 1) / T) / abar(t / T), 0.999))
    if rescale_zero_snr:
        prod, roots = 1.0, []
        for b in out:
            prod *= 1 - b
            roots.append(math.sqrt(prod))
        first, last = roots[0], roots[-1]
        abar = [((r - last) * first / (first - last)) ** 2 for r in roots]
        out = [1 - abar[0]] + [1 - abar[t] / abar[t - 1] for t in range(1, T)]
    return np.array(out)


def add_noise(alphas_cumprod, x0, noise, t):
    """x_t per sample n: sqrt(abar_{t_n}) x0[n] + sqrt(1 - abar_{t_n}) noise[n]."""
    out = np.empty(x0.shape)
    for n in range(x0.shape[0]):
        a = alphas_cumprod[t[n]]
        out[n] = math.sqrt(a) * x0[n] + math.sqrt(1 - a) * noise[n]
    return out


def posterior(alphas_cumprod, betas, x0, xt, t):
    """Mean and variance of q(x_{t-1} | x_t, x_0) for scalars x0, xt."""
    a, a_prev = alphas_cumprod[t], (alphas_cumprod[t - 1] if t > 0 else 1.0)
    mean = (math.sqrt(a_prev) * betas[t] * x0 + math.sqrt(1 - betas[t]) * (1 - a_prev) * xt) \
        / (1 - a)
    return mean, (1 - a_prev) / (1 - a) * betas[t]


def _x0_eps(out, x, a, prediction):
    if prediction == "epsilon":
        return (x - math.sqrt(1 - a) * out) / math.sqrt(a), out
    if prediction == "sample":
        return out, (x - math.sqrt(a) * out) / math.sqrt(1 - a)
    return math.sqrt(a) * x - math.sqrt(1 - a) * out, math.sqrt(a) * out + math.sqrt(1 - a) * x


def ddpm_step(alphas_cumprod, model_output, t, prev_t, x, noise, prediction, variance_type,
              clip=None):
    """One ancestral step, element by element (fixed_small / fixed_large / fixed_small_log)."""
    a = alphas_cumprod[t]
    a_prev = alphas_cumprod[prev_t] if prev_t >= 0 else 1.0
    beta = 1 - a / a_prev
    var = beta if variance_type == "fixed_large" else max((1 - a_prev) / (1 - a) * beta, 1e-20)
    out = np.empty(x.shape)
    for i in np.ndindex(x.shape):
        x0, _ = _x0_eps(model_output[i], x[i], a, prediction)
        if clip is not None:
            x0 = min(max(x0, -clip), clip)
        mean = (math.sqrt(a_prev) * beta * x0 + math.sqrt(1 - beta) * (1 - a_prev) * x[i]) / (1 - a)
        out[i] = mean + (math.sqrt(var) * noise[i] if t > 0 else 0.0)
    return out


def ddim_step(alphas_cumprod, final_alpha_cumprod, model_output, t, prev_t, x, eta, noise,
              prediction, clip=None):
    """Song et al. 2021 eq. 12, element by element."""
    a = alphas_cumprod[t]
    a_prev = alphas_cumprod[prev_t] if prev_t >= 0 else final_alpha_cumprod
    sigma = eta * math.sqrt((1 - a_prev) / (1 - a) * (1 - a / a_prev))
    out = np.empty(x.shape)
    for i in np.ndindex(x.shape):
        x0, eps = _x0_eps(model_output[i], x[i], a, prediction)
        if clip is not None:
            x0 = min(max(x0, -clip), clip)
        out[i] = math.sqrt(a_prev) * x0 + math.sqrt(1 - a_prev - sigma**2) * eps + sigma * noise[i]
    return out


def sliced_score_matching_loss(score, x, v, h=1e-4):
    """Sliced score matching (Song et al. 2019): mean over n of
    v_n^T (d score / dx)(x_n) v_n + (v_n^T score(x_n))^2 / 2, the Jacobian-vector product
    by central differences of step h. score : (n, d) -> (n, d); v : (n, d) projections.
    Its expectation over v ~ N(0, I) is Hyvarinen's E[tr(grad score) + |score|^2 / 2]."""
    total = 0.0
    for n in range(x.shape[0]):
        s = score(x[n:n + 1])[0]
        jvp = (score(x[n:n + 1] + h * v[n:n + 1])[0] - score(x[n:n + 1] - h * v[n:n + 1])[0]) \
            / (2 * h)
        total += float(v[n] @ jvp) + 0.5 * float(v[n] @ s) ** 2
    return total / x.shape[0]


def dsm_loss(score, x0, t, z, mean_coeff, std):
    """Denoising score matching with weight s(t)^2: mean of |s(t) score(x_t, t) + z|^2 over
    the samples, x_t = m(t) x_0 + s(t) z (per-sample m, s)."""
    total = 0.0
    for n in range(x0.shape[0]):
        xt = mean_coeff[n] * x0[n] + std[n] * z[n]
        total += float(np.sum((std[n] * score(xt[None], t[n])[0] + z[n]) ** 2))
    return total / x0.shape[0]
