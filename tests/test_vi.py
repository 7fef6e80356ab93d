"""fastml.vi.advi: Gaussian targets (mean, variances, covariance within MC error), Bayesian
logistic regression against NUTS (fastml.mcmc) and NumPyro's AutoNormal, minibatch SVI,
Python callables, bad input."""

import numpy as np
import pytest
from numba import njit

from fastml import mcmc, vi
from fastml.reference import vi as ref

COV = np.array([[2.0, 0.6, 0.0], [0.6, 1.0, -0.3], [0.0, -0.3, 0.5]])
PREC = np.linalg.inv(COV)
MEAN = np.array([1.0, -2.0, 0.5])


@njit
def gauss_logp(x):
    r = x - MEAN
    return -0.5 * r @ (PREC @ r)


@njit
def gauss_grad(x):
    return -(PREC @ (x - MEAN))


# Settings for accurate fits: the returned parameters average the last `window` iterates.
ACCURATE = {"n_steps": 20000, "lr": 0.01, "n_mc": 4, "window": 5000, "tol": None}


@pytest.mark.parametrize("method", ["meanfield", "fullrank"])
def test_gaussian_target(method):
    """The optimum is known: mean-field q = N(m, diag(1 / diag(P))) (the KL(q||p) optimum
    matches the precision's diagonal), full-rank q = p. Tolerances: 5 seeded fits spread by
    about 0.01 in the mean and 0.015 in the covariance at these settings."""
    fit = vi.advi(gauss_logp, np.zeros(3), grad=gauss_grad, method=method, seed=1, **ACCURATE)
    target = COV if method == "fullrank" else np.diag(1.0 / np.diag(PREC))
    np.testing.assert_allclose(fit.mean, MEAN, atol=0.05)
    np.testing.assert_allclose(fit.cov, target, atol=0.06)
    assert fit.n_iter == 20000 and not fit.converged
    # the ELBO reaches log Z - KL(q || p): log Z = log((2 pi)^(d/2) det(COV)^(1/2))
    log_z = 0.5 * (3 * np.log(2 * np.pi) + np.linalg.slogdet(COV)[1])
    # mean-field: KL(q || p) = (log det COV - log det target) / 2 (the trace terms cancel)
    kl = 0.0 if method == "fullrank" else 0.5 * (np.linalg.slogdet(COV)[1]
                                                 - np.linalg.slogdet(target)[1])
    tail = fit.elbo[-5000:]
    assert abs(tail.mean() - (log_z - kl)) < 5 * tail.std() / np.sqrt(len(tail)) + 0.02
    draws = fit.sample(4000, seed=0)
    assert draws.shape == (4000, 3)
    np.testing.assert_allclose(draws.mean(0), fit.mean, atol=5 * fit.std.max() / np.sqrt(4000))


def test_elbo_matches_reference_estimate():
    fit = vi.advi(gauss_logp, np.zeros(3), grad=gauss_grad, method="fullrank", seed=2,
                  n_steps=3000, tol=None)
    estimate = ref.elbo(lambda x: float(gauss_logp(x)), fit.mean, fit.scale_tril, 20000,
                        np.random.default_rng(0))
    tail = fit.elbo[-1000:]
    assert abs(estimate - tail.mean()) < 5 * tail.std() / np.sqrt(len(tail)) + 0.02


def test_reference_advi_agrees_in_law():
    """The reference loop (plain Adam on the same gradient) reaches the same optimum."""
    fit = ref.advi(lambda x: float(gauss_logp(x)), np.zeros(3), grad=lambda x: gauss_grad(x),
                   method="meanfield", n_steps=4000, lr=0.02, n_mc=4, seed=0, window=2000)
    np.testing.assert_allclose(fit[0], MEAN, atol=0.1)
    np.testing.assert_allclose(fit[1] @ fit[1].T, np.diag(1.0 / np.diag(PREC)), atol=0.12)


