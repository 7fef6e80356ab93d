"""Conjugate Bayesian models in closed form, and a compiled Gibbs sampler for the normal ones.

Each model takes its prior's hyperparameters in the constructor; ``fit`` computes the
posterior's parameters (trailing underscore), the log marginal likelihood of the data
``log_marginal_likelihood_``, the posterior mode ``map_`` and the maximum-likelihood
estimate ``mle_``. ``posterior()`` and ``posterior_predictive()`` return frozen
``scipy.stats`` distributions.

- :class:`BetaBinomial`: theta ~ Beta(a, b), k_i ~ Bin(n_i, theta)
  => theta | k ~ Beta(a + sum k, b + sum (n - k)).
- :class:`GammaPoisson`: lam ~ Gamma(a, rate b), y_i ~ Poisson(t_i lam)
  => lam | y ~ Gamma(a + sum y, b + sum t); predictive NegBin(a', b' / (b' + t)).
- :class:`NormalKnownVariance`: mu ~ N(m0, tau0^2), y_i ~ N(mu, sigma^2)
  => 1/tau^2 = 1/tau0^2 + n/sigma^2, m = tau^2 (m0/tau0^2 + sum y/sigma^2).
- :class:`NormalInverseGamma`: mu | s2 ~ N(m0, s2/kappa0), s2 ~ IG(a0, b0), y_i ~ N(mu, s2).
- :class:`BayesianLinearRegression`: beta | s2 ~ N(m0, s2 V0), s2 ~ IG(a0, b0),
  y ~ N(X beta, s2 I) => Vn = (V0^-1 + X^T X)^-1, mn = Vn (V0^-1 m0 + X^T y),
  an = a0 + n/2, bn = b0 + (|y - X mn|^2 + (mn - m0)^T V0^-1 (mn - m0)) / 2;
  beta | y ~ t_{2an}(mn, bn/an Vn), and
  log p(y) = -n/2 log 2pi + (log|Vn| - log|V0|)/2 + a0 log b0 - an log bn
  + lgamma(an) - lgamma(a0).
- :class:`DirichletMultinomial`: p ~ Dir(alpha), x_i ~ Mult(n_i, p) => p | x ~ Dir(alpha + sum x).

The two Normal–Inverse-Gamma models also sample their posterior with a compiled Gibbs
sampler (``sample_posterior``), which alternates beta | s2 and s2 | beta (see
``fastml.kernels._gibbs``) and returns a :class:`fastml.mcmc.Trace`.
"""

import numbers
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from fastml import _kernels
from fastml._validation import (
    check_array,
    check_bounds,
    check_counts,
    check_finite_real,
    check_min_length,
    check_positive,
    check_positive_int,
    check_random_state,
    check_same_shape,
    check_scalar,
    check_shape,
)
from fastml.base import BaseEstimator, RegressorMixin, check_is_fitted, validate_data

__all__ = ["BayesianLinearRegression", "BetaBinomial", "DirichletMultinomial", "GammaPoisson",
           "NormalInverseGamma", "NormalKnownVariance"]

_LOG_2PI = np.log(2.0 * np.pi)


def _positive(x, name):
    """A finite real number > 0, as a float."""
    return check_finite_real(check_positive(x, name), name)


def _lgamma(x):
    from scipy.special import gammaln

    return gammaln(x)


def _log_binom(n, k):
    return _lgamma(n + 1.0) - _lgamma(k + 1.0) - _lgamma(n - k + 1.0)


def _beta_mode(a, b):
    """Mode of Beta(a, b): (a-1)/(a+b-2); 0 or 1 at a boundary; NaN when bimodal."""
    if a >= 1.0 and b >= 1.0:
        return 0.5 if a + b == 2.0 else (a - 1.0) / (a + b - 2.0)
    if a < 1.0 <= b:
        return 0.0
    if b < 1.0 <= a:
        return 1.0
    return np.nan


