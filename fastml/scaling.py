"""Scaling laws: train a family of GPT sizes x token budgets, fit Chinchilla's law.

Hoffmann et al. (2022, "approach 3") model the final loss of a language model with N
parameters trained on D tokens as

    L(N, D) = E + A / N^alpha + B / D^beta,

fitted by minimising the Huber loss (delta = 1e-3) of the log-loss residuals, written in
log-sum-exp form with a = log A, b = log B, e = log E,

    min_{a, b, e, alpha, beta}  sum_i Huber_delta( LSE(a - alpha log N_i, b - beta log D_i, e)
                                                   - log L_i ),

with L-BFGS started from a grid (alpha, beta in {0, 0.5, ..., 2}, e in {-1, -0.5, ..., 1},
a, b in {0, 5, ..., 25}); the best local optimum wins. The grid objective is evaluated
for all 4500 starts at once and L-BFGS runs from the ``n_starts`` best of them (all when
``n_starts=None``). Intervals come from refitting bootstrap resamples of the points.

Compute-optimal allocation under C = 6 N D (minimise L along the constraint):

    N*(C) = G (C / 6)^a_N,   D*(C) = G^-1 (C / 6)^b_D,
    G = (alpha A / (beta B))^(1 / (alpha + beta)),  a_N = beta / (alpha + beta),
    b_D = alpha / (alpha + beta).

:func:`train_family` produces the (N, D, L) points on a CPU: every (model size, token
budget) pair trains a fresh :class:`fastml.models.GPT` on a token stream for exactly D
tokens with AdamW and a warm-up + cosine schedule that ends at the budget (as Chinchilla
requires) and records the mean validation loss. :func:`plot_scaling_law` draws the
log-log picture (matplotlib is imported only there).
"""

import dataclasses
import itertools
import math
import numbers

import numpy as np

from fastml import _kernels
from fastml._validation import (
    check_array,
    check_bounds,
    check_consistent_length,
    check_divisible,
    check_index_array,
    check_min_length,
    check_nonempty,
    check_positive_int,
    check_random_state,
    check_scalar,
)

__all__ = ["ScalingLawFit", "compute_optimal", "fit_scaling_law", "plot_scaling_law",
           "scaling_law", "train_family"]

PARAMETER_NAMES = ("E", "A", "B", "alpha", "beta")
# Hoffmann et al.'s initialisation grid for (alpha, beta, e, a, b)
_GRID = (np.arange(0.0, 2.01, 0.5), np.arange(0.0, 2.01, 0.5), np.arange(-1.0, 1.01, 0.5),
         np.arange(0.0, 25.1, 5.0), np.arange(0.0, 25.1, 5.0))


def scaling_law(N, D, E, A, B, alpha, beta):
    """L(N, D) = E + A / N^alpha + B / D^beta (broadcasting)."""
    N = check_array(N, "N", dtype=np.float64, finite=False)
    D = check_array(D, "D", dtype=np.float64, finite=False)
    try:
        np.broadcast_shapes(N.shape, D.shape)
    except ValueError:
        raise ValueError(f"N {N.shape} and D {D.shape} must broadcast together") from None
    return E + A * N ** -alpha + B * D ** -beta


# ---------------------------------------------------------------------- fitting core
def _objective_batch(theta, log_n, log_d, log_l, delta):
    """Huber objective (k,) and gradient (5, k) at k parameter vectors theta (5, k) =
    (a, b, e, alpha, beta)."""
    a, b, e, alpha, beta = theta[:, None, :]
    u = np.stack(np.broadcast_arrays(a - alpha * log_n[:, None], b - beta * log_d[:, None],
                                     e))  # (3, points, k)
    top = u.max(axis=0)
    w = np.exp(u - top)
    total = w.sum(axis=0)
    r = top + np.log(total) - log_l[:, None]
    small = np.abs(r) <= delta
    value = np.where(small, 0.5 * r * r, delta * (np.abs(r) - 0.5 * delta)).sum(axis=0)
    p = w / total * np.where(small, r, delta * np.sign(r))  # softmax_j(u) Huber'(r)
    grad = np.stack([p[0].sum(axis=0), p[1].sum(axis=0), p[2].sum(axis=0),
                     -(p[0] * log_n[:, None]).sum(axis=0), -(p[1] * log_d[:, None]).sum(axis=0)])
    return value, grad


