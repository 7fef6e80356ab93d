"""Mean-field coordinate-ascent VI (CAVI) for Bayesian linear regression with a Gamma
prior on the noise precision.

Model: y_i = x_i^T w + e_i, e_i ~ N(0, 1 / tau), w ~ N(0, I / alpha), tau ~ Gamma(a0, b0)
(shape, rate). Mean-field q(w, tau) = q(w) q(tau); each factor's optimal update is the
exponential of the expected log joint under the other:

* q(w) = N(m, S): S = (alpha I + E[tau] X^T X)^-1, m = E[tau] S X^T y;
* q(tau) = Gamma(a_N, b_N): a_N = a0 + n / 2,
  b_N = b0 + (||y - X m||^2 + tr(X^T X S)) / 2, E[tau] = a_N / b_N.

Each sweep is one d x d Cholesky (``fastml.linalg``) on the precomputed Gram matrix.
"""

import numbers

import numpy as np

from fastml._validation import Interval
from fastml.base import BaseEstimator, RegressorMixin, check_is_fitted, validate_data
from fastml.linalg import _cholesky, _solve_triangular

__all__ = ["BayesianLinearRegressionCAVI"]


class BayesianLinearRegressionCAVI(RegressorMixin, BaseEstimator):
    """Bayesian linear regression (no intercept unless X has a constant column) by CAVI.

    Parameters
    ----------
    alpha : float > 0
        Prior precision of every weight.
    a0, b0 : float > 0
        Shape and rate of the Gamma prior on the noise precision tau.
    max_iter : int
    tol : float >= 0
        Stop when E[tau] changes by at most ``tol`` relatively between sweeps.

    Attributes
    ----------
    coef_ : (d,) posterior mean m of w;  sigma_ : (d, d) posterior covariance S
    noise_shape_, noise_rate_ : a_N, b_N of q(tau);  noise_precision_ : E[tau]
    n_iter_, converged_, n_features_in_
    """

    _parameter_constraints = {
        "alpha": [Interval(numbers.Real, 0, closed="neither")],
        "a0": [Interval(numbers.Real, 0, closed="neither")],
        "b0": [Interval(numbers.Real, 0, closed="neither")],
        "max_iter": [Interval(numbers.Integral, 1)],
        "tol": [Interval(numbers.Real, 0)],
    }

    def __init__(self, *, alpha=1.0, a0=1e-2, b0=1e-2, max_iter=200, tol=1e-10):
        self.alpha = alpha
        self.a0 = a0
        self.b0 = b0
        self.max_iter = max_iter
        self.tol = tol

    def fit(self, X, y):
        """Run CAVI sweeps from E[tau] = a0 / b0 until E[tau] settles."""
        X, y = validate_data(self, X, y, y_numeric=True)
        n, d = X.shape
        gram = X.T @ X
        xty = X.T @ y
        yty = float(y @ y)
        a_n = self.a0 + 0.5 * n
        e_tau = self.a0 / self.b0
        eye = np.eye(d, dtype=X.dtype)
        self.converged_ = False
        for it in range(1, int(self.max_iter) + 1):  # noqa: B007 (read after the loop)
            L, _ = _cholesky(np.ascontiguousarray(self.alpha * eye + e_tau * gram))
            Linv = _solve_triangular(L, eye.copy())
            S = Linv.T @ Linv
            m = e_tau * (S @ xty)
            resid2 = yty - 2 * float(m @ xty) + float(m @ gram @ m)
            b_n = self.b0 + 0.5 * (resid2 + float(np.sum(gram * S)))
            new = a_n / b_n
            done = abs(new - e_tau) <= self.tol * abs(new)
            e_tau = new
            if done:
                self.converged_ = True
                break
        self.coef_, self.sigma_ = m, S
        self.noise_shape_, self.noise_rate_, self.noise_precision_ = a_n, b_n, e_tau
        self.n_iter_ = it
        return self

    def predict(self, X, return_std=False):
        """Posterior predictive mean X m (and sd sqrt(1 / E[tau] + x^T S x))."""
        check_is_fitted(self, "coef_")
        X = validate_data(self, X, reset=False)
        mean = X @ self.coef_
        if not return_std:
            return mean
        return mean, np.sqrt(1.0 / self.noise_precision_
                             + np.einsum("ij,jk,ik->i", X, self.sigma_, X))
