"""Maximum likelihood and maximum a posteriori fits of common distributions.

``fit(dist, data, prior=None)`` maximises the log-likelihood l(theta) = sum_i log p(x_i |
theta) (or l(theta) + log p(theta) with a prior) and returns the estimate with standard
errors from the observed information, se = sqrt(diag(J^-1)), J = -d^2 l / d theta^2 at the
estimate (for MAP: the Hessian of the log-posterior, the Laplace approximation).

Closed forms where they exist: Normal (mean, sqrt of the biased variance), Poisson and
Exponential (mean), multivariate Normal (mean, biased covariance). Newton's method on the
log-likelihood otherwise: Gamma (on the shape, with the scale profiled out: scale =
mean / a), Beta and Dirichlet (score n (psi(sum a) - psi(a_k)) + sum_i log x_ik, Hessian
n (psi'(sum a) 1 1^T - diag psi'(a))), Student-t (L-BFGS on (log nu, mu, log sigma)).

Parameters follow ``scipy.stats`` (``scale`` = 1 / rate; locations fixed at 0 for the
positive distributions, as ``scipy.stats.<dist>.fit(data, floc=0)``).

Priors: a conjugate prior object (:class:`GammaPrior` on a Poisson or Exponential rate,
:class:`NormalInverseGamma` for the Normal, :class:`NormalInverseWishart` for the
multivariate Normal) gives the posterior mode in closed form; any callable
``log_prior(theta)`` on the parameter vector gives a numerical MAP (L-BFGS on an
unconstrained reparameterisation).
"""

import dataclasses
import numbers

import numpy as np

from fastml._validation import (
    check_array,
    check_finite_real,
    check_option,
    check_positive,
    check_scalar,
    check_shape,
)

__all__ = ["DISTRIBUTIONS", "FitResult", "GammaPrior", "NormalInverseGamma",
           "NormalInverseWishart", "fit"]

DISTRIBUTIONS = ("normal", "gamma", "beta", "poisson", "exponential", "t", "dirichlet",
                 "multivariate_normal")
_PARAM_NAMES = {"normal": ("loc", "scale"), "gamma": ("a", "scale"), "beta": ("a", "b"),
                "poisson": ("mu",), "exponential": ("scale",), "t": ("df", "loc", "scale")}


@dataclasses.dataclass
class FitResult:
    """params: dict name -> estimate (arrays for dirichlet / multivariate_normal);
    se: dict name -> standard error; loglik: log-likelihood at the estimate;
    cov: covariance of the parameter vector (inverse observed information, MLE/MAP);
    method: "mle" or "map"; nit: Newton/L-BFGS iterations (0 for closed forms)."""

    dist: str
    params: dict
    se: dict
    loglik: float
    cov: np.ndarray
    method: str
    nit: int = 0

    def __getitem__(self, name):
        return self.params[name]


def _check_hyper(prior, finite=(), positive=()):
    """Check a prior's real hyper-parameters at construction (a proper prior: every
    ``positive`` one > 0), storing them as floats."""
    for name in finite + positive:
        value = check_finite_real(getattr(prior, name), name)
        if name in positive:
            check_positive(value, name)
        object.__setattr__(prior, name, value)


@dataclasses.dataclass(frozen=True)
class GammaPrior:
    """Gamma(a, b) prior (shape a > 0, rate b > 0) on a Poisson mean or an Exponential
    rate."""

    a: float
    b: float

    def __post_init__(self):
        _check_hyper(self, positive=("a", "b"))


@dataclasses.dataclass(frozen=True)
class NormalInverseGamma:
    """mu | s2 ~ N(mu0, s2 / kappa0), s2 ~ Inv-Gamma(alpha0, beta0) for the Normal
    (kappa0, alpha0, beta0 > 0)."""

    mu0: float
    kappa0: float
    alpha0: float
    beta0: float

    def __post_init__(self):
        _check_hyper(self, finite=("mu0",), positive=("kappa0", "alpha0", "beta0"))


