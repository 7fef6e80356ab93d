"""Gaussian mixture models fitted by expectation–maximisation (scikit-learn's API).

The density is p(x) = sum_k w_k N(x | mu_k, Sigma_k). EM alternates

* E-step: responsibilities r_ik = w_k N(x_i | mu_k, Sigma_k) / p(x_i), computed in log
  space with log-sum-exp (compiled kernel, chunks of samples in parallel);
* M-step: N_k = sum_i r_ik, w_k = N_k / n, mu_k = sum_i r_ik x_i / N_k,
  Sigma_k = sum_i r_ik (x_i - mu_k)(x_i - mu_k)^T / N_k + reg_covar I
  (diagonal, tied = shared, or spherical = one variance per component variants);

and the mean log-likelihood (1/n) sum_i log p(x_i), ``lower_bound_``, never decreases.
Densities use the Cholesky factor P_k of the precision, Sigma_k^-1 = P_k P_k^T:
log N(x | mu, Sigma) = -d/2 log 2 pi + log det P_k - ||P_k^T (x - mu)||^2 / 2.
"""

import numbers
import warnings

import numpy as np

from fastml import _kernels
from fastml._errors import ConvergenceWarning, NotPositiveDefiniteError
from fastml._validation import (
    RANDOM_STATE,
    Interval,
    Options,
    check_array,
    check_positive_int,
    check_random_state,
)
from fastml.base import BaseEstimator, DensityMixin, check_is_fitted, validate_data
from fastml.linalg import _cholesky, _solve_triangular

__all__ = ["GaussianMixture"]

_COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
_ILL_DEFINED = ("Fitting the mixture model failed because some components have "
                "ill-defined empirical covariance (for instance caused by singleton or "
                "collapsed samples). Try to decrease the number of components, increase "
                "reg_covar, or scale the input data.")


def _chol_precision(covariances, covariance_type):
    """Cholesky factor P of each precision, Sigma^-1 = P P^T (P = L^-T for Sigma = L L^T)."""
    if covariance_type in ("full", "tied"):
        covs = covariances if covariance_type == "full" else covariances[None]
        eye = np.eye(covs.shape[-1], dtype=covs.dtype)
        out = np.empty_like(covs)
        for k, cov in enumerate(covs):
            try:
                L, _ = _cholesky(np.array(cov, order="C"))
            except NotPositiveDefiniteError:
                raise ValueError(_ILL_DEFINED) from None
            out[k] = _solve_triangular(L, eye.copy()).T
        return out if covariance_type == "full" else out[0]
    if np.any(covariances <= 0):
        raise ValueError(_ILL_DEFINED)
    return 1.0 / np.sqrt(covariances)


def _chol_from_precisions(precisions, covariance_type):
    if covariance_type == "full":
        return np.stack([_cholesky(np.array(p, order="C"))[0] for p in precisions])
    if covariance_type == "tied":
        return _cholesky(np.array(precisions, order="C"))[0]
    return np.sqrt(precisions)


def _precisions(prec_chol, covariance_type):
    if covariance_type == "full":
        return np.einsum("kij,klj->kil", prec_chol, prec_chol)
    if covariance_type == "tied":
        return prec_chol @ prec_chol.T
    return prec_chol ** 2


def _log_det_chol(prec_chol, covariance_type, n_features):
    """log det P per component (a scalar for tied)."""
    if covariance_type == "full":
        return np.log(np.diagonal(prec_chol, axis1=1, axis2=2)).sum(axis=1)
    if covariance_type == "tied":
        return np.log(np.diagonal(prec_chol)).sum()
    if covariance_type == "diag":
        return np.log(prec_chol).sum(axis=1)
    return n_features * np.log(prec_chol)


def _estimate_parameters(X, resp, reg_covar, covariance_type, n_threads):
    """M-step: (N_k, means, covariances) from responsibilities."""
    nk = resp.sum(axis=0) + 10 * np.finfo(resp.dtype).eps
    means = (resp.T @ X) / nk[:, None]
    if covariance_type == "full":
        covs = np.empty((len(nk), X.shape[1], X.shape[1]), dtype=X.dtype)
        _kernels.load("_gmm").weighted_scatter(X, resp, means, covs, n_threads)
        covs /= nk[:, None, None]
        covs[:, np.arange(X.shape[1]), np.arange(X.shape[1])] += reg_covar
    elif covariance_type == "tied":
        covs = X.T @ X - (nk * means.T) @ means
        covs /= nk.sum()
        covs.flat[:: X.shape[1] + 1] += reg_covar
    else:
        covs = (resp.T @ (X * X)) / nk[:, None] - means ** 2 + reg_covar
        if covariance_type == "spherical":
            covs = covs.mean(axis=1)
    return nk, means, covs


