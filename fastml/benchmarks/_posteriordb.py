"""Five posteriors of posteriordb (Stan's reference posteriors) as fastml densities and as
PyMC models, with their reference draws.

Each :class:`Posterior` holds the data of ``../shared/data/posteriordb/<name>/`` (read by
path, never copied), the reference draws (Stan NUTS, 10 chains x 1000 draws), and

- ``density()``: fresh Numba functions ``(logp, value_and_grad)``, ``value_and_grad(x)
  -> (log p, gradient)``, on the unconstrained space, with the log-Jacobian of every
  transform, as Stan samples it:
  ``sigma = exp(u)`` adds ``u``; ``theta = logistic(u)`` adds ``log theta (1 - theta)``;
  Stan's ``ordered[2]`` is ``(u1, u1 + exp(u2))`` and adds ``u2``. Every call compiles
  anew, so a timing that calls it includes the compilation, as nutpie's and PyMC's do.
- ``constrain(draws)``: the unconstrained draws (chains, draws, dim) mapped to the
  model's parameters, a dict as PyMC names them (``beta``: (chains, draws, 3), ...).
- ``pymc_model()``: the same model in PyMC (the model nutpie and PyMC sample).
- ``named(parameters)``: such a dict in the reference's names (``beta[1]``, ...,
  derived quantities such as eight schools' ``theta`` included), (chains, draws) each.

The densities are written from the ``model.stan`` files beside the data.
"""

import dataclasses
import functools
import json
import zipfile

import numpy as np

from fastml.benchmarks._data import shared_data

__all__ = ["NAMES", "Posterior", "load"]

NAMES = ("earnings-logearn_height", "eight_schools-eight_schools_noncentered",
         "kidiq-kidscore_momhsiq", "low_dim_gauss_mix-low_dim_gauss_mix",
         "mesquite-logmesquite")


def _read_zip(path):
    with zipfile.ZipFile(path) as z:
        return json.loads(z.read(z.namelist()[0]))


@dataclasses.dataclass
class Posterior:
    """One posterior: its data, reference draws and model builders (see the module)."""

    name: str
    data: dict
    reference: dict  # parameter -> (10, 1000) reference draws
    x0: np.ndarray  # an unconstrained starting point
    density: object  # () -> (njit logp, njit value_and_grad)
    constrain: object  # (chains, draws, dim) -> {PyMC parameter: draws}
    pymc_model: object  # () -> pymc.Model
    named: object  # {PyMC parameter: draws} -> {reference parameter: (chains, draws)}


@functools.cache
def load(name):
    """The :class:`Posterior` ``name`` (one of :data:`NAMES`), or None when
    ``../shared/data/posteriordb`` is not beside the checkout."""
    folder = shared_data("posteriordb", name)
    if folder is None:
        return None
    data = _read_zip(folder / "data.json.zip")
    chains = _read_zip(folder / "reference_draws.json.zip")
    reference = {k: np.array([c[k] for c in chains]) for k in chains[0]}
    builders = {"earnings-logearn_height": _earnings, "kidiq-kidscore_momhsiq": _kidiq,
                "mesquite-logmesquite": _mesquite,
                "eight_schools-eight_schools_noncentered": _eight_schools,
                "low_dim_gauss_mix-low_dim_gauss_mix": _gauss_mix}
    x0, density, constrain, pymc_model, derive = builders[name](data)
    return Posterior(name, data, reference, x0, _with_logp(density), constrain, pymc_model,
                     lambda params: _split_vectors(derive(params)))


def _with_logp(make_value_and_grad):
    """() -> (logp, value_and_grad), both compiled fresh on every call."""
    def density():
        from numba import njit

        value_and_grad = make_value_and_grad()

        @njit
        def logp(x):
            return value_and_grad(x)[0]

        return logp, value_and_grad

    return density


def _split_vectors(params):
    """{"beta": (c, d, p)} -> {"beta[1]": (c, d), ...}; (c, d) entries stay."""
    out = {}
    for key, value in params.items():
        value = np.asarray(value, dtype=np.float64)
        if value.ndim == 2:
            out[key] = value
        else:
            out.update({f"{key}[{j + 1}]": value[..., j] for j in range(value.shape[-1])})
    return out


def _same(params):
    return params