@dataclasses.dataclass(frozen=True)
class NormalInverseWishart:
    """mu | S ~ N(mu0, S / kappa0), S ~ Inv-Wishart(nu0, psi0) for the multivariate Normal:
    mu0 (d,), kappa0 > 0, nu0 > d - 1, psi0 (d, d) symmetric positive definite."""

    mu0: np.ndarray
    kappa0: float
    nu0: float
    psi0: np.ndarray

    def __post_init__(self):
        mu0 = check_array(self.mu0, "mu0", ndim=1, dtype=np.float64, allow_empty=False)
        psi0 = check_array(self.psi0, "psi0", ndim=2, dtype=np.float64)
        d = mu0.size
        check_shape(psi0, "psi0", (d, d), " to match mu0")
        if not np.allclose(psi0, psi0.T) or np.linalg.eigvalsh(psi0).min() <= 0:
            raise ValueError("psi0 must be symmetric positive definite")
        object.__setattr__(self, "mu0", mu0)
        object.__setattr__(self, "psi0", psi0)
        _check_hyper(self, positive=("kappa0",))
        _check_hyper(self, finite=("nu0",))
        check_scalar(self.nu0, "nu0", numbers.Real, min_val=d - 1,
                     include_boundaries="neither")  # nu0 > d - 1, d = mu0's dimension


def _special():
    import scipy.special

    return scipy.special


class _Sums:
    """The sufficient statistics of Gamma, Beta and Dirichlet samples, one pass each:
    n, sum x, sum log x, sum log(1 - x) (Beta), and the mean and variance (starts).

    The log-likelihood, score and information of these families depend on the data only
    through them, so the Newton iterations cost O(1) per step instead of passes over x."""

    def __init__(self, x, dist):
        self.shape, self.n = x.shape, x.shape[0]
        self.log = np.log(x).sum(axis=0)
        self.total = x.sum(axis=0)
        self.mean = self.total / self.n
        if dist != "gamma":
            self.var = x.var(axis=0)
        if dist == "beta":
            self.log1m = np.log1p(-x).sum()


#: the families fitted from :class:`_Sums`
_SUFFICIENT = ("gamma", "beta", "dirichlet")


def _loglik(dist, theta, x):
    sp = _special()
    if dist == "normal":
        mu, s = theta
        return float(np.sum(-0.5 * ((x - mu) / s) ** 2 - np.log(s) - 0.5 * np.log(2 * np.pi)))
    if dist == "gamma":  # x: _Sums
        a, s = theta
        return float((a - 1) * x.log - x.total / s - x.n * (a * np.log(s) + sp.gammaln(a)))
    if dist == "beta":
        a, b = theta
        return float((a - 1) * x.log + (b - 1) * x.log1m - x.n * sp.betaln(a, b))
    if dist == "poisson":
        (mu,) = theta
        return float(np.sum(x * np.log(mu) - mu - sp.gammaln(x + 1)))
    if dist == "exponential":
        (s,) = theta
        return float(np.sum(-x / s - np.log(s)))
    if dist == "t":
        nu, mu, s = theta
        z2 = ((x - mu) / s) ** 2
        return float(np.sum(sp.gammaln((nu + 1) / 2) - sp.gammaln(nu / 2)
                            - 0.5 * np.log(nu * np.pi) - np.log(s)
                            - (nu + 1) / 2 * np.log1p(z2 / nu)))
    if dist == "dirichlet":
        a = theta
        return float(x.n * (sp.gammaln(a.sum()) - sp.gammaln(a).sum()) + ((a - 1) * x.log).sum())
    mu, cov = theta
    d = x.shape[1]
    L = np.linalg.cholesky(cov)
    r = np.linalg.solve(L, (x - mu).T)
    return float(-0.5 * np.sum(r * r) - x.shape[0] * (np.log(np.diagonal(L)).sum()
                                                       + 0.5 * d * np.log(2 * np.pi)))


