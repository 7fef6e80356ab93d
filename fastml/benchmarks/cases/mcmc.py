"""mcmc suite: samplers' draws/s and ESS/s, time to the first draw, Gibbs draws/s.

- ``ensemble_gauss10``: stretch move, 32 walkers on a correlated 10-D Gaussian with an
  ``@njit`` log-density, vs emcee (per-walker and vectorised log-density) and the NumPy
  reference; ``draws/s`` counts walker draws.
- ``{nuts,hmc,rwmh}_gauss100`` and ``{nuts,hmc,rwmh}_logistic``: ESS/s (smallest bulk
  ESS over dimensions per second, tuning included for fastml: as many iterations as
  draws) on a correlated 100-D Gaussian and a Bayesian logistic regression (n = 10,000,
  d = 20), vs the NumPy reference loops run with the step size fastml adapts for
  their unit metric (reference timing excludes that tuning). For the logistic
  regression the cost is in the density (n exp + log1p per gradient): NumPy's
  vectorised transcendental functions beat Numba's scalar libm calls by about 3x, so
  ``fastml`` passes the NumPy value-and-gradient (the sampler is compiled either way)
  and ``fastml-njit-density`` the @njit one. The logistic cases are left out of
  ``--quick``.
- ``first_draw_cold``: a fresh Python process that imports fastml, defines an
  ``@njit`` density and returns its first NUTS draw (interpreter start included), vs
  the same with emcee (full runs only: a process start per repeat is too slow for
  ``--quick``). ``first_draw_warm``: a new ``@njit`` density in a running
  process (its compilation included; the samplers are compiled once and cached).
- ``gibbs_nig``: conjugate linear-regression Gibbs sampler vs the NumPy loop.

Answers are random draws, so cases set ``compare=False``; correctness is tested in
``tests/test_mcmc.py`` against known moments.
"""

import functools
import subprocess
import sys
import tempfile
import warnings

import numpy as np

from fastml import mcmc
from fastml.benchmarks import Case, Impl, register
from fastml.reference import bayes as reference_bayes
from fastml.reference import mcmc as reference


def _rates_ess(size, samples):
    """Draws and the smallest bulk ESS over dimensions (0 for a chain that never moved)."""
    samples = np.asarray(samples)
    samples = samples if samples.ndim == 3 else samples[None]
    ess = mcmc.ess(samples)
    ess[np.ptp(samples, axis=(0, 1)) == 0] = 0.0
    return {"draws": samples.shape[0] * samples.shape[1], "ess": float(np.nanmin(ess))}


def _draw_rates(size, samples):
    samples = np.asarray(samples)
    return {"draws": samples.size // samples.shape[-1]}


# ------------------------------------------------------------------- densities
@functools.cache
def _gaussian(dim):
    """N(0, S) with a fixed correlated S: @njit logp and (logp, grad), NumPy versions."""
    from numba import njit

    rng = np.random.default_rng(dim)
    q, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
    cov = (q * np.linspace(0.5, 3.0, dim)) @ q.T
    prec = np.linalg.inv(cov)

    @njit
    def logp(x):  # loops: no temporary array, no BLAS call overhead at small dim
        s = 0.0
        for i in range(x.shape[0]):
            t = 0.0
            for j in range(x.shape[0]):
                t += prec[i, j] * x[j]
            s += x[i] * t
        return -0.5 * s

    @njit
    def value_and_grad(x):  # one matrix-vector product per leapfrog step
        g = -(prec @ x)
        return 0.5 * (x @ g), g

    def logp_np(x):
        return -0.5 * x @ (prec @ x)

    def grad_np(x):
        return -(prec @ x)

    def logp_vec(xs):
        return -0.5 * np.einsum("ij,jk,ik->i", xs, prec, xs)

    return {"logp": logp, "grad": value_and_grad, "logp_np": logp_np, "grad_np": grad_np,
            "logp_vec": logp_vec}


@functools.cache
def _logistic(n, d):
    """Bayesian logistic regression, beta ~ N(0, I): y ~ Bernoulli(sigmoid(X beta)).

    The @njit version fuses value and gradient in one pass over the rows (``grad``
    returns both): one exp and one log1p per row.
    """
    from numba import njit

    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d)) / np.sqrt(d)
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-X @ rng.standard_normal(d)))).astype(float)

    @njit
    def value_and_grad(beta):
        g = -beta
        s = -0.5 * (beta @ beta)
        for i in range(X.shape[0]):
            e = 0.0
            for j in range(X.shape[1]):
                e += X[i, j] * beta[j]
            t = np.exp(-abs(e))  # log(1 + e^eta) = max(eta, 0) + log1p(e^-|eta|)
            s += y[i] * e - max(e, 0.0) - np.log1p(t)
            r = y[i] - (1.0 / (1.0 + t) if e >= 0.0 else t / (1.0 + t))
            for j in range(X.shape[1]):
                g[j] += r * X[i, j]
        return s, g

    @njit
    def logp(beta):
        return value_and_grad(beta)[0]

    def logp_np(beta):
        eta = X @ beta
        return y @ eta - np.logaddexp(0.0, eta).sum() - 0.5 * beta @ beta

    def grad_np(beta):
        return X.T @ (y - 1 / (1 + np.exp(-(X @ beta)))) - beta

    def value_and_grad_np(beta):
        eta = X @ beta
        value = y @ eta - np.logaddexp(0.0, eta).sum() - 0.5 * beta @ beta
        return value, X.T @ (y - 1 / (1 + np.exp(-eta))) - beta

    return {"logp": logp, "grad": value_and_grad, "logp_np": logp_np, "grad_np": grad_np,
            "value_and_grad_np": value_and_grad_np}


