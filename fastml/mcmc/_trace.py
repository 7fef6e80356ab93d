"""The result of :func:`fastml.mcmc.sample`: draws, per-draw statistics and diagnostics."""

import warnings

import numpy as np

from fastml.mcmc._diagnostics import _as_draws, _ess, _mcse_mean, _mcse_sd, _rhat

# Core for internal callers (fastml.distributed gathers the chains of several workers).
__cores__ = ("_concatenate_chains",)


class SamplingWarning(UserWarning):
    """The chains may not have converged (R-hat > 1.01) or hit divergences."""


class Summary(dict):
    """Column name -> array over dimensions; prints as a table (as ArviZ's summary)."""

    def __str__(self):
        cols = list(self)
        header = "      " + "".join(f"{c:>11}" for c in cols)
        rows = [header]
        for i in range(len(self[cols[0]])):
            rows.append(f"x[{i}]".ljust(6) + "".join(f"{self[c][i]:11.4g}" for c in cols))
        return "\n".join(rows)

    __repr__ = __str__


class Trace:
    """Draws of :func:`fastml.mcmc.sample`.

    Attributes
    ----------
    samples : ndarray, shape (chains, draws, dim)
        Post-tuning draws (for ``method="ensemble"`` the chains are the walkers).
    stats : dict of ndarray, each of shape (chains, draws)
        Per-draw statistics with ArviZ's names, those the method defines among:
        ``acceptance_rate`` (mean Metropolis acceptance probability of the transition;
        0/1 for the ensemble), ``step_size``, ``tree_depth``, ``n_steps`` (leapfrog
        steps, or log-density evaluations for ``slice``), ``diverging``, ``energy``
        (Hamiltonian at the draw), ``lp`` (log-density) and ``n_nan`` (NaN log-density
        evaluations, treated as -inf).
    method : str
    step_size : ndarray (chains,) or None
        Step size after tuning (proposal scale for ``rwmh``).
    inv_metric : ndarray (chains, dim) or (chains, dim, dim), or None
        Adapted inverse mass matrix (proposal covariance for ``rwmh``; slice widths
        for ``slice``).
    """

    def __init__(self, samples, stats, method, step_size=None, inv_metric=None):
        self.samples = samples
        self.stats = stats
        self.method = method
        self.step_size = step_size
        self.inv_metric = inv_metric

    @property
    def chains(self):
        return self.samples.shape[0]

    @property
    def draws(self):
        return self.samples.shape[1]

    @property
    def dim(self):
        return self.samples.shape[2]

    @property
    def n_divergences(self):
        div = self.stats.get("diverging")
        return 0 if div is None else int(div.sum())

    def __repr__(self):
        return (f"Trace(method={self.method!r}, chains={self.chains}, draws={self.draws}, "
                f"dim={self.dim}, divergences={self.n_divergences})")

    def summary(self):
        """Per dimension: mean, sd, mcse_mean, mcse_sd, ess_bulk, ess_tail, r_hat."""
        a, _ = _as_draws(self.samples)
        flat = a.reshape(-1, a.shape[2])
        return Summary(
            mean=flat.mean(axis=0),
            sd=flat.std(axis=0, ddof=1) if flat.shape[0] > 1 else np.full(a.shape[2], np.nan),
            mcse_mean=_mcse_mean(a) if a.shape[1] >= 4 else np.full(a.shape[2], np.nan),
            mcse_sd=_mcse_sd(a) if a.shape[1] >= 4 else np.full(a.shape[2], np.nan),
            ess_bulk=_ess(a, "bulk"),
            ess_tail=_ess(a, "tail"),
            r_hat=_rhat(a),
        )

    def to_arviz(self, var_name="x"):
        """``arviz.InferenceData`` with the draws as ``posterior[var_name]`` and the stats."""
        import arviz as az

        stats = {k: (v.astype(bool) if k == "diverging" else v) for k, v in self.stats.items()}
        return az.from_dict(posterior={var_name: self.samples}, sample_stats=stats)

    def check(self):
        """Warn (:class:`SamplingWarning`) about divergences and R-hat above 1.01."""
        if self.n_divergences:
            warnings.warn(f"{self.n_divergences} divergent transitions after tuning; "
                          "increase target_accept or reparameterise", SamplingWarning,
                          stacklevel=3)
        if self.method != "ensemble" and self.chains > 1 and self.draws >= 4:
            r = _rhat(_as_draws(self.samples)[0])
            worst = np.nanmax(r) if np.isfinite(r).any() else np.nan
            if worst > 1.01:
                warnings.warn(f"R-hat up to {worst:.3f} > 1.01 (dimension "
                              f"{int(np.nanargmax(r))}): the chains have not mixed; run "
                              "longer or tune more", SamplingWarning, stacklevel=3)


def _concatenate_chains(traces):
    """One Trace from Traces of disjoint chains of one run, in the order given."""
    first = traces[0]

    def join(values):
        return None if values[0] is None else np.concatenate(values, axis=0)

    return Trace(np.concatenate([t.samples for t in traces], axis=0),
                 {k: np.concatenate([t.stats[k] for t in traces], axis=0) for k in first.stats},
                 first.method, step_size=join([t.step_size for t in traces]),
                 inv_metric=join([t.inv_metric for t in traces]))
