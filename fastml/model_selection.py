"""Bias–variance decomposition of a learning algorithm's expected test loss.

For a learner trained on random training sets D and evaluated at test points x:

squared loss ("mse"), with the average prediction f_bar(x) = E_D[f_D(x)]::

    E_D[(f_D(x) - y)^2] = (f_bar(x) - y)^2 + E_D[(f_D(x) - f_bar(x))^2]
                          `--- bias^2 ---'   `-------- variance --------'

and, when the noiseless target f(x) is known (``y_true_func``), y = f(x) + eps splits
the bias term further: E[(f_bar - y)^2] = (f_bar - f)^2 + noise (Hastie et al. 2009,
eq. 7.9).

0-1 loss ("0-1", Domingos 2000): with the main prediction y_m(x) = mode_D f_D(x),
bias = [y_m != y], variance = P_D(f_D(x) != y_m); expected loss = P_D(f_D(x) != y).

Training sets are bootstrap resamples of (X, y) (the usual estimate when only one
sample is available, as in mlxtend's ``bias_variance_decomp``). All rounds resample the
same training set, so f_bar estimates the fit on that set: the reported bias also
contains its sampling error (for least squares, about sigma^2 p / n per point).
"""

import numpy as np

from fastml._validation import (
    check_array,
    check_consistent_length,
    check_option,
    check_positive_int,
    check_random_state,
)

__all__ = ["bias_variance_curve", "bias_variance_decomposition", "plot_bias_variance"]


def _clone(estimator):
    return type(estimator)(**estimator.get_params(deep=False))


def bias_variance_decomposition(estimator, X, y, X_test, y_test, n_rounds=200,
                                loss="mse", random_state=None, y_true_func=None):
    """Estimate expected loss, bias^2 and variance of ``estimator`` by bootstrap.

    Parameters
    ----------
    estimator : object with ``fit`` / ``predict`` and ``get_params`` (cloned per round)
    X, y : training data, resampled with replacement ``n_rounds`` times
    X_test, y_test : evaluation points
    loss : "mse" or "0-1"
    y_true_func : callable, optional
        Noiseless target f(X_test) for "mse"; adds the noise term and gives the bias
        against f instead of against the noisy y_test.

    Returns
    -------
    dict with "expected_loss", "bias2" (for "0-1": "bias"), "variance", "noise"
    (None unless known) and "predictions" (n_rounds, n_test).
    For "mse": expected_loss = bias2 + variance exactly; with ``y_true_func`` it is
    E_D[(f_D - f)^2] + noise, the expectation over the noise of the loss on y_test.
    """
    check_option(loss, "loss", ("mse", "0-1"))
    n_rounds = check_positive_int(n_rounds, "n_rounds")
    X = check_array(X, "X", ndim=2, allow_empty=False)
    X_test = check_array(X_test, "X_test", ndim=2, allow_empty=False)
    y = np.asarray(y)
    y_test = np.asarray(y_test)
    check_consistent_length(("X", X), ("y", y))
    check_consistent_length(("X_test", X_test), ("y_test", y_test))
    if X.shape[1] != X_test.shape[1]:
        raise ValueError(f"X_test must have {X.shape[1]} features like X, "
                         f"got {X_test.shape[1]}")
    if loss == "mse":
        y = check_array(y, "y", ndim=1, dtype=np.float64)
        y_test = check_array(y_test, "y_test", ndim=1, dtype=np.float64)
    rng = check_random_state(random_state)
    n = X.shape[0]
    preds = None
    for r in range(n_rounds):
        idx = rng.integers(0, n, size=n)
        p = np.asarray(_clone(estimator).fit(X[idx], y[idx]).predict(X_test))
        if preds is None:
            preds = np.empty((n_rounds, len(X_test)), dtype=p.dtype)
        preds[r] = p
    if loss == "mse":
        mean = preds.mean(axis=0)
        variance = float(np.mean(preds.var(axis=0)))
        expected = float(np.mean((preds - y_test) ** 2))
        noise = None
        if y_true_func is not None:
            f = np.asarray(y_true_func(X_test), dtype=np.float64).reshape(-1)
            noise = float(np.mean((y_test - f) ** 2))
            bias2 = float(np.mean((mean - f) ** 2))
            expected = float(np.mean((preds - f) ** 2)) + noise
        else:
            bias2 = float(np.mean((mean - y_test) ** 2))
        return {"expected_loss": expected, "bias2": bias2, "variance": variance,
                "noise": noise, "predictions": preds}
    values, codes = np.unique(preds, return_inverse=True)
    codes = codes.reshape(preds.shape)
    counts = np.zeros((len(values), preds.shape[1]), dtype=np.int64)
    np.add.at(counts, (codes, np.broadcast_to(np.arange(preds.shape[1]), preds.shape)), 1)
    main = values[counts.argmax(axis=0)]
    return {"expected_loss": float(np.mean(preds != y_test)),
            "bias": float(np.mean(main != y_test)),
            "variance": float(np.mean(preds != main)),
            "noise": None, "predictions": preds}


def bias_variance_curve(estimator, param_name, param_values, X, y, X_test, y_test,
                        n_rounds=100, loss="mse", random_state=None, y_true_func=None):
    """Decompose the loss for each value of one hyper-parameter (a complexity sweep).

    Returns a dict of arrays: "param", "expected_loss", "bias2" (or "bias"),
    "variance".
    """
    key = "bias2" if loss == "mse" else "bias"
    out = {"param": np.asarray(param_values), "expected_loss": [], key: [], "variance": []}
    seeds = check_random_state(random_state).integers(0, 2**63, size=len(param_values))
    for value, seed in zip(param_values, seeds):
        est = _clone(estimator).set_params(**{param_name: value})
        res = bias_variance_decomposition(est, X, y, X_test, y_test, n_rounds, loss,
                                          int(seed), y_true_func)
        for k in ("expected_loss", key, "variance"):
            out[k].append(res[k])
    return {k: np.asarray(v) for k, v in out.items()}


def plot_bias_variance(curve, ax=None, xlabel=None, logx=False):
    """Plot a :func:`bias_variance_curve` result (matplotlib, imported lazily)."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.5))
    key = "bias2" if "bias2" in curve else "bias"
    x = curve["param"]
    ax.plot(x, curve["expected_loss"], "k-o", label="expected loss")
    ax.plot(x, curve[key], "-s", label="bias²" if key == "bias2" else "bias")
    ax.plot(x, curve["variance"], "-^", label="variance")
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel or "complexity")
    ax.set_ylabel("loss")
    ax.legend()
    return ax
