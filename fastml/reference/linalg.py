"""Textbook Cholesky, substitution and update-by-refactorisation."""

import numpy as np


def cholesky(A, *, lower=True):
    """Cholesky–Banachiewicz: row by row, L_ij = (A_ij - sum_k<j L_ik L_jk) / L_jj."""
    A = np.asarray(A, dtype=float)
    n = A.shape[0]
    L = np.zeros_like(A)
    for i in range(n):
        for j in range(i + 1):
            s = A[i, j] - L[i, :j] @ L[j, :j]
            if i == j:
                if s <= 0:
                    raise np.linalg.LinAlgError(f"not positive definite at pivot {i}")
                L[i, i] = np.sqrt(s)
            else:
                L[i, j] = s / L[j, j]
    return L if lower else L.T


def solve_triangular(L, B, *, lower=True, trans=False):
    """Forward (lower) or back (upper) substitution, one row at a time."""
    T = np.asarray(L, dtype=float)
    if trans:
        T, lower = T.T, not lower
    X = np.array(B, dtype=float)
    n = T.shape[0]
    rows = range(n) if lower else range(n - 1, -1, -1)
    for i in rows:
        done = slice(0, i) if lower else slice(i + 1, n)
        X[i] = (X[i] - T[i, done] @ X[done]) / T[i, i]
    return X


def cho_solve(L, B, *, lower=True):
    """A x = b with A = L L^T: solve L y = b, then L^T x = y."""
    y = solve_triangular(L, B, lower=lower, trans=not lower)
    return solve_triangular(L, y, lower=lower, trans=lower)


def logdet_chol(L):
    """log det A = 2 sum_i log L_ii."""
    return 2.0 * np.sum(np.log(np.diag(L)))


def _refactorise(L, x, sign, lower):
    F = np.asarray(L, dtype=float)
    F = F if lower else F.T
    C = np.linalg.cholesky(F @ F.T + sign * np.outer(x, x))
    return C if lower else C.T


def chol_update(L, x, *, lower=True):
    """Factor of A + x x^T by rebuilding A = L L^T + x x^T and refactorising, O(n^3)."""
    return _refactorise(L, x, +1.0, lower)


def chol_downdate(L, x, *, lower=True):
    """Factor of A - x x^T by rebuilding and refactorising, O(n^3)."""
    return _refactorise(L, x, -1.0, lower)