def test_python_callables_give_the_same_fit():
    kw = {"n_steps": 500, "seed": 3, "tol": None}
    fast = vi.advi(gauss_logp, np.zeros(3), grad=gauss_grad, **kw)
    slow = vi.advi(lambda x: float(gauss_logp(x)), np.zeros(3), grad=lambda x: gauss_grad(x),
                   **kw)
    np.testing.assert_allclose(slow.mean, fast.mean, rtol=1e-12)
    np.testing.assert_allclose(slow.elbo, fast.elbo, rtol=1e-12)


def test_convergence_on_windowed_elbo():
    fit = vi.advi(gauss_logp, np.zeros(3), grad=gauss_grad, seed=0, n_steps=50000, lr=0.05,
                  tol=0.01, window=200)
    assert fit.converged and fit.n_iter < 50000 and fit.n_iter % 200 == 0


# ---------------------------------------------------------------- logistic regression
def _breast_cancer():
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    return np.column_stack([np.ones(len(X)), X]), y.astype(np.float64)


X_BC, Y_BC = _breast_cancer()
PRIOR_SD = 1.0


@njit
def logistic_value_grad(w):
    """Bernoulli-logit likelihood with an N(0, PRIOR_SD^2) prior on every coefficient."""
    eta = X_BC @ w
    value = -0.5 * (w @ w) / PRIOR_SD ** 2
    resid = np.empty_like(eta)
    for i in range(eta.shape[0]):
        e = eta[i]
        log1p = np.log1p(np.exp(-abs(e))) + max(e, 0.0)  # log(1 + e^eta)
        value += Y_BC[i] * e - log1p
        resid[i] = Y_BC[i] - 1.0 / (1.0 + np.exp(-e))
    return value, X_BC.T @ resid - w / PRIOR_SD ** 2


@njit
def logistic_logp(w):
    return logistic_value_grad(w)[0]


@njit
def logistic_batch_value_grad(w, idx):
    scale = X_BC.shape[0] / idx.shape[0]
    Xb = X_BC[idx]
    eta = Xb @ w
    value = -0.5 * (w @ w) / PRIOR_SD ** 2
    resid = np.empty_like(eta)
    for k in range(eta.shape[0]):
        e = eta[k]
        yk = Y_BC[idx[k]]
        value += scale * (yk * e - np.log1p(np.exp(-abs(e))) - max(e, 0.0))
        resid[k] = yk - 1.0 / (1.0 + np.exp(-e))
    return value, scale * (Xb.T @ resid) - w / PRIOR_SD ** 2


@njit
def logistic_batch_logp(w, idx):
    return logistic_batch_value_grad(w, idx)[0]


@pytest.fixture(scope="module")
def nuts_posterior():
    trace = mcmc.sample(logistic_logp, np.zeros(31), grad=logistic_value_grad, draws=1000,
                        tune=500, chains=2, seed=0)
    s = trace.samples.reshape(-1, 31)
    return s.mean(0), s.std(0), mcmc.mcse(trace.samples)


@pytest.fixture(scope="module")
def advi_logistic():
    return vi.advi(logistic_logp, np.zeros(31), grad=logistic_value_grad, seed=0,
                   n_steps=20000, lr=0.01, n_mc=2, window=5000, tol=None)


def test_logistic_regression_fullrank_matches_nuts(nuts_posterior):
    """Full-rank ADVI: mean within 0.1 posterior sd of NUTS (plus 3 MCSE of the NUTS mean),
    marginal sds within 15 %. (Mean-field's optimum itself is off by up to 0.2 sd here: the
    coefficients are strongly correlated; it is compared with NumPyro's mean-field below.)"""
    mean, sd, mcse = nuts_posterior
    fit = vi.advi(logistic_logp, np.zeros(31), grad=logistic_value_grad, method="fullrank",
                  seed=0, n_steps=20000, lr=0.005, n_mc=2, window=10000, tol=None)
    excess = (np.abs(fit.mean - mean) - 3 * mcse) / sd
    assert excess.max() < 0.1, excess.max()
    np.testing.assert_allclose(fit.std, sd, rtol=0.15)
    # mean-field underestimates the marginal sds of correlated coefficients
    assert np.all(vi.advi(logistic_logp, np.zeros(31), grad=logistic_value_grad, seed=0,
                          n_steps=3000, tol=None).std < 1.1 * sd)


