"""fastml.mcmc: samplers against known moments (MCSE tolerances), emcee and ArviZ.

Every check of a Monte Carlo estimate uses |estimate - truth| < Z * MCSE, with the MCSE
from the chains themselves (fastml.mcmc.mcse, checked against ArviZ below). Seeds are
fixed, so the tests are deterministic. Few distinct @njit densities are used, since
each costs a compilation; the samplers themselves are compiled once (cached).
"""

import logging

import numpy as np
import pytest
from numba import njit

import fastml
from fastml import mcmc
from fastml.reference import mcmc as reference

Z = 5.0
# Short test runs trip the R-hat warning; the warning itself is tested explicitly.
pytestmark = pytest.mark.filterwarnings("ignore::fastml.mcmc.SamplingWarning")

# ------------------------------------------------------------------- test densities
PREC2 = np.array([[1.0, 0.3], [0.3, 2.0]])
COV2 = np.linalg.inv(PREC2)


@njit
def gauss2(x):
    return -0.5 * (x[0] * x[0] + 2.0 * x[1] * x[1]) - 0.3 * x[0] * x[1]


@njit
def gauss2_grad(x):
    g = np.empty(2)
    g[0] = -x[0] - 0.3 * x[1]
    g[1] = -2.0 * x[1] - 0.3 * x[0]
    return g


def gauss2_py(x):
    return -0.5 * (x[0] * x[0] + 2.0 * x[1] * x[1]) - 0.3 * x[0] * x[1]


def gauss2_grad_py(x):
    return np.array([-x[0] - 0.3 * x[1], -2.0 * x[1] - 0.3 * x[0]])


def _random_cov(d, seed):
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    return (q * rng.uniform(0.5, 3.0, d)) @ q.T


COV100 = _random_cov(100, 0)
PREC100 = np.linalg.inv(COV100)


@njit
def gauss100(x):
    return -0.5 * x @ (PREC100 @ x)


@njit
def gauss100_grad(x):
    return -(PREC100 @ x)


@njit
def banana(x):
    """x0 ~ N(0, 2^2), x1 + (x0^2 - 4) / 4 ~ N(0, 1): mean 0, var (4, 1 + 2 * 16 / 16)."""
    y = x[1] + 0.25 * (x[0] * x[0] - 4.0)
    return -x[0] * x[0] / 8.0 - 0.5 * y * y


@njit
def banana_grad(x):
    y = x[1] + 0.25 * (x[0] * x[0] - 4.0)
    g = np.empty(2)
    g[0] = -x[0] / 4.0 - 0.5 * y * x[0]
    g[1] = -y
    return g


BANANA_MEAN = np.zeros(2)
BANANA_COV = np.diag([4.0, 3.0])


@njit
def funnel(x):
    """Neal's funnel: v ~ N(0, 3^2), x_i | v ~ N(0, e^v)."""
    v = x[0]
    s = -v * v / 18.0
    for i in range(1, x.shape[0]):
        s += -0.5 * x[i] * x[i] * np.exp(-v) - 0.5 * v
    return s


@njit
def funnel_grad(x):
    v = x[0]
    g = np.empty_like(x)
    g[0] = -v / 9.0
    for i in range(1, x.shape[0]):
        g[0] += 0.5 * x[i] * x[i] * np.exp(-v) - 0.5
        g[i] = -x[i] * np.exp(-v)
    return g


def assert_moments(samples, mean, cov, pairs=None, z=Z):
    """Mean and (co)variances within z MCSE of the truth."""
    se = mcmc.mcse(samples)
    est = samples.mean(axis=(0, 1))
    np.testing.assert_array_less(np.abs(est - mean), z * se)
    d = samples - mean
    dim = samples.shape[2]
    pairs = pairs if pairs is not None else [(i, j) for i in range(dim) for j in range(i, dim)]
    i, j = np.array(pairs).T
    prod = d[:, :, i] * d[:, :, j]
    np.testing.assert_array_less(np.abs(prod.mean(axis=(0, 1)) - cov[i, j]),
                                 z * mcmc.mcse(prod))


