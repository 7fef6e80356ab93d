"""Sparse variational Gaussian-process regression (Titsias 2009, collapsed bound).

With m inducing inputs Z, P = K(Z, Z), U = K(Z, X), Q = U^T P^-1 U and noise variance
s2 = 1 / beta, the evidence lower bound maximised over the kernel hyperparameters, s2
and Z is

    F = log N(y | 0, Q + s2 I) - tr(K(X, X) - Q) / (2 s2).

It is computed through Cholesky factors of m x m matrices only (as GPflow's SGPR):
P = Luu Luu^T, A = sqrt(beta) Luu^-1 U, B = I + A A^T = LB LB^T, c0 = LB^-1 A y,

    F = -n/2 log 2pi - sum log diag LB + n/2 log beta - beta/2 y^T y + beta/2 c0^T c0
        - beta/2 sum_i k(x_i, x_i) + 1/2 tr(A A^T),

so the n-dependence is in one kernel block, one triangular solve and one GEMM, O(n m^2).
The analytic gradient goes through dF/dU, dF/dP and dF/dbeta (w = B^-1 A y,
r = y - A^T w, Linv = Luu^-1):

    dF/dU    = sqrt(beta) Linv^T ((I - B^-1) A + beta w r^T)
    dF/dP    = 1/2 Linv^T (I - B^-1 - beta w w^T - A A^T) Linv
    dF/dbeta = (tr(A A^T) - m + tr(B^-1)) / (2 beta) + n / (2 beta) - y^T y / 2
               + c0^T c0 - ||A^T w||^2 / 2 - sum_i k(x_i, x_i) / 2,

contracted with dK/dtheta and dK/dZ pair by pair in compiled code
(``fastml.kernels._gp.contract_cross``), block by block over the data, never forming
an n x m x p tensor.
"""

import math
import numbers
import warnings

import numpy as np