class GaussianMixture(DensityMixin, BaseEstimator):
    """Gaussian mixture fitted by EM, with scikit-learn's parameters and attributes.

    Parameters
    ----------
    n_components : int, default 1
    covariance_type : "full", "tied", "diag" or "spherical"
    tol : float, default 1e-3
        Stop when the mean log-likelihood changes by less than ``tol``.
    reg_covar : float, default 1e-6
        Added to the diagonal of every covariance.
    max_iter : int, default 100
    n_init : int, default 1
        Initialisations; the one with the highest final lower bound is kept.
    init_params : "kmeans", "k-means++", "random" or "random_from_data"
        How the initial responsibilities are chosen (k-means labels, k-means++ seeds,
        random soft assignments, random samples).
    weights_init, means_init, precisions_init : arrays, optional
        Override the initial parameters derived from the responsibilities.
    random_state : None, int or numpy Generator
    warm_start : bool
        Start a new ``fit`` from the previous solution (one initialisation).
    verbose, verbose_interval : int
        Accepted for scikit-learn compatibility; fastml prints nothing.

    Attributes
    ----------
    weights_, means_, covariances_, precisions_, precisions_cholesky_, converged_,
    n_iter_, lower_bound_, lower_bounds_, n_features_in_
    """

    _parameter_constraints = {
        "n_components": [Interval(numbers.Integral, 1)],
        "covariance_type": [Options(*_COVARIANCE_TYPES)],
        "tol": [Interval(numbers.Real, 0)],
        "reg_covar": [Interval(numbers.Real, 0)],
        "max_iter": [Interval(numbers.Integral, 0)],
        "n_init": [Interval(numbers.Integral, 1)],
        "init_params": [Options("kmeans", "k-means++", "random", "random_from_data")],
        "random_state": [RANDOM_STATE],
    }

    def __init__(self, n_components=1, *, covariance_type="full", tol=1e-3, reg_covar=1e-6,
                 max_iter=100, n_init=1, init_params="kmeans", weights_init=None,
                 means_init=None, precisions_init=None, random_state=None, warm_start=False,
                 verbose=0, verbose_interval=10):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval

    # ------------------------------------------------------------------ checks
    def _check_parameters(self, X):
        """The initial values, whose shapes depend on the data (the table checked the rest)."""
        K = int(self.n_components)
        if X.shape[0] < K:
            raise ValueError("Expected n_samples >= n_components but got n_components = "
                             f"{K}, n_samples = {X.shape[0]}")
        d = X.shape[1]
        if self.weights_init is not None:
            w = check_array(self.weights_init, "weights_init", ndim=1, dtype=X.dtype)
            if w.shape != (K,):
                raise ValueError(f"weights_init should have shape ({K},), got {w.shape}")
            if np.any(w < 0) or np.any(w > 1) or not np.isclose(w.sum(), 1.0):
                raise ValueError("weights_init must be in [0, 1] and sum to 1, got "
                                 f"sum {w.sum():.5f}")
            self._weights_init = w
        if self.means_init is not None:
            m = check_array(self.means_init, "means_init", ndim=2, dtype=X.dtype)
            if m.shape != (K, d):
                raise ValueError(f"means_init should have shape ({K}, {d}), got {m.shape}")
            self._means_init = m
        if self.precisions_init is not None:
            shapes = {"full": (K, d, d), "tied": (d, d), "diag": (K, d), "spherical": (K,)}
            want = shapes[self.covariance_type]
            p = check_array(self.precisions_init, "precisions_init", ndim=len(want),
                            dtype=X.dtype)
            if p.shape != want:
                raise ValueError(f"precisions_init should have shape {want} for "
                                 f"covariance_type={self.covariance_type!r}, got {p.shape}")
            if self.covariance_type in ("diag", "spherical") and np.any(p <= 0):
                raise ValueError("precisions_init must be positive")
            try:
                self._prec_chol_init = _chol_from_precisions(p, self.covariance_type)
            except NotPositiveDefiniteError:
                raise ValueError("precisions_init must be symmetric positive definite") \
                    from None

    # ------------------------------------------------------------------ EM pieces
    def _initial_resp(self, X, rng):
        n, K = X.shape[0], self.n_components
        if self.init_params == "random":
            resp = rng.uniform(size=(n, K)).astype(X.dtype)
            return resp / resp.sum(axis=1, keepdims=True)
        resp = np.zeros((n, K), dtype=X.dtype)
        if self.init_params == "kmeans":
            from fastml.cluster import KMeans

            labels = KMeans(K, n_init=1, random_state=rng).fit(X).labels_
            resp[np.arange(n), labels] = 1
        else:
            if self.init_params == "random_from_data":
                idx = rng.choice(n, size=K, replace=False)
            else:
                from fastml.cluster import kmeans_plusplus

                idx = kmeans_plusplus(X, K, random_state=rng)[1]
            resp[idx, np.arange(K)] = 1
        return resp

    def _initialize(self, X, rng, n_threads):
        given = (self.weights_init is not None, self.means_init is not None,
                 self.precisions_init is not None)
        if all(given):
            nk, means, covs = None, None, None
        else:
            nk, means, covs = _estimate_parameters(X, self._initial_resp(X, rng),
                                                   self.reg_covar, self.covariance_type,
                                                   n_threads)
        self.weights_ = self._weights_init.copy() if given[0] else nk / X.shape[0]
        self.means_ = self._means_init.copy() if given[1] else means
        if given[2]:
            self.precisions_cholesky_ = self._prec_chol_init.copy()
        else:
            self.covariances_ = covs
            self.precisions_cholesky_ = _chol_precision(covs, self.covariance_type)

    def _m_step(self, X, resp, n_threads):
        nk, self.means_, self.covariances_ = _estimate_parameters(
            X, resp, self.reg_covar, self.covariance_type, n_threads)
        self.weights_ = nk / nk.sum()
        self.precisions_cholesky_ = _chol_precision(self.covariances_, self.covariance_type)

    def _e_step(self, X, exp_out, n_threads):
        """(mean log-likelihood, per-sample log p(x_i), responsibilities or their logs).

        The kernel calls BLAS inside its parallel loop: callers pin BLAS to one thread.
        """
        ct, P, mu = self.covariance_type, self.precisions_cholesky_, self.means_
        d = X.shape[1]
        dtype = X.dtype
        offset = (np.log(self.weights_) + _log_det_chol(P, ct, d)
                  - 0.5 * d * np.log(2 * np.pi)).astype(dtype)
        full = ct in ("full", "tied")
        dummy3 = np.empty((1, 1, 1), dtype=dtype)
        dummy2 = np.empty((1, 1), dtype=dtype)
        if ct == "full":
            chol = np.ascontiguousarray(P, dtype=dtype)
            shifted = np.ascontiguousarray(np.einsum("kd,kdf->kf", mu, P), dtype=dtype)
            diag = dummy2
        elif ct == "tied":
            chol = np.ascontiguousarray(P[None], dtype=dtype)
            shifted = np.ascontiguousarray(mu @ P, dtype=dtype)
            diag = dummy2
        else:
            chol, shifted = dummy3, dummy2
            diag = P if ct == "diag" else np.repeat(P[:, None], d, axis=1)
            diag = np.ascontiguousarray(diag, dtype=dtype)
        out = np.empty((X.shape[0], mu.shape[0]), dtype=dtype)
        log_norm = np.empty(X.shape[0], dtype=dtype)
        total = _kernels.load("_gmm").estep(X, np.ascontiguousarray(mu, dtype=dtype), chol, shifted,
                                            diag, offset, full, out, log_norm, exp_out, n_threads)
        return total / max(X.shape[0], 1), log_norm, out

    # ------------------------------------------------------------------ API
    def fit(self, X, y=None):
        """Estimate the parameters by EM (``n_init`` restarts, keep the best bound)."""
        self.fit_predict(X, y)
        return self

    def fit_predict(self, X, y=None):
        """Fit, then label each sample with its most responsible component."""
        with _kernels.blas_single_threaded():  # for the compiled E- and M-step loops
            return self._fit_predict(X)

    def _fit_predict(self, X):
        X = validate_data(self, X, ensure_min_samples=2)
        self._check_parameters(X)
        n_threads = _kernels.threads_for(X.shape[0], 512)
        do_init = not (self.warm_start and hasattr(self, "converged_"))
        n_init = self.n_init if do_init else 1
        rng = check_random_state(self.random_state)
        best, best_bound, best_bounds, best_iter = None, -np.inf, [], 0
        self.converged_ = False
        for _ in range(n_init):
            if do_init:
                self._initialize(X, rng, n_threads)
            bound = -np.inf if do_init else self.lower_bound_
            bounds, converged, n_iter = [], False, 0
            for n_iter in range(1, self.max_iter + 1):  # noqa: B007 (read after the loop)
                previous = bound
                bound, _, resp = self._e_step(X, True, n_threads)
                self._m_step(X, resp, n_threads)
                bounds.append(bound)
                if abs(bound - previous) < self.tol:
                    converged = True
                    break
            if best is None or bound > best_bound:
                best_bound, best_bounds, best_iter = bound, bounds, n_iter
                best = (self.weights_, self.means_, getattr(self, "covariances_", None),
                        self.precisions_cholesky_)
                self.converged_ = converged
        if not self.converged_ and self.max_iter > 0:
            warnings.warn("Best performing initialization did not converge. Try different "
                          "init parameters, or increase max_iter, tol, or check for "
                          "degenerate data.", ConvergenceWarning, stacklevel=2)
        self.weights_, self.means_, covs, self.precisions_cholesky_ = best
        if covs is not None:
            self.covariances_ = covs
        self.precisions_ = _precisions(self.precisions_cholesky_, self.covariance_type)
        if covs is None:
            self.covariances_ = (np.linalg.inv(self.precisions_)
                                 if self.covariance_type in ("full", "tied")
                                 else 1.0 / self.precisions_)
        self.n_iter_ = best_iter
        self.lower_bound_ = float(best_bound)
        self.lower_bounds_ = [float(b) for b in best_bounds]
        return self._e_step(X, False, n_threads)[2].argmax(axis=1)

    def _check_X(self, X):
        check_is_fitted(self, "precisions_cholesky_")
        return validate_data(self, X, reset=False, dtype=self.means_.dtype)

    def score_samples(self, X):
        """log p(x_i) for every sample."""
        X = self._check_X(X)
        with _kernels.blas_single_threaded():
            return self._e_step(X, False, _kernels.threads_for(X.shape[0], 512))[1]

    def predict_proba(self, X):
        """Responsibilities r_ik = p(z = k | x_i), shape (n_samples, n_components)."""
        X = self._check_X(X)
        with _kernels.blas_single_threaded():
            return self._e_step(X, True, _kernels.threads_for(X.shape[0], 512))[2]

    def predict(self, X):
        """Most responsible component for each sample."""
        return self.predict_proba(X).argmax(axis=1)

    def _n_parameters(self):
        K, d = self.means_.shape
        cov = {"full": K * d * (d + 1) / 2, "diag": K * d, "tied": d * (d + 1) / 2,
               "spherical": K}[self.covariance_type]
        return int(cov + K * d + K - 1)

    def bic(self, X):
        """Bayesian information criterion: -2 log L + p log n (lower is better)."""
        X = self._check_X(X)
        return float(-2 * self.score(X) * X.shape[0] + self._n_parameters() * np.log(X.shape[0]))

    def aic(self, X):
        """Akaike information criterion: -2 log L + 2 p (lower is better)."""
        X = self._check_X(X)
        return float(-2 * self.score(X) * X.shape[0] + 2 * self._n_parameters())

    def sample(self, n_samples=1):
        """Draw ``n_samples`` points; returns (X, component labels), grouped by component."""
        check_is_fitted(self, "precisions_cholesky_")
        n_samples = check_positive_int(n_samples, "n_samples")
        rng = check_random_state(self.random_state)
        counts = rng.multinomial(n_samples, self.weights_.astype(np.float64))
        d = self.means_.shape[1]
        parts = []
        for k, (mean, count) in enumerate(zip(self.means_, counts)):
            if self.covariance_type in ("full", "tied"):
                cov = self.covariances_[k] if self.covariance_type == "full" \
                    else self.covariances_
                parts.append(rng.multivariate_normal(mean, cov, int(count)))
            else:
                var = self.covariances_[k]
                parts.append(mean + rng.standard_normal((count, d)) * np.sqrt(var))
        X = np.vstack(parts).astype(self.means_.dtype)
        y = np.concatenate([np.full(c, k, dtype=int) for k, c in enumerate(counts)])
        return X, y