# ---------------------------------------------------------------- sampler accuracy
@pytest.mark.parametrize("method", ["nuts", "hmc", "rwmh", "slice", "ensemble"])
def test_correlated_gaussian_2d(method):
    chains = 8 if method == "ensemble" else 4
    draws = 4000 if method in ("rwmh", "ensemble") else 1000
    tr = mcmc.sample(gauss2, np.ones(2), grad=gauss2_grad, method=method, draws=draws,
                     tune=500, chains=chains, seed=1)
    assert tr.samples.shape == (chains, draws, 2)
    assert tr.samples.dtype == np.float64
    assert_moments(tr.samples, np.zeros(2), COV2)
    if method != "ensemble":
        assert np.all(tr.summary()["r_hat"] < 1.05)


@pytest.mark.parametrize("method", ["nuts", "rwmh"])
def test_dense_metric_learns_covariance(method):
    tr = mcmc.sample(gauss2, np.ones(2), grad=gauss2_grad, method=method, draws=1500,
                     tune=1000, chains=2, seed=2, metric="dense")
    assert tr.inv_metric.shape == (2, 2, 2)
    assert_moments(tr.samples, np.zeros(2), COV2)
    # The adapted inverse metric estimates the covariance (loosely: warm-up windows).
    np.testing.assert_allclose(tr.inv_metric.mean(axis=0), COV2, atol=0.25)


def test_nuts_100d_correlated_gaussian():
    tr = mcmc.sample(gauss100, np.zeros(100), grad=gauss100_grad, draws=400, tune=400,
                     chains=2, seed=0)
    pairs = [(i, i) for i in range(100)] + [(i, i + 1) for i in range(99)]
    assert_moments(tr.samples, np.zeros(100), COV100, pairs=pairs)
    assert tr.stats["tree_depth"].max() <= 10
    np.testing.assert_allclose(tr.stats["acceptance_rate"].mean(), 0.8, atol=0.12)


@pytest.mark.parametrize(("method", "options"), [("nuts", {"target_accept": 0.95}),
                                                   ("slice", {})])
def test_banana(method, options):
    """A curved density: NUTS needs a high target acceptance to avoid divergences."""
    tr = mcmc.sample(banana, np.array([0.0, 0.0]), grad=banana_grad, method=method,
                     draws=3000, tune=1000, chains=4, seed=5, **options)
    assert_moments(tr.samples, BANANA_MEAN, BANANA_COV)
    assert tr.n_divergences <= 3


def test_funnel_reports_divergences():
    with pytest.warns(mcmc.SamplingWarning, match="divergent"):
        tr = mcmc.sample(funnel, np.array([0.0, 1.0, 1.0]), grad=funnel_grad, draws=300,
                         tune=300, chains=2, seed=0, target_accept=0.6)
    assert tr.n_divergences > 0
    assert tr.stats["diverging"].dtype.kind == "i"
    assert set(np.unique(tr.stats["diverging"])) <= {0, 1}


def _logistic_data():
    rng = np.random.default_rng(42)
    X = np.column_stack([np.ones(100), rng.standard_normal((100, 2))])
    y = (rng.uniform(size=100) < 1 / (1 + np.exp(-(X @ [0.5, -1.0, 2.0])))).astype(float)
    return X, y


LX, LY = _logistic_data()


def logistic_logp(beta):
    """Bayesian logistic regression, beta ~ N(0, 5^2 I) (plain Python callable)."""
    eta = LX @ beta
    return float(LY @ eta - np.logaddexp(0.0, eta).sum() - beta @ beta / 50.0)


def logistic_grad(beta):
    eta = LX @ beta
    return LX.T @ (LY - 1.0 / (1.0 + np.exp(-eta))) - beta / 25.0


