"""Gaussian mixture models (scikit-learn's API): ``GaussianMixture`` fitted by
expectation–maximisation and ``BayesianGaussianMixture`` fitted by mean-field variational
inference (CAVI), which share the fit loop and the compiled E-step.

The density is p(x) = sum_k w_k N(x | mu_k, Sigma_k). EM alternates

* E-step: responsibilities r_ik = w_k N(x_i | mu_k, Sigma_k) / p(x_i), computed in log
  space with log-sum-exp (compiled kernel, chunks of samples in parallel);
* M-step: N_k = sum_i r_ik, w_k = N_k / n, mu_k = sum_i r_ik x_i / N_k,
  Sigma_k = sum_i r_ik (x_i - mu_k)(x_i - mu_k)^T / N_k + reg_covar I
  (diagonal, tied = shared, or spherical = one variance per component variants);

and the mean log-likelihood (1/n) sum_i log p(x_i), ``lower_bound_``, never decreases.
Densities use the Cholesky factor P_k of the precision, Sigma_k^-1 = P_k P_k^T:
log N(x | mu, Sigma) = -d/2 log 2 pi + log det P_k - ||P_k^T (x - mu)||^2 / 2.
The variational E-step has the same form with expected log weights and an expected log
precision in place of log w_k and log det P_k (see ``BayesianGaussianMixture``).
"""

import numbers
import warnings

import numpy as np

from fastml import _kernels
from fastml._errors import ConvergenceWarning, NotPositiveDefiniteError
from fastml._validation import (
    ARRAY_LIKE,
    RANDOM_STATE,
    Interval,
    Options,
    check_array,
    check_bounds,
    check_positive_int,
    check_random_state,
    check_shape,
)
from fastml.base import BaseEstimator, DensityMixin, check_is_fitted, validate_data
from fastml.linalg import _cholesky, _solve_triangular

__all__ = ["BayesianGaussianMixture", "GaussianMixture"]

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


def _log_wishart_norm(dof, log_det_chol, n_features):
    """-log B(W, nu) of the Wishart normaliser without its log pi term (as scikit-learn):
    nu log det P + nu d/2 log 2 + sum_j log Gamma((nu - j) / 2), negated; P is the
    Cholesky factor of the normalised precision W nu."""
    from scipy.special import gammaln

    return -(dof * log_det_chol + dof * n_features * 0.5 * np.log(2.0)
             + np.sum(gammaln(0.5 * (dof - np.arange(n_features)[:, None])), axis=0))


_MIXTURE_CONSTRAINTS = {
    "n_components": [Interval(numbers.Integral, 1)],
    "covariance_type": [Options(*_COVARIANCE_TYPES)],
    "tol": [Interval(numbers.Real, 0)],
    "reg_covar": [Interval(numbers.Real, 0)],
    "max_iter": [Interval(numbers.Integral, 0)],
    "n_init": [Interval(numbers.Integral, 1)],
    "init_params": [Options("kmeans", "k-means++", "random", "random_from_data")],
    "random_state": [RANDOM_STATE],
}