def _score(dist, theta, x):
    """Gradient of the log-likelihood in the natural parameters."""
    sp = _special()
    n = x.shape[0]
    if dist == "gamma":
        a, s = theta
        return np.array([x.log - n * np.log(s) - n * sp.digamma(a),
                         x.total / s ** 2 - n * a / s])
    if dist == "beta":
        a, b = theta
        common = n * sp.digamma(a + b)
        return np.array([common - n * sp.digamma(a) + x.log,
                         common - n * sp.digamma(b) + x.log1m])
    if dist == "t":
        nu, mu, s = theta
        z = (x - mu) / s
        z2 = z * z
        w = (nu + 1) / (nu + z2)
        d_nu = 0.5 * np.sum(sp.digamma((nu + 1) / 2) - sp.digamma(nu / 2) - 1 / nu
                            - np.log1p(z2 / nu) + (nu + 1) * z2 / (nu * (nu + z2)))
        return np.array([d_nu, np.sum(w * z) / s, np.sum(w * z2 - 1) / s])
    if dist == "dirichlet":
        return n * (sp.digamma(theta.sum()) - sp.digamma(theta)) + x.log
    if dist == "normal":
        mu, s = theta
        return np.array([np.sum(x - mu) / s ** 2, np.sum((x - mu) ** 2) / s ** 3 - n / s])
    if dist == "poisson":
        return np.array([x.sum() / theta[0] - n])
    return np.array([x.sum() / theta[0] ** 2 - n / theta[0]])  # exponential


def _observed_information(dist, theta, x, log_prior=None):
    """-Hessian of the log-likelihood (+ log-prior), analytic for Beta/Dirichlet/Gamma,
    central differences of the analytic score otherwise."""
    sp = _special()
    n = x.shape[0]
    if dist == "beta" and log_prior is None:
        a, b = theta
        t = sp.polygamma(1, a + b)
        return n * np.array([[sp.polygamma(1, a) - t, -t], [-t, sp.polygamma(1, b) - t]])
    if dist == "dirichlet" and log_prior is None:
        return n * (np.diag(sp.polygamma(1, theta)) - sp.polygamma(1, theta.sum()))
    if dist == "gamma" and log_prior is None:
        a, s = theta
        return np.array([[n * sp.polygamma(1, a), n / s],
                         [n / s, 2 * x.total / s ** 3 - n * a / s ** 2]])

    def grad(th):
        g = _score(dist, th, x)
        if log_prior is not None:
            g = g + _fd_gradient(log_prior, th)
        return g
    k = theta.size
    J = np.empty((k, k))
    for i in range(k):
        h = 1e-5 * max(1.0, abs(theta[i]))
        e = np.zeros(k)
        e[i] = h
        J[i] = -(grad(theta + e) - grad(theta - e)) / (2 * h)
    return 0.5 * (J + J.T)


def _fd_gradient(f, theta):
    g = np.empty(theta.size)
    for i in range(theta.size):
        h = 1e-6 * max(1.0, abs(theta[i]))
        e = np.zeros(theta.size)
        e[i] = h
        g[i] = (f(theta + e) - f(theta - e)) / (2 * h)
    return g


def _newton_positive(dist, theta, x, tol=1e-12, max_iter=100):
    """Newton on the log-likelihood of positive parameters (Beta, Dirichlet), halving the
    step to stay positive and to increase the likelihood."""
    current = _loglik(dist, theta, x)
    for it in range(1, max_iter + 1):
        g = _score(dist, theta, x)
        step = np.linalg.solve(_observed_information(dist, theta, x), g)
        t = 1.0
        while True:
            trial = theta + t * step
            if np.all(trial > 0):
                value = _loglik(dist, trial, x)
                if value >= current - 1e-12 * abs(current):
                    break
            t *= 0.5
            if t < 1e-12:
                return theta, it
        theta, current = trial, value
        if np.max(np.abs(t * step) / np.maximum(theta, 1e-300)) <= tol:
            return theta, it
    return theta, max_iter