class BetaBinomial(BaseEstimator):
    """Beta prior on a success probability, binomial observations.

    Parameters
    ----------
    alpha, beta : float > 0
        Prior Beta(alpha, beta).

    Attributes (after ``fit``)
    --------------------------
    alpha_, beta_ : posterior Beta parameters.
    map_ : posterior mode; mle_ : sum k / sum n (NaN without trials).
    log_marginal_likelihood_ : sum_i log C(n_i, k_i) + log B(alpha_, beta_) - log B(alpha, beta).
    """

    def __init__(self, alpha=1.0, beta=1.0):
        self.alpha = alpha
        self.beta = beta

    def fit(self, successes, trials):
        """``successes`` k_i and ``trials`` n_i (same length, 0 <= k_i <= n_i)."""
        a0, b0 = _positive(self.alpha, "alpha"), _positive(self.beta, "beta")
        k = check_counts(np.atleast_1d(successes), "successes")
        n = check_counts(np.atleast_1d(trials), "trials")
        check_same_shape(k, "successes", n, "trials")
        if (k > n).any():
            raise ValueError("successes must not exceed trials")
        from scipy.special import betaln

        self.alpha_ = a0 + k.sum()
        self.beta_ = b0 + (n - k).sum()
        self.map_ = _beta_mode(self.alpha_, self.beta_)
        self.mle_ = k.sum() / n.sum() if n.sum() > 0 else np.nan
        self.log_marginal_likelihood_ = float(_log_binom(n, k).sum() + betaln(
            self.alpha_, self.beta_) - betaln(a0, b0))
        return self

    def posterior(self):
        """Frozen ``scipy.stats.beta`` of theta given the data."""
        from scipy import stats

        check_is_fitted(self)
        return stats.beta(self.alpha_, self.beta_)

    def posterior_predictive(self, trials=1):
        """Successes in ``trials`` new trials: ``scipy.stats.betabinom``."""
        from scipy import stats

        check_is_fitted(self)
        return stats.betabinom(check_positive_int(trials, "trials", min_val=0), self.alpha_,
                               self.beta_)


class GammaPoisson(BaseEstimator):
    """Gamma(alpha, rate beta) prior on a Poisson rate; y_i ~ Poisson(exposure_i lam).

    Attributes: ``alpha_``, ``beta_`` (posterior shape and rate), ``map_`` =
    max(alpha_ - 1, 0) / beta_, ``mle_`` = sum y / sum t, ``log_marginal_likelihood_`` =
    sum_i (y_i log t_i - log y_i!) + a log b - lgamma(a) + lgamma(a_) - a_ log b_.
    """

    def __init__(self, alpha=1.0, beta=1.0):
        self.alpha = alpha
        self.beta = beta

    def fit(self, counts, exposure=None):
        a0, b0 = _positive(self.alpha, "alpha"), _positive(self.beta, "beta")
        y = check_counts(np.atleast_1d(counts), "counts")
        if exposure is None:
            t = np.ones_like(y)
        else:
            t = check_array(np.atleast_1d(exposure), "exposure", ndim=1, dtype=np.float64)
            check_shape(t, "exposure", y.shape, " (the shape of counts)")
            check_bounds(t, "exposure", low=0, closed="neither")
        self.alpha_ = a0 + y.sum()
        self.beta_ = b0 + t.sum()
        self.map_ = max(self.alpha_ - 1.0, 0.0) / self.beta_
        self.mle_ = y.sum() / t.sum() if t.size else np.nan
        self.log_marginal_likelihood_ = float(
            (y * np.log(t) - _lgamma(y + 1.0)).sum() + a0 * np.log(b0) - _lgamma(a0)
            + _lgamma(self.alpha_) - self.alpha_ * np.log(self.beta_))
        return self

    def posterior(self):
        """Frozen ``scipy.stats.gamma`` of the rate."""
        from scipy import stats

        check_is_fitted(self)
        return stats.gamma(self.alpha_, scale=1.0 / self.beta_)

    def posterior_predictive(self, exposure=1.0):
        """A new count with ``exposure``: negative binomial NB(alpha_, beta_/(beta_ + t))."""
        from scipy import stats

        check_is_fitted(self)
        t = _positive(exposure, "exposure")
        return stats.nbinom(self.alpha_, self.beta_ / (self.beta_ + t))