def test_bayesian_logistic_regression_methods_agree():
    """NUTS (Python callables) and slice sampling agree within their joint MCSE."""
    a = mcmc.sample(logistic_logp, np.zeros(3), grad=logistic_grad, draws=500, tune=300,
                    chains=2, seed=1)
    b = mcmc.sample(logistic_logp, np.zeros(3), method="slice", draws=500, tune=200,
                    chains=2, seed=2)
    diff = np.abs(a.samples.mean(axis=(0, 1)) - b.samples.mean(axis=(0, 1)))
    np.testing.assert_array_less(diff, Z * np.hypot(mcmc.mcse(a.samples),
                                                    mcmc.mcse(b.samples)))


def test_ensemble_matches_emcee():
    emcee = pytest.importorskip("emcee")
    rng = np.random.default_rng(0)
    p0 = rng.standard_normal((16, 2))
    ours = mcmc.sample(gauss2, p0, method="ensemble", chains=16, draws=3000, tune=200,
                       seed=0).samples
    sampler = emcee.EnsembleSampler(16, 2, gauss2_py)
    sampler.random_state = np.random.RandomState(0).get_state()
    sampler.run_mcmc(p0, 3200)
    theirs = np.swapaxes(sampler.get_chain(discard=200), 0, 1)
    for f in (lambda s: s, lambda s: s ** 2, lambda s: s[..., :1] * s[..., 1:]):
        fa, fb = f(ours), f(theirs)
        diff = np.abs(fa.mean(axis=(0, 1)) - fb.mean(axis=(0, 1)))
        np.testing.assert_array_less(diff, Z * np.hypot(mcmc.mcse(fa), mcmc.mcse(fb)))


def test_reference_samplers_match_truth():
    x = reference.rwmh(gauss2_py, np.zeros(2), draws=4000, step_size=1.5, seed=0)[None]
    assert_moments(x, np.zeros(2), COV2)
    x = reference.hmc(gauss2_py, gauss2_grad_py, np.zeros(2), draws=800, step_size=0.3,
                      n_steps=5, seed=0)[None]
    assert_moments(x, np.zeros(2), COV2)
    x = reference.nuts(gauss2_py, gauss2_grad_py, np.zeros(2), draws=600, step_size=0.5,
                       seed=0)[None]
    assert_moments(x, np.zeros(2), COV2)
    x = reference.ensemble(gauss2_py, np.random.default_rng(0).standard_normal((8, 2)),
                           draws=2000, seed=0)
    assert_moments(x, np.zeros(2), COV2)


# ------------------------------------------------------------------ reproducibility
@pytest.mark.parametrize("method", ["nuts", "slice", "ensemble"])
def test_python_callable_gives_same_draws(method):
    kw = {"method": method, "draws": 100, "tune": 100, "chains": 4, "seed": 3}
    fast = mcmc.sample(gauss2, np.ones(2), grad=gauss2_grad, **kw)
    slow = mcmc.sample(gauss2_py, np.ones(2), grad=gauss2_grad_py, **kw)
    np.testing.assert_array_equal(fast.samples, slow.samples)


@pytest.mark.parametrize("method", ["nuts", "hmc", "rwmh", "ensemble"])
def test_same_draws_for_any_thread_count_and_chunking(method):
    kw = {"grad": gauss2_grad, "method": method, "draws": 200, "tune": 100, "chains": 4,
          "seed": 7}
    with fastml.threads(1):
        one = mcmc.sample(gauss2, np.ones(2), **kw)
    with fastml.threads(3):
        many = mcmc.sample(gauss2, np.ones(2), **kw)
    chunked = mcmc.sample(gauss2, np.ones(2), progress=True, **kw)
    other = mcmc.sample(gauss2, np.ones(2), **{**kw, "seed": 8})
    np.testing.assert_array_equal(one.samples, many.samples)
    np.testing.assert_array_equal(one.samples, chunked.samples)
    for key in one.stats:
        np.testing.assert_array_equal(one.stats[key], chunked.stats[key])
    assert not np.array_equal(one.samples, other.samples)


