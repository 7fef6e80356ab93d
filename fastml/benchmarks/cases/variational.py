"""Suite ``variational``: ADVI on Bayesian logistic regression (breast cancer, 569 x 30
standardised + intercept, N(0, 1) prior), mean-field, 1 MC draw, Adam lr 0.01; size = steps.
Rates count optimisation steps (us/step = 1e6 / steps per second). Peers: NumPyro SVI with
AutoNormal (``svi.run``, the whole loop jitted by JAX; compilation is in the timing as it
is in each fresh ``svi.run``) and PyMC ``pm.fit(method="advi")``.

``bgm_digits``: ``mixture.BayesianGaussianMixture`` (Dirichlet process, K = 10, full
covariances, default priors) on scikit-learn's digits (1797 x 64); size = CAVI
iterations (tol 0, so exactly that many). Both implementations start from the same
responsibilities (one-hot of the digit classes) through one-method subclasses,
so the answer (the final lower bound) agrees; each timing also holds the initial M-step
and the final E-step (about 2 % at 100 iterations). Peer: scikit-learn, with BLAS
limited to fastml's thread count.
(VAE cases: ``variational_vae.py``.)"""

import functools

import numpy as np

from fastml import mixture, vi
from fastml.benchmarks import Case, Impl, register
from fastml.reference import mixture as reference_mixture
from fastml.reference import vi as reference_vi


@functools.cache
def _data():
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    return np.column_stack([np.ones(len(X)), X]), y.astype(np.float64)


@functools.cache
def _density():
    """@njit (logp, (logp, grad)) of the logistic-regression posterior."""
    from numba import njit

    X, y = _data()

    @njit
    def value_grad(w):
        eta = X @ w
        value = -0.5 * (w @ w)
        resid = np.empty_like(eta)
        for i in range(eta.shape[0]):
            e = eta[i]
            value += y[i] * e - np.log1p(np.exp(-abs(e))) - max(e, 0.0)
            resid[i] = y[i] - 1.0 / (1.0 + np.exp(-e))
        return value, X.T @ resid - w

    @njit
    def logp(w):
        return value_grad(w)[0]

    return logp, value_grad


def _steps(size, answer):
    return {"steps": size}


def _fastml(steps):
    logp, value_grad = _density()
    return vi.advi(logp, np.zeros(31), grad=value_grad, n_steps=steps, lr=0.01, seed=0,
                   tol=None).mean


def _reference(steps):
    logp, value_grad = _density()
    return reference_vi.advi(lambda w: float(logp(w)), np.zeros(31),
                             grad=lambda w: value_grad(w)[1], n_steps=steps, lr=0.01,
                             seed=0)[0]


def _numpyro(steps):
    import jax
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist
    from numpyro.infer import SVI, Trace_ELBO
    from numpyro.infer.autoguide import AutoNormal

    X, y = _data()

    def model(X, y):
        w = numpyro.sample("w", dist.Normal(0.0, 1.0).expand([X.shape[1]]).to_event(1))
        numpyro.sample("y", dist.Bernoulli(logits=X @ w), obs=y)

    svi = SVI(model, AutoNormal(model, init_scale=0.1), numpyro.optim.Adam(0.01),
              Trace_ELBO())
    result = svi.run(jax.random.PRNGKey(0), steps, jnp.asarray(X), jnp.asarray(y),
                     progress_bar=False)
    return np.asarray(result.params["w_auto_loc"])


def _pymc(steps):
    import pymc as pm

    X, y = _data()
    with pm.Model():
        w = pm.Normal("w", 0.0, 1.0, shape=X.shape[1])
        pm.Bernoulli("y", logit_p=pm.math.dot(X, w), observed=y)
        approx = pm.fit(n=steps, method="advi", progressbar=False, random_seed=0,
                        obj_optimizer=pm.adam(learning_rate=0.01))
    return np.asarray(approx.mean.eval())


register(Case(
    suite="variational", name="advi_logistic",
    description="Mean-field ADVI, Bayesian logistic regression 569 x 31, 1 MC draw, "
                "Adam 0.01; size = optimisation steps; rate = steps/s.",
    setup=lambda steps, rng: {"steps": steps},
    sizes=[10000], quick_sizes=[1000], test_sizes=[20], rates=_steps, compare=False,
    impls=[
        Impl("fastml", _fastml),
        Impl("reference", _reference, max_size=1000),
        Impl("numpyro-svi", _numpyro, requires=("numpyro",)),
        Impl("pymc-fit", _pymc, requires=("pymc",)),
    ],
))


BGM_K = 10


@functools.cache
def _digits_resp():
    """Digits (1797 x 64) and one-hot responsibilities of their 10 classes."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    resp = np.zeros((len(X), BGM_K))
    resp[np.arange(len(X)), y] = 1
    return X.astype(np.float64), resp


def _bgm_kwargs(iterations):
    return dict(n_components=BGM_K, covariance_type="full", max_iter=iterations, tol=0)


def _fastml_bgm(X, resp, iterations):
    import warnings

    from fastml import ConvergenceWarning

    class FromResp(mixture.BayesianGaussianMixture):
        def _initial_resp(self, X, rng):
            return resp

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return FromResp(**_bgm_kwargs(iterations)).fit(X).lower_bound_


def _sklearn_bgm(X, resp, iterations):
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import BayesianGaussianMixture
    from threadpoolctl import threadpool_limits

    from fastml._kernels import threads_for

    class FromResp(BayesianGaussianMixture):
        def _initialize_parameters(self, X, random_state, xp=None):
            self._initialize(X, resp)

    with warnings.catch_warnings(), threadpool_limits(limits=threads_for(len(X), 512)):
        warnings.simplefilter("ignore", ConvergenceWarning)
        return float(FromResp(**_bgm_kwargs(iterations)).fit(X).lower_bound_)


def _reference_bgm(X, resp, iterations):
    return reference_mixture.bayesian_gaussian_mixture_cavi(
        X, resp, weight_concentration_prior=1.0 / BGM_K, mean_precision_prior=1.0,
        mean_prior=X.mean(axis=0), degrees_of_freedom_prior=X.shape[1],
        covariance_prior=np.cov(X.T), max_iter=iterations, tol=0)[3]


register(Case(
    suite="variational", name="bgm_digits",
    description="BayesianGaussianMixture, digits 1797 x 64, K = 10 full covariances, "
                "Dirichlet process; size = CAVI iterations from the same responsibilities; "
                "answer: the final lower bound; rate = iterations/s.",
    setup=lambda iterations, rng: {"X": _digits_resp()[0], "resp": _digits_resp()[1],
                                   "iterations": iterations},
    sizes=[100], quick_sizes=[20], test_sizes=[2], rates=lambda size, answer: {"iter": size},
    rtol=1e-6,
    impls=[
        Impl("fastml", _fastml_bgm),
        Impl("reference", _reference_bgm, max_size=2),
        Impl("sklearn", _sklearn_bgm, requires=("sklearn",)),
    ],
))