class _BaseMixture(DensityMixin, BaseEstimator):
    """The fit loop, initial responsibilities, E-step and prediction shared by both mixtures.

    A subclass provides ``_check_parameters(X)`` (data-dependent checks),
    ``_initialize(X, rng, n_threads)``, ``_iteration(X, n_threads)`` (one E- and M-step,
    returns the bound it monitors), ``_log_weight_terms(n_features)`` (the per-component
    terms of the E-step's log p(x, z = k) besides log det P_k - d/2 log 2 pi and the
    quadratic form), and ``_get_parameters`` / ``_set_parameters``.
    """

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

    def _e_step(self, X, exp_out, n_threads):
        """(mean of log_norm, per-sample log_norm_i = log sum_k exp(log p(x_i, k)),
        responsibilities or their logs, sum_ik r_ik log r_ik (when ``exp_out``)).

        The kernel calls BLAS inside its parallel loop: callers pin BLAS to one thread.
        """
        ct, P, mu = self.covariance_type, self.precisions_cholesky_, self.means_
        d = X.shape[1]
        dtype = X.dtype
        offset = (self._log_weight_terms(d) + _log_det_chol(P, ct, d)
                  - 0.5 * d * np.log(2 * np.pi)).astype(dtype)
        full = ct in ("full", "tied")
        # P = L^-T is upper triangular; the Cholesky factor of a given precision is lower
        upper = full and not np.any(np.tril(P, -1))
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
        total, neg_entropy = _kernels.load("_gmm").estep(
            X, np.ascontiguousarray(mu, dtype=dtype), chol, shifted, diag, offset, full, upper,
            out, log_norm, exp_out, n_threads)
        return total / max(X.shape[0], 1), log_norm, out, neg_entropy

    def fit(self, X, y=None):
        """Estimate the parameters (``n_init`` restarts, keep the best bound)."""
        self.fit_predict(X, y)
        return self

    def fit_predict(self, X, y=None):
        """Fit, then label each sample with its most responsible component."""
        with _kernels.blas_single_threaded():  # for the compiled E- and M-step loops
            return self._fit_predict(X)

    def _fit_predict(self, X):
        X = validate_data(self, X, ensure_min_samples=2)
        K = int(self.n_components)
        if X.shape[0] < K:
            raise ValueError("Expected n_samples >= n_components but got n_components = "
                             f"{K}, n_samples = {X.shape[0]}")
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
                bound = self._iteration(X, n_threads)
                bounds.append(bound)
                if abs(bound - previous) < self.tol:
                    converged = True
                    break
            if best is None or bound > best_bound:
                best_bound, best_bounds, best_iter = bound, bounds, n_iter
                best = self._get_parameters()
                self.converged_ = converged
        if not self.converged_ and self.max_iter > 0:
            warnings.warn("Best performing initialization did not converge. Try different "
                          "init parameters, or increase max_iter, tol, or check for "
                          "degenerate data.", ConvergenceWarning, stacklevel=2)
        self._set_parameters(best)
        self.n_iter_ = best_iter
        self.lower_bound_ = float(best_bound)
        self.lower_bounds_ = [float(b) for b in best_bounds]
        return self._e_step(X, False, n_threads)[2].argmax(axis=1)

    def _check_X(self, X):
        check_is_fitted(self, "precisions_cholesky_")
        return validate_data(self, X, reset=False, dtype=self.means_.dtype)

    def score_samples(self, X):
        """log p(x_i) for every sample: log sum_k exp(log p(x_i, z = k)), the E-step's
        normaliser (for the Bayesian mixture, with its expected log weights and precisions,
        as scikit-learn)."""
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


class GaussianMixture(_BaseMixture):
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

    _parameter_constraints = _MIXTURE_CONSTRAINTS

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
        d = X.shape[1]
        if self.weights_init is not None:
            w = check_array(self.weights_init, "weights_init", ndim=1, dtype=X.dtype)
            check_shape(w, "weights_init", (K,), verb="should")
            if np.any(w < 0) or np.any(w > 1) or not np.isclose(w.sum(), 1.0):
                raise ValueError("weights_init must be in [0, 1] and sum to 1, got "
                                 f"sum {w.sum():.5f}")
            self._weights_init = w
        if self.means_init is not None:
            m = check_array(self.means_init, "means_init", ndim=2, dtype=X.dtype)
            check_shape(m, "means_init", (K, d), verb="should")
            self._means_init = m
        if self.precisions_init is not None:
            shapes = {"full": (K, d, d), "tied": (d, d), "diag": (K, d), "spherical": (K,)}
            want = shapes[self.covariance_type]
            p = check_array(self.precisions_init, "precisions_init", ndim=len(want),
                            dtype=X.dtype)
            check_shape(p, "precisions_init", want,
                        f" for covariance_type={self.covariance_type!r}", verb="should")
            if self.covariance_type in ("diag", "spherical"):
                check_bounds(p, "precisions_init", low=0, closed="neither")
            try:
                self._prec_chol_init = _chol_from_precisions(p, self.covariance_type)
            except NotPositiveDefiniteError:
                raise ValueError("precisions_init must be symmetric positive definite") \
                    from None

    # ------------------------------------------------------------------ EM pieces
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

    def _log_weight_terms(self, n_features):
        return np.log(self.weights_)

    def _iteration(self, X, n_threads):
        """E-step (its mean log-likelihood is the bound), then M-step."""
        bound, _, resp, _ = self._e_step(X, True, n_threads)
        self._m_step(X, resp, n_threads)
        return bound

    def _get_parameters(self):
        return (self.weights_, self.means_, getattr(self, "covariances_", None),
                self.precisions_cholesky_)

    def _set_parameters(self, params):
        self.weights_, self.means_, covs, self.precisions_cholesky_ = params
        if covs is not None:
            self.covariances_ = covs
        self.precisions_ = _precisions(self.precisions_cholesky_, self.covariance_type)
        if covs is None:
            self.covariances_ = (np.linalg.inv(self.precisions_)
                                 if self.covariance_type in ("full", "tied")
                                 else 1.0 / self.precisions_)

    # ------------------------------------------------------------------ API
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