from fastml import _kernels
from fastml._errors import ConvergenceWarning, JitterWarning, NotPositiveDefiniteError
from fastml._validation import (
    ARRAY_LIKE,
    InstanceOf,
    Interval,
    Options,
    as_float_if_object,
    check_array,
    check_bounds,
    check_min_length,
    check_random_state,
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
from fastml.gp.kernels import (
    RBF,
    ConstantKernel,
    ExpSineSquared,
    Kernel,
    Product,
    _n_threads,
    _Stationary,
)
from fastml.linalg import _cho_solve, _cholesky, _solve_triangular

__all__ = ["SparseGaussianProcessRegressor", "kmeans_plus_plus"]

_LOG_2PI = math.log(2 * math.pi)
_BLOCK = 8192  # data points per block of the gradient contraction (m x block workspace)


def kmeans_plus_plus(X, m, rng):
    """m rows of X chosen by k-means++ seeding (:func:`fastml.cluster.kmeans_plusplus`
    with one candidate per step): each next point is drawn with probability
    proportional to its squared distance to the nearest chosen one."""
    from fastml.cluster import kmeans_plusplus

    return kmeans_plusplus(X, m, random_state=rng, n_local_trials=1)[0]


def _split(kernel):
    """(amplitude ConstantKernel or None, stationary kernel, amplitude comes first)."""
    def supported(k):
        return isinstance(k, _Stationary) and not isinstance(k, ExpSineSquared)

    if supported(kernel):
        return None, kernel, False
    if isinstance(kernel, Product):
        if isinstance(kernel.k1, ConstantKernel) and supported(kernel.k2):
            return kernel.k1, kernel.k2, True
        if isinstance(kernel.k2, ConstantKernel) and supported(kernel.k1):
            return kernel.k2, kernel.k1, False
    raise ValueError("SparseGaussianProcessRegressor needs an RBF, Matern or "
                     "RationalQuadratic kernel, optionally multiplied by a ConstantKernel, "
                     f"got {kernel!r}")


class SparseGaussianProcessRegressor(RegressorMixin, BaseEstimator):
    """Titsias' variational sparse GP with the collapsed bound (SGPR).

    Hyperparameters, the noise variance and (by default) the inducing inputs are
    fitted by maximising the bound F (module docstring) with L-BFGS-B and analytic
    gradients. Cost per evaluation O(n m^2 + n m d), memory O(n m).

    Parameters
    ----------
    kernel : RBF, Matern or RationalQuadratic, optionally times a ConstantKernel.
        Default ``ConstantKernel(1.0) * RBF(1.0)``.
    n_inducing : int, default 256
        Number of inducing inputs chosen by ``inducing="kmeans++"`` (capped at n).
    inducing : "kmeans++" or array of shape (m, n_features)
        Initial inducing inputs.
    noise_level : float, default 1.0
        Initial noise variance s2 (fitted unless ``noise_level_bounds="fixed"``).
    noise_level_bounds : pair of floats or "fixed", default (1e-6, 1e5)
    optimize_inducing : bool, default True
        Also optimise Z (m * d more parameters).
    optimizer : "fmin_l_bfgs_b" or None
    max_iter : int, default 200
        L-BFGS-B iterations.
    jitter : float, default 1e-6
        P = c (K_s(Z, Z) + jitter I) for a kernel c K_s, keeping P well conditioned.
    normalize_y : bool, default False
    random_state : None, int or numpy Generator (k-means++ seeding).

    Attributes
    ----------
    kernel_, noise_level_, inducing_points_ (m, d), lower_bound_ (F at the optimum),
    n_iter_, n_features_in_.
    """

    def __init__(self, kernel=None, *, n_inducing=256, inducing="kmeans++", noise_level=1.0,
                 noise_level_bounds=(1e-6, 1e5), optimize_inducing=True,
                 optimizer="fmin_l_bfgs_b", max_iter=200, jitter=1e-6, normalize_y=False,
                 random_state=None):
        self.kernel = kernel
        self.n_inducing = n_inducing
        self.inducing = inducing
        self.noise_level = noise_level
        self.noise_level_bounds = noise_level_bounds
        self.optimize_inducing = optimize_inducing
        self.optimizer = optimizer
        self.max_iter = max_iter
        self.jitter = jitter
        self.normalize_y = normalize_y
        self.random_state = random_state

    # ---------------------------------------------------------------- the bound
    def _bound(self, kernel, noise, Z, X, y, eval_gradient, keep=False):
        """F and its gradient (kernel theta, log noise, Z); ``keep`` stores the
        factors needed by ``predict``. Returns (-inf, None) when P cannot be factorised."""
        ops = _kernels.load("_gp")
        amp, stat, amp_first = _split(kernel)
        c = float(amp.constant_value) if amp is not None else 1.0
        ls = stat._length_scale(X)
        kind, (p0, p1) = stat._kind(), stat._p()
        ard = bool(stat.anisotropic)
        Zs, Xs = stat._scaled(Z), stat._scaled(X)
        m, n = Z.shape[0], X.shape[0]
        beta = 1.0 / noise
        P = np.empty((m, m))
        ops.kernel_matrix(kind, Zs, Zs, p0, p1, P, True, _n_threads(m * m))
        P.flat[:: m + 1] += self.jitter
        P *= c
        try:
            Luu, _ = _cholesky(P, True, "auto")
        except NotPositiveDefiniteError as exc:
            warnings.warn(f"K(Z, Z) is not positive definite ({exc}); bound is -inf",
                          JitterWarning, stacklevel=3)
            return -np.inf, None
        At = np.empty((n, m))  # A^T: data in rows, so every n-long pass is contiguous
        ops.kernel_matrix(kind, Xs, Zs, p0, p1, At, False, _n_threads(m * n))
        At *= c * math.sqrt(beta)
        ops.solve_right_lower_t(Luu, At)  # A = sqrt(beta) Luu^-1 U
        AAT = np.empty((m, m))
        ops.gram_lower(At, AAT)
        LB, _ = _cholesky(AAT + np.eye(m))
        c0 = _solve_triangular(LB, y @ At)
        yy = float(y @ y)
        cc = float(c0 @ c0)
        trace_aat = float(np.trace(AAT))
        F = (-0.5 * n * _LOG_2PI - float(np.log(np.diagonal(LB)).sum())
             + 0.5 * n * math.log(beta) - 0.5 * beta * yy + 0.5 * beta * cc
             - 0.5 * beta * n * c + 0.5 * trace_aat)
        if keep:
            self._Luu, self._LB = Luu, LB
            self._mean_weights = _solve_triangular(
                Luu, _solve_triangular(LB, math.sqrt(beta) * c0, trans=True), trans=True)
            self._amplitude = c
        if not eval_gradient:
            return F, None

        eye = np.eye(m)
        w = _solve_triangular(LB, c0.copy(), trans=True)
        Binv = _cho_solve(LB, np.eye(m))
        Linv = _solve_triangular(Luu, np.eye(m))
        Atw = At @ w
        r = y - Atw
        M = Linv.T @ (eye - Binv)
        q = Linv.T @ w
        GP = 0.5 * Linv.T @ (eye - Binv - beta * np.outer(w, w) - AAT) @ Linv
        dbeta = ((trace_aat - m + float(np.trace(Binv))) / (2 * beta) + n / (2 * beta)
                 - 0.5 * yy + cc - 0.5 * float(Atw @ Atw) - 0.5 * n * c)

        ng = ops.n_gradients(kind, Z.shape[1], ard) + 1
        th_u = np.zeros(ng)
        dz_u = np.zeros_like(Zs)
        sb = math.sqrt(beta)
        for start in range(0, n, _BLOCK):
            block = slice(start, min(start + _BLOCK, n))
            GUt = At[block] @ M.T  # rows of (dF/dU)^T for this block of data
            GUt *= sb
            GUt += beta * sb * np.outer(r[block], q)
            ops.contract_cross(kind, Zs, Xs[block], GUt, p0, p1, ard, th_u, dz_u,
                               _n_threads(m * GUt.shape[0]))
        th_p = np.zeros(ng)
        dz_p = np.zeros_like(Zs)
        ops.contract_cross(kind, Zs, Zs, np.ascontiguousarray(GP), p0, p1, ard, th_p, dz_p,
                           _n_threads(m * m))
        g_stat = c * (th_u[1:] + th_p[1:])
        g_amp = c * (th_u[0] + th_p[0] + self.jitter * float(np.trace(GP))) - 0.5 * beta * n * c
        parts = [g_stat] if amp is None else (
            [np.array([g_amp]), g_stat] if amp_first else [g_stat, np.array([g_amp])])
        g_theta = np.concatenate(parts)[kernel._free_mask()]
        g_z = c * (dz_u + 2 * dz_p) / ls
        return F, (g_theta, -beta * dbeta, g_z)

    # ---------------------------------------------------------------- fit
    _parameter_constraints = {
        "kernel": [None, InstanceOf(Kernel, "a fastml.gp.kernels.Kernel or None")],
        "n_inducing": [Interval(numbers.Integral, 1)],
        "max_iter": [Interval(numbers.Integral, 1)],
        "noise_level": [Interval(numbers.Real, 0, None, "neither")],
        "noise_level_bounds": [Options("fixed"), ARRAY_LIKE],
        "jitter": [Interval(numbers.Real, 0)],
        "optimizer": [None, Options("fmin_l_bfgs_b")],
        "inducing": [Options("kmeans++"), ARRAY_LIKE],
    }

    def _noise_bounds(self):
        b = self.noise_level_bounds
        if isinstance(b, str) and b == "fixed":
            return None
        b = check_shape(np.asarray(b, dtype=float), "noise_level_bounds", (2,),
                        " ('fixed' or a pair 0 < low <= high)")
        check_bounds(b, "noise_level_bounds", low=0, closed="neither")
        if b[0] > b[1]:
            raise ValueError(f"noise_level_bounds must have low <= high, got "
                             f"{self.noise_level_bounds!r}")
        return np.log(b)

    def fit(self, X, y):
        """Choose the inducing inputs, then maximise the bound. Returns self."""
        check_y_given(y, self)
        X, y = validate_data(self, as_float_if_object(X), as_float_if_object(y), y_numeric=True)
        X = X.astype(np.float64, copy=False)
        y = y.astype(np.float64, copy=False)
        kernel = (ConstantKernel(1.0) * RBF(1.0)) if self.kernel is None else self.kernel
        self.kernel_ = kernel.clone_with_theta(kernel.theta)
        _split(self.kernel_)
        self.kernel_._check_input(X)
        if isinstance(self.inducing, str):
            m = min(self.n_inducing, X.shape[0])
            Z = kmeans_plus_plus(X, m, check_random_state(self.random_state))
        else:
            Z = check_array(self.inducing, "inducing", ndim=2, dtype=np.float64, copy=True)
            check_shape(Z, "inducing", ("m", X.shape[1]), " with m >= 1")
            check_min_length(Z, "inducing", 1, "points")
        self._y_mean, self._y_std = 0.0, 1.0
        if self.normalize_y:
            self._y_mean = float(y.mean())
            self._y_std = float(y.std()) or 1.0
        y = (y - self._y_mean) / self._y_std
        noise_bounds = self._noise_bounds()
        nk = self.kernel_.n_dims
        opt_noise = noise_bounds is not None
        opt_z = bool(self.optimize_inducing)

        def unpack(params):
            kernel = self.kernel_.clone_with_theta(params[:nk])
            noise = math.exp(params[nk]) if opt_noise else float(self.noise_level)
            Zp = params[nk + opt_noise:].reshape(Z.shape) if opt_z else Z
            return kernel, noise, Zp

        def objective(params):
            kernel, noise, Zp = unpack(params)
            F, grads = self._bound(kernel, noise, Zp, X, y, True)
            if grads is None:
                return np.inf, np.zeros_like(params)
            g = [grads[0]] + ([[grads[1]]] if opt_noise else []) + \
                ([grads[2].ravel()] if opt_z else [])
            return -F, -np.concatenate(g)

        params = np.concatenate([self.kernel_.theta,
                                 [math.log(self.noise_level)] if opt_noise else [],
                                 Z.ravel() if opt_z else []])
        self.n_iter_ = 0
        if self.optimizer is not None and params.size:
            from scipy.optimize import minimize

            bounds = [tuple(b) for b in self.kernel_.bounds.reshape(-1, 2)] + \
                ([tuple(noise_bounds)] if opt_noise else []) + \
                ([(None, None)] * Z.size if opt_z else [])
            with _kernels.blas_serial_below(X.shape[0] * Z.shape[0] ** 2):
                res = minimize(objective, params, method="L-BFGS-B", jac=True,
                               bounds=bounds, options={"maxiter": self.max_iter})
            if not res.success:
                warnings.warn(f"L-BFGS-B stopped before convergence ({res.message})",
                              _also_sklearns(ConvergenceWarning), stacklevel=2)
            params, self.n_iter_ = res.x, int(res.nit)
        self.kernel_, self.noise_level_, self.inducing_points_ = unpack(params)
        self.inducing_points_ = np.array(self.inducing_points_)
        F, _ = self._bound(self.kernel_, self.noise_level_, self.inducing_points_, X, y,
                           False, keep=True)
        if not np.isfinite(F):
            raise NotPositiveDefiniteError("K(Z, Z) is not positive definite at the fitted "
                                           "parameters; increase jitter")
        self.lower_bound_ = F
        return self

    def lower_bound(self, X, y, eval_gradient=False):
        """The collapsed bound F for data (X, y) at the fitted parameters.

        With ``eval_gradient`` also returns (dF/dtheta, dF/dlog noise, dF/dZ).
        """
        check_is_fitted(self, "inducing_points_")
        X, y = validate_data(self, X, y, reset=False, y_numeric=True)
        y = (y.astype(np.float64) - self._y_mean) / self._y_std
        F, grads = self._bound(self.kernel_, self.noise_level_, self.inducing_points_,
                               X.astype(np.float64, copy=False), y, eval_gradient)
        return (F, grads) if eval_gradient else F

    # ---------------------------------------------------------------- predict
    def predict(self, X, return_std=False):
        """Posterior mean of the latent f at X (and its standard deviation).

        mean = K(X, Z) Luu^-T LB^-T c with c = sqrt(beta) c0;
        var = k(x, x) - ||Luu^-1 k(Z, x)||^2 + ||LB^-1 Luu^-1 k(Z, x)||^2.
        Result dtype: that of X.
        """
        check_is_fitted(self, "inducing_points_")
        X = validate_data(self, as_float_if_object(X), reset=False, ensure_min_samples=0)
        out_dtype = X.dtype
        X = X.astype(np.float64, copy=False)
        Ksu = self.kernel_._matrix(X, self.inducing_points_)
        mean = Ksu @ self._mean_weights * self._y_std + self._y_mean
        if not return_std:
            return mean.astype(out_dtype)
        t1 = _solve_triangular(self._Luu, np.ascontiguousarray(Ksu.T))
        t2 = _solve_triangular(self._LB, t1.copy())
        var = self.kernel_.diag(X) - np.einsum("ij,ij->j", t1, t1) + np.einsum("ij,ij->j", t2, t2)
        std = np.sqrt(np.maximum(var, 0)) * self._y_std
        return mean.astype(out_dtype), std.astype(out_dtype)