class NormalKnownVariance(BaseEstimator):
    """Normal mean with known noise ``sigma``: prior mu ~ N(mu0, tau0^2).

    Attributes: ``mu_``, ``tau_`` (posterior mean and sd), ``map_`` = ``mu_``, ``mle_`` =
    mean(y), ``log_marginal_likelihood_`` of y ~ N(mu0 1, sigma^2 I + tau0^2 1 1^T).
    """

    def __init__(self, mu0=0.0, tau0=1.0, sigma=1.0):
        self.mu0 = mu0
        self.tau0 = tau0
        self.sigma = sigma

    def fit(self, y):
        mu0 = float(check_scalar(self.mu0, "mu0", numbers.Real))
        tau0, sigma = _positive(self.tau0, "tau0"), _positive(self.sigma, "sigma")
        y = check_array(np.atleast_1d(y), "y", ndim=1, dtype=np.float64)
        n = y.size
        prec = 1.0 / tau0 ** 2 + n / sigma ** 2
        self.tau_ = float(np.sqrt(1.0 / prec))
        self.mu_ = float((mu0 / tau0 ** 2 + y.sum() / sigma ** 2) / prec)
        self.map_ = self.mu_
        self.mle_ = float(y.mean()) if n else np.nan
        self.log_marginal_likelihood_ = float(
            -0.5 * n * (_LOG_2PI + 2.0 * np.log(sigma)) + np.log(self.tau_ / tau0)
            - (y @ y) / (2.0 * sigma ** 2) - mu0 ** 2 / (2.0 * tau0 ** 2)
            + self.mu_ ** 2 / (2.0 * self.tau_ ** 2))
        return self

    def posterior(self):
        from scipy import stats

        check_is_fitted(self)
        return stats.norm(self.mu_, self.tau_)

    def posterior_predictive(self):
        """A new observation: N(mu_, tau_^2 + sigma^2)."""
        from scipy import stats

        check_is_fitted(self)
        return stats.norm(self.mu_, np.hypot(self.tau_, self.sigma))


def _nig_fit(X, y, m0, V0, a0, b0):
    """Posterior (mn, Vn, cholesky of Vn^-1, an, bn) and log p(y) of the NIG linear model."""
    from fastml.linalg import _cho_solve, _cholesky, _logdet_chol

    n, p = X.shape
    L0, _ = _cholesky(np.array(V0, order="C"))
    P0 = _cho_solve(L0, np.eye(p))
    Ln, _ = _cholesky(P0 + X.T @ X)
    mn = _cho_solve(Ln, P0 @ m0 + X.T @ y)
    Vn = _cho_solve(Ln, np.eye(p))
    resid = y - X @ mn
    dev = mn - m0
    an = a0 + 0.5 * n
    bn = b0 + 0.5 * (resid @ resid + dev @ P0 @ dev)
    logml = (-0.5 * n * _LOG_2PI - 0.5 * (_logdet_chol(Ln) + _logdet_chol(L0))
             + a0 * np.log(b0) - an * np.log(bn) + _lgamma(an) - _lgamma(a0))
    return mn, Vn, P0, an, bn, float(logml)