# ------------------------------------------------------- linear regressions, flat beta
def _regression_density(X, y, sigma_prior_scale):
    """value_and_grad of y ~ N(X beta, sigma), x = (beta, log sigma); flat prior on beta;
    on sigma flat (scale None) or half-Cauchy(0, scale): -log(1 + (sigma / scale)^2)."""
    from numba import njit

    n = float(X.shape[0])
    p = X.shape[1]
    cauchy = sigma_prior_scale is not None
    inv_s2 = 0.0 if not cauchy else 1.0 / sigma_prior_scale ** 2

    @njit
    def value_and_grad(x):
        log_sigma = x[p]
        s2 = np.exp(2.0 * log_sigma)
        r = y - X @ x[:p]
        ss = r @ r
        g = np.empty(p + 1)
        g[:p] = (X.T @ r) / s2
        # likelihood -n log sigma - ss / (2 sigma^2), Jacobian + log sigma
        lp = -n * log_sigma - 0.5 * ss / s2 + log_sigma
        g[p] = -n + ss / s2 + 1.0
        if cauchy:
            q = s2 * inv_s2
            lp -= np.log1p(q)
            g[p] -= 2.0 * q / (1.0 + q)
        return lp, g

    return value_and_grad


def _regression(X, y, names, sigma_prior_scale):
    X = np.ascontiguousarray(X, dtype=np.float64)
    y = np.ascontiguousarray(y, dtype=np.float64)
    p = X.shape[1]
    beta0, *_ = np.linalg.lstsq(X, y, rcond=None)
    x0 = np.append(beta0, np.log(np.std(y - X @ beta0)))

    def constrain(draws):
        return {"beta": draws[..., :p], "sigma": np.exp(draws[..., p])}

    def pymc_model():
        import pymc as pm

        with pm.Model() as model:
            beta = pm.Flat("beta", shape=p)
            sigma = (pm.HalfFlat("sigma") if sigma_prior_scale is None
                     else pm.HalfCauchy("sigma", beta=sigma_prior_scale))
            pm.Normal("y", mu=pm.math.dot(X, beta), sigma=sigma, observed=y)
        return model

    return x0, functools.partial(_regression_density, X, y, sigma_prior_scale), constrain, \
        pymc_model, _same


def _earnings(data):
    height = np.asarray(data["height"], dtype=np.float64)
    X = np.column_stack([np.ones_like(height), height])
    return _regression(X, np.log(np.asarray(data["earn"], dtype=np.float64)), None, None)


def _kidiq(data):
    hs = np.asarray(data["mom_hs"], dtype=np.float64)
    X = np.column_stack([np.ones_like(hs), hs, np.asarray(data["mom_iq"], dtype=np.float64)])
    return _regression(X, np.asarray(data["kid_score"], dtype=np.float64), None, 2.5)


def _mesquite(data):
    logs = [np.log(np.asarray(data[k], dtype=np.float64))
            for k in ("diam1", "diam2", "canopy_height", "total_height", "density")]
    group = np.asarray(data["group"], dtype=np.float64)
    X = np.column_stack([np.ones_like(group), *logs, group])
    return _regression(X, np.log(np.asarray(data["weight"], dtype=np.float64)), None, None)


# -------------------------------------------------------------- eight schools, noncentered
def _eight_schools(data):
    """theta_trans ~ N(0, 1), mu ~ N(0, 5), tau ~ half-Cauchy(0, 5),
    y ~ N(theta_trans tau + mu, sigma); x = (theta_trans (J), mu, log tau)."""
    y = np.asarray(data["y"], dtype=np.float64)
    sigma = np.asarray(data["sigma"], dtype=np.float64)
    J = y.shape[0]
    inv_var = 1.0 / sigma ** 2

    def density():
        from numba import njit

        @njit
        def value_and_grad(x):
            tt, mu, log_tau = x[:J], x[J], x[J + 1]
            tau = np.exp(log_tau)
            r = (y - (tt * tau + mu)) * inv_var  # d loglik / d theta
            dev = y - (tt * tau + mu)
            q = (tau / 5.0) ** 2
            lp = (-0.5 * (tt @ tt) - 0.5 * (dev * dev) @ inv_var - mu * mu / 50.0
                  - np.log1p(q) + log_tau)
            g = np.empty(J + 2)
            g[:J] = -tt + r * tau
            g[J] = np.sum(r) - mu / 25.0
            g[J + 1] = tau * (r @ tt) - 2.0 * q / (1.0 + q) + 1.0
            return lp, g

        return value_and_grad

    def constrain(draws):
        return {"theta_trans": draws[..., :J], "mu": draws[..., J],
                "tau": np.exp(draws[..., J + 1])}

    def derive(params):
        mu, tau = np.asarray(params["mu"]), np.asarray(params["tau"])
        theta = np.asarray(params["theta_trans"]) * tau[..., None] + mu[..., None]
        return {"theta": theta, "mu": mu, "tau": tau}

    def pymc_model():
        import pymc as pm

        with pm.Model() as model:
            theta_trans = pm.Normal("theta_trans", 0.0, 1.0, shape=J)
            mu = pm.Normal("mu", 0.0, 5.0)
            tau = pm.HalfCauchy("tau", beta=5.0)
            pm.Normal("y", mu=theta_trans * tau + mu, sigma=sigma, observed=y)
        return model

    return np.zeros(J + 2), density, constrain, pymc_model, derive