# ----------------------------------------------------------------- ensemble vs emcee
def _ensemble_setup(draws, rng):
    return {"p0": rng.standard_normal((32, 10)), "draws": draws}


def _fastml_ensemble(p0, draws):
    f = _gaussian(10)
    return mcmc.sample(f["logp"], p0, method="ensemble", chains=32, draws=draws, tune=0,
                       seed=0).samples


def _emcee(p0, draws, vectorize=False):
    import emcee

    f = _gaussian(10)
    sampler = emcee.EnsembleSampler(32, 10, f["logp_vec"] if vectorize else f["logp_np"],
                                    vectorize=vectorize)
    sampler.run_mcmc(p0, draws)
    return np.swapaxes(sampler.get_chain(), 0, 1)


register(Case(
    suite="mcmc", name="ensemble_gauss10",
    description="Stretch move, 32 walkers, correlated 10-D Gaussian (@njit logp); size = "
                "steps per walker; draws/s counts walker draws.",
    setup=_ensemble_setup,
    sizes=[2000, 20000], quick_sizes=[100], test_sizes=[5],
    rates=_draw_rates, compare=False,
    impls=[
        Impl("fastml", _fastml_ensemble),
        Impl("reference", lambda p0, draws: reference.ensemble(
            _gaussian(10)["logp_np"], p0, draws=draws, seed=0), max_size=2000),
        Impl("emcee", _emcee, requires=("emcee",)),
        Impl("emcee-vectorized", functools.partial(_emcee, vectorize=True),
             requires=("emcee",)),
    ],
))


# --------------------------------------------------------------- gradient samplers
def _model(name):
    return _gaussian(100) if name == "gauss100" else _logistic(10_000, 20)


def _x0(name):
    return np.zeros(100 if name == "gauss100" else 20)


def _fastml_run(model, method, draws, numpy_density=False):
    f = _model(model)
    logp, grad = f["logp"], f["grad"]
    if numpy_density:
        logp, grad = f["logp_np"], f["value_and_grad_np"]
    with warnings.catch_warnings():  # short runs: R-hat warnings are expected
        warnings.simplefilter("ignore", mcmc.SamplingWarning)
        return mcmc.sample(logp, _x0(model), grad=grad, method=method, draws=draws,
                           tune=draws, chains=4, seed=0).samples


@functools.cache
def _tuned(model, method):
    """Step size (and HMC steps) adapted by fastml, for the fixed-step references."""
    f = _model(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mcmc.SamplingWarning)
        tr = mcmc.sample(f["logp"], _x0(model), grad=f["grad"], method=method, draws=20,
                         tune=300, chains=1, seed=1, metric="unit")
    eps = float(tr.step_size[0])
    steps = int(np.median(tr.stats["n_steps"])) if "n_steps" in tr.stats else 1
    return eps, steps


def _reference_run(model, method, draws):
    f = _model(model)
    eps, steps = _tuned(model, method)
    x0 = _x0(model)
    if method == "nuts":
        return reference.nuts(f["logp_np"], f["grad_np"], x0, draws=draws, step_size=eps,
                              seed=0)
    if method == "hmc":
        return reference.hmc(f["logp_np"], f["grad_np"], x0, draws=draws, step_size=eps,
                             n_steps=steps, seed=0)
    return reference.rwmh(f["logp_np"], x0, draws=draws, step_size=eps, seed=0)