def _objective(theta, log_n, log_d, log_l, delta):
    """Objective and gradient at one theta (5,) for L-BFGS (the same formulas as
    :func:`_objective_batch` on 1-D arrays, with fewer temporaries)."""
    a, b, e, alpha, beta = theta
    u0 = a - alpha * log_n
    u1 = b - beta * log_d
    top = np.maximum(np.maximum(u0, u1), e)
    w0 = np.exp(u0 - top)
    w1 = np.exp(u1 - top)
    w2 = np.exp(e - top)
    total = w0 + w1 + w2
    r = top + np.log(total) - log_l
    abs_r = np.abs(r)
    small = abs_r <= delta
    value = np.where(small, 0.5 * r * r, delta * (abs_r - 0.5 * delta)).sum()
    dr = np.clip(r, -delta, delta) / total  # Huber'(r) / sum(w)
    p0 = w0 * dr
    p1 = w1 * dr
    return float(value), np.array([p0.sum(), p1.sum(), (w2 * dr).sum(), -(p0 @ log_n),
                                   -(p1 @ log_d)])


def _grid_starts(log_n, log_d, log_l, delta, n_starts):
    """The n_starts grid points (a, b, e, alpha, beta) of lowest objective (all if None)."""
    alpha, beta, e, a, b = (g.ravel() for g in np.meshgrid(*_GRID, indexing="ij"))
    grid = np.stack([a, b, e, alpha, beta])
    if n_starts is None or n_starts >= grid.shape[1]:
        return grid.T
    values, _ = _objective_batch(grid, log_n, log_d, log_l, delta)
    return grid[:, np.argsort(values, kind="stable")[:n_starts]].T


def _lbfgs(theta0, log_n, log_d, log_l, delta):
    from scipy.optimize import minimize

    result = minimize(_objective, theta0, args=(log_n, log_d, log_l, delta), jac=True,
                      method="L-BFGS-B", options={"maxiter": 1000, "gtol": 1e-12,
                                                  "ftol": 1e-15})
    return result.x, float(result.fun)


def _fit_core(log_n, log_d, log_l, delta, starts):
    """Best L-BFGS optimum (theta, objective) over the given starts."""
    best, best_value = None, np.inf
    for theta0 in starts:
        theta, value = _lbfgs(theta0, log_n, log_d, log_l, delta)
        if np.all(np.isfinite(theta)) and value < best_value:
            best, best_value = theta, value
    return best, best_value


def _parameters(theta):
    a, b, e, alpha, beta = theta
    return {"E": math.exp(e), "A": math.exp(a), "B": math.exp(b), "alpha": float(alpha),
            "beta": float(beta)}


@dataclasses.dataclass
class ScalingLawFit:
    """A fitted L(N, D) = E + A / N^alpha + B / D^beta.

    Parameters
    ----------
    params : dict of E, A, B, alpha, beta.
    objective : the Huber objective at the optimum.
    intervals : dict name -> (low, high) bootstrap percentile interval (empty without
        bootstrap); ``bootstrap`` holds the (n_bootstrap, 5) refitted parameters in the
        order of ``PARAMETER_NAMES``.
    """

    params: dict
    objective: float
    intervals: dict
    bootstrap: np.ndarray
    level: float

    def __getattr__(self, name):
        params = self.__dict__.get("params", {})
        if name in params:
            return params[name]
        raise AttributeError(name)

    def predict(self, N, D):
        """Fitted loss at (N, D)."""
        return scaling_law(N, D, **self.params)

    def compute_optimal(self, C):
        """(N*(C), D*(C)) minimising the fitted loss under C = 6 N D."""
        return compute_optimal(C, **self.params)

    @property
    def exponents(self):
        """(a_N, b_D): N* ~ C^a_N, D* ~ C^b_D."""
        s = self.params["alpha"] + self.params["beta"]
        return self.params["beta"] / s, self.params["alpha"] / s

    def summary(self):
        lines = []
        for name in PARAMETER_NAMES:
            line = f"{name:>5} = {self.params[name]:.6g}"
            if name in self.intervals:
                low, high = self.intervals[name]
                line += f"   {100 * self.level:.0f}% interval [{low:.6g}, {high:.6g}]"
            lines.append(line)
        a_n, b_d = self.exponents
        lines.append(f"N*(C) ~ C^{a_n:.3f},  D*(C) ~ C^{b_d:.3f}")
        return "\n".join(lines)


