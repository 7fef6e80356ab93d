"""Exact Gaussian-process regression (Rasmussen & Williams, Algorithm 2.1 and eq. 5.9).

With K = k(X, X) + diag(alpha) = L L^T and a = K^-1 y,

    log p(y | X, theta) = -1/2 y^T a - sum_i log L_ii - n/2 log(2 pi)
    dlog p / dtheta_j   = 1/2 sum_ab (a a^T - K^-1)_ab dK_ab / dtheta_j.

K^-1 comes from the Cholesky factor by LAPACK potri and the gradient is contracted pair
by pair in compiled code, so one evaluation costs n^3 flops (potrf + potri) and O(n^2 d)
kernel work, with no n x n x p gradient tensor. Computations run in float64; results
have the dtype of the ``X`` passed to ``predict``.
"""

import copy
import math
import numbers
import warnings

import numpy as np

from fastml import _kernels
from fastml._errors import ConvergenceWarning, JitterWarning, NotPositiveDefiniteError
from fastml._validation import (
    CALLABLE,
    InstanceOf,
    Interval,
    Options,
    all_finite,
    as_float_if_object,
    check_array,
    check_bounds,
    check_min_length,
    check_random_state,
    check_scalar,
    check_shape,
    check_y_given,
)
from fastml.base import (
    BaseEstimator,
    RegressorMixin,
    _also_sklearns,
    check_is_fitted,
    validate_data,
)
from fastml.gp.kernels import RBF, ConstantKernel, Kernel
from fastml.linalg import _cho_solve, _cholesky, _solve_triangular

__all__ = ["GaussianProcessRegressor"]

_LOG_2PI = math.log(2 * math.pi)
_PREDICT_CHUNK = 2048  # test points per block in predict: bounds the n x chunk workspace


def default_kernel():
    """scikit-learn's default: ConstantKernel(1.0, "fixed") * RBF(1.0, "fixed")."""
    return ConstantKernel(1.0, constant_value_bounds="fixed") * RBF(1.0,
                                                                     length_scale_bounds="fixed")


def check_noise(alpha, n, name="alpha"):
    """Noise variance added to the diagonal: a scalar or one non-negative value per sample."""
    a = check_array(alpha, name, ndim=(0, 1), dtype=np.float64)
    if a.ndim == 1 and a.shape[0] not in (1, n):
        raise ValueError(f"{name} must be a scalar or an array with one entry per sample "
                         f"({a.shape[0]} != {n})")
    check_bounds(a, name, low=0)
    return a.reshape(-1)[0] if a.size == 1 else a


def _factor(kernel, X, noise):
    """Lower Cholesky factor of K = k(X, X) + noise I, or (None, reason).

    The first attempt factorises K in place; only a failure (rare) rebuilds K for the
    jittered retries of :func:`fastml.linalg.cholesky`, so no copy of K is kept.
    """
    n = X.shape[0]
    for jitter in (None, "auto"):
        K = kernel._matrix(X)
        K.flat[:: n + 1] += noise
        if not all_finite(K):
            return None, "the kernel matrix contains NaN or infinity"
        try:
            return _cholesky(K, True, jitter)[0], None
        except NotPositiveDefiniteError as exc:
            reason = str(exc)
    return None, reason


def lml_and_factor(kernel, X, Y, noise, eval_gradient):
    """(lml, grad, L, a) for the kernel at its current theta; Y has shape (n, t).

    A matrix that is not positive definite is retried with jitter (JitterWarning); when
    that fails too, or K is not finite, returns lml = -inf with a warning and L = None.
    With ``eval_gradient`` the factor is overwritten by the gradient weights and L is
    returned as None.
    """
    n, t = Y.shape
    L, fail = _factor(kernel, X, noise)
    if fail is not None:
        warnings.warn(f"log marginal likelihood is -inf at theta={kernel.theta}: {fail}",
                      JitterWarning, stacklevel=3)
        return -np.inf, np.zeros(kernel.n_dims), None, None
    a = _cho_solve(L, np.array(Y, dtype=L.dtype, order="C"))
    lml = (-0.5 * float(np.einsum("ik,ik->", Y, a)) - t * float(np.log(np.diagonal(L)).sum())
           - 0.5 * n * t * _LOG_2PI)
    grad = None
    if eval_gradient:
        if _kernels.load("_gp").lml_weights_inplace(L, a) != 0:  # L becomes W = a a^T - t K^-1
            raise NotPositiveDefiniteError("potri failed on a valid Cholesky factor")
        grad = 0.5 * kernel._contract(X, L)
        L = None
    return lml, grad, L, a