_POSITIVE_FINITE = Interval(numbers.Real, 0, np.inf, closed="neither")


class BayesianGaussianMixture(_BaseMixture):
    r"""Variational Bayesian Gaussian mixture (mean-field CAVI), scikit-learn's API and
    semantics (Bishop, PRML 10.2; Blei & Jordan 2006 for the Dirichlet process).

    Model: pi ~ Dir(alpha_0) (``"dirichlet_distribution"``) or stick-breaking
    v_k ~ Beta(1, alpha_0), pi_k = v_k prod_{j<k} (1 - v_j) truncated at K
    (``"dirichlet_process"``); Lambda_k ~ Wishart(W_0, nu_0) with W_0^-1 the
    ``covariance_prior``; mu_k | Lambda_k ~ N(m_0, (beta_0 Lambda_k)^-1); z_i | pi ~ Cat(pi);
    x_i | z_i = k ~ N(mu_k, Lambda_k^-1). The posterior is approximated by
    q(z) q(pi) prod_k q(mu_k, Lambda_k), and coordinate ascent alternates

    * E-step: log r_ik = E[log pi_k] + E[log det Lambda_k] / 2 - d / (2 beta_k)
      - nu_k (x_i - m_k)^T W_k (x_i - m_k) / 2 + const, normalised over k (the compiled
      GaussianMixture E-step with these offsets and precision nu_k W_k), with
      E[log det Lambda_k] = sum_j psi((nu_k - j) / 2) + d log 2 + log det W_k and
      E[log pi_k] = psi(alpha_k) - psi(sum_j alpha_j) (Dirichlet) or
      psi(a_k) - psi(a_k + b_k) + sum_{j<k} [psi(b_j) - psi(a_j + b_j)] (stick-breaking);
    * M-step, from N_k = sum_i r_ik, xbar_k and S_k (the GaussianMixture M-step, with
      ``reg_covar`` on S_k): alpha_k = alpha_0 + N_k (Dirichlet) or a_k = 1 + N_k,
      b_k = alpha_0 + sum_{j>k} N_j; beta_k = beta_0 + N_k;
      m_k = (beta_0 m_0 + N_k xbar_k) / beta_k; nu_k = nu_0 + N_k;
      W_k^-1 = W_0^-1 + N_k S_k + beta_0 N_k / beta_k (xbar_k - m_0)(xbar_k - m_0)^T
      (``tied``: one W with N = sum_k N_k / K; ``diag``/``spherical``: the diagonal / mean
      variance analogues). ``covariances_`` = W_k^-1 / nu_k, so ``precisions_`` = nu_k W_k.

    ``lower_bound_`` is the ELBO up to terms constant in q, as scikit-learn computes it:
    -sum_ik r_ik log r_ik - sum_k log B(W_k, nu_k) - log C(alpha) - d/2 sum_k log beta_k
    (B the Wishart normaliser without its log pi term, C the Dirichlet or product of
    Beta normalisers); it never decreases, and ``tol`` bounds its change.

    Parameters
    ----------
    n_components : int, default 1
        Truncation level K (components with tiny ``weights_`` are unused).
    covariance_type : "full", "tied", "diag" or "spherical"
    tol, reg_covar, max_iter, n_init, init_params, random_state, warm_start :
        as in :class:`GaussianMixture` (initial responsibilities from k-means,
        k-means++, random soft assignments or random samples, then one M-step).
    weight_concentration_prior_type : "dirichlet_process" or "dirichlet_distribution"
    weight_concentration_prior : float > 0, default 1 / n_components (alpha_0)
    mean_precision_prior : float > 0, default 1 (beta_0)
    mean_prior : array (n_features,), default the mean of X (m_0)
    degrees_of_freedom_prior : float > n_features - 1, default n_features (nu_0)
    covariance_prior : default the sample covariance of X (W_0^-1): (d, d) for full
        and tied, (d,) for diag, a float for spherical.
    verbose, verbose_interval : int
        Accepted for scikit-learn compatibility; fastml prints nothing.

    Attributes
    ----------
    weights_ (E[pi]), means_ (m_k), covariances_, precisions_, precisions_cholesky_,
    weight_concentration_ ((a, b) for the Dirichlet process, alpha otherwise),
    mean_precision_ (beta_k), degrees_of_freedom_ (nu_k), the resolved priors
    weight_concentration_prior_, mean_precision_prior_, mean_prior_,
    degrees_of_freedom_prior_, covariance_prior_, converged_, n_iter_, lower_bound_,
    lower_bounds_, n_features_in_
    """

    _parameter_constraints = {
        **_MIXTURE_CONSTRAINTS,
        "weight_concentration_prior_type": [Options("dirichlet_process",
                                                    "dirichlet_distribution")],
        "weight_concentration_prior": [None, _POSITIVE_FINITE],
        "mean_precision_prior": [None, _POSITIVE_FINITE],
        "mean_prior": [None, ARRAY_LIKE],
        "degrees_of_freedom_prior": [None, _POSITIVE_FINITE],
        "covariance_prior": [None, ARRAY_LIKE, _POSITIVE_FINITE],
    }

    def __init__(self, *, n_components=1, covariance_type="full", tol=1e-3, reg_covar=1e-6,
                 max_iter=100, n_init=1, init_params="kmeans",
                 weight_concentration_prior_type="dirichlet_process",
                 weight_concentration_prior=None, mean_precision_prior=None, mean_prior=None,
                 degrees_of_freedom_prior=None, covariance_prior=None, random_state=None,
                 warm_start=False, verbose=0, verbose_interval=10):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weight_concentration_prior_type = weight_concentration_prior_type
        self.weight_concentration_prior = weight_concentration_prior
        self.mean_precision_prior = mean_precision_prior
        self.mean_prior = mean_prior
        self.degrees_of_freedom_prior = degrees_of_freedom_prior
        self.covariance_prior = covariance_prior
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval

    # ------------------------------------------------------------------ checks
    def _check_parameters(self, X):
        """Resolve the priors (defaults from the data) and check their shapes."""
        d, dtype, ct = X.shape[1], X.dtype, self.covariance_type
        self.weight_concentration_prior_ = (1.0 / self.n_components
                                            if self.weight_concentration_prior is None
                                            else self.weight_concentration_prior)
        self.mean_precision_prior_ = (1.0 if self.mean_precision_prior is None
                                      else self.mean_precision_prior)
        if self.mean_prior is None:
            self.mean_prior_ = X.mean(axis=0)
        else:
            self.mean_prior_ = check_array(self.mean_prior, "mean_prior", ndim=1, dtype=dtype)
            check_shape(self.mean_prior_, "mean_prior", (d,), verb="should")
        if self.degrees_of_freedom_prior is None:
            self.degrees_of_freedom_prior_ = d
        elif self.degrees_of_freedom_prior > d - 1.0:
            self.degrees_of_freedom_prior_ = self.degrees_of_freedom_prior
        else:
            raise ValueError(f"degrees_of_freedom_prior should be greater than {d - 1}, "
                             f"but got {self.degrees_of_freedom_prior:.3f}")
        prior = self.covariance_prior
        if prior is None:  # the sample covariance (its diagonal, their mean)
            if ct in ("full", "tied"):
                prior = np.atleast_2d(np.cov(X.T))
            else:
                prior = np.var(X, axis=0, ddof=1, dtype=np.float64)
                prior = prior if ct == "diag" else prior.mean()
            self.covariance_prior_ = np.asarray(prior, dtype=dtype)
        elif ct == "spherical":
            if not (isinstance(prior, numbers.Real) and 0 < prior < np.inf):
                raise ValueError("covariance_prior must be a positive float for "
                                 f"covariance_type='spherical', got {prior!r}")
            self.covariance_prior_ = prior
        else:
            want = (d, d) if ct in ("full", "tied") else (d,)
            prior = check_array(prior, "covariance_prior", ndim=len(want), dtype=dtype)
            check_shape(prior, "covariance_prior", want, f" for covariance_type={ct!r}",
                        verb="should")
            if ct == "diag":
                check_bounds(prior, "covariance_prior", low=0, closed="neither")
            if ct != "diag" and not (np.allclose(prior, prior.T)
                                     and np.all(np.linalg.eigvalsh(prior) > 0)):
                raise ValueError(f"covariance_prior must be symmetric, positive-definite "
                                 f"for covariance_type={ct!r}")
            self.covariance_prior_ = prior

    # ------------------------------------------------------------------ CAVI pieces
    def _initialize(self, X, rng, n_threads):
        self._m_step(X, self._initial_resp(X, rng), n_threads)

    def _m_step(self, X, resp, n_threads):
        """q(pi), q(mu_k, Lambda_k) from the responsibilities (class docstring)."""
        ct = self.covariance_type
        nk, xk, sk = _estimate_parameters(X, resp, self.reg_covar, ct, n_threads)
        K = len(nk)
        alpha0, beta0 = self.weight_concentration_prior_, self.mean_precision_prior_
        nu0, m0, prior = self.degrees_of_freedom_prior_, self.mean_prior_, self.covariance_prior_
        if self.weight_concentration_prior_type == "dirichlet_process":
            self.weight_concentration_ = (1.0 + nk,
                                          alpha0 + np.hstack((np.cumsum(nk[::-1])[-2::-1], 0)))
        else:
            self.weight_concentration_ = alpha0 + nk
        beta = self.mean_precision_ = beta0 + nk
        self.means_ = (beta0 * m0 + nk[:, None] * xk) / beta[:, None]
        diff = xk - m0
        if ct == "tied":
            dof = nu0 + nk.sum() / K
            covs = (prior + sk * nk.sum() / K
                    + beta0 / K * np.dot((nk / beta) * diff.T, diff)) / dof
        elif ct == "full":
            dof = nu0 + nk
            covs = (prior + nk[:, None, None] * sk
                    + (nk * beta0 / beta)[:, None, None] * (diff[:, :, None] * diff[:, None, :]))
            covs /= dof[:, None, None]
        elif ct == "diag":
            dof = nu0 + nk
            covs = (prior + nk[:, None] * (sk + (beta0 / beta)[:, None] * diff ** 2)) \
                / dof[:, None]
        else:
            dof = nu0 + nk
            covs = (prior + nk * (sk + beta0 / beta * np.mean(diff ** 2, axis=1))) / dof
        self.degrees_of_freedom_, self.covariances_ = dof, covs.astype(X.dtype, copy=False)
        self.precisions_cholesky_ = _chol_precision(self.covariances_, ct)

    def _log_weight_terms(self, n_features):
        """E[log pi_k] + (E[log det Lambda_k] - log det(nu_k W_k) - d / beta_k) / 2."""
        from scipy.special import digamma

        if self.weight_concentration_prior_type == "dirichlet_process":
            a, b = self.weight_concentration_
            psi_ab = digamma(a + b)
            e_log_pi = digamma(a) - psi_ab + np.hstack((0, np.cumsum(digamma(b) - psi_ab)[:-1]))
        else:
            alpha = self.weight_concentration_
            e_log_pi = digamma(alpha) - digamma(np.sum(alpha))
        dof = self.degrees_of_freedom_
        log_lambda = n_features * np.log(2.0) + np.sum(
            digamma(0.5 * (dof - np.arange(n_features)[:, None])), axis=0)
        return (e_log_pi - 0.5 * n_features * np.log(dof)
                + 0.5 * (log_lambda - n_features / self.mean_precision_))

    def _iteration(self, X, n_threads):
        """E-step, M-step, then the bound of the updated q (class docstring)."""
        from scipy.special import betaln, gammaln

        _, _, resp, neg_entropy = self._e_step(X, True, n_threads)
        self._m_step(X, resp, n_threads)
        d, ct = X.shape[1], self.covariance_type
        dof = self.degrees_of_freedom_
        log_det = _log_det_chol(self.precisions_cholesky_, ct, d) - 0.5 * d * np.log(dof)
        log_wishart = np.sum(_log_wishart_norm(dof, log_det, d))
        if ct == "tied":
            log_wishart *= self.n_components
        if self.weight_concentration_prior_type == "dirichlet_process":
            log_norm_weight = -np.sum(betaln(*self.weight_concentration_))
        else:
            alpha = self.weight_concentration_
            log_norm_weight = gammaln(np.sum(alpha)) - np.sum(gammaln(alpha))
        return float(-neg_entropy - log_wishart - log_norm_weight
                     - 0.5 * d * np.sum(np.log(self.mean_precision_)))

    def _get_parameters(self):
        return (self.weight_concentration_, self.mean_precision_, self.means_,
                self.degrees_of_freedom_, self.covariances_, self.precisions_cholesky_)

    def _set_parameters(self, params):
        (self.weight_concentration_, self.mean_precision_, self.means_,
         self.degrees_of_freedom_, self.covariances_, self.precisions_cholesky_) = params
        if self.weight_concentration_prior_type == "dirichlet_process":
            a, b = self.weight_concentration_
            weights = a / (a + b) * np.hstack((1, np.cumprod(b / (a + b))[:-1]))
        else:
            weights = self.weight_concentration_
        self.weights_ = weights / np.sum(weights)
        self.precisions_ = _precisions(self.precisions_cholesky_, self.covariance_type)