def _nig_gibbs(X, y, m0, P0, mn, Vn, a0, b0, s2_0, draws, tune, chains, seed):
    """Chains of the NIG Gibbs sampler (compiled) from s2 = s2_0, as a Trace of (beta, s2)."""
    _gibbs = _kernels.load("_gibbs")
    from fastml.linalg import _cholesky
    from fastml.mcmc import Trace

    draws = check_positive_int(draws, "draws")
    tune = check_positive_int(tune, "tune", min_val=0)
    chains = check_positive_int(chains, "chains")
    rng = check_random_state(seed)
    streams = np.random.SeedSequence(rng.integers(0, 2**63, size=4))
    state = streams.generate_state(chains * 4, dtype=np.uint64).reshape(chains, 4)
    n, p = X.shape
    L, _ = _cholesky(Vn.copy())
    XtX, Xty, yty = X.T @ X, X.T @ y, float(y @ y)
    a_cond = a0 + 0.5 * (n + p)
    out = np.empty((chains, draws, p + 1))

    def run(c):
        _gibbs.run_gibbs_nig(c, state, mn, s2_0, mn, L, XtX, Xty, yty, P0, m0, a_cond, b0,
                             tune, out)

    workers = min(_kernels.get_num_threads(), chains)
    if workers > 1:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(run, range(chains)))
    else:
        for c in range(chains):
            run(c)
    trace = Trace(out, {}, "gibbs")
    trace.check()
    return trace