class GaussianProcessRegressor(RegressorMixin, BaseEstimator):
    """Gaussian-process regression with hyperparameters fitted by maximum likelihood.

    Same constructor, attributes and semantics as scikit-learn's
    ``GaussianProcessRegressor``: the prior is f ~ GP(0, kernel), y = f + eps with
    eps_i ~ N(0, alpha_i); ``fit`` maximises the log marginal likelihood over the
    kernel's ``theta`` with L-BFGS-B (plus ``n_restarts_optimizer`` restarts drawn
    log-uniformly within the bounds); the posterior at X* has mean K*^T K^-1 y and
    covariance K** - K*^T K^-1 K*.

    Differences: ``predict``/``sample_y`` before ``fit`` raise ``NotFittedError`` rather
    than using the prior; a kernel matrix that is not positive definite is retried with
    jitter (``JitterWarning``); ``add_observations`` grows the fit in O(n^2 m).

    Parameters
    ----------
    kernel : Kernel from :mod:`fastml.gp.kernels`, default
        ``ConstantKernel(1.0, "fixed") * RBF(1.0, "fixed")``.
    alpha : float or array of shape (n_samples,), default 1e-10
        Noise variance added to the diagonal of K.
    optimizer : "fmin_l_bfgs_b", callable or None
        A callable is called as ``optimizer(obj_func, initial_theta, bounds)`` and returns
        ``(theta_opt, func_min)``; ``obj_func(theta)`` returns (-lml, -gradient).
    n_restarts_optimizer : int, default 0
    normalize_y : bool, default False
        Standardise y (mean 0, variance 1) before fitting; predictions are scaled back.
    random_state : None, int or numpy Generator
        Seeds the restarts.

    Attributes
    ----------
    X_train_, y_train_ (normalised when ``normalize_y``), kernel_, L_ (lower Cholesky
    factor of K), alpha_ (K^-1 y_train_), log_marginal_likelihood_value_, n_features_in_.
    """

    def __init__(self, kernel=None, *, alpha=1e-10, optimizer="fmin_l_bfgs_b",
                 n_restarts_optimizer=0, normalize_y=False, random_state=None):
        self.kernel = kernel
        self.alpha = alpha
        self.optimizer = optimizer
        self.n_restarts_optimizer = n_restarts_optimizer
        self.normalize_y = normalize_y
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags

    # ---------------------------------------------------------------- fit
    _parameter_constraints = {
        "kernel": [None, InstanceOf(Kernel, "a fastml.gp.kernels.Kernel or None")],
        "optimizer": [None, Options("fmin_l_bfgs_b"), CALLABLE],
        "n_restarts_optimizer": [Interval(numbers.Integral, 0)],
    }

    def _set_targets(self, y):
        """Store y (normalised when asked) as y_train_ with its mean and scale."""
        if self.normalize_y:
            self._y_train_mean = np.mean(y, axis=0)
            std = np.atleast_1d(np.std(y, axis=0))
            std[std == 0] = 1.0
            self._y_train_std = std if y.ndim == 2 else std[0]
            self.y_train_ = (y - self._y_train_mean) / self._y_train_std
        else:
            shape = y.shape[1:] if y.ndim == 2 else ()
            self._y_train_mean = np.zeros(shape)
            self._y_train_std = np.ones(shape)
            self.y_train_ = y

    def fit(self, X, y):
        """Fit the hyperparameters (unless ``optimizer`` is None) and factorise K.

        X : array of shape (n_samples, n_features); y : shape (n_samples,) or
        (n_samples, n_targets). Returns self.
        """
        kernel = default_kernel() if self.kernel is None else self.kernel
        self.kernel_ = copy.deepcopy(kernel)
        check_y_given(y, self)
        X, y = validate_data(self, as_float_if_object(X), as_float_if_object(y), y_numeric=True,
                             multi_output=True)
        X = X.astype(np.float64, copy=False)
        y = y.astype(np.float64, copy=False)
        if y.ndim == 2:
            check_min_length(y, "y", 1, "target columns", axis=1)
        self._noise = check_noise(self.alpha, X.shape[0])
        self.kernel_._check_input(X)
        self.X_train_ = X
        self._set_targets(y)
        Y = self.y_train_.reshape(X.shape[0], -1)

        if self.optimizer is not None and self.kernel_.n_dims > 0:
            def obj_func(theta):
                lml, grad = self._lml_at(theta, X, Y, True)
                return -lml, -grad

            bounds = self.kernel_.bounds
            if self.n_restarts_optimizer > 0 and not np.isfinite(bounds).all():
                raise ValueError("n_restarts_optimizer > 0 requires finite bounds on every "
                                 "hyperparameter")
            rng = check_random_state(self.random_state)
            starts = [self.kernel_.theta] + [rng.uniform(bounds[:, 0], bounds[:, 1])
                                             for _ in range(self.n_restarts_optimizer)]
            with _kernels.blas_serial_below(X.shape[0] ** 3):
                optima = [self._optimize(obj_func, start, bounds) for start in starts]
            best = min(range(len(optima)), key=lambda i: optima[i][1])
            self.kernel_.theta = optima[best][0]
        with _kernels.blas_serial_below(X.shape[0] ** 3):
            lml, _, L, a = lml_and_factor(self.kernel_, X, Y, self._noise, False)
        if L is None:
            raise NotPositiveDefiniteError(
                f"the kernel {self.kernel_!r} gives a matrix K + alpha I that is not positive "
                "definite even with jitter; increase alpha")
        self.log_marginal_likelihood_value_ = lml
        self.L_ = L
        self.alpha_ = a.reshape(self.y_train_.shape)
        return self

    def _optimize(self, obj_func, theta0, bounds):
        if callable(self.optimizer):
            theta, fmin = self.optimizer(obj_func, theta0, bounds)
            return np.asarray(theta, dtype=float), float(fmin)
        from scipy.optimize import minimize

        res = minimize(obj_func, theta0, method="L-BFGS-B", jac=True, bounds=bounds)
        if not res.success:
            warnings.warn(f"L-BFGS-B failed to converge ({res.message}); increase the "
                          "iteration budget or rescale the data",
                          _also_sklearns(ConvergenceWarning),
                          stacklevel=3)
        return res.x, float(res.fun)

    def _lml_at(self, theta, X, Y, eval_gradient):
        kernel = self.kernel_.clone_with_theta(theta)
        lml, grad, _, _ = lml_and_factor(kernel, X, Y, self._noise, eval_gradient)
        return lml, grad

    def log_marginal_likelihood(self, theta=None, eval_gradient=False, clone_kernel=True):
        """log p(y | X, theta) of the training data (and its gradient in theta).

        theta None returns ``log_marginal_likelihood_value_`` (no gradient then).
        ``clone_kernel`` is accepted for scikit-learn compatibility: kernel_ is never
        modified here.
        """
        check_is_fitted(self, "X_train_")
        if theta is None:
            if eval_gradient:
                raise ValueError("the gradient can only be evaluated for a given theta")
            return self.log_marginal_likelihood_value_
        theta = check_array(theta, "theta", ndim=1, dtype=np.float64, finite=False)
        if theta.shape[0] != self.kernel_.n_dims:
            raise ValueError(f"theta must have {self.kernel_.n_dims} entries, got "
                             f"{theta.shape[0]}")
        with _kernels.blas_serial_below(self.X_train_.shape[0] ** 3):
            lml, grad = self._lml_at(theta, self.X_train_, self.y_train_.reshape(
                self.X_train_.shape[0], -1), eval_gradient)
        return (lml, grad) if eval_gradient else lml

    # ---------------------------------------------------------------- predict
    def _unscale_var(self, var):
        """(m,) variances in normalised units -> (m,) or (m, t) in y's units."""
        std2 = np.asarray(self._y_train_std) ** 2
        return var * std2 if std2.ndim == 0 else np.outer(var, std2)

    def predict(self, X, return_std=False, return_cov=False):
        """Posterior mean at X, and its standard deviation or covariance.

        mean = K(X, X_train) alpha_; var = k(x, x) - ||L^-1 k(X_train, x)||^2;
        cov = K(X, X) - V^T V with V = L^-1 K(X_train, X). Shapes: mean (m,) or
        (m, t); std like mean; cov (m, m) or (m, m, t). dtype: that of X.
        """
        if return_std and return_cov:
            raise ValueError("return_std and return_cov cannot both be True: ask for one "
                             "of them")
        check_is_fitted(self, "X_train_")
        X = validate_data(self, as_float_if_object(X), reset=False, ensure_min_samples=0)
        out_dtype = X.dtype
        X = X.astype(np.float64, copy=False)
        self.kernel_._check_input(X)
        with _kernels.blas_serial_below(self.X_train_.shape[0] ** 2 * X.shape[0]):
            return self._predict(X, return_std, return_cov, out_dtype)

    def _predict(self, X, return_std, return_cov, out_dtype):
        m = X.shape[0]
        mean = np.empty((m,) + self.alpha_.shape[1:])
        var = np.empty(m) if return_std else None
        for start in range(0, m, _PREDICT_CHUNK):
            Xc = X[start:start + _PREDICT_CHUNK]
            Kt = self.kernel_._matrix(Xc, self.X_train_)
            mean[start:start + Xc.shape[0]] = Kt @ self.alpha_
            if return_std:
                # Kt <- Kt L^-T = (L^-1 Kt^T)^T
                _kernels.load("_gp").solve_right_lower_t(self.L_, Kt)
                var[start:start + Xc.shape[0]] = (self.kernel_.diag(Xc)
                                                   - np.einsum("ij,ij->i", Kt, Kt))
        mean = self._y_train_std * mean + self._y_train_mean
        if return_cov:
            V = _solve_triangular(self.L_, self.kernel_._matrix(self.X_train_, X))
            cov = self.kernel_._matrix(X) - V.T @ V
            std2 = np.asarray(self._y_train_std) ** 2
            cov = cov * std2 if std2.ndim == 0 else cov[:, :, None] * std2
            return mean.astype(out_dtype), cov.astype(out_dtype)
        if return_std:
            if np.any(var < 0):
                warnings.warn("predicted variances smaller than 0 (round-off); setting "
                              "them to 0", RuntimeWarning, stacklevel=3)
                np.maximum(var, 0, out=var)
            std = np.sqrt(self._unscale_var(var))
            return mean.astype(out_dtype), std.astype(out_dtype)
        return mean.astype(out_dtype)

    def sample_y(self, X, n_samples=1, random_state=0):
        """Draws from the posterior at X: shape (m, n_samples) or (m, t, n_samples).

        Uses the eigendecomposition of the posterior covariance (clipping round-off
        negative eigenvalues), which is exact for singular covariances.
        """
        n_samples = int(check_scalar(n_samples, "n_samples", numbers.Integral, min_val=1))
        rng = check_random_state(random_state)
        mean, cov = self.predict(X, return_cov=True)
        out_dtype = mean.dtype
        mean = mean.astype(np.float64)
        cov = cov.astype(np.float64)
        if mean.ndim == 1:
            return self._draw(mean, cov, n_samples, rng).astype(out_dtype)
        draws = [self._draw(mean[:, i], cov[:, :, i], n_samples, rng)
                 for i in range(mean.shape[1])]
        return np.stack(draws, axis=1).astype(out_dtype)

    @staticmethod
    def _draw(mean, cov, n_samples, rng):
        w, U = np.linalg.eigh(cov)
        root = U * np.sqrt(np.maximum(w, 0))
        return mean[:, None] + root @ rng.standard_normal((mean.shape[0], n_samples))

    # ---------------------------------------------------------------- online updates
    def add_observations(self, X_new, y_new, alpha=None):
        """Condition on m new observations without refitting the hyperparameters.

        The Cholesky factor grows by one block, in O(n^2 m + m^3):

            [K     K_xn ]   [L    0  ] [L^T  B  ]     B = L^-1 K(X, X_new)
            [K_xn^T K_nn] = [B^T  L22] [0    L22^T],   L22 L22^T = K_nn - B^T B

        and alpha_ = K^-1 y is recomputed by two triangular solves. Predictions then
        equal those of a refit with ``kernel=kernel_`` and ``optimizer=None``
        (``normalize_y`` statistics are recomputed over all targets).
        ``alpha``: noise of the new samples; defaults to the scalar ``alpha`` of the
        estimator (required when the estimator was fitted with per-sample noise).
        """
        check_is_fitted(self, "X_train_")
        X_new = validate_data(self, X_new, reset=False).astype(np.float64, copy=False)
        m = X_new.shape[0]
        y_shape = (1, 2) if self.y_train_.ndim == 2 else 1
        y_new = check_array(y_new, "y_new", ndim=y_shape, dtype=np.float64)
        check_shape(y_new, "y_new", (m,) + self.y_train_.shape[1:])
        if alpha is None:
            if np.ndim(self._noise) != 0:
                raise ValueError("alpha (noise of the new samples) is required when the "
                                 "estimator was fitted with per-sample alpha")
            new_noise = self._noise
        else:
            new_noise = check_noise(alpha, m)
        self.kernel_._check_input(X_new)
        with _kernels.blas_serial_below(self.X_train_.shape[0] ** 2 * m):
            return self._grow(X_new, y_new, new_noise)

    def _grow(self, X_new, y_new, new_noise):
        n, m = self.X_train_.shape[0], X_new.shape[0]
        K_cross = self.kernel_._matrix(self.X_train_, X_new)
        B = _solve_triangular(self.L_, K_cross)
        S = self.kernel_._matrix(X_new)
        S.flat[:: m + 1] += new_noise
        S -= B.T @ B
        L22, _ = _cholesky(S, True, "auto")
        L = np.zeros((n + m, n + m))
        L[:n, :n] = self.L_
        L[n:, :n] = B.T
        L[n:, n:] = L22
        y_all = np.concatenate([self.y_train_ * self._y_train_std + self._y_train_mean,
                                y_new])
        self.X_train_ = np.concatenate([self.X_train_, X_new])
        if np.ndim(self._noise) == 0 and np.ndim(new_noise) == 0 and new_noise == self._noise:
            noise = self._noise
        else:
            noise = np.concatenate([np.broadcast_to(self._noise, n),
                                    np.broadcast_to(new_noise, m)])
        self._noise = noise
        self._set_targets(y_all)
        self.L_ = L
        Y = self.y_train_.reshape(n + m, -1)
        a = _cho_solve(L, np.array(Y, dtype=L.dtype, order="C"))
        t = Y.shape[1]
        self.alpha_ = a.reshape(self.y_train_.shape)
        self.log_marginal_likelihood_value_ = (
            -0.5 * float(np.einsum("ik,ik->", Y, a))
            - t * float(np.log(np.diagonal(L)).sum()) - 0.5 * (n + m) * t * _LOG_2PI)
        return self
