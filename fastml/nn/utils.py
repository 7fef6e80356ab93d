"""Gradient utilities shared by training loops."""

import math
import numbers

import numpy as np

from fastml._validation import check_scalar

__all__ = ["clip_grad_norm_"]


def clip_grad_norm_(parameters, max_norm, norm_type=2.0):
    """Scale all gradients in place so that their joint norm is at most ``max_norm``.

    total = (sum_p ||grad_p||_q^q)^(1/q) over every parameter (q = ``norm_type``, or the
    largest absolute entry for ``inf``); if total > max_norm every gradient is multiplied
    by max_norm / (total + 1e-6), as PyTorch. Returns total (before clipping).
    """
    params = list(parameters)
    check_scalar(max_norm, "max_norm", numbers.Real, min_val=0)
    check_scalar(norm_type, "norm_type", numbers.Real, min_val=0, include_boundaries="neither")
    if not params:
        return 0.0
    if math.isinf(norm_type):
        total = max(float(np.max(np.abs(p.grad), initial=0.0)) for p in params)
    else:
        total = sum(float(np.sum(np.abs(p.grad.astype(np.float64)) ** norm_type))
                    for p in params) ** (1.0 / norm_type)
    coef = max_norm / (total + 1e-6)
    if coef < 1:
        for p in params:
            p.grad *= p.grad.dtype.type(coef)
    return total