def _gamma_shape(x, tol=1e-14, max_iter=100):
    """Gamma MLE shape: solve log a - psi(a) = log mean(x) - mean(log x) (Minka's Newton
    in 1/a), the scale being mean(x) / a; x: :class:`_Sums`."""
    sp = _special()
    s = np.log(x.mean) - x.log / x.n
    a = (3 - s + np.sqrt((s - 3) ** 2 + 24 * s)) / (12 * s)
    for it in range(1, max_iter + 1):
        a_new = 1.0 / (1.0 / a + (np.log(a) - sp.digamma(a) - s)
                       / (a * a * (1.0 / a - sp.polygamma(1, a))))
        if abs(a_new - a) <= tol * a:
            return a_new, it
        a = a_new
    return a, max_iter


def _dirichlet_start(x):
    m, v = x.mean, x.var
    precision = np.median(m * (1 - m) / np.maximum(v, 1e-300) - 1)
    return m * max(precision, 1e-3)


def _mle(dist, x):
    """(theta, iterations) of the maximum-likelihood estimate."""
    if dist == "normal":
        return np.array([x.mean(), x.std()]), 0
    if dist == "poisson":
        return np.array([x.mean()]), 0
    if dist == "exponential":
        return np.array([x.mean()]), 0
    if dist == "gamma":
        a, it = _gamma_shape(x)
        return np.array([a, x.mean / a]), it
    if dist == "beta":
        m, v = x.mean, x.var
        common = m * (1 - m) / v - 1
        return _newton_positive(dist, np.array([m * common, (1 - m) * common]), x)
    if dist == "dirichlet":
        return _newton_positive(dist, _dirichlet_start(x), x)
    if dist == "t":
        return _t_mle(x, None)
    raise AssertionError(dist)


def _t_mle(x, log_prior):
    """Student-t (df, loc, scale) by L-BFGS on (log df, loc, log scale)."""
    from fastml.optimize._minimize import _minimize_core

    def negative(u):
        theta = np.array([np.exp(u[0]), u[1], np.exp(u[2])])
        value = _loglik("t", theta, x)
        g = _score("t", theta, x)
        if log_prior is not None:
            value += log_prior(theta)
            g = g + _fd_gradient(log_prior, theta)
        return -value, -g * np.array([theta[0], 1.0, theta[2]])
    median = np.median(x)
    mad = np.median(np.abs(x - median)) * 1.4826 or x.std() or 1.0
    u0 = np.array([np.log(5.0), median, np.log(mad)])
    res = _minimize_core(negative, u0, True, None, "lbfgs", "lbfgs",
                         np.array([10.0, 0.0]), np.full(3, -np.inf), np.full(3, np.inf),
                         1e-10 * x.size, 500, None)
    u = res.x
    return np.array([np.exp(u[0]), u[1], np.exp(u[2])]), res.nit


_POSITIVE = {"normal": (False, True), "gamma": (True, True), "beta": (True, True),
             "poisson": (True,), "exponential": (True,), "t": (True, False, True)}


def _map_numeric(dist, x, log_prior):
    """MAP by L-BFGS on log-transformed positive parameters, started at the MLE."""
    from fastml.optimize._minimize import _minimize_core

    theta0, _ = _mle(dist, x)
    positive = np.array(_POSITIVE[dist] if dist in _POSITIVE else (True,) * theta0.size)

    def to_theta(u):
        return np.where(positive, np.exp(u), u)

    def negative(u):
        theta = to_theta(u)
        value = _loglik(dist, theta, x) + log_prior(theta)
        g = _score(dist, theta, x) + _fd_gradient(log_prior, theta)
        return -value, -g * np.where(positive, theta, 1.0)
    u0 = np.where(positive, np.log(theta0), theta0)
    res = _minimize_core(negative, u0, True, None, "lbfgs", "lbfgs",
                         np.array([10.0, 0.0]), np.full(u0.size, -np.inf),
                         np.full(u0.size, np.inf), 1e-9 * max(1, x.shape[0]), 500, None)
    return to_theta(res.x), res.nit