def _check_points(N, D, L):
    N = check_array(N, "N", ndim=1, dtype=np.float64)
    D = check_array(D, "D", ndim=1, dtype=np.float64)
    L = check_array(L, "L", ndim=1, dtype=np.float64)
    check_consistent_length(("N", N), ("D", D), ("L", L))
    for name, x in (("N", N), ("D", D), ("L", L)):
        check_bounds(x, name, low=0, closed="neither")
    check_min_length(N, "N, D, L", 5, "points (one per run) to fit 5 parameters")
    return N, D, L


def fit_scaling_law(N, D, L, *, delta=1e-3, n_starts=32, n_bootstrap=0, level=0.95,
                    random_state=None):
    """Fit Chinchilla's L(N, D) = E + A / N^alpha + B / D^beta (approach 3).

    Parameters
    ----------
    N, D, L : 1-D arrays, parameters, training tokens and final loss of each run (> 0).
    delta : Huber threshold on log-loss residuals (Hoffmann et al.: 1e-3).
    n_starts : L-BFGS runs from this many best points of the 4500-point grid
        (None: from all of them, as the paper).
    n_bootstrap : number of bootstrap refits (resampling the points with replacement,
        each started from the full-data optimum) for the ``level`` percentile intervals.
    random_state : seed of the bootstrap.

    Returns a :class:`ScalingLawFit`.
    """
    N, D, L = _check_points(N, D, L)
    delta = float(check_scalar(delta, "delta", numbers.Real, min_val=0,
                               include_boundaries="neither"))
    if n_starts is not None:
        n_starts = check_positive_int(n_starts, "n_starts")
    n_bootstrap = check_positive_int(n_bootstrap, "n_bootstrap", min_val=0)
    level = float(check_scalar(level, "level", numbers.Real, min_val=0, max_val=1,
                               include_boundaries="neither"))
    rng = check_random_state(random_state)
    with _kernels.blas_single_threaded():  # tiny vectors: threaded BLAS only waits
        return _fit(np.log(N), np.log(D), np.log(L), delta, n_starts, n_bootstrap, level,
                    rng)


def _fit(log_n, log_d, log_l, delta, n_starts, n_bootstrap, level, rng):
    theta, value = _fit_core(log_n, log_d, log_l, delta,
                             _grid_starts(log_n, log_d, log_l, delta, n_starts))
    samples = np.empty((n_bootstrap, len(PARAMETER_NAMES)))
    n = log_n.shape[0]
    for k in range(n_bootstrap):
        pick = rng.integers(0, n, n)
        refit, _ = _fit_core(log_n[pick], log_d[pick], log_l[pick], delta, [theta])
        samples[k] = list(_parameters(refit).values())
    intervals = {}
    if n_bootstrap:
        tail = 50 * (1 - level)
        low, high = np.percentile(samples, [tail, 100 - tail], axis=0)
        intervals = {name: (float(lo), float(hi))
                     for name, lo, hi in zip(PARAMETER_NAMES, low, high)}
    return ScalingLawFit(_parameters(theta), value, intervals, samples, level)


def compute_optimal(C, E, A, B, alpha, beta):
    """(N*(C), D*(C)): the allocation minimising E + A/N^alpha + B/D^beta at C = 6 N D."""
    C = np.atleast_1d(check_array(C, "C", ndim=(0, 1), dtype=np.float64))
    check_bounds(C, "C", low=0, closed="neither")
    for name, value in (("A", A), ("B", B), ("alpha", alpha), ("beta", beta)):
        check_scalar(value, name, numbers.Real, min_val=0, include_boundaries="neither")
    G = (alpha * A / (beta * B)) ** (1.0 / (alpha + beta))
    s = alpha + beta
    return G * (C / 6.0) ** (beta / s), (C / 6.0) ** (alpha / s) / G


# ---------------------------------------------------------------------- training a family
@dataclasses.dataclass
class FamilyRuns:
    """Results of :func:`train_family`, one entry per run: ``N`` (non-embedding
    parameters as nanoGPT counts them: all but the position embeddings), ``D`` (training
    tokens), ``loss`` (validation loss), ``config`` (the GPTConfig), ``steps`` and
    ``seconds``."""

    N: np.ndarray
    D: np.ndarray
    loss: np.ndarray
    configs: list
    steps: np.ndarray
    seconds: np.ndarray