def test_value_and_grad_gives_same_draws():
    """grad returning (logp, grad) replaces the separate logp call, same chain."""
    kw = {"draws": 100, "tune": 100, "chains": 2, "seed": 5}
    separate = mcmc.sample(gauss2_py, np.ones(2), grad=gauss2_grad_py, **kw)
    both = mcmc.sample(gauss2_py, np.ones(2),
                       grad=lambda x: (gauss2_py(x), gauss2_grad_py(x)), **kw)
    np.testing.assert_array_equal(separate.samples, both.samples)
    with pytest.raises(ValueError, match=r"differs from logp\(x0\)"):
        mcmc.sample(gauss2_py, np.ones(2), grad=lambda x: (0.0, gauss2_grad_py(x)), **kw)


def test_unit_metric_is_not_adapted():
    tr = mcmc.sample(gauss2_py, np.ones(2), grad=gauss2_grad_py, method="hmc", draws=50,
                     tune=200, chains=1, seed=0, metric="unit")
    np.testing.assert_array_equal(tr.inv_metric, np.ones((1, 2)))
    assert tr.step_size[0] != 1.0


def test_x0_per_chain_and_generator_seed():
    x0 = np.array([[-5.0, 0.0], [5.0, -1.0]])
    with pytest.warns(mcmc.SamplingWarning, match=r"R-hat up to .* > 1.01"):
        a = mcmc.sample(gauss2_py, x0, method="rwmh", draws=20, tune=0, chains=2,
                        seed=np.random.default_rng(1))
    b = mcmc.sample(gauss2_py, x0, method="rwmh", draws=20, tune=0, chains=2,
                    seed=np.random.default_rng(1))
    np.testing.assert_array_equal(a.samples, b.samples)
    assert a.samples.shape == (2, 20, 2)


# -------------------------------------------------------------------- bad input, NaN
def test_bad_input():
    x0 = np.zeros(2)
    with pytest.raises(ValueError, match="needs grad"):
        mcmc.sample(gauss2, x0, method="nuts")
    with pytest.raises(ValueError, match="method must be one of"):
        mcmc.sample(gauss2, x0, method="gibbs")
    with pytest.raises(ValueError, match=r"logp\(x0\) is not finite"):
        mcmc.sample(lambda x: -np.inf, x0, method="rwmh")
    with pytest.raises(ValueError, match=r"logp\(x0\) is not finite"):
        mcmc.sample(lambda x: np.nan, x0, method="slice")
    with pytest.raises(ValueError, match=r"grad\(x0\) must return shape \(2,\)"):
        mcmc.sample(gauss2_py, x0, grad=lambda x: np.zeros(3), method="hmc")
    with pytest.raises(ValueError, match="x0 has 3 rows but chains == 4"):
        mcmc.sample(gauss2_py, np.zeros((3, 2)), method="rwmh")
    with pytest.raises(ValueError, match="x0 must be 1-D or 2-D"):
        mcmc.sample(gauss2_py, np.zeros((4, 2, 1)), method="rwmh")
    with pytest.raises(ValueError, match="x0 contains NaN"):
        mcmc.sample(gauss2_py, np.array([np.nan, 0.0]), method="rwmh")
    with pytest.raises(ValueError, match="x0 must not be empty"):
        mcmc.sample(gauss2_py, np.zeros(0), method="rwmh")
    with pytest.raises(ValueError, match="even number of walkers"):
        mcmc.sample(gauss2_py, x0, method="ensemble", chains=3)
    with pytest.raises(TypeError, match="unexpected option"):
        mcmc.sample(gauss2_py, x0, method="rwmh", max_treedepth=3)
    with pytest.raises(ValueError, match="target_accept"):
        mcmc.sample(gauss2_py, x0, grad=gauss2_grad_py, target_accept=1.5)
    with pytest.raises(ValueError, match="draws"):
        mcmc.sample(gauss2_py, x0, method="rwmh", draws=0)
    with pytest.raises(TypeError, match="logp must be callable"):
        mcmc.sample(3.0, x0)


def test_nan_logp_is_rejected_and_counted():
    def truncated(x):
        return np.nan if x[0] > 1.0 else -0.5 * float(x @ x)

    tr = mcmc.sample(truncated, np.zeros(2), method="rwmh", draws=500, tune=100, chains=2,
                     seed=0)
    assert tr.samples[..., 0].max() <= 1.0
    assert tr.stats["n_nan"].sum() > 0
    assert tr.stats["n_nan"].shape == (2, 500)


