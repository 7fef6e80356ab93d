"""Losses: ``loss.forward(output, target) -> float``, ``loss.backward() -> grad_output``.

``backward(grad=1.0)`` returns d (grad * loss) / d output for the last forward call,
ready to pass to the network's ``backward``.
"""

import numbers

from fastml._validation import check_option, check_scalar
from fastml.nn._module import Module
from fastml.nn.functional import _core

__all__ = ["BCEWithLogitsLoss", "CrossEntropyLoss", "MSELoss"]


class _Loss(Module):
    def __init__(self, reduction="mean"):
        super().__init__()
        self.reduction = check_option(reduction, "reduction", _core._REDUCTIONS)
        self._cache = None

    def extra_repr(self):
        return f"reduction={self.reduction!r}"


class MSELoss(_Loss):
    """mean (or sum) of (output - target)^2; gradient 2 (output - target) / numel."""

    def forward(self, output, target):
        x, y = _core._check_pair(output, target)
        self._cache = (x, y)
        return _core.mse_loss(x, y, self.reduction)

    def backward(self, grad=1.0):
        x, y = self._saved()
        return _core.mse_loss_backward(x, y, self.reduction, grad)


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy of logits (N, C) and class indices (N,), fused (one
    log-sum-exp per row, kept for the backward). See
    :func:`fastml.nn.functional.cross_entropy` for the formula with
    ``label_smoothing``; rows whose target is ``ignore_index`` do not count."""

    def __init__(self, ignore_index=-100, reduction="mean", label_smoothing=0.0):
        super().__init__(reduction)
        self.ignore_index = int(check_scalar(ignore_index, "ignore_index", numbers.Integral))
        self.label_smoothing = check_scalar(label_smoothing, "label_smoothing",
                                            numbers.Real, min_val=0, max_val=1)

    def forward(self, output, target):
        x, t, count = _core._check_ce(output, target, self.ignore_index,
                                      self.label_smoothing, self.reduction)
        loss, lse = _core._cross_entropy_forward(x, t, count, self.ignore_index,
                                                 self.label_smoothing, self.reduction)
        self._cache = (x, t, count, lse)
        return loss

    def backward(self, grad=1.0):
        x, t, count, lse = self._saved()
        return _core._cross_entropy_backward(x, t, count, lse, self.ignore_index,
                                             self.label_smoothing, self.reduction, grad)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy on logits, computed stably; ``pos_weight`` multiplies the
    positive term (broadcast over the last axis, as PyTorch)."""

    def __init__(self, reduction="mean", pos_weight=None):
        super().__init__(reduction)
        self.pos_weight = pos_weight

    def forward(self, output, target):
        x, y = _core._check_pair(output, target)
        self._cache = (x, y)
        return _core.binary_cross_entropy_with_logits(x, y, self.pos_weight, self.reduction)

    def backward(self, grad=1.0):
        x, y = self._saved()
        return _core.binary_cross_entropy_with_logits_backward(x, y, self.pos_weight,
                                                               self.reduction, grad)