def _check_model_sizes(model_sizes):
    sizes = []
    for size in model_sizes:
        if not (isinstance(size, (tuple, list)) and len(size) == 3):
            raise ValueError(f"model_sizes must hold (n_layer, n_head, n_embd) triples, "
                             f"got {size!r}")
        n_layer, n_head, n_embd = (check_positive_int(v, "model_sizes") for v in size)
        check_divisible(n_embd, "model_sizes: n_embd", n_head, "n_head")
        sizes.append((n_layer, n_head, n_embd))
    return check_nonempty(sizes, "model_sizes")


def _learning_rate(step, n_steps, warmup, peak, floor):
    """Linear warm-up, then cosine decay from peak to floor at the last step."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, n_steps - warmup)
    return floor + 0.5 * (peak - floor) * (1 + math.cos(math.pi * min(1.0, progress)))


def _batch(tokens, starts, block_size):
    rows = starts[:, None] + np.arange(block_size + 1)
    window = tokens[rows]
    return window[:, :-1], window[:, 1:]


def _train_run(config, n_tokens, train_tokens, val_starts, val_tokens, batch_size,
               learning_rate, weight_decay, rng):
    """Train a fresh GPT for n_tokens tokens; (N, steps, validation loss)."""
    from fastml.models import GPT

    model = GPT(config, random_state=rng)
    optimizer = model.configure_optimizers(weight_decay, learning_rate)
    block = config.block_size
    n_steps = max(1, round(n_tokens / (batch_size * block)))
    warmup = max(1, n_steps // 20)
    for step in range(n_steps):
        for group in optimizer.param_groups:
            group["lr"] = _learning_rate(step, n_steps, warmup, learning_rate,
                                         0.1 * learning_rate)
        x, y = _batch(train_tokens, rng.integers(0, len(train_tokens) - block, batch_size),
                      block)
        model.zero_grad()
        model.forward(x, y)
        model.backward()
        optimizer.step()
    model.eval()
    losses = [model.forward(*_batch(val_tokens, starts, block))[1]
              for starts in np.array_split(val_starts, max(1, len(val_starts) // 64))]
    return model.get_num_params(non_embedding=True), n_steps, float(np.mean(losses))


def train_family(tokens, model_sizes, token_budgets, *, block_size=64, batch_size=16,
                 learning_rate=3e-3, weight_decay=0.1, val_fraction=0.1, val_windows=256,
                 vocab_size=None, random_state=None, progress=None):
    """Train every (model size, token budget) pair and measure its validation loss.

    Parameters
    ----------
    tokens : 1-D int array, the token stream (e.g. character ids); its last
        ``val_fraction`` is held out for validation.
    model_sizes : sequence of (n_layer, n_head, n_embd).
    token_budgets : sequence of int, training tokens D per run (steps = D / (batch_size
        block_size), rounded).
    block_size, batch_size, learning_rate, weight_decay : training recipe (AdamW, 5%
        linear warm-up, cosine decay to learning_rate / 10 at the budget, dropout 0).
    val_windows : number of validation windows of block_size tokens (evenly spaced).
    vocab_size : defaults to tokens.max() + 1.
    progress : callable(message) told after each run, or None.

    Returns :class:`FamilyRuns`.
    """
    from fastml.models import GPTConfig

    tokens = check_index_array(tokens, "tokens", None, what="token ids", ndim=1)
    sizes = _check_model_sizes(model_sizes)
    budgets = check_nonempty([check_positive_int(b, "token_budgets") for b in token_budgets],
                             "token_budgets")
    block_size = check_positive_int(block_size, "block_size")
    batch_size = check_positive_int(batch_size, "batch_size")
    learning_rate = float(check_scalar(learning_rate, "learning_rate", numbers.Real,
                                       min_val=0, include_boundaries="neither"))
    weight_decay = float(check_scalar(weight_decay, "weight_decay", numbers.Real, min_val=0))
    val_fraction = float(check_scalar(val_fraction, "val_fraction", numbers.Real, min_val=0,
                                      max_val=1, include_boundaries="neither"))
    val_windows = check_positive_int(val_windows, "val_windows")
    check_nonempty(tokens, "tokens")
    vocab = int(tokens.max()) + 1 if vocab_size is None else \
        check_positive_int(vocab_size, "vocab_size")
    check_index_array(tokens, "tokens", vocab, what="token ids below vocab_size")
    n_val = int(len(tokens) * val_fraction)
    if n_val <= block_size + 1 or len(tokens) - n_val <= block_size + 1:
        raise ValueError(f"tokens ({len(tokens)}) is too short for block_size {block_size} "
                         f"with val_fraction {val_fraction}")
    rng = check_random_state(random_state)
    tokens = tokens.astype(np.int64)
    train_tokens, val_tokens = tokens[:-n_val], tokens[-n_val:]
    val_starts = np.linspace(0, n_val - block_size - 1, val_windows).astype(np.int64)
    return _train_family(train_tokens, val_tokens, val_starts, sizes, budgets,
                         lambda s: GPTConfig(block_size=block_size, vocab_size=vocab,
                                             n_layer=s[0], n_head=s[1], n_embd=s[2],
                                             dropout=0.0, bias=False),
                         batch_size, learning_rate, weight_decay, rng, progress)


def _train_family(train_tokens, val_tokens, val_starts, sizes, budgets, make_config,
                  batch_size, learning_rate, weight_decay, rng, progress):
    import time

    N, D, loss, configs, steps, seconds = [], [], [], [], [], []
    for size, budget in itertools.product(sizes, budgets):
        config = make_config(size)
        seed = int(rng.integers(2**31))
        start = time.perf_counter()
        n, n_steps, value = _train_run(config, budget, train_tokens, val_starts, val_tokens,
                                       batch_size, learning_rate, weight_decay,
                                       np.random.default_rng(seed))
        elapsed = time.perf_counter() - start
        for out, v in zip((N, D, loss, configs, steps, seconds),
                          (n, n_steps * batch_size * config.block_size, value, config,
                           n_steps, elapsed)):
            out.append(v)
        if progress is not None:
            progress(f"n_layer={size[0]} n_head={size[1]} n_embd={size[2]}: N={n}, "
                     f"D={D[-1]}, val loss {value:.4f} ({n_steps} steps, {elapsed:.1f} s)")
    return FamilyRuns(np.array(N, dtype=np.float64), np.array(D, dtype=np.float64),
                      np.array(loss), configs, np.array(steps), np.array(seconds))


# ---------------------------------------------------------------------- plot
def plot_scaling_law(fit, N, D, L, path=None, *, title=None):
    """Log-log figure: measured losses vs compute C = 6 N D (one colour per model size)
    with the fitted L(N, D) along each size's budgets and the compute-optimal frontier
    L(N*(C), D*(C)); right panel N*(C) and D*(C). Saves a PNG when ``path`` is given.
    Returns the matplotlib Figure."""
    import matplotlib
    import matplotlib.ticker

    if path is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    N, D, L = _check_points(N, D, L)
    C = 6 * N * D
    fig, (ax, ax_opt) = plt.subplots(1, 2, figsize=(11, 4.5))
    grid = np.geomspace(C.min() / 2, C.max() * 2, 100)
    cmap = plt.get_cmap("viridis")
    sizes = np.unique(N)
    for k, n in enumerate(sizes):
        color = cmap(k / max(1, len(sizes) - 1))
        pick = N == n
        ax.scatter(C[pick], L[pick], color=color, label=f"N = {n:.3g}", zorder=3)
        d = np.geomspace(D[pick].min() / 2, D[pick].max() * 2, 50)
        ax.plot(6 * n * d, fit.predict(n, d), color=color, lw=1, alpha=0.7)
    n_opt, d_opt = fit.compute_optimal(grid)
    ax.plot(grid, fit.predict(n_opt, d_opt), "k--", lw=1.5, label="compute-optimal")
    ax.set(xscale="log", yscale="log", xlabel="compute C = 6 N D (FLOPs)",
           ylabel="validation loss", title=title or "L(N, D) = E + A/N^α + B/D^β")
    plain = matplotlib.ticker.FormatStrFormatter("%.2f")  # losses span < 1 decade
    ax.yaxis.set_major_formatter(plain)
    ax.yaxis.set_minor_formatter(plain)
    ax.legend(fontsize=7)
    a_n, b_d = fit.exponents
    ax_opt.plot(grid, n_opt, label=f"N*(C) ~ C^{a_n:.2f}")
    ax_opt.plot(grid, d_opt, label=f"D*(C) ~ C^{b_d:.2f}")
    ax_opt.set(xscale="log", yscale="log", xlabel="compute C (FLOPs)",
               title="compute-optimal allocation")
    ax_opt.legend()
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig
