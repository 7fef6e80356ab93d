"""The ELBO toolkit shared by ADVI and the VAE: Gaussian reparameterisation and the KL.

For q(z) = N(mu, diag sigma^2) with sigma^2 = exp(log_var) (PyTorch's VAE convention),

* reparameterisation: z = mu + sigma * eps with eps ~ N(0, I), so a loss L(z) has the
  pathwise gradients dL/dmu = dL/dz and dL/dlog_var = dL/dz * eps * sigma / 2;
* analytic KL to the standard normal, summed over the last axis:
  KL(q || N(0, I)) = 1/2 sum_j (mu_j^2 + sigma_j^2 - 1 - log sigma_j^2),
  with dKL/dmu = mu and dKL/dlog_var = (sigma^2 - 1) / 2.

The ELBO of a latent-variable model is E_q[log p(x | z)] - KL(q || p(z)); its Monte-Carlo
estimate with the reparameterised draws is unbiased and differentiable in (mu, log_var).
The faces check their arrays once; the cores (``__cores__``) take ready arrays of one float
dtype and are what internal callers (``fastml.models.VAE``, loops inside fit) use. Results
have the dtype of the inputs (float32 stays float32).
"""

import numpy as np

from fastml._validation import (
    check_array,
    check_min_ndim,
    check_same_shape,
    check_shape,
    common_float_dtype,
)

__all__ = ["kl_standard_normal", "kl_standard_normal_backward", "reparameterize",
           "reparameterize_backward"]
__cores__ = ["_kl_standard_normal", "_kl_standard_normal_backward", "_reparameterize",
             "_reparameterize_backward"]


def _reparameterize(mu, log_var, eps):
    """(z, sigma): z = mu + exp(log_var / 2) * eps (no checks)."""
    sigma = np.exp(0.5 * log_var)
    return mu + sigma * eps, sigma


def _reparameterize_backward(grad_z, sigma, eps):
    """(grad_mu, grad_log_var) of a loss whose gradient in z is ``grad_z`` (no checks)."""
    return grad_z.copy(), 0.5 * grad_z * eps * sigma


def _kl_standard_normal(mu, log_var):
    """KL(N(mu, exp(log_var)) || N(0, I)) summed over the last axis (no checks)."""
    return 0.5 * (mu * mu + np.exp(log_var) - 1.0 - log_var).sum(axis=-1)


def _kl_standard_normal_backward(mu, log_var, grad_kl):
    """(grad_mu, grad_log_var) for the upstream gradient ``grad_kl`` of each KL value."""
    g = np.asarray(grad_kl, dtype=mu.dtype)[..., None]
    return g * mu, g * (0.5 * (np.exp(log_var) - 1.0))


def _same_shape(named, dtype=None):
    """Check the (name, array) pairs as finite float arrays of one shape and one dtype."""
    dtype = dtype or common_float_dtype(*(a for _, a in named))
    out = [check_array(a, name, dtype=dtype) for name, a in named]
    first_name, first = named[0][0], out[0]
    check_min_ndim(np.asarray(named[0][1]), first_name, 1, " (..., dim)")
    for (name, _), a in zip(named[1:], out[1:]):
        check_same_shape(a, name, first, first_name)
    return out


def reparameterize(mu, log_var, eps):
    """Reparameterised draw z = mu + exp(log_var / 2) * eps from N(mu, diag exp(log_var)).

    Parameters
    ----------
    mu, log_var, eps : array_like, one shape (..., dim)
        Mean, log-variance and standard-normal noise (float32 or float64).

    Returns
    -------
    z : ndarray, the shape and dtype of the inputs
    """
    mu, log_var, eps = _same_shape([("mu", mu), ("log_var", log_var), ("eps", eps)])
    return _reparameterize(mu, log_var, eps)[0]


def reparameterize_backward(grad_z, log_var, eps):
    """Pathwise gradients of z = mu + exp(log_var / 2) * eps.

    dL/dmu = dL/dz and dL/dlog_var = dL/dz * eps * exp(log_var / 2) / 2.

    Parameters
    ----------
    grad_z, log_var, eps : array_like, one shape (..., dim)

    Returns
    -------
    (grad_mu, grad_log_var) : ndarrays of that shape
    """
    grad_z, log_var, eps = _same_shape([("grad_z", grad_z), ("log_var", log_var),
                                        ("eps", eps)])
    return _reparameterize_backward(grad_z, np.exp(0.5 * log_var), eps)


def kl_standard_normal(mu, log_var):
    """KL(N(mu, diag exp(log_var)) || N(0, I)) = 1/2 sum_j (mu_j^2 + e^lv_j - 1 - lv_j).

    Parameters
    ----------
    mu, log_var : array_like, one shape (..., dim)

    Returns
    -------
    kl : ndarray of shape (...) (a 0-d array for 1-D input), the inputs' dtype
    """
    mu, log_var = _same_shape([("mu", mu), ("log_var", log_var)])
    return _kl_standard_normal(mu, log_var)


def kl_standard_normal_backward(mu, log_var, grad_kl=1.0):
    """Gradients of ``kl_standard_normal``: (grad_kl * mu, grad_kl * (e^log_var - 1) / 2).

    Parameters
    ----------
    mu, log_var : array_like, one shape (..., dim)
    grad_kl : float or array_like of shape (...)
        Upstream gradient of each KL value (1: the gradient of the KL itself).

    Returns
    -------
    (grad_mu, grad_log_var) : ndarrays of shape (..., dim)
    """
    mu, log_var = _same_shape([("mu", mu), ("log_var", log_var)])
    scalar = np.ndim(grad_kl) == 0
    grad_kl = check_array(grad_kl, "grad_kl", dtype=mu.dtype)
    if scalar:
        grad_kl = np.full(mu.shape[:-1], grad_kl.ravel()[0], dtype=mu.dtype)
    else:
        check_shape(grad_kl, "grad_kl", mu.shape[:-1], " (or be a scalar)")
    return _kl_standard_normal_backward(mu, log_var, grad_kl)