def _map_conjugate(dist, x, prior):
    n = x.shape[0]
    if isinstance(prior, GammaPrior) and dist in ("poisson", "exponential"):
        if dist == "poisson":  # posterior Gamma(a + sum x, b + n), mode (a' - 1) / b'
            return np.array([(prior.a + x.sum() - 1) / (prior.b + n)])
        # rate posterior Gamma(a + n, b + sum x); mode of the rate -> scale = 1 / rate
        return np.array([(prior.b + x.sum()) / (prior.a + n - 1)])
    if isinstance(prior, NormalInverseGamma) and dist == "normal":
        kappa = prior.kappa0 + n
        mu = (prior.kappa0 * prior.mu0 + x.sum()) / kappa
        alpha = prior.alpha0 + n / 2
        beta = prior.beta0 + 0.5 * ((x - x.mean()) ** 2).sum() + \
            prior.kappa0 * n * (x.mean() - prior.mu0) ** 2 / (2 * kappa)
        # joint mode of (mu, s2): s2 = beta / (alpha + 3/2)
        return np.array([mu, np.sqrt(beta / (alpha + 1.5))])
    if isinstance(prior, NormalInverseWishart) and dist == "multivariate_normal":
        d = x.shape[1]
        kappa = prior.kappa0 + n
        xbar = x.mean(axis=0)
        mu = (prior.kappa0 * np.asarray(prior.mu0) + n * xbar) / kappa
        S = (x - xbar).T @ (x - xbar)
        diff = xbar - np.asarray(prior.mu0)
        psi = np.asarray(prior.psi0) + S + prior.kappa0 * n / kappa * np.outer(diff, diff)
        nu = prior.nu0 + n
        return mu, psi / (nu + d + 2)  # joint mode of (mu, Sigma)
    raise ValueError(f"prior {type(prior).__name__} is not conjugate to {dist!r}; pass a "
                     "log-prior callable instead")


def _check_data(dist, data):
    ndim = 2 if dist in ("dirichlet", "multivariate_normal") else 1
    x = check_array(data, "data", ndim=ndim, dtype=np.float64, allow_empty=False)
    if dist in ("gamma", "exponential") and np.any(x <= 0):
        raise ValueError(f"data must be positive for {dist!r}")
    if dist == "beta" and np.any((x <= 0) | (x >= 1)):
        raise ValueError("data must lie in (0, 1) for 'beta'")
    if dist == "poisson" and (np.any(x < 0) or np.any(x != np.round(x))):
        raise ValueError("data must be non-negative integers for 'poisson'")
    if dist == "dirichlet":
        if np.any(x <= 0) or not np.allclose(x.sum(axis=1), 1.0, atol=1e-8):
            raise ValueError("data rows must be positive and sum to 1 for 'dirichlet'")
    if x.shape[0] < 2 and dist not in ("poisson", "exponential"):
        raise ValueError(f"data must have at least 2 observations for {dist!r}")
    if dist in ("normal", "t", "gamma", "beta") and np.all(x == x[0]):
        raise ValueError("data must not be constant (the scale estimate would be 0)")
    if dist == "multivariate_normal" and x.shape[0] <= x.shape[1]:
        raise ValueError("data must have more rows than columns for 'multivariate_normal'")
    return x


