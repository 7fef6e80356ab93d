"""Textbook eigenvalue and singular value algorithms (oracles for fastml.linalg).

- :func:`eigh`: cyclic Jacobi. Each rotation J(p, q, theta) with
  tan(2 theta) = 2 A_pq / (A_qq - A_pp) zeroes A_pq; sweeps repeat until the off-diagonal
  mass is negligible. A = Q diag(w) Q^T with Q the product of the rotations.
- :func:`qr_eigvalsh`: shifted QR iteration, A_k - mu I = Q R, A_{k+1} = R Q + mu I, with
  the Wilkinson shift and deflation of converged trailing eigenvalues.
- :func:`svd`: Golub–Kahan–Lanczos bidiagonalisation A V = U B (B upper bidiagonal,
  alpha_j on the diagonal, beta_j above), then the SVD of the small B by Jacobi on B^T B.
- :func:`power_iteration`: v <- A v / ||A v||.
"""

import numpy as np


def eigh(A, *, tol=1e-14, max_sweeps=100):
    """All eigenpairs of a symmetric A by cyclic Jacobi rotations; w ascending."""
    a = np.array(A, dtype=float)
    n = a.shape[0]
    q = np.eye(n)
    for _ in range(max_sweeps):
        off = np.sqrt(np.sum(np.tril(a, -1) ** 2))
        if off <= tol * max(np.linalg.norm(a), 1e-300):
            break
        for p in range(n - 1):
            for r in range(p + 1, n):
                if a[p, r] == 0.0:
                    continue
                theta = 0.5 * np.arctan2(2 * a[p, r], a[r, r] - a[p, p])
                c, s = np.cos(theta), np.sin(theta)
                rot = np.eye(n)
                rot[p, p] = rot[r, r] = c
                rot[p, r], rot[r, p] = s, -s
                # (rot^T a rot)[p, r] = (c^2 - s^2) a_pr + c s (a_pp - a_rr) = 0
                a = rot.T @ a @ rot
                q = q @ rot
    w = np.diagonal(a).copy()
    order = np.argsort(w)
    return w[order], q[:, order]


def qr_eigvalsh(A, *, tol=1e-13, max_iter=10_000):
    """Eigenvalues of a symmetric A by shifted QR iteration with deflation; ascending."""
    a = np.array(A, dtype=float)
    found = []
    while a.shape[0] > 1:
        m = a.shape[0]
        for _ in range(max_iter):
            if abs(a[m - 1, :m - 1]).max() <= tol * np.linalg.norm(a):
                break
            # Wilkinson shift: eigenvalue of the trailing 2x2 block nearest a[m-1, m-1]
            d = (a[m - 2, m - 2] - a[m - 1, m - 1]) / 2
            b = a[m - 1, m - 2]
            sign = 1.0 if d >= 0 else -1.0
            mu = a[m - 1, m - 1] - sign * b * b / (abs(d) + np.hypot(d, b) + 1e-300)
            q, r = np.linalg.qr(a - mu * np.eye(m))
            a = r @ q + mu * np.eye(m)
        found.append(a[m - 1, m - 1])
        a = a[:m - 1, :m - 1]
    found.extend(np.diagonal(a))
    return np.sort(np.array(found))


def golub_kahan(A, k, *, seed=0):
    """k steps of Golub–Kahan–Lanczos bidiagonalisation with full reorthogonalisation.

    Returns U (m, k), B (k, k) upper bidiagonal, V (n, k) with A V = U B.
    """
    a = np.asarray(A, dtype=float)
    m, n = a.shape
    U, V, B = np.zeros((m, k)), np.zeros((n, k)), np.zeros((k, k))
    v = np.random.default_rng(seed).standard_normal(n)
    v /= np.linalg.norm(v)
    u_prev, beta = np.zeros(m), 0.0
    for j in range(k):
        V[:, j] = v
        u = a @ v - beta * u_prev
        u -= U[:, :j] @ (U[:, :j].T @ u)
        alpha = np.linalg.norm(u)
        u /= alpha
        U[:, j], B[j, j] = u, alpha
        if j + 1 == k:
            break
        v = a.T @ u - alpha * v
        v -= V[:, :j + 1] @ (V[:, :j + 1].T @ v)
        beta = np.linalg.norm(v)
        v /= beta
        B[j, j + 1] = beta
        u_prev = u
    return U, B, V


def svd(A):
    """Thin SVD A = U diag(s) V^T (s descending) via full Golub–Kahan and Jacobi on B^T B."""
    a = np.asarray(A, dtype=float)
    transposed = a.shape[0] < a.shape[1]
    if transposed:
        a = a.T
    k = a.shape[1]
    U, B, V = golub_kahan(a, k)
    w, Y = eigh(B.T @ B)
    order = np.argsort(-w)
    s = np.sqrt(np.maximum(w[order], 0.0))
    right = V @ Y[:, order]
    left = a @ right / s
    return (right, s, left.T) if transposed else (left, s, right.T)


def power_iteration(A, *, tol=1e-10, max_iter=10_000, seed=0):
    """Dominant eigenpair (lambda, v) of a symmetric A by repeated multiplication."""
    a = np.asarray(A, dtype=float)
    v = np.random.default_rng(seed).standard_normal(a.shape[0])
    v /= np.linalg.norm(v)
    for _ in range(max_iter):
        w = a @ v
        lam = v @ w
        if np.linalg.norm(w - lam * v) <= tol * abs(lam):
            break
        v = w / np.linalg.norm(w)
    return lam, v
