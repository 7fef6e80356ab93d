"""NUTS on five posteriordb posteriors: fastml vs nutpie (PyMC model, numba backend) vs
PyMC's own NUTS.

One case per posterior, ``mcmc/posteriordb_<name>``; size = draws per chain (tuning as
long), 4 chains, on the machine's threads (fastml's chains run in parallel, nutpie's on
its thread pool, PyMC's in ``cores=2`` processes). Every timed call compiles the model
anew (fastml: the Numba density; nutpie: ``compile_pymc_model``; PyMC: its pytensor
functions), so the time is the user's total from model to draws. Reported:

- rate ``min bulk-ESS``: the smallest rank-normalised bulk ESS over the reference
  parameters, per second of that total — the number the issue compares;
- metrics: that ESS, and ``max |z|``, the largest |mean - reference mean| / standard error
  (MCSE of the run and of the 10 000 reference draws) over the parameters: a sampler
  that is fast but wrong shows it there.

Skipped when ``../shared/data/posteriordb`` is not beside the checkout.
"""

import numpy as np

from fastml.benchmarks import Case, Impl, register
from fastml.benchmarks._posteriordb import NAMES, load

CHAINS = 4


def _setup(name):
    def setup(draws, rng):
        return {"name": name, "draws": draws}

    return setup


def _fastml(name, draws):
    import warnings

    from fastml import mcmc

    post = load(name)
    logp, value_and_grad = post.density()
    with warnings.catch_warnings():  # test-size chains need not mix
        warnings.simplefilter("ignore", mcmc.SamplingWarning)
        trace = mcmc.sample(logp, post.x0, grad=value_and_grad, draws=draws, tune=draws,
                            chains=CHAINS, seed=0, progress=False)
    return post.named(post.constrain(trace.samples))


def _posterior_arrays(idata):
    return {k: np.asarray(v) for k, v in idata.posterior.data_vars.items()}


def _nutpie(name, draws):
    import nutpie

    post = load(name)
    compiled = nutpie.compile_pymc_model(post.pymc_model(), backend="numba")
    idata = nutpie.sample(compiled, draws=draws, tune=draws, chains=CHAINS, seed=0,
                          progress_bar=False)
    return post.named(_posterior_arrays(idata))


def _pymc(name, draws):
    import pymc as pm

    post = load(name)
    with post.pymc_model():
        idata = pm.sample(draws=draws, tune=draws, chains=CHAINS, cores=2, random_seed=0,
                          progressbar=False, compute_convergence_checks=False)
    return post.named(_posterior_arrays(idata))


def _min_ess(answer, reference):
    from fastml import mcmc

    return min(float(mcmc.ess(answer[k])) for k in reference)


def _quality(name):
    def metrics(draws, answer):
        from fastml import mcmc

        reference = load(name).reference
        z = [abs(answer[k].mean() - ref.mean())
             / np.hypot(mcmc.mcse(answer[k]), ref.std() / np.sqrt(ref.size))
             for k, ref in reference.items()]
        return {"min bulk ESS": _min_ess(answer, reference), "max |z|": float(np.max(z))}

    return metrics


def _rates(name):
    return lambda draws, answer: {"min bulk-ESS": _min_ess(answer, load(name).reference)}


for _name in NAMES:
    if load(_name) is None:
        break
    _short = _name.split("-")[0]
    register(Case(
        suite="mcmc", name=f"posteriordb_{_short}", setup=_setup(_name),
        description=f"posteriordb {_name}: {CHAINS} NUTS chains, tune = draws = size, "
                    "compilation included; rate: min bulk-ESS per second",
        sizes=[1000], quick_sizes=[200], test_sizes=[20], compare=False, min_repeats=3,
        rates=_rates(_name), metrics=_quality(_name),
        impls=[Impl("fastml", _fastml),
               Impl("nutpie", _nutpie, requires=("nutpie", "pymc")),
               Impl("pymc", _pymc, requires=("pymc",))]))