def test_exception_in_python_logp_propagates():
    calls = []

    def failing(x):
        calls.append(1)
        if len(calls) > 50:
            raise RuntimeError("boom")
        return -0.5 * float(x @ x)

    with pytest.raises(RuntimeError, match="boom"):
        mcmc.sample(failing, np.zeros(2), method="rwmh", draws=100, tune=0, chains=1)


def test_one_dimension_one_chain_one_draw():
    tr = mcmc.sample(lambda x: -0.5 * x[0] ** 2, np.zeros(1), method="slice", draws=1,
                     tune=0, chains=1, seed=0)
    assert tr.samples.shape == (1, 1, 1)
    s = tr.summary()
    assert np.isnan(s["ess_bulk"][0]) and np.isnan(s["r_hat"][0])


# ------------------------------------------------------------------------ trace
def test_trace_summary_and_arviz():
    az = pytest.importorskip("arviz")
    tr = mcmc.sample(gauss2, np.ones(2), grad=gauss2_grad, draws=300, tune=300, chains=2,
                     seed=4)
    assert set(tr.stats) == {"lp", "n_nan", "acceptance_rate", "step_size", "n_steps",
                             "diverging", "energy", "tree_depth"}
    idata = tr.to_arviz()
    assert idata.posterior["x"].shape == (2, 300, 2)
    assert idata.sample_stats["diverging"].dtype == bool
    s = tr.summary()
    logging.disable(logging.WARNING)
    try:
        ref = az.summary(idata)
    finally:
        logging.disable(logging.NOTSET)
    np.testing.assert_allclose(s["ess_bulk"], ref["ess_bulk"], rtol=0.02)
    np.testing.assert_allclose(s["r_hat"], ref["r_hat"], atol=0.01)
    np.testing.assert_allclose(s["mean"], ref["mean"], atol=1e-3)
    assert "ess_bulk" in str(s)
    assert "Trace(method='nuts'" in repr(tr)


def test_adaptation_plan_matches_stan_windows():
    ends = np.flatnonzero(mcmc.adaptation_plan(1000) & 2)
    np.testing.assert_array_equal(ends, [99, 149, 249, 449, 949])
    plan = mcmc.adaptation_plan(1000)
    assert not plan[:75].any() and not plan[950:].any() and (plan[75:950] & 1).all()
    assert not mcmc.adaptation_plan(10).any()
    assert np.flatnonzero(mcmc.adaptation_plan(100) & 2)[-1] == 89


# --------------------------------------------------------------------- diagnostics
def _ar1(chains, draws, dim, rho, seed, offset=0.3):
    """AR(1) chains, each shifted by N(0, offset^2) (chains that disagree a little)."""
    rng = np.random.default_rng(seed)
    x = np.zeros((chains, draws, dim))
    e = rng.standard_normal((chains, draws, dim))
    for t in range(1, draws):
        x[:, t] = rho * x[:, t - 1] + e[:, t]
    return x + rng.normal(0, offset, (chains, 1, dim))


@pytest.mark.parametrize(("chains", "draws"), [(4, 500), (2, 101), (1, 64), (3, 5)])
def test_diagnostics_match_arviz(chains, draws):
    az = pytest.importorskip("arviz")
    x = _ar1(chains, draws, 3, 0.7, seed=draws)
    x[..., 2] = np.round(x[..., 2])  # ties in the ranks
    logging.disable(logging.WARNING)
    try:
        for method in ("bulk", "tail", "mean", "sd"):
            ref = [np.ravel(az.ess(x[..., i], method=method))[0] for i in range(3)]
            np.testing.assert_allclose(mcmc.ess(x, method=method), ref, rtol=1e-8)
        ref = [np.ravel(az.rhat(x[..., i]))[0] for i in range(3)]
        np.testing.assert_allclose(mcmc.rhat(x), ref, rtol=1e-8, equal_nan=True)
        ref = [np.ravel(az.mcse(x[..., i], method="mean"))[0] for i in range(3)]
        np.testing.assert_allclose(mcmc.mcse(x), ref, rtol=1e-8)
    finally:
        logging.disable(logging.NOTSET)