def fit(dist, data, prior=None):
    """MLE (``prior=None``) or MAP fit of ``dist`` to ``data`` with standard errors.

    Parameters
    ----------
    dist : one of "normal", "gamma", "beta", "poisson", "exponential", "t",
        "dirichlet", "multivariate_normal".
    data : (n,) samples, or (n, d) for "dirichlet" (rows on the simplex) and
        "multivariate_normal".
    prior : None, a conjugate prior (:class:`GammaPrior`, :class:`NormalInverseGamma`,
        :class:`NormalInverseWishart`) or a callable ``log_prior(theta) -> float`` on the
        parameter vector in the order of ``FitResult.params`` (scalar distributions and
        Dirichlet).

    Returns
    -------
    FitResult (params, se, loglik, cov, method, nit).
    """
    check_option(dist, "dist", DISTRIBUTIONS)
    x = _check_data(dist, data)
    if prior is not None and not callable(prior) and not isinstance(
            prior, (GammaPrior, NormalInverseGamma, NormalInverseWishart)):
        raise TypeError(f"prior must be None, a conjugate prior or a callable, got "
                        f"{type(prior).__name__}")
    if isinstance(prior, NormalInverseWishart) and prior.mu0.size != x.shape[1]:
        raise ValueError(f"prior: mu0 has {prior.mu0.size} entries, data has "
                         f"{x.shape[1]} columns")
    if isinstance(prior, GammaPrior) and dist == "poisson" and prior.a + x.sum() <= 1:
        raise ValueError(f"prior: the posterior mode of the Poisson mean is 0 (a + "
                         f"sum(data) = {prior.a + x.sum()} <= 1); take a > 1")
    return _fit_core(dist, x, prior)


def _fit_core(dist, x, prior):
    n = x.shape[0]
    method = "mle" if prior is None else "map"
    nit = 0
    if dist == "multivariate_normal":
        if prior is None:
            mu = x.mean(axis=0)
            cov = (x - mu).T @ (x - mu) / n
        else:
            mu, cov = _map_conjugate(dist, x, prior)
        # observed information of the mean: n Sigma^-1; of Sigma_ij: n / (S_ii S_jj + S_ij^2)
        se = {"mean": np.sqrt(np.diagonal(cov) / n),
              "cov": np.sqrt((np.outer(np.diagonal(cov), np.diagonal(cov)) + cov ** 2) / n)}
        return FitResult(dist, {"mean": mu, "cov": cov}, se, _loglik(dist, (mu, cov), x),
                         cov / n, method)
    log_prior = None
    if dist in _SUFFICIENT:
        x = _Sums(x, dist)
    if prior is None:
        theta, nit = _mle(dist, x)
    elif callable(prior):
        log_prior = prior
        if dist == "t":
            theta, nit = _t_mle(x, prior)
        else:
            theta, nit = _map_numeric(dist, x, prior)
    else:
        theta = _map_conjugate(dist, x, prior)
        log_prior = _conjugate_log_prior(dist, prior)
    J = _observed_information(dist, theta, x, log_prior)
    cov = np.linalg.inv(J)
    se_vec = np.sqrt(np.maximum(np.diagonal(cov), 0.0))
    if dist == "dirichlet":
        params, se = {"alpha": theta}, {"alpha": se_vec}
    else:
        names = _PARAM_NAMES[dist]
        params = {k: float(v) for k, v in zip(names, theta)}
        se = {k: float(v) for k, v in zip(names, se_vec)}
    return FitResult(dist, params, se, _loglik(dist, theta, x), cov, method, nit)


def _conjugate_log_prior(dist, prior):
    """The conjugate prior as a log-density on the natural parameters (for the Hessian)."""
    if isinstance(prior, GammaPrior):
        if dist == "poisson":
            return lambda th: (prior.a - 1) * np.log(th[0]) - prior.b * th[0]
        # the Gamma density of the rate 1 / s (the mode returned is the rate's)
        return lambda th: -(prior.a - 1) * np.log(th[0]) - prior.b / th[0]

    def normal_inverse_gamma(th):
        mu, s = th
        s2 = s * s
        return (-0.5 * np.log(s2) - prior.kappa0 * (mu - prior.mu0) ** 2 / (2 * s2)
                - (prior.alpha0 + 1) * np.log(s2) - prior.beta0 / s2)
    return normal_inverse_gamma
