"""Convergence diagnostics of Vehtari, Gelman, Simpson, Carpenter & Bürkner (2021).

For draws theta[m, n] of M chains and N draws, each chain is split in halves (2M chains
of N' = floor(N/2) draws; a middle draw of an odd N is dropped).

- Rank normalisation: z = Phi^-1((r - 3/8) / (S + 1/4)) with r the average rank of a
  draw among all S = 2M N' draws.
- R-hat: sqrt(((N'-1)/N' W + B/N') / W) with W the mean within-chain variance and B/N'
  the variance of the chain means; ``rhat`` returns max(R-hat of z, R-hat of the
  z-scores of |theta - median|) (bulk and tail).
- ESS = S / tau, tau = -1 + 2 sum_t rho_t with rho_t = 1 - (W - mean_m acov_m(t)) / var+
  (var+ = (N'-1)/N' W + B/N'), truncated by Geyer's initial positive sequence and made
  monotone, tau >= 1 / log10(S). Bulk ESS uses z; tail ESS is the smaller ESS of the
  indicators I(theta <= q_0.05) and I(theta <= q_0.95); "mean" uses the raw draws.

Results match ArviZ's ``ess``/``rhat``/``mcse`` (same conventions, NaN for fewer than 4
draws, R-hat NaN for a single chain), vectorised over the trailing dimensions.
"""

import numpy as np

from fastml._validation import check_array, check_min_length, check_option, check_shape

_METHODS = ("bulk", "tail", "mean", "sd")


def _as_draws(samples):
    """(chains, draws, k) float64 view of (chains, draws) or (chains, draws, ...)."""
    a = check_array(samples, "samples", dtype=np.float64, finite=False)
    check_shape(a, "samples", ("chains", "draws", ...))
    check_min_length(a, "samples", 1, "chains")
    check_min_length(a, "samples", 1, "draws", axis=1)
    return a.reshape(a.shape[0], a.shape[1], -1), a.shape[2:]


def _split(a):
    half = a.shape[1] // 2
    return np.concatenate([a[:, :half], a[:, a.shape[1] - half:]], axis=0)


