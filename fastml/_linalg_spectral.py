"""Eigen- and singular-value decompositions (re-exported by :mod:`fastml.linalg`).

Dense problems go to LAPACK (``eigh``: A = Q diag(w) Q^T, ``svd``: A = U diag(s) V^T).
Large problems that need only a few extreme pairs use Krylov or random subspaces:

- :func:`eigsh`: thick-restart Lanczos (Wu & Simon 2000). Lanczos builds an orthonormal
  basis V_m of the Krylov space span{v, Av, ..., A^(m-1) v} with A V_m = V_m H_m + f e_m^T
  (H_m = V_m^T A V_m, tridiagonal in exact arithmetic); the Ritz pairs (theta, V_m s) of
  H_m approximate eigenpairs with residual norm |beta_m s_m|. When the basis is full the
  wanted Ritz vectors are kept and the iteration restarts from the residual f.
- :func:`power_iteration` / :func:`inverse_iteration`: v <- A v / ||A v|| converges to the
  dominant eigenvector at rate |lambda_2 / lambda_1|; with (A - sigma I)^-1 to the one
  nearest sigma.
- :func:`randomized_svd` (Halko, Martinsson & Tropp 2011): Q = orth((A A^T)^q A Omega) for
  a Gaussian Omega with k + p columns, then the SVD of the small B = Q^T A.
- :func:`svds`: truncated SVD by Lanczos on the Gram operator v -> A^T (A v) of the
  smaller side (never formed); sigma_i = sqrt(theta_i), u_i = A v_i / sigma_i.

float32 and float64 in, same dtype out (integers become float64).
"""

import numbers

import numpy as np

from fastml._validation import (
    check_array,
    check_option,
    check_positive_int,
    check_random_state,
    check_scalar,
    check_square,
    check_symmetric,
)

__all__ = ["eigh", "eigsh", "inverse_iteration", "power_iteration", "randomized_svd", "svd",
           "svds"]

EIGH_DRIVERS = ("ev", "evd", "evr", "evx")
SVD_DRIVERS = ("gesdd", "gesvd")
WHICH = ("LA", "SA", "LM")


def eigh(A, *, lower=True, eigvals_only=False, subset_by_index=None, driver=None):
    """Eigendecomposition of a symmetric matrix, A = Q diag(w) Q^T, by LAPACK.

    Parameters
    ----------
    A : array_like, shape (n, n)
        Symmetric; only the ``lower`` (or upper) triangle is read.
    eigvals_only : bool
        Return only w.
    subset_by_index : (lo, hi), optional
        Only eigenvalues lo..hi (inclusive, 0-based, ascending order); needs driver
        "evr" or "evx" (default then "evr").
    driver : None or one of "ev" (QR iteration), "evd" (divide and conquer),
        "evr" (relatively robust representations, MRRR), "evx" (bisection + inverse
        iteration). None: "evr" (SciPy's default).

    Returns
    -------
    w : ndarray (m,), ascending; Q : ndarray (n, m), orthonormal columns (unless
    ``eigvals_only``). Same float dtype as A.
    """
    a = check_array(A, "A", ndim=2)
    check_square(a, "A")
    if driver is not None:
        check_option(driver, "driver", EIGH_DRIVERS)
    n = a.shape[0]
    if subset_by_index is not None:
        lo, hi = (int(i) for i in subset_by_index)
        if not 0 <= lo <= hi < n:
            raise ValueError(f"subset_by_index must satisfy 0 <= lo <= hi < {n}, "
                             f"got {subset_by_index!r}")
        if driver in ("ev", "evd"):
            raise ValueError(f"driver={driver!r} cannot compute a subset; use 'evr' or 'evx'")
        subset_by_index = (lo, hi)
    return _eigh_core(a, lower, eigvals_only, subset_by_index, driver)


def _eigh_core(a, lower=True, eigvals_only=False, subset_by_index=None, driver=None):
    import scipy.linalg

    if a.shape[0] == 0:
        w = np.zeros(0, a.dtype)
        return w if eigvals_only else (w, np.zeros((0, 0), a.dtype))
    out = scipy.linalg.eigh(a, lower=lower, eigvals_only=eigvals_only, overwrite_a=False,
                            check_finite=False, subset_by_index=subset_by_index,
                            driver=driver)
    if eigvals_only:
        return out.astype(a.dtype, copy=False)
    return out[0].astype(a.dtype, copy=False), out[1].astype(a.dtype, copy=False)


def svd(A, *, full_matrices=False, compute_uv=True, driver="gesdd"):
    """Singular value decomposition A = U diag(s) V^T by LAPACK.

    ``driver``: "gesdd" (divide and conquer, fast) or "gesvd" (QR iteration, robust).
    Returns U (m, r), s (r,) descending, Vt (r, n) with r = min(m, n) (``full_matrices``:
    U (m, m), Vt (n, n)), or s alone when not ``compute_uv``. Same float dtype as A.
    """
    import scipy.linalg

    a = check_array(A, "A", ndim=2)
    check_option(driver, "driver", SVD_DRIVERS)
    out = scipy.linalg.svd(a, full_matrices=full_matrices, compute_uv=compute_uv,
                           check_finite=False, lapack_driver=driver)
    return out


class _Operator:
    """A symmetric operator v -> A v on (n,) or (n, j) arrays, from a dense or sparse A."""

    def __init__(self, A, name="A"):
        if callable(A) and not hasattr(A, "shape"):
            raise TypeError(f"{name} must be an array, a sparse matrix or a LinearOperator "
                            "(with a shape); wrap a function in "
                            "scipy.sparse.linalg.LinearOperator")
        if hasattr(A, "matvec") or type(A).__module__.startswith("scipy.sparse"):
            shape = tuple(A.shape)
            if len(shape) != 2 or shape[0] != shape[1]:
                raise ValueError(f"{name} must be square, got shape {shape}")
            self.dtype = np.dtype(np.float32 if A.dtype == np.float32 else np.float64)
            self.n = shape[0]
            self._a = A
            self._apply = (lambda x: A.matmat(x) if x.ndim == 2 else A.matvec(x)) \
                if hasattr(A, "matvec") else (lambda x: A @ x)
        else:
            a = check_array(A, name, ndim=2)
            check_symmetric(a, name)
            self.dtype = a.dtype
            self.n = a.shape[0]
            self._a = a
            self._apply = a.dot

    def __call__(self, x):
        return np.asarray(self._apply(x), dtype=self.dtype)


def _check_k_which(k, which, n, name="k"):
    k = check_positive_int(k, name)
    if k >= n:
        raise ValueError(f"{name} must be < n = {n} (use eigh for all pairs), got {k}")
    check_option(which, "which", WHICH)
    return k