def test_diagnostics_shapes_and_edge_cases():
    x = _ar1(2, 50, 1, 0.0, seed=1)
    assert isinstance(mcmc.ess(x[..., 0]), float)
    assert mcmc.rhat(x.reshape(2, 50, 1, 1)).shape == (1, 1)
    assert np.isnan(mcmc.ess(x[:, :3]))
    assert np.isnan(mcmc.rhat(x[:1]))
    const = np.ones((2, 10))
    assert mcmc.ess(const) == 20  # constant draws: ESS = number of split draws
    with pytest.raises(ValueError, match="samples must have shape"):
        mcmc.ess(np.zeros(5))
    with pytest.raises(ValueError, match="method must be one of"):
        mcmc.ess(x, method="median")
    # An independent chain has ESS close to its length, a sticky one much less.
    assert mcmc.ess(_ar1(4, 1000, 1, 0.0, 2, offset=0.0))[0] > 3000
    assert mcmc.ess(_ar1(4, 1000, 1, 0.95, 2, offset=0.0))[0] < 300
    assert mcmc.rhat(_ar1(4, 1000, 1, 0.0, 2, offset=1.0))[0] > 1.1


# The last draw of chains 0 and 1 (seed 5, tune 30, draws 5) recorded before run_chain
# took named bundles instead of 25 positional arrays (issue 14): the refactor must keep
# every draw. Short runs, so a last-ulp difference of libm between machines cannot grow
# into a different trajectory; rtol 1e-9 is far above such a difference.
_DRAWS_BEFORE_BUNDLES = {
    ("nuts", "diag"): [[1.477084366267, 0.186390935005, 1.255460844896],
                       [2.621150392867, -0.720958868616, 1.656528832916]],
    ("nuts", "dense"): [[0.338272914388, -0.698103743204, 0.595303422202],
                        [-0.071719234917, 0.403512526243, -0.120389564875]],
    ("hmc", "diag"): [[-2.775003045689, 0.306354705961, 0.468064181602],
                      [-0.493566569525, 0.24848979625, 1.50023304624]],
    ("rwmh", "diag"): [[-0.362989200915, -0.777463275308, 1.32751461997],
                       [-0.883921632763, 0.256491089019, 0.038961623406]],
    ("slice", None): [[1.325330911669, -0.102649762572, 1.275448153801],
                      [-2.04310425986, -0.128431921754, -0.923426353797]],
    ("ensemble", None): [[-0.101096338971, -0.584310891749, 0.071743465019],
                         [0.634034734065, 0.516378078826, 0.274979337347]],
}


@njit
def _tilted_logp(x):
    return -0.5 * (x[0] ** 2 + 4 * x[1] ** 2 + (x[2] - 1) ** 2) - 0.3 * x[0] * x[1]


@njit
def _tilted_grad(x):
    return np.array([-x[0] - 0.3 * x[1], -4 * x[1] - 0.3 * x[0], -(x[2] - 1)])


@pytest.mark.filterwarnings("ignore::fastml.mcmc.SamplingWarning")
@pytest.mark.parametrize("method, metric", sorted(_DRAWS_BEFORE_BUNDLES, key=str))
def test_same_draws_as_before_the_driver_bundles(method, metric):
    kw = {} if metric is None else {"metric": metric}
    trace = mcmc.sample(_tilted_logp, np.full(3, 0.1),
                        grad=_tilted_grad if method in ("nuts", "hmc") else None,
                        method=method, chains=8 if method == "ensemble" else 2, draws=5,
                        tune=30, seed=5, **kw)
    np.testing.assert_allclose(trace.samples[:2, -1], _DRAWS_BEFORE_BUNDLES[method, metric],
                               rtol=1e-9, atol=1e-11)
