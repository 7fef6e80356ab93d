"""Fuzz specs of fastml.scaling: the Chinchilla law, its fit, the compute-optimal
allocation, the plot and the GPT family driver."""

import numpy as np

from fuzz_specs import Spec

CHINCHILLA = {"E": 1.69337, "A": 406.401, "B": 410.723, "alpha": 0.33917, "beta": 0.28491}
_POSITIVE = [0, -1.0, np.nan, "1"]


def _points(rng, dtype):
    N = np.repeat(np.geomspace(7e7, 1.6e10, 3), 3)
    D = np.tile(np.geomspace(5e9, 5e11, 3), 3)
    from fastml.scaling import scaling_law

    L = scaling_law(N, D, **CHINCHILLA) * np.exp(0.002 * rng.standard_normal(N.size))
    return {"N": N.astype(dtype), "D": D.astype(dtype), "L": L.astype(dtype)}


def _law(N, D, **kw):
    from fastml.scaling import scaling_law

    return scaling_law(N, D, **CHINCHILLA)


def _fit(N, D, L, **kw):
    from fastml.scaling import fit_scaling_law

    fit = fit_scaling_law(N, D, L, **kw)
    return np.array([fit.params[k] for k in CHINCHILLA])


def _optimal(C, **params):
    from fastml.scaling import compute_optimal

    return compute_optimal(C, **params)


def _plot(N, D, L):
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    from fastml.scaling import ScalingLawFit, plot_scaling_law

    fit = ScalingLawFit(dict(CHINCHILLA), 0.0, {}, np.empty((0, 5)), 0.95)
    fig = plot_scaling_law(fit, N, D, L)
    offsets = [np.asarray(c.get_offsets(), dtype=np.float64) for c in fig.axes[0].collections]
    plt.close(fig)
    return offsets


def _family_inputs(rng, dtype):
    return {"tokens": rng.integers(0, 7, 600).astype(np.int64), "block_size": 8,
            "batch_size": 2, "val_windows": 4, "learning_rate": 3e-3}


def _family(tokens, **kw):
    from fastml.scaling import train_family

    runs = train_family(tokens, [(1, 1, 8)], [64, 96], random_state=0, **kw)
    return runs.N, runs.D, runs.loss


SPECS = [
    Spec("fastml.scaling.scaling_law", lambda rng, dtype: {k: v for k, v in
                                                          _points(rng, dtype).items()
                                                          if k != "L"},
         _law, any_ndim=("N", "D"), nonfinite_ok="all", dtypes=("float64",)),
    Spec("fastml.scaling.fit_scaling_law",
         lambda rng, dtype: {**_points(rng, dtype), "n_starts": 4},
         _fit, also=("fastml.scaling.ScalingLawFit",), same_length=(("N", "D", "L"),),
         rtol=1e-4, dtypes=("float64",),
         bad_params={"n_starts": [0, -1, 1.5], "delta": _POSITIVE,
                     "n_bootstrap": [-1, 2.5], "level": [0, 1.5, np.nan]}),
    Spec("fastml.scaling.compute_optimal",
         lambda rng, dtype: {"C": np.geomspace(1e18, 1e24, 4).astype(dtype), **CHINCHILLA},
         _optimal, any_ndim=("C",), dtypes=("float64",), rtol=1e-6,
         bad_params={"A": _POSITIVE, "B": _POSITIVE, "alpha": _POSITIVE,
                     "beta": _POSITIVE}),
    Spec("fastml.scaling.plot_scaling_law", _points, _plot, same_length=(("N", "D", "L"),),
         dtypes=("float64",)),
    Spec("fastml.scaling.train_family", _family_inputs, _family, arrays=("tokens",),
         dtypes=("float64",), rtol=1e-4,
         bad_params={"block_size": [0, -1, 2.5, 1000], "batch_size": [0, -1, 2.5],
                     "val_windows": [0, 1.5], "learning_rate": [0, -1.0, np.nan]}),
]