def eigsh(A, k=6, *, which="LA", v0=None, ncv=None, tol=0.0, max_iter=None,
          return_eigenvectors=True, random_state=None):
    """k extreme eigenpairs of a symmetric matrix by thick-restart Lanczos.

    Parameters
    ----------
    A : ndarray (n, n), scipy sparse matrix or ``scipy.sparse.linalg.LinearOperator``
        Symmetric (dense input is checked).
    k : int, 1 <= k < n
    which : "LA" (largest algebraic, default), "SA" (smallest algebraic) or
        "LM" (largest magnitude). Interior eigenvalues (e.g. smallest magnitude) converge
        too slowly without a shift-invert: use :func:`inverse_iteration` or :func:`eigh`.
    v0 : ndarray (n,), optional
        Starting vector (default: Gaussian from ``random_state``).
    ncv : int, optional
        Krylov basis size, k < ncv <= n (default min(n, max(2k + 1, 20))).
    tol : float
        Relative accuracy: a Ritz pair is accepted when |beta s_m| <= tol * max|theta|
        (0: machine precision of the dtype, as ARPACK).
    max_iter : int, optional
        Maximum number of restarts (default max(100, n / ncv * 10)).

    Returns
    -------
    w : ndarray (k,), ascending; V : ndarray (n, k) orthonormal eigenvectors (unless
    ``return_eigenvectors`` is False). Raises ``numpy.linalg.LinAlgError`` when the
    iteration does not converge within ``max_iter`` restarts.
    """
    op = _Operator(A)
    n = op.n
    k = _check_k_which(k, which, n)
    if ncv is None:
        ncv = min(n, max(2 * k + 1, 20))
    else:
        ncv = check_positive_int(ncv, "ncv")
        if not k < ncv <= n:
            raise ValueError(f"ncv must satisfy k < ncv <= n ({k} < ncv <= {n}), got {ncv}")
    tol = float(check_scalar(tol, "tol", numbers.Real, min_val=0.0))
    if max_iter is None:
        max_iter = max(100, 10 * n // ncv)
    else:
        max_iter = check_positive_int(max_iter, "max_iter")
    rng = check_random_state(random_state)
    if v0 is None:
        start = rng.standard_normal(n).astype(op.dtype)
    else:
        start = check_array(v0, "v0", ndim=1, dtype=op.dtype)
        if start.shape[0] != n or not np.any(start):
            raise ValueError(f"v0 must be a nonzero vector of length {n}, got shape "
                             f"{start.shape}")
    w, V = _lanczos_core(op, k, which, start, ncv, tol, max_iter, rng)
    return (w, V) if return_eigenvectors else w


def _select(theta, k, which):
    """Indices of the k wanted Ritz values, best first."""
    if which == "LA":
        order = np.argsort(-theta)
    elif which == "SA":
        order = np.argsort(theta)
    else:
        order = np.argsort(-np.abs(theta))
    return order[:k]


def _orthogonalize(V, j, w):
    """w minus its projection on the rows V[:j] (classical Gram-Schmidt twice); coefficients."""
    basis = V[:j]
    h = basis @ w
    w -= h @ basis
    h2 = basis @ w
    w -= h2 @ basis
    return h + h2


def _lanczos_core(op, k, which, start, ncv, tol, max_iter, rng):
    """Thick-restart Lanczos with full reorthogonalisation; see :func:`eigsh`."""
    n, m, dtype = op.n, ncv, op.dtype
    eps = np.finfo(dtype).eps
    tol = max(tol, eps)
    V = np.zeros((m + 1, n), dtype)  # basis vectors as rows (contiguous)
    H = np.zeros((m, m), np.float64)
    V[0] = start / np.linalg.norm(start)
    kept = 0
    anorm = 0.0
    for _ in range(max_iter):
        for j in range(kept, m):
            w = op(V[j])
            h = _orthogonalize(V, j + 1, w)
            H[:j + 1, j] = h
            H[j, :j + 1] = h
            beta = float(np.linalg.norm(w))
            anorm = max(anorm, float(np.abs(h).max()), beta)
            if beta <= eps * max(anorm, 1.0) * 10:
                # invariant subspace: continue with a random direction orthogonal to V
                beta = 0.0
                w = rng.standard_normal(n).astype(dtype)
                _orthogonalize(V, j + 1, w)
                V[j + 1] = w / np.linalg.norm(w)
            else:
                V[j + 1] = w / beta
        theta, S = np.linalg.eigh(H)
        wanted = _select(theta, k, which)
        residual = np.abs(beta * S[m - 1, wanted])
        scale = max(float(np.abs(theta).max()), eps)
        if np.all(residual <= tol * scale) or m == n:
            order = wanted[np.argsort(theta[wanted])]
            vectors = S[:, order].T.astype(dtype) @ V[:m]
            return theta[order].astype(dtype), vectors.T
        # thick restart: keep the wanted Ritz vectors plus half of the rest
        kept = min(k + (m - k) // 2, m - 1)
        keep = _select(theta, kept, which)
        coupling = beta * S[m - 1, keep]
        V[:kept] = S[:, keep].T.astype(dtype) @ V[:m]
        V[kept] = V[m]
        H[:] = 0.0
        H[np.arange(kept), np.arange(kept)] = theta[keep]
        H[kept, :kept] = coupling
        H[:kept, kept] = coupling
    raise np.linalg.LinAlgError(f"eigsh did not converge in {max_iter} restarts "
                                f"(largest residual {residual.max():.3g})")


def _dominant(apply, v, tol, max_iter):
    """Power iteration on ``apply``: (Rayleigh quotient, unit vector, iterations)."""
    v = v / np.linalg.norm(v)
    lam = 0.0
    for it in range(1, max_iter + 1):
        w = apply(v)
        lam = float(v @ w)
        norm = float(np.linalg.norm(w))
        if norm == 0.0:
            return 0.0, v, it
        resid = float(np.linalg.norm(w - lam * v))
        v = w / norm
        if resid <= tol * max(abs(lam), np.finfo(float).tiny):
            return lam, v, it
    raise np.linalg.LinAlgError(f"power iteration did not converge in {max_iter} iterations "
                                f"(residual {resid:.3g})")


def _start_vector(v0, n, dtype, random_state):
    if v0 is None:
        return check_random_state(random_state).standard_normal(n).astype(dtype)
    v = check_array(v0, "v0", ndim=1, dtype=dtype)
    if v.shape[0] != n or not np.any(v):
        raise ValueError(f"v0 must be a nonzero vector of length {n}, got shape {v.shape}")
    return v


def power_iteration(A, *, v0=None, tol=1e-10, max_iter=10_000, random_state=None):
    """Dominant eigenpair (largest |lambda|) of a symmetric A by v <- A v / ||A v||.

    Stops when ||A v - lambda v|| <= tol |lambda| (lambda = v^T A v, the Rayleigh
    quotient). Converges at rate |lambda_2 / lambda_1| per step.

    Returns (lambda, v); v has unit norm and A's dtype. Raises
    ``numpy.linalg.LinAlgError`` after ``max_iter`` steps.
    """
    op = _Operator(A)
    tol = float(check_scalar(tol, "tol", numbers.Real, min_val=0.0, include_boundaries="neither"))
    max_iter = check_positive_int(max_iter, "max_iter")
    v = _start_vector(v0, op.n, op.dtype, random_state)
    lam, v, _ = _dominant(op, v, tol, max_iter)
    return lam, v.astype(op.dtype, copy=False)


def inverse_iteration(A, sigma=0.0, *, v0=None, tol=1e-10, max_iter=1000, random_state=None):
    """Eigenpair of a dense symmetric A with the eigenvalue nearest ``sigma``.

    Power iteration on (A - sigma I)^-1 (one LU factorisation, then two triangular solves
    per step); converges at rate |lambda_1 - sigma| / |lambda_2 - sigma| for the two
    eigenvalues nearest sigma. Returns (lambda, v) with lambda = v^T A v.
    """
    import scipy.linalg

    a = check_array(A, "A", ndim=2)
    check_symmetric(a, "A")
    sigma = float(check_scalar(sigma, "sigma", numbers.Real))
    tol = float(check_scalar(tol, "tol", numbers.Real, min_val=0.0, include_boundaries="neither"))
    max_iter = check_positive_int(max_iter, "max_iter")
    n = a.shape[0]
    v = _start_vector(v0, n, a.dtype, random_state)
    shifted = a.astype(np.float64) - sigma * np.eye(n)
    lu = scipy.linalg.lu_factor(shifted, check_finite=False)
    if np.any(np.diagonal(lu[0]) == 0):  # sigma is an eigenvalue: nudge it
        shifted.flat[:: n + 1] -= 1e-10 * max(1.0, abs(sigma))
        lu = scipy.linalg.lu_factor(shifted, check_finite=False)
    mu, v, _ = _dominant(lambda x: scipy.linalg.lu_solve(lu, x, check_finite=False),
                         v.astype(np.float64), tol, max_iter)
    lam = float(v @ (a @ v))
    return lam, v.astype(a.dtype)


def _orth(Y):
    """Orthonormal basis of the columns of a tall Y (Householder QR, economic)."""
    import scipy.linalg

    return scipy.linalg.qr(Y, mode="economic", overwrite_a=True, check_finite=False)[0]


def _normalize_lu(Y):
    import scipy.linalg

    return scipy.linalg.lu(Y, permute_l=True, overwrite_a=True, check_finite=False)[0]


def _svd_flip(U, Vt):
    """Signs such that the largest-|.| entry of each column of U is positive (sklearn)."""
    signs = np.sign(U[np.abs(U).argmax(axis=0), np.arange(U.shape[1])])
    signs[signs == 0] = 1
    return U * signs, Vt * signs[:, None]


def randomized_svd(M, n_components, *, n_oversamples=10, n_iter="auto",
                   power_iteration_normalizer="auto", transpose="auto", flip_sign=True,
                   random_state=None):
    """Approximate truncated SVD by a randomized range finder (Halko et al. 2011).

    Y = (M M^T)^q M Omega with Gaussian Omega (n, l), l = ``n_components`` +
    ``n_oversamples``, each power step renormalised (LU, or QR when
    ``power_iteration_normalizer`` = "QR"); Q = orth(Y); B = Q^T M (l, n);
    B = U_B diag(s) V^T; U = Q U_B. Same parameters and defaults as
    ``sklearn.utils.extmath.randomized_svd`` (n_iter "auto": 7 if n_components <
    0.1 min(M.shape) else 4; transpose "auto": work on M^T when M is wide).

    Returns U (m, k), s (k,) descending, Vt (k, n) in M's float dtype.
    """
    a = check_array(M, "M", ndim=2)
    k = check_positive_int(n_components, "n_components")
    p = check_positive_int(n_oversamples, "n_oversamples", min_val=0)
    m, n = a.shape
    if k > min(m, n):
        raise ValueError(f"n_components must be <= min(M.shape) = {min(m, n)}, got {k}")
    if n_iter == "auto":
        n_iter = 7 if k < 0.1 * min(m, n) else 4
    n_iter = check_positive_int(n_iter, "n_iter", min_val=0)
    check_option(power_iteration_normalizer, "power_iteration_normalizer",
                 ("auto", "QR", "LU", "none"))
    check_option(transpose, "transpose", ("auto", True, False))
    rng = check_random_state(random_state)
    if transpose == "auto":
        transpose = m < n
    if transpose:
        a = a.T
    U, s, Vt = _randomized_svd_core(a, k, min(k + p, min(m, n)), n_iter,
                                    power_iteration_normalizer, rng)
    if transpose:
        U, Vt = Vt.T, U.T
    if flip_sign:
        U, Vt = _svd_flip(U, Vt)
    return U, s, Vt


def _randomized_svd_core(a, k, l, n_iter, normalizer, rng):
    import scipy.linalg

    omega = rng.standard_normal((a.shape[1], l)).astype(a.dtype)
    Y = a @ omega
    if normalizer == "auto":
        normalizer = "none" if n_iter <= 2 else "LU"
    for _ in range(n_iter):
        if normalizer == "LU":
            Y = _normalize_lu(Y)
        elif normalizer == "QR":
            Y = _orth(Y)
        Y = a @ (a.T @ Y)
    Q = _orth(Y)
    B = Q.T @ a
    Ub, s, Vt = scipy.linalg.svd(B, full_matrices=False, check_finite=False,
                                 lapack_driver="gesdd")
    return (Q @ Ub[:, :k]).astype(a.dtype), s[:k].astype(a.dtype), Vt[:k].astype(a.dtype)


class _Gram:
    """v -> A^T (A v) (or A (A^T v) when A is wide) without forming the Gram matrix."""

    def __init__(self, a):
        self.a, self.wide = a, a.shape[0] < a.shape[1]
        self.n = a.shape[0] if self.wide else a.shape[1]
        self.dtype = a.dtype

    def __call__(self, x):
        return self.a @ (self.a.T @ x) if self.wide else self.a.T @ (self.a @ x)


#: svds forms the Gram matrix when its side is at most this large (solver="auto")
_GRAM_MAX_SIDE = 2000


def svds(A, k=6, *, which="LM", solver="auto", ncv=None, tol=0.0, max_iter=None,
         random_state=None):
    """k largest (``which="LM"``) or smallest ("SM") singular triplets of a dense A.

    solver "lanczos": thick-restart Lanczos (:func:`eigsh`) on the Gram operator of the
    smaller side, v -> A^T A v, never formed: each step costs two matrix-vector products
    (memory-bound passes over A). solver "gram": form A^T A once (one compute-bound SYRK,
    m n^2 flops) and take its k top eigenpairs by LAPACK (evr); much faster when the
    smaller side n is small, but sigma_i^2 carries an absolute error ~eps sigma_1^2, so
    only for "LM". "auto": "gram" for "LM" when n <= 2000, else "lanczos".
    sigma_i = sqrt(theta_i); the other side's vectors are A v_i / sigma_i.

    Returns U (m, k), s (k,) ascending (as ``scipy.sparse.linalg.svds``), Vt (k, n).
    """
    a = check_array(A, "A", ndim=2)
    gram = _Gram(a)
    k = check_positive_int(k, "k")
    if k >= min(a.shape):
        raise ValueError(f"k must be < min(A.shape) = {min(a.shape)}, got {k}")
    check_option(which, "which", ("LM", "SM"))
    check_option(solver, "solver", ("auto", "gram", "lanczos"))
    if solver == "gram" and which == "SM":
        raise ValueError("solver='gram' loses the small singular values; use 'lanczos'")
    if solver == "auto":
        solver = "gram" if which == "LM" and gram.n <= _GRAM_MAX_SIDE else "lanczos"
    if ncv is None:
        ncv = min(gram.n, max(2 * k + 1, 20))
    else:
        ncv = check_positive_int(ncv, "ncv")
        if not k < ncv <= gram.n:
            raise ValueError(f"ncv must satisfy k < ncv <= {gram.n}, got {ncv}")
    tol = float(check_scalar(tol, "tol", numbers.Real, min_val=0.0))
    max_iter = max(100, 10 * gram.n // ncv) if max_iter is None else \
        check_positive_int(max_iter, "max_iter")
    rng = check_random_state(random_state)
    return _svds_core(a, gram, k, "LA" if which == "LM" else "SA", solver, ncv, tol,
                      max_iter, rng)


def _svds_core(a, gram, k, which, solver, ncv, tol, max_iter, rng):
    if solver == "gram":
        G = a @ a.T if gram.wide else a.T @ a
        theta, V = _eigh_core(G, subset_by_index=(gram.n - k, gram.n - 1))
    else:
        start = rng.standard_normal(gram.n).astype(a.dtype)
        theta, V = _lanczos_core(gram, k, which, start, ncv, tol, max_iter, rng)
    s = np.sqrt(np.maximum(theta, 0.0))
    other = a @ V if not gram.wide else a.T @ V
    nonzero = s > 0
    other[:, nonzero] /= s[nonzero]
    if gram.wide:
        return V, s.astype(a.dtype), other.T
    return other, s.astype(a.dtype), V.T