def _average_ranks(cols):
    """1-based ranks along each row of ``cols`` (k, S), ties given their average rank."""
    k, size = cols.shape
    order = np.argsort(cols, axis=1)  # any order within ties: they share their rank
    ordered = np.take_along_axis(cols, order, axis=1)
    new = np.ones((k, size), dtype=bool)
    new[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    starts = np.flatnonzero(new)  # flat index of each run of equal values
    counts = np.diff(np.append(starts, k * size))
    mean_rank = starts % size + (counts + 1) / 2.0
    ranks = np.empty((k, size))
    np.put_along_axis(ranks, order, np.repeat(mean_rank, counts).reshape(k, size), axis=1)
    return ranks


def _z_scale(a):
    from scipy.special import ndtri

    size = a.shape[0] * a.shape[1]
    ranks = _average_ranks(np.ascontiguousarray(a.reshape(size, a.shape[2]).T)).T
    return ndtri((ranks - 0.375) / (size + 0.25)).reshape(a.shape)


def _rhat_raw(a):
    """Classic R-hat per column of (chains, draws, k)."""
    n = a.shape[1]
    w = a.var(axis=1, ddof=1).mean(axis=0)
    b = n * a.mean(axis=1).var(axis=0, ddof=1)
    return np.sqrt((b / w + n - 1) / n)


def _autocov(a):
    """Autocovariance for every lag along axis 1 (FFT, biased 1/N normalisation)."""
    from scipy.fft import irfft, next_fast_len, rfft

    n = a.shape[1]
    m = next_fast_len(2 * n)
    f = rfft(a - a.mean(axis=1, keepdims=True), n=m, axis=1)
    return irfft(f * np.conjugate(f), n=m, axis=1)[:, :n] / n


def _ess_raw(a):
    """ESS per column of (chains, draws, k) by Geyer's initial monotone sequence."""
    chains, n, k = a.shape
    size = chains * n
    acov = _autocov(a)
    mean_var = acov[:, 0].mean(axis=0) * n / (n - 1.0)
    var_plus = mean_var * (n - 1.0) / n
    if chains > 1:
        var_plus = var_plus + a.mean(axis=1).var(axis=0, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = 1.0 - (mean_var - acov.mean(axis=0)) / var_plus  # (n, k), all lags
    rt = np.zeros((n, k))
    rt[0] = 1.0
    rt[1] = rho[1]
    even, odd = np.ones(k), rho[1].copy()
    active = np.ones(k, dtype=bool)
    t_end = np.ones(k, dtype=np.int64)
    t = 1
    while t < n - 3:  # Geyer's initial positive sequence, one pair of lags at a time
        active &= (even + odd) > 0.0
        if not active.any():
            break
        e, o = rho[t + 1], rho[t + 2]
        even = np.where(active, e, even)
        odd = np.where(active, o, odd)
        keep = active & (e + o >= 0.0)
        rt[t + 1] = np.where(keep, e, rt[t + 1])
        rt[t + 2] = np.where(keep, o, rt[t + 2])
        t_end = np.where(active, t + 2, t_end)
        t += 2
    max_t = t_end - 2
    cols = np.arange(k)
    rt[max_t + 1, cols] = np.where(even > 0.0, even, rt[max_t + 1, cols])
    t = 1
    while t <= max_t.max() - 2:  # initial monotone sequence
        inside = t <= max_t - 2
        prev = rt[t - 1] + rt[t]
        fix = inside & (rt[t + 1] + rt[t + 2] > prev)
        rt[t + 1] = np.where(fix, prev / 2.0, rt[t + 1])
        rt[t + 2] = np.where(fix, prev / 2.0, rt[t + 2])
        t += 2
    lags = np.arange(n)[:, None]
    tau = -1.0 + 2.0 * np.where(lags <= max_t, rt, 0.0).sum(axis=0) + rt[max_t + 1, cols]
    tau = np.maximum(tau, 1.0 / np.log10(size))
    ess = size / tau
    ess[np.isnan(rt).any(axis=0)] = np.nan
    constant = (a.max(axis=(0, 1)) - a.min(axis=(0, 1))) < np.finfo(float).resolution
    ess[constant] = size
    return ess


def _too_short(a, min_chains=1):
    return a.shape[1] < 4 or a.shape[0] < min_chains


def _ess(a, method):
    """ESS of (chains, draws, k) draws by ``method`` (see the module docstring)."""
    if _too_short(a):
        return np.full(a.shape[2], np.nan)
    if method == "bulk":
        return _ess_raw(_z_scale(_split(a)))
    if method == "mean":
        return _ess_raw(_split(a))
    if method == "sd":
        return _ess_raw(_split((a - a.mean(axis=(0, 1))) ** 2))
    flat = a.reshape(-1, a.shape[2])
    q = np.quantile(flat, [0.05, 0.95], axis=0)
    low = _ess_raw(_split((a <= q[0]).astype(np.float64)))
    high = _ess_raw(_split((a <= q[1]).astype(np.float64)))
    return np.minimum(low, high)


def ess(samples, method="bulk"):
    """Effective sample size per dimension (rank-normalised split ESS by default).

    Parameters
    ----------
    samples : array_like, shape (chains, draws) or (chains, draws, dim)
    method : "bulk", "tail", "mean" or "sd"
        "bulk": ESS of the rank-normalised draws; "tail": the smaller ESS of the 5% and
        95% quantile indicators; "mean": ESS of the raw draws (for the MCSE of the mean);
        "sd": ESS of the squared deviations.

    Returns
    -------
    ndarray of shape samples.shape[2:] (a float for 2-D input); NaN when draws < 4.
    """
    check_option(method, "method", _METHODS)
    a, tail_shape = _as_draws(samples)
    return _shape(_ess(a, method), tail_shape)


def _rhat(a):
    if _too_short(a, min_chains=2):
        return np.full(a.shape[2], np.nan)
    split = _split(a)
    bulk = _rhat_raw(_z_scale(split))
    tail = _rhat_raw(_z_scale(np.abs(split - np.median(split.reshape(-1, a.shape[2]), axis=0))))
    return np.maximum(bulk, tail)


def rhat(samples):
    """Rank-normalised split R-hat per dimension: max of bulk and folded (tail) R-hat.

    ``samples`` has shape (chains, draws) or (chains, draws, dim); NaN for fewer than two
    chains or four draws. Values above 1.01 suggest the chains have not mixed.
    """
    a, tail_shape = _as_draws(samples)
    return _shape(_rhat(a), tail_shape)


def _mcse_mean(a):
    sd = a.reshape(-1, a.shape[2]).std(axis=0, ddof=1)
    return sd / np.sqrt(_ess(a, "mean"))


def _mcse_sd(a):
    sq = (a - a.mean(axis=(0, 1))) ** 2
    e = _ess(sq, "mean")
    evar = sq.mean(axis=(0, 1))
    varvar = ((sq ** 2).mean(axis=(0, 1)) - evar ** 2) / e
    return np.sqrt(varvar / evar / 4.0)


def mcse(samples, method="mean"):
    """Monte Carlo standard error of the posterior mean (sd / sqrt(ESS_mean)) or sd.

    ``method`` is "mean" or "sd" (the latter by the delta method on E[(x - mean)^2], as
    ArviZ). Shape conventions as :func:`ess`.
    """
    check_option(method, "method", ("mean", "sd"))
    a, tail_shape = _as_draws(samples)
    if _too_short(a):
        return _shape(np.full(a.shape[2], np.nan), tail_shape)
    return _shape(_mcse_mean(a) if method == "mean" else _mcse_sd(a), tail_shape)


def _shape(values, tail_shape):
    return float(values[0]) if tail_shape == () else values.reshape(tail_shape)