# ------------------------------------------------------------- two-component mixture
def _gauss_mix(data):
    """y_n ~ theta N(mu1, sigma1) + (1 - theta) N(mu2, sigma2), mu ordered, mu ~ N(0, 2),
    sigma ~ half-N(0, 2), theta ~ Beta(5, 5); x = (mu1, log(mu2 - mu1), log sigma1,
    log sigma2, logit theta)."""
    y = np.asarray(data["y"], dtype=np.float64)

    def density():
        from numba import njit

        @njit
        def value_and_grad(x):
            mu1 = x[0]
            gap = np.exp(x[1])
            mu2 = mu1 + gap
            s1, s2 = np.exp(x[2]), np.exp(x[3])
            theta = 1.0 / (1.0 + np.exp(-x[4]))
            z1, z2 = (y - mu1) / s1, (y - mu2) / s2
            a = np.log(theta) - x[2] - 0.5 * z1 * z1
            b = np.log1p(-theta) - x[3] - 0.5 * z2 * z2
            m = np.maximum(a, b)
            lse = m + np.log(np.exp(a - m) + np.exp(b - m))
            w1 = np.exp(a - lse)
            w2 = 1.0 - w1
            # the 1/sqrt(2 pi) constants are dropped
            lp = np.sum(lse)
            d_mu1 = np.sum(w1 * z1 / s1)
            d_mu2 = np.sum(w2 * z2 / s2)
            d_ls1 = np.sum(w1 * (z1 * z1 - 1.0))
            d_ls2 = np.sum(w2 * (z2 * z2 - 1.0))
            d_u = np.sum(w1) * (1.0 - theta) - np.sum(w2) * theta
            # priors: mu ~ N(0, 2), sigma ~ N(0, 2) on (0, inf), theta ~ Beta(5, 5)
            lp += -(mu1 * mu1 + mu2 * mu2) / 8.0 - (s1 * s1 + s2 * s2) / 8.0
            lp += 4.0 * np.log(theta) + 4.0 * np.log1p(-theta)
            d_mu1 -= mu1 / 4.0
            d_mu2 -= mu2 / 4.0
            d_ls1 -= s1 * s1 / 4.0
            d_ls2 -= s2 * s2 / 4.0
            d_u += 4.0 * (1.0 - theta) - 4.0 * theta
            # Jacobians: ordered (+ x1), log sigmas (+ x2 + x3), logit (+ log th (1 - th))
            lp += x[1] + x[2] + x[3] + np.log(theta) + np.log1p(-theta)
            g = np.empty(5)
            g[0] = d_mu1 + d_mu2
            g[1] = d_mu2 * gap + 1.0
            g[2] = d_ls1 + 1.0
            g[3] = d_ls2 + 1.0
            g[4] = d_u + 1.0 - 2.0 * theta
            return lp, g

        return value_and_grad

    def constrain(draws):
        mu1 = draws[..., 0]
        return {"mu": np.stack([mu1, mu1 + np.exp(draws[..., 1])], axis=-1),
                "sigma": np.exp(draws[..., 2:4]),
                "theta": 1.0 / (1.0 + np.exp(-draws[..., 4]))}

    def pymc_model():
        import pymc as pm

        with pm.Model() as model:
            mu = pm.Normal("mu", 0.0, 2.0, shape=2, transform=pm.distributions.transforms.ordered,
                           initval=np.array([-1.0, 1.0]))
            sigma = pm.HalfNormal("sigma", 2.0, shape=2)
            theta = pm.Beta("theta", 5.0, 5.0)
            pm.NormalMixture("y", w=pm.math.stack([theta, 1.0 - theta]), mu=mu, sigma=sigma,
                             observed=y)
        return model

    q = np.quantile(y, [0.25, 0.75])
    x0 = np.array([q[0], np.log(q[1] - q[0]), 0.0, 0.0, 0.0])
    return x0, density, constrain, pymc_model, _same
