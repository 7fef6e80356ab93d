"""Exception and warning classes shared by the whole library."""

import numpy as np


class NotPositiveDefiniteError(np.linalg.LinAlgError):
    """A matrix that should be symmetric positive definite is not.

    Attributes
    ----------
    pivot : int
        0-based index of the first diagonal pivot that was not positive: the leading
        minor of order ``pivot + 1`` is not positive definite.
    """

    def __init__(self, message, pivot=None):
        super().__init__(message)
        self.pivot = pivot


class NotFittedError(ValueError, AttributeError):
    """An estimator was used before ``fit`` (same bases as scikit-learn's)."""


class ConvergenceWarning(UserWarning):
    """An iterative solver stopped before reaching its tolerance."""


class JitterWarning(RuntimeWarning):
    """A diagonal jitter was added to make a matrix positive definite."""


class DataConversionWarning(UserWarning):
    """Input was converted to the expected form (as scikit-learn's warning of this name)."""