def test_logistic_regression_matches_numpyro_autonormal(advi_logistic):
    pytest.importorskip("numpyro")
    import jax
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist
    from numpyro.infer import SVI, Trace_ELBO
    from numpyro.infer.autoguide import AutoNormal

    def model(X, y):
        w = numpyro.sample("w", dist.Normal(0.0, PRIOR_SD).expand([X.shape[1]]).to_event(1))
        numpyro.sample("y", dist.Bernoulli(logits=X @ w), obs=y)

    guide = AutoNormal(model, init_scale=0.1)
    svi = SVI(model, guide, numpyro.optim.Adam(0.01), Trace_ELBO(num_particles=2))
    result = svi.run(jax.random.PRNGKey(0), 10000, jnp.asarray(X_BC), jnp.asarray(Y_BC),
                     progress_bar=False)
    loc = np.asarray(result.params["w_auto_loc"])
    scale = np.asarray(result.params["w_auto_scale"])
    # two independent stochastic fits of the same objective; NumPyro returns its last
    # constant-rate Adam iterate (not averaged), whose scales jitter by about 10-15 %
    assert np.max(np.abs(loc - advi_logistic.mean) / scale) < 0.25
    np.testing.assert_allclose(advi_logistic.std, scale, rtol=0.25)


def test_minibatch_svi_matches_full_batch(advi_logistic):
    fit = vi.advi(logistic_batch_logp, np.zeros(31), grad=logistic_batch_value_grad, seed=0,
                  n_steps=20000, lr=0.005, n_mc=1, window=10000, tol=None, batch_size=128,
                  n_data=X_BC.shape[0])
    z = np.abs(fit.mean - advi_logistic.mean) / advi_logistic.std
    assert z.max() < 0.35, z.max()
    np.testing.assert_allclose(fit.std, advi_logistic.std, rtol=0.3)


def test_to_arviz():
    pytest.importorskip("arviz")
    fit = vi.advi(gauss_logp, np.zeros(3), grad=gauss_grad, n_steps=300, seed=0)
    idata = fit.to_arviz(draws=50, seed=0)
    assert idata.posterior["x"].shape == (1, 50, 3)
    assert idata.attrs["inference"] == "advi-meanfield"


def test_bad_input():
    x0 = np.zeros(3)
    with pytest.raises(ValueError, match="logp"):
        vi.advi(lambda x: -np.inf, x0, grad=lambda x: np.zeros(3))
    with pytest.raises(ValueError, match="n_mc"):
        vi.advi(gauss_logp, x0, grad=gauss_grad, n_mc=0)
    for lr in (0.0, -1.0, np.nan, np.inf):
        with pytest.raises(ValueError, match="lr"):
            vi.advi(gauss_logp, x0, grad=gauss_grad, lr=lr)
    with pytest.raises(ValueError, match="method"):
        vi.advi(gauss_logp, x0, grad=gauss_grad, method="lowrank")
    with pytest.raises(ValueError, match="grad"):
        vi.advi(gauss_logp, x0, grad=lambda x: np.zeros(2))
    with pytest.raises(TypeError, match="grad"):
        vi.advi(gauss_logp, x0, grad=None)
    with pytest.raises(ValueError, match="n_data"):
        vi.advi(gauss_logp, x0, grad=gauss_grad, batch_size=10)
    with pytest.raises(ValueError, match="batch_size"):
        vi.advi(logistic_batch_logp, np.zeros(31), grad=logistic_batch_value_grad,
                batch_size=1000, n_data=569)
    with pytest.raises(ValueError, match="x0"):
        vi.advi(gauss_logp, np.array([np.nan, 0, 0]), grad=gauss_grad)


def test_python_exception_propagates():
    calls = []

    def logp(x):
        calls.append(1)
        if len(calls) > 20:
            raise RuntimeError("boom")
        return float(gauss_logp(x))

    with pytest.raises(RuntimeError, match="boom"):
        vi.advi(logp, np.zeros(3), grad=lambda x: gauss_grad(x), n_steps=100)