class BayesianLinearRegression(RegressorMixin, BaseEstimator):
    """Linear regression with the conjugate Normal–Inverse-Gamma prior.

    beta | s2 ~ N(m0, s2 V0), s2 ~ IG(a0, b0), y | X ~ N(X beta, s2 I). Add a column of
    ones to X for an intercept.

    Parameters
    ----------
    m0 : array (p,) or None (zeros)
    V0 : array (p, p), float (times I) or None (100 I)
    a0, b0 : float > 0

    Attributes
    ----------
    coef_ : posterior mean of beta (mn); V_ : Vn; a_, b_ : an, bn.
    sigma2_ : posterior mean of s2, b_ / (a_ - 1) (NaN when a_ <= 1).
    map_ : (beta, s2) joint posterior mode (mn, bn / (an + 1 + p/2)).
    mle_ : (least-squares beta, RSS / n).
    log_marginal_likelihood_ : log p(y | X) (module docstring).
    """

    def __init__(self, m0=None, V0=None, a0=1.0, b0=1.0):
        self.m0 = m0
        self.V0 = V0
        self.a0 = a0
        self.b0 = b0

    def _prior(self, p):
        m0 = np.zeros(p) if self.m0 is None else check_array(self.m0, "m0", ndim=1,
                                                              dtype=np.float64)
        check_shape(m0, "m0", (p,))
        if self.V0 is None or np.ndim(self.V0) == 0:
            scale = 100.0 if self.V0 is None else _positive(self.V0, "V0")
            V0 = scale * np.eye(p)
        else:
            V0 = check_array(self.V0, "V0", ndim=2, dtype=np.float64)
            check_shape(V0, "V0", (p, p))
        return m0, V0, _positive(self.a0, "a0"), _positive(self.b0, "b0")

    def fit(self, X, y):
        X, y = validate_data(self, X, y, y_numeric=True)
        self._dtype = X.dtype
        X64, y64 = X.astype(np.float64), y.astype(np.float64)
        n, p = X64.shape
        m0, V0, a0, b0 = self._prior(p)
        mn, Vn, P0, an, bn, logml = _nig_fit(X64, y64, m0, V0, a0, b0)
        self._data = (X64, y64, m0, P0, a0, b0)
        self.coef_ = mn.astype(X.dtype)
        self.V_ = Vn
        self.a_, self.b_ = an, bn
        self.sigma2_ = bn / (an - 1.0) if an > 1.0 else np.nan
        self.map_ = (mn.copy(), bn / (an + 1.0 + 0.5 * p))
        beta_ls = np.linalg.lstsq(X64, y64, rcond=None)[0]
        r = y64 - X64 @ beta_ls
        self.mle_ = (beta_ls, float(r @ r) / n)
        self.log_marginal_likelihood_ = logml
        return self

    def predict(self, X, return_std=False):
        """Posterior predictive mean X mn; with ``return_std`` also its standard deviation.

        The predictive is Student-t with 2 a_ degrees of freedom and scale^2 =
        b_/a_ (1 + x^T Vn x); its sd is scale sqrt(nu / (nu - 2)) (infinite for nu <= 2).
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        mean = X.astype(np.float64) @ self.coef_.astype(np.float64)
        if not return_std:
            return mean.astype(X.dtype)
        nu = 2.0 * self.a_
        scale2 = self.b_ / self.a_ * (1.0 + np.einsum("ij,jk,ik->i", X, self.V_, X))
        std = np.sqrt(scale2 * nu / (nu - 2.0)) if nu > 2.0 else np.full(len(X), np.inf)
        return mean.astype(X.dtype), std.astype(X.dtype)

    def posterior(self):
        """Marginal posterior of beta: ``scipy.stats.multivariate_t(mn, bn/an Vn, 2 an)``."""
        from scipy import stats

        check_is_fitted(self)
        return stats.multivariate_t(self.coef_.astype(np.float64), self.b_ / self.a_ * self.V_,
                                    df=2.0 * self.a_)

    def sample_posterior(self, draws=1000, *, tune=100, chains=4, seed=None):
        """Gibbs draws of (beta, s2): a Trace with samples (chains, draws, p + 1)."""
        check_is_fitted(self)
        X, y, m0, P0, a0, b0 = self._data
        return _nig_gibbs(X, y, m0, P0, self.coef_.astype(np.float64), self.V_, a0, b0,
                          self.b_ / self.a_, draws, tune, chains, seed)


class NormalInverseGamma(BaseEstimator):
    """Normal data with unknown mean and variance, conjugate Normal–Inverse-Gamma prior.

    mu | s2 ~ N(mu0, s2 / kappa0), s2 ~ IG(a0, b0), y_i ~ N(mu, s2): the
    :class:`BayesianLinearRegression` with X = 1 and V0 = 1/kappa0, so
    kappa_ = kappa0 + n, mu_ = (kappa0 mu0 + sum y) / kappa_, a_ = a0 + n/2,
    b_ = b0 + (sum (y - ybar)^2 + kappa0 n (ybar - mu0)^2 / kappa_) / 2.

    Attributes: ``mu_``, ``kappa_``, ``a_``, ``b_``, ``map_`` = (mu_, b_/(a_ + 3/2)),
    ``mle_`` = (ybar, mean (y - ybar)^2), ``log_marginal_likelihood_``.
    """

    def __init__(self, mu0=0.0, kappa0=1.0, a0=1.0, b0=1.0):
        self.mu0 = mu0
        self.kappa0 = kappa0
        self.a0 = a0
        self.b0 = b0

    def fit(self, y):
        mu0 = float(check_scalar(self.mu0, "mu0", numbers.Real))
        kappa0 = _positive(self.kappa0, "kappa0")
        a0, b0 = _positive(self.a0, "a0"), _positive(self.b0, "b0")
        y = check_array(np.atleast_1d(y), "y", ndim=1, dtype=np.float64)
        X = np.ones((y.size, 1))
        m0, V0 = np.array([mu0]), np.array([[1.0 / kappa0]])
        mn, Vn, P0, an, bn, logml = _nig_fit(X, y, m0, V0, a0, b0)
        self._data = (X, y, m0, P0, a0, b0, Vn)
        self.mu_, self.kappa_ = float(mn[0]), kappa0 + y.size
        self.a_, self.b_ = an, bn
        self.map_ = (self.mu_, bn / (an + 1.5))
        self.mle_ = (float(y.mean()), float(y.var())) if y.size else (np.nan, np.nan)
        self.log_marginal_likelihood_ = logml
        return self

    def posterior_mu(self):
        """Marginal posterior of mu: Student-t(2 a_, mu_, sqrt(b_ / (a_ kappa_)))."""
        from scipy import stats

        check_is_fitted(self)
        return stats.t(2.0 * self.a_, self.mu_, np.sqrt(self.b_ / (self.a_ * self.kappa_)))

    def posterior_sigma2(self):
        """Marginal posterior of s2: InvGamma(a_, b_)."""
        from scipy import stats

        check_is_fitted(self)
        return stats.invgamma(self.a_, scale=self.b_)

    def posterior_predictive(self):
        """A new observation: Student-t(2 a_, mu_, sqrt(b_ (kappa_ + 1) / (a_ kappa_)))."""
        from scipy import stats

        check_is_fitted(self)
        return stats.t(2.0 * self.a_, self.mu_,
                       np.sqrt(self.b_ * (self.kappa_ + 1.0) / (self.a_ * self.kappa_)))

    def sample_posterior(self, draws=1000, *, tune=100, chains=4, seed=None):
        """Gibbs draws of (mu, s2): a Trace with samples (chains, draws, 2)."""
        check_is_fitted(self)
        X, y, m0, P0, a0, b0, Vn = self._data
        return _nig_gibbs(X, y, m0, P0, np.array([self.mu_]), Vn, a0, b0, self.b_ / self.a_,
                          draws, tune, chains, seed)


class DirichletMultinomial(BaseEstimator):
    """Dirichlet(alpha) prior on category probabilities; multinomial count vectors.

    Attributes: ``alpha_`` = alpha + column sums, ``map_`` = (alpha_ - 1)/(sum alpha_ - K)
    (NaN unless every alpha_ >= 1 and sum alpha_ > K), ``mle_`` = X_k / N,
    ``log_marginal_likelihood_`` = sum_i log multinomial coefficient(x_i)
    + lgamma(A) - lgamma(A + N) + sum_k lgamma(alpha_k + X_k) - lgamma(alpha_k).
    """

    def __init__(self, alpha=1.0):
        self.alpha = alpha

    def fit(self, counts):
        """``counts`` of shape (n_obs, K) or (K,) (one observation)."""
        x = check_counts(counts, "counts", ndim=(1, 2))
        x = x[None, :] if x.ndim == 1 else x
        k = x.shape[1]
        check_min_length(x, "counts", 2, "categories", axis=1)
        if np.ndim(self.alpha) == 0:
            alpha = np.full(k, _positive(self.alpha, "alpha"))
        else:
            alpha = check_array(self.alpha, "alpha", ndim=1, dtype=np.float64)
            check_shape(alpha, "alpha", (k,))
            check_bounds(alpha, "alpha", low=0, closed="neither")
        totals = x.sum(axis=0)
        self.alpha_ = alpha + totals
        a_sum = self.alpha_.sum()
        ok = (self.alpha_ >= 1.0).all() and a_sum > k
        self.map_ = (self.alpha_ - 1.0) / (a_sum - k) if ok else np.full(k, np.nan)
        self.mle_ = totals / totals.sum() if totals.sum() > 0 else np.full(k, np.nan)
        n_i = x.sum(axis=1)
        coef = (_lgamma(n_i + 1.0) - _lgamma(x + 1.0).sum(axis=1)).sum()
        self.log_marginal_likelihood_ = float(
            coef + _lgamma(alpha.sum()) - _lgamma(a_sum)
            + (_lgamma(self.alpha_) - _lgamma(alpha)).sum())
        return self

    def posterior(self):
        from scipy import stats

        check_is_fitted(self)
        return stats.dirichlet(self.alpha_)

    def posterior_predictive(self, n=1):
        """Counts of ``n`` new draws: ``scipy.stats.dirichlet_multinomial(alpha_, n)``."""
        from scipy import stats

        check_is_fitted(self)
        return stats.dirichlet_multinomial(self.alpha_, check_positive_int(n, "n"))
