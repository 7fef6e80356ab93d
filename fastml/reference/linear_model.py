"""Textbook linear models: normal equations, gradient descent, naive coordinate descent,
Newton's method written out, Rosenblatt's perceptron.

Each function returns ``(coef, intercept)`` with the shapes of the fastml estimators'
``coef_`` and ``intercept_``; the intercept is handled by centring (least squares) or by
an extra unpenalised column of ones (logistic regression, perceptron).
"""

import numpy as np


def _center(X, y, fit_intercept):
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    if not fit_intercept:
        return X, y, np.zeros(X.shape[1]), 0.0
    return X - X.mean(0), y - y.mean(0), X.mean(0), y.mean(0)


def linear_regression(X, y, fit_intercept=True):
    """Normal equations: (X'X) w = X'y on centred data, b = y_mean - x_mean'w."""
    Xc, yc, xm, ym = _center(X, y, fit_intercept)
    w = np.linalg.solve(Xc.T @ Xc, Xc.T @ yc)
    return w, ym - xm @ w


def ridge_gradient_descent(X, y, alpha=1.0, fit_intercept=True, tol=1e-12, max_iter=100000):
    """Minimise ||y - Xw||^2 + alpha ||w||^2 by gradient descent with step 1/L.

    Gradient 2 (X'X w - X'y + alpha w); L = 2 (lambda_max(X'X) + alpha) is its Lipschitz
    constant. Stops when the step changes no coefficient by more than tol (relative).
    """
    Xc, yc, xm, ym = _center(X, y, fit_intercept)
    gram = Xc.T @ Xc
    xty = Xc.T @ yc
    lipschitz = 2 * (np.linalg.eigvalsh(gram)[-1] + alpha)
    w = np.zeros(X.shape[1])
    for _ in range(max_iter):
        grad = 2 * (gram @ w - xty + alpha * w)
        step = grad / lipschitz
        w = w - step
        if np.max(np.abs(step)) <= tol * max(1.0, np.max(np.abs(w))):
            break
    return w, ym - xm @ w


def soft_threshold(z, t):
    return np.sign(z) * max(abs(z) - t, 0.0)


def enet_coordinate_descent(X, y, alpha=1.0, l1_ratio=1.0, fit_intercept=True, tol=1e-12,
                            max_iter=10000):
    """Naive cyclic coordinate descent for the elastic net (scikit-learn's scaling):

    min 1/(2n) ||y - Xw||^2 + alpha l1_ratio ||w||_1 + alpha (1 - l1_ratio)/2 ||w||^2.

    For each j the partial residual r = y - X w + w_j x_j is recomputed from scratch and
    w_j = S(x_j'r / n, alpha l1_ratio) / (x_j'x_j / n + alpha (1 - l1_ratio)).
    """
    Xc, yc, xm, ym = _center(X, y, fit_intercept)
    n, p = Xc.shape
    w = np.zeros(p)
    for _ in range(max_iter):
        biggest = 0.0
        for j in range(p):
            r = yc - Xc @ w + w[j] * Xc[:, j]
            denom = Xc[:, j] @ Xc[:, j] / n + alpha * (1 - l1_ratio)
            new = soft_threshold(Xc[:, j] @ r / n, alpha * l1_ratio) / denom if denom else 0.0
            biggest = max(biggest, abs(new - w[j]))
            w[j] = new
        if biggest <= tol:
            break
    return w, ym - xm @ w


def _softmax(Z):
    Z = Z - Z.max(axis=1, keepdims=True)
    E = np.exp(Z)
    return E / E.sum(axis=1, keepdims=True)


def logistic_newton(X, y, C=1.0, fit_intercept=True, tol=1e-10, max_iter=100):
    """Newton's method for L2 logistic regression, written out.

    ``y`` holds class indices 0..K-1. Objective (K = 2: one score for class 1)
        f(theta) = 1/n sum_i loss_i + 1/(2 C n) ||W||^2,
    gradient g = 1/n X~'(P - Y) + lam W, Hessian
        H = 1/n sum_i (diag(p_i) - p_i p_i') (x) x~_i x~_i' + lam I,
    step theta <- theta - t H^-1 g with t halved until f decreases enough (Armijo).
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y)
    n, p = X.shape
    n_classes = int(y.max()) + 1
    Xt = np.hstack([X, np.ones((n, 1))]) if fit_intercept else X
    d = Xt.shape[1]
    binary = n_classes == 2
    k = 1 if binary else n_classes
    Y = (y == 1).astype(float)[:, None] if binary else np.eye(k)[y]
    lam = 1.0 / (C * n)
    pen = np.ones((k, d))
    if fit_intercept:
        pen[:, -1] = 0.0

    def probs(theta):
        Z = Xt @ theta.T
        return 1 / (1 + np.exp(-Z)) if binary else _softmax(Z)

    def objective(theta):
        Z = Xt @ theta.T
        if binary:
            loss = np.sum(np.logaddexp(0, Z) - Y * Z)
        else:
            loss = np.sum(np.log(np.exp(Z - Z.max(1, keepdims=True)).sum(1)) + Z.max(1)
                          - np.sum(Y * Z, axis=1))
        return loss / n + 0.5 * lam * np.sum(pen * theta**2)

    theta = np.zeros((k, d))
    for _ in range(max_iter):
        P = probs(theta)
        g = (P - Y).T @ Xt / n + lam * pen * theta
        if np.max(np.abs(g)) <= tol:
            break
        H = np.zeros((k * d, k * d))
        for a in range(k):
            for b in range(k):
                if binary:
                    w = P[:, 0] * (1 - P[:, 0])
                else:
                    w = P[:, a] * ((a == b) - P[:, b])
                H[a * d:(a + 1) * d, b * d:(b + 1) * d] = (Xt * w[:, None]).T @ Xt / n
        H += np.diag(lam * pen.ravel())
        if fit_intercept and not binary:  # softmax shift invariance of the intercepts
            idx = np.arange(d - 1, k * d, d)
            H[np.ix_(idx, idx)] += 1.0 / k
        step = np.linalg.solve(H, g.ravel()).reshape(k, d)
        t, f0 = 1.0, objective(theta)
        while objective(theta - t * step) > f0 - 1e-4 * t * np.sum(g * step) and t > 1e-10:
            t /= 2
        theta = theta - t * step
    coef = theta[:, :p]
    intercept = theta[:, p] if fit_intercept else np.zeros(k)
    if fit_intercept and not binary:
        intercept = intercept - intercept.mean()
    return coef, intercept


def perceptron(X, y, eta=1.0, max_iter=1000, fit_intercept=True):
    """Rosenblatt's rule, binary (y in {0, 1}), samples in their given order.

    For each sample with t = 2y - 1: if t (w'x + b) <= 0 then w += eta t x, b += eta t.
    Stops after an epoch with no mistake or after ``max_iter`` epochs.
    """
    X = np.asarray(X, dtype=float)
    w = np.zeros(X.shape[1])
    b = 0.0
    for _ in range(max_iter):
        mistakes = 0
        for xi, yi in zip(X, y):
            t = 1.0 if yi == 1 else -1.0
            if t * (xi @ w + b) <= 0:
                w += eta * t * xi
                if fit_intercept:
                    b += eta * t
                mistakes += 1
        if mistakes == 0:
            break
    return w[None, :], np.array([b])
