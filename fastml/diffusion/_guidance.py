"""Classifier-free guidance (Ho & Salimans 2022) and guidance rescale (Lin et al. 2023).

guided = out(null) + w (out(c) - out(null)); w = 0 is the unconditional model, w = 1 the
conditional one. Rescale: with s = std(out(c)) / std(guided) per sample (over the
non-batch axes), guided <- phi s guided + (1 - phi) guided.
"""

import numbers

import numpy as np

from fastml._validation import check_array, check_min_ndim, check_scalar, check_shape

__all__ = ["guided_output", "rescale_guidance"]


def _rescale_core(guided, conditional, guidance_rescale):
    axes = tuple(range(1, guided.ndim))
    ratio = np.std(conditional, axis=axes, keepdims=True) / np.std(guided, axis=axes,
                                                                  keepdims=True)
    return guidance_rescale * ratio * guided + (1 - guidance_rescale) * guided


def _guided_core(unconditional, conditional, guidance_scale, guidance_rescale):
    guided = unconditional + guidance_scale * (conditional - unconditional)
    if guidance_rescale > 0:
        guided = _rescale_core(guided, conditional, guidance_rescale)
    return guided.astype(unconditional.dtype, copy=False)


def _check_pair(unconditional, conditional):
    unconditional = check_min_ndim(check_array(unconditional, "unconditional"),
                                   "unconditional", 2, " (batch, ...)")
    conditional = check_array(conditional, "conditional", dtype=unconditional.dtype)
    return unconditional, check_shape(conditional, "conditional", unconditional.shape,
                                      " (that of unconditional)")


def guided_output(unconditional, conditional, guidance_scale, guidance_rescale=0.0):
    """out(null) + w (out(c) - out(null)), then rescaled by ``guidance_rescale`` in [0, 1]."""
    unconditional, conditional = _check_pair(unconditional, conditional)
    w = check_scalar(guidance_scale, "guidance_scale", numbers.Real)
    phi = check_scalar(guidance_rescale, "guidance_rescale", numbers.Real, min_val=0,
                       max_val=1)
    return _guided_core(unconditional, conditional, float(w), float(phi))


def rescale_guidance(guided, conditional, guidance_rescale):
    """phi std(c)/std(guided) guided + (1 - phi) guided, per sample (diffusers'
    ``rescale_noise_cfg``)."""
    guided, conditional = _check_pair(guided, conditional)
    phi = check_scalar(guidance_rescale, "guidance_rescale", numbers.Real, min_val=0,
                       max_val=1)
    return _rescale_core(guided, conditional, float(phi)).astype(guided.dtype, copy=False)