for _model_name, _label, _scale in (
        ("gauss100", "correlated 100-D Gaussian", 1),
        ("logistic", "Bayesian logistic regression n=10,000 d=20", 10)):
    for _method, _draws in (("nuts", 1000), ("hmc", 1000), ("rwmh", 5000)):
        register(Case(
            suite="mcmc", name=f"{_method}_{_model_name}",
            description=f"{_method.upper()} ESS/s on a {_label}: fastml 4 chains, as many "
                        "tuning iterations as draws (timed); reference one chain with "
                        "fastml's step size adapted for a unit metric (not timed).",
            setup=lambda draws, rng: {"draws": draws},
            sizes=[_draws // _scale],
            quick_sizes=[50] if _model_name == "gauss100" else [],
            test_sizes=[5], rates=_rates_ess, compare=False,
            impls=[
                Impl("fastml", functools.partial(_fastml_run, _model_name, _method,
                                                 numpy_density=_model_name == "logistic")),
                *([Impl("fastml-njit-density", functools.partial(
                    _fastml_run, _model_name, _method), kind="fastml")]
                  if _model_name == "logistic" else []),
                Impl("reference", functools.partial(_reference_run, _model_name, _method),
                     max_size=_draws // _scale),
            ],
        ))


# ---------------------------------------------------------------- time to first draw
_DENSITY = """
@njit
def logp(x):
    s = 0.0
    for i in range(x.shape[0]):
        s -= 0.5 * x[i] * x[i]
    return s
@njit
def grad(x):
    return -x
"""

_COLD_FASTML = """
import numpy as np
from numba import njit
import fastml.mcmc
""" + _DENSITY + """
fastml.mcmc.sample(logp, np.zeros(10), grad=grad, draws=1, tune=0, chains=1, seed=0)
"""

_COLD_EMCEE = """
import numpy as np
import emcee
def logp(x):
    return -0.5 * (x @ x)
emcee.EnsembleSampler(32, 10, logp).run_mcmc(np.random.default_rng(0).normal(size=(32, 10)), 1)
"""


def _fresh_process(code):
    # Run outside the current folder: in a source checkout `python -c` would import the
    # uncompiled source tree instead of the installed package.
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=tempfile.gettempdir())
    if done.returncode != 0:
        raise RuntimeError(f"fresh process failed:\n{done.stderr}")
    return np.zeros((1, 1, 1))


register(Case(
    suite="mcmc", name="first_draw_cold",
    description="Fresh process to first draw: interpreter start, import, @njit density "
                "compile, cached sampler load, one NUTS draw (emcee: one ensemble step).",
    setup=lambda size, rng: {},
    sizes=[1], quick_sizes=[], test_sizes=[1], compare=False,
    impls=[
        Impl("fastml", lambda: _fresh_process(_COLD_FASTML)),
        Impl("emcee", lambda: _fresh_process(_COLD_EMCEE), requires=("emcee",)),
    ],
))


def _warm_first_draw():
    from numba import njit

    space = {"njit": njit}
    exec(_DENSITY, space)  # new function objects: compiled on this call
    logp, grad = space["logp"], space["grad"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mcmc.SamplingWarning)
        return mcmc.sample(logp, np.zeros(10), grad=grad, draws=1, tune=0, chains=1,
                           seed=0).samples


register(Case(
    suite="mcmc", name="first_draw_warm",
    description="In a running process: define a new @njit density and get its first NUTS "
                "draw (compiles the density and its C wrappers; the sampler is cached).",
    setup=lambda size, rng: {},
    sizes=[1], quick_sizes=[], test_sizes=[1], compare=False,
    impls=[Impl("fastml", _warm_first_draw)],
))


# ------------------------------------------------------------------------- Gibbs
def _gibbs_setup(draws, rng):
    X = np.column_stack([np.ones(1000), rng.standard_normal((1000, 9))])
    return {"X": X, "y": X @ rng.standard_normal(10) + rng.standard_normal(1000),
            "draws": draws}


def _fastml_gibbs(X, y, draws):
    from fastml.bayes import BayesianLinearRegression

    model = BayesianLinearRegression(V0=10.0, a0=2.0, b0=1.0).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mcmc.SamplingWarning)
        return model.sample_posterior(draws, tune=0, chains=4, seed=0).samples


register(Case(
    suite="mcmc", name="gibbs_nig",
    description="Gibbs sampler of conjugate Bayesian linear regression, n=1000, p=10: "
                "fastml 4 chains (O(p^2) per sweep) vs the NumPy loop (one chain, O(np)).",
    setup=_gibbs_setup,
    sizes=[20000], quick_sizes=[500], test_sizes=[5],
    rates=_draw_rates, compare=False,
    impls=[
        Impl("fastml", _fastml_gibbs),
        Impl("reference", lambda X, y, draws: reference_bayes.gibbs_nig(
            X, y, np.zeros(10), 10.0 * np.eye(10), 2.0, 1.0, draws=draws, seed=0)),
    ],
))
