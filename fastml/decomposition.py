"""Principal component analysis: linear :class:`PCA` and :class:`KernelPCA`.

PCA finds the orthonormal directions v_1, v_2, ... of largest variance of the centred
data X_c = X - 1 mu^T: the right singular vectors of X_c = U S V^T, equivalently the
eigenvectors of the covariance C = X_c^T X_c / (n - 1) with eigenvalues
lambda_j = s_j^2 / (n - 1) (``explained_variance_``). The projection is X_c V_k
(divided by sqrt(lambda) when whitening).

Kernel PCA (Schoelkopf, Smola & Mueller 1998) does the same in the feature space of a
kernel k: eigen-decompose the doubly centred Gram matrix
K~ = K - 1_n K - K 1_n + 1_n K 1_n (1_n = ones / n), K~ a_j = lambda_j a_j; a point x
maps to sum_i k~(x, x_i) a_ij / sqrt(lambda_j). ``inverse_transform`` learns a pre-image
map by kernel ridge regression from the projections back to the inputs (Bakir et al.
2004).

Signs are fixed as in scikit-learn: the largest-magnitude entry of each PCA component
(of each kernel PCA eigenvector) is positive.
"""

import contextlib
import numbers

import numpy as np

from fastml import _kernels
from fastml._errors import NotFittedError
from fastml._validation import (
    Interval,
    Options,
    check_array,
    check_n_features,
    check_random_state,
    check_square,
)
from fastml.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _also_sklearns,
    check_is_fitted,
    validate_data,
)

__all__ = ["KernelPCA", "PCA"]

_KERNEL_CODES = {"linear": 0, "poly": 1, "rbf": 2, "sigmoid": 3, "cosine": 4}


def _flip_rows(V):
    """Make the largest-|.| entry of every row of V positive (in place)."""
    if V.size:
        signs = np.sign(V[np.arange(V.shape[0]), np.argmax(np.abs(V), axis=1)])
        signs[signs == 0] = 1
        V *= signs[:, None]
    return V


def _randomized_range(matvec, rmatvec, n_cols, size, n_iter, rng, dtype, normalizer="QR"):
    """Orthonormal basis Q (n x size) of the range of M by subspace iteration.

    Q = M Omega, then ``n_iter`` times Q = M (M^T N(Q)), and finally orth(Q) (Halko,
    Martinsson & Tropp 2011, algorithm 4.4). The step normaliser N keeps the columns
    from collapsing onto the top singular vector: "QR" (Q of a thin QR, the default of
    "auto"), "LU" (the permuted L factor, cheaper, spans the same space) or "none".
    """
    import scipy.linalg

    Q = matvec(rng.standard_normal((n_cols, size)).astype(dtype))
    for _ in range(n_iter):
        if normalizer == "LU":
            Q = scipy.linalg.lu(Q, permute_l=True, check_finite=False)[0]
        elif normalizer != "none":
            Q = scipy.linalg.qr(Q, mode="economic", check_finite=False)[0]
        Q = matvec(rmatvec(Q))
    return scipy.linalg.qr(Q, mode="economic", check_finite=False)[0]


def _mle_dimension(spectrum, n):
    """Minka's (2000) choice of the PCA dimension: argmax over 1 <= k < d of the Laplace
    approximation of the probabilistic-PCA evidence p(X | k) given the covariance
    eigenvalues ``spectrum`` (descending) of n samples (as scikit-learn's
    ``_assess_dimension``); k = 0 when no k is admissible."""
    from scipy.special import gammaln

    d = spectrum.shape[0]
    eps = np.finfo(spectrum.dtype).eps
    best, best_ll = 0, -np.inf
    for k in range(1, d):
        if spectrum[k - 1] < eps:
            break
        i = np.arange(1, k + 1)
        pu = -k * np.log(2.0) + np.sum(gammaln((d - i + 1) / 2.0)
                                       - np.log(np.pi) * (d - i + 1) / 2.0)
        pl = -np.sum(np.log(spectrum[:k])) * n / 2.0
        v = max(eps, np.sum(spectrum[k:]) / (d - k))
        pv = -np.log(v) * n * (d - k) / 2.0
        m = d * k - k * (k + 1.0) / 2.0
        pp = np.log(2.0 * np.pi) * (m + k) / 2.0
        filled = np.concatenate([spectrum[:k], np.full(d - k, v)])
        pa = sum(np.sum(np.log((spectrum[j] - spectrum[j + 1:])
                               * (1.0 / filled[j + 1:] - 1.0 / filled[j])) + np.log(n))
                 for j in range(k))
        ll = pu + pl + pv + pp - pa / 2.0 - k * np.log(n) / 2.0
        if ll > best_ll:
            best, best_ll = k, ll
    return best


class PCA(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Principal component analysis (scikit-learn's ``PCA`` API).

    Parameters
    ----------
    n_components : None, int, float in (0, 1) or "mle"
        None keeps min(n_samples, n_features) (minus one with arpack); a float keeps the
        fewest components whose explained variance ratios sum above it; "mle" picks
        Minka's evidence maximiser (``_mle_dimension``); float and "mle" need an exact
        solver ("full" or "covariance_eigh").
    copy : bool
        Kept for compatibility: X is never modified.
    whiten : bool
        Scale the projections to unit variance.
    svd_solver : "auto", "full", "arpack", "covariance_eigh" or "randomized"
        full: LAPACK SVD of the centred data, O(n d min(n, d)). covariance_eigh:
        eigh of X^T X / (n - 1) - n/(n - 1) mu mu^T, O(n d^2), best for n >> d.
        arpack: Lanczos (scipy ``svds``, start vector from ``random_state``) of the
        implicitly centred data X - 1 mu^T as a LinearOperator, 0 < n_components <
        min(n, d). randomized: Halko et al. subspace iteration on the implicitly centred
        data.
        auto: covariance_eigh when d <= 1000 and n >= 10 d, full for small problems,
        randomized when n_components < 0.8 min(n, d), else full (as scikit-learn).
    iterated_power : "auto" or int
        Power iterations of the randomized solver ("auto": 7 if n_components <
        0.1 min(n, d), else 4).
    n_oversamples : int
        Extra random directions of the randomized solver.
    random_state : None, int or numpy Generator
    power_iteration_normalizer : "auto", "QR", "LU" or "none"
        Normaliser of the randomized solver's power iterations (see
        ``_randomized_range``); "auto" runs QR.

    Attributes
    ----------
    components_, explained_variance_, explained_variance_ratio_, singular_values_,
    mean_, n_components_, n_samples_, noise_variance_, n_features_in_
    """

    def __init__(self, n_components=None, *, copy=True, whiten=False, svd_solver="auto",
                 tol=0.0, iterated_power="auto", n_oversamples=10, random_state=None,
                 power_iteration_normalizer="auto"):
        self.n_components = n_components
        self.copy = copy
        self.whiten = whiten
        self.svd_solver = svd_solver
        self.tol = tol
        self.iterated_power = iterated_power
        self.n_oversamples = n_oversamples
        self.random_state = random_state
        self.power_iteration_normalizer = power_iteration_normalizer

    _parameter_constraints = {
        "n_components": [None, Options("mle"), Interval(numbers.Real, 0)],
        "svd_solver": [Options("auto", "full", "arpack", "covariance_eigh", "randomized")],
        "power_iteration_normalizer": [Options("auto", "QR", "LU", "none")],
    }

    def _solver_and_k(self, X):
        n, d = X.shape
        k, solver = self.n_components, self.svd_solver
        if k is None:
            k = min(n, d) - (solver == "arpack")
        if solver == "auto":
            if d <= 1000 and n >= 10 * d:
                solver = "covariance_eigh"
            elif max(n, d) <= 500 or k == "mle":
                solver = "full"
            elif 1 <= k < 0.8 * min(n, d):
                solver = "randomized"
            else:
                solver = "full"
        if k == "mle":
            if solver in ("randomized", "arpack"):
                raise ValueError(f"n_components={k!r} cannot be a string with "
                                 f"svd_solver={solver!r}")
            if n < d:
                raise ValueError("n_components='mle' is only supported if "
                                 "n_samples >= n_features")
            return solver, k
        fractional = isinstance(k, numbers.Real) and not isinstance(k, numbers.Integral)
        if fractional and solver in ("randomized", "arpack"):
            raise ValueError("a fractional n_components needs svd_solver='full' or "
                             "'covariance_eigh'")
        low = 1 if solver in ("randomized", "arpack") else 0
        if solver == "arpack" and k >= min(n, d):
            raise ValueError(f"n_components={k} must be strictly less than "
                             f"min(n_samples, n_features)={min(n, d)} with "
                             "svd_solver='arpack'")
        if not (0 < k < 1 if fractional else low <= k <= min(n, d)):
            raise ValueError(f"n_components={k} must be between {low} and "
                             f"min(n_samples, n_features)={min(n, d)} with "
                             f"svd_solver={solver!r}, or a float in (0, 1)")
        return solver, (k if fractional else int(k))

    def _fit(self, X):
        """Fit; returns U * S for the kept components when the solver gives it, else None."""
        import scipy.linalg

        X = validate_data(self, X, ensure_min_samples=2)
        n, d = X.shape
        solver, k = self._solver_and_k(X)
        self._fit_svd_solver = solver
        self.mean_ = X.mean(axis=0)
        U = None
        if solver == "full":
            U, S, Vt = scipy.linalg.svd(X - self.mean_, full_matrices=False,
                                        check_finite=False)
            ev = S ** 2 / (n - 1)
        elif solver == "covariance_eigh":
            C = X.T @ X  # SYRK
            C -= n * np.outer(self.mean_, self.mean_)
            C /= n - 1
            # a small d x d eigenproblem is slower with BLAS threads than without
            with _kernels.blas_single_threaded() if d <= 512 else contextlib.nullcontext():
                ev, V = scipy.linalg.eigh(C, check_finite=False)
            ev, Vt = np.maximum(ev[::-1], 0), np.ascontiguousarray(V[:, ::-1].T)
            S = np.sqrt(ev * (n - 1))
        elif solver == "arpack":
            from scipy.sparse.linalg import LinearOperator, svds

            mu = self.mean_
            op = LinearOperator((n, d), dtype=X.dtype,
                                matvec=lambda v: X @ v - mu @ v,
                                rmatvec=lambda u: X.T @ u - mu * u.sum(),
                                matmat=lambda B: X @ B - mu @ B,
                                rmatmat=lambda B: X.T @ B - np.outer(mu, B.sum(axis=0)))
            v0 = check_random_state(self.random_state).uniform(-1, 1, min(n, d))
            U, S, Vt = svds(op, k=k, tol=self.tol, v0=v0.astype(X.dtype))
            U, S, Vt = U[:, ::-1], S[::-1], Vt[::-1]
            ev = S ** 2 / (n - 1)
            total = float(np.var(X, axis=0, ddof=1).sum())
        else:
            rng = check_random_state(self.random_state)
            n_iter = self.iterated_power
            if n_iter == "auto":
                n_iter = 7 if k < 0.1 * min(n, d) else 4
            mu = self.mean_
            size = min(k + int(self.n_oversamples), min(n, d))
            Q = _randomized_range(lambda B: X @ B - np.outer(np.ones(n, X.dtype), mu @ B),
                                  lambda B: X.T @ B - np.outer(mu, B.sum(axis=0)),
                                  d, size, int(n_iter), rng, X.dtype,
                                  self.power_iteration_normalizer)
            B = Q.T @ X - np.outer(Q.sum(axis=0), mu)
            Uh, S, Vt = scipy.linalg.svd(B, full_matrices=False, check_finite=False)
            U = Q @ Uh
            S, Vt, U = S[:k], Vt[:k], U[:, :k]
            ev = S ** 2 / (n - 1)
            total = float(np.var(X, axis=0, ddof=1).sum())
        if solver not in ("randomized", "arpack"):
            total = float(ev.sum())
        if U is not None:  # sign from V, applied to U too
            signs = np.sign(Vt[np.arange(Vt.shape[0]), np.argmax(np.abs(Vt), axis=1)])
            signs[signs == 0] = 1
            Vt = Vt * signs[:, None]
            U = U * signs[None, :]
        else:
            _flip_rows(Vt)
        ratio = ev / total if total > 0 else np.zeros_like(ev)
        if k == "mle":
            k = _mle_dimension(ev, n)
        elif not isinstance(k, numbers.Integral):
            k = int(np.searchsorted(np.cumsum(ratio), k, side="right") + 1)
            k = min(k, len(ev))
        if k < min(n, d):
            self.noise_variance_ = float((total - ev[:k].sum()) / (min(n, d) - k)
                                         if solver in ("randomized", "arpack")
                                         else ev[k:].mean())
        else:
            self.noise_variance_ = 0.0
        self.n_samples_ = n
        self.n_components_ = k
        self.components_ = np.ascontiguousarray(Vt[:k], dtype=X.dtype)
        self.explained_variance_ = ev[:k].astype(X.dtype)
        self.explained_variance_ratio_ = ratio[:k].astype(X.dtype)
        self.singular_values_ = S[:k].astype(X.dtype)
        if U is None:
            return X, None
        return X, (U[:, :k] * (np.sqrt(n - 1) if self.whiten else S[:k])).astype(X.dtype)

    def fit(self, X, y=None):
        """Fit the principal axes of X."""
        self._fit(X)
        return self

    def fit_transform(self, X, y=None):
        """Fit and return the projections of X (from the SVD factors when available)."""
        X, projected = self._fit(X)
        return self._project(X) if projected is None else projected

    def _project(self, X):
        Z = X @ self.components_.T
        Z -= self.mean_ @ self.components_.T
        if self.whiten:
            Z /= np.sqrt(self.explained_variance_)
        return Z

    @property
    def _n_features_out(self):
        return self.components_.shape[0]

    def transform(self, X):
        """(X - mean) V_k, divided by sqrt(explained_variance_) when whitening."""
        check_is_fitted(self, "components_")
        return self._project(validate_data(self, X, reset=False, dtype=self.mean_.dtype))

    def inverse_transform(self, X):
        """Back to input space: Z V_k (times sqrt(variance) if whitened) + mean."""
        check_is_fitted(self, "components_")
        Z = check_array(X, "X", ndim=2)
        check_n_features(Z.shape[1], self, self.n_components_, what="columns")
        V = self.components_
        if self.whiten:
            V = np.sqrt(self.explained_variance_)[:, None] * V
        return Z @ V + self.mean_

    def get_covariance(self):
        """Model covariance V^T diag(max(lambda - sigma^2, 0)) V + sigma^2 I (probabilistic
        PCA); with ``whiten`` the rows of V are scaled by sqrt(lambda) as in scikit-learn."""
        check_is_fitted(self, "components_")
        V = self.components_
        ev = self.explained_variance_
        if self.whiten:
            V = V * np.sqrt(ev)[:, None]
        cov = (V.T * np.maximum(ev - self.noise_variance_, 0)) @ V
        cov.flat[:: cov.shape[0] + 1] += self.noise_variance_
        return cov

    def get_precision(self):
        """Inverse of :meth:`get_covariance` C = W^T D W + sigma^2 I by the matrix
        inversion lemma, C^-1 = I / sigma^2 - W^T (W W^T / sigma^2 + D^-1)^-1 W / sigma^4
        (a k x k inverse; W the rows of V, scaled when whitening, D = lambda - sigma^2);
        with sigma^2 = 0 the d x d covariance is inverted directly (as scikit-learn)."""
        import scipy.linalg

        check_is_fitted(self, "components_")
        d, sigma2 = self.components_.shape[1], self.noise_variance_
        if self.n_components_ == 0:
            return np.eye(d) / sigma2
        if sigma2 == 0:
            return scipy.linalg.inv(self.get_covariance())
        W, ev = self.components_, self.explained_variance_
        if self.whiten:
            W = W * np.sqrt(ev)[:, None]
        diff = np.where(ev > sigma2, ev - sigma2, 0.0)
        inner = W @ W.T / sigma2
        with np.errstate(divide="ignore"):
            inner.flat[:: inner.shape[0] + 1] += 1.0 / diff
        P = W.T @ scipy.linalg.inv(inner) @ W
        P /= -(sigma2 ** 2)
        P.flat[:: d + 1] += 1.0 / sigma2
        return P

    def score_samples(self, X):
        """Log-likelihood of each row under the probabilistic PCA model N(mean_, C),
        C = :meth:`get_covariance`: -(x - mu)^T C^-1 (x - mu) / 2 - (d log 2 pi +
        log det C) / 2."""
        check_is_fitted(self, "components_")
        X = validate_data(self, X, reset=False, dtype=self.mean_.dtype)
        P = self.get_precision()
        Xc = X - self.mean_
        logdet = np.linalg.slogdet(P)[1]
        return -0.5 * np.einsum("ij,ij->i", Xc @ P, Xc) \
            - 0.5 * (X.shape[1] * np.log(2 * np.pi) - logdet)

    def score(self, X, y=None):
        """Mean of :meth:`score_samples` over the rows of X."""
        return float(np.mean(self.score_samples(X)))


def _check_psd(vals, dtype):
    """Reject computed eigenvalues of a centred Gram matrix that show it is not PSD: all
    of them < 0, or min < -r max and min < -v with (r, v) = (1e-5, 1e-10) in float64,
    (5e-3, 1e-6) in float32 (scikit-learn's ``_check_psd_eigenvalues`` thresholds)."""
    ratio, value = (1e-5, 1e-10) if dtype == np.float64 else (5e-3, 1e-6)
    top = vals.max() if vals.size else 0.0
    low = vals.min(initial=0.0)
    if top < 0:
        raise ValueError(f"All eigenvalues are negative (maximum is {top:g}). Either the "
                         "matrix is not PSD, or there was an issue while computing the "
                         "eigendecomposition of the matrix.")
    if low < -ratio * top and low < -value:
        raise ValueError(f"There are significant negative eigenvalues ({-low / top:g} of "
                         "the maximum positive). Either the matrix is not PSD, or there "
                         "was an issue while computing the eigendecomposition of the "
                         "matrix.")


class KernelPCA(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Kernel PCA (scikit-learn's ``KernelPCA`` API).

    Parameters
    ----------
    n_components : None or int
        None keeps every component with a positive eigenvalue.
    kernel : "linear", "poly", "rbf", "sigmoid", "cosine" or "precomputed"
        k(x, y) = <x, y>; (gamma <x, y> + coef0)^degree; exp(-gamma ||x - y||^2);
        tanh(gamma <x, y> + coef0); <x, y> / (||x|| ||y||); or X is the Gram matrix.
    gamma : float, default 1 / n_features
    degree, coef0 : kernel parameters
    alpha : float
        Ridge penalty of the pre-image map (``fit_inverse_transform``).
    fit_inverse_transform : bool
        Learn ``inverse_transform`` (not with a precomputed kernel).
    eigen_solver : "auto", "dense", "arpack" or "randomized"
        dense: LAPACK eigh for the top eigenpairs; arpack: Lanczos (scipy eigsh).
        randomized: Halko et al. subspace iteration Q = orth(K^(q+1) Omega) with
        n_components + 10 columns, then eigh of Q^T K~ Q (Rayleigh-Ritz).
        auto: arpack when n_samples > 200 and n_components < 10, else dense.
    tol, max_iter : ARPACK tolerance (0 = machine precision) and iterations
    remove_zero_eig : bool
        Drop zero eigenvalues (always done when n_components is None).
    random_state : None, int or numpy Generator (ARPACK start vector, randomized sketch)
    iterated_power : "auto" or int >= 0
        Power iterations q of the randomized solver ("auto": 7 if n_components <
        0.1 n_samples, else 4).

    Attributes
    ----------
    eigenvalues_, eigenvectors_, X_fit_, X_transformed_fit_, dual_coef_, gamma_,
    n_features_in_
    """

    def __init__(self, n_components=None, *, kernel="linear", gamma=None, degree=3,
                 coef0=1, kernel_params=None, alpha=1.0, fit_inverse_transform=False,
                 eigen_solver="auto", tol=0, max_iter=None, remove_zero_eig=False,
                 random_state=None, copy_X=True, iterated_power="auto"):
        self.n_components = n_components
        self.kernel = kernel
        self.gamma = gamma
        self.degree = degree
        self.coef0 = coef0
        self.kernel_params = kernel_params
        self.alpha = alpha
        self.fit_inverse_transform = fit_inverse_transform
        self.eigen_solver = eigen_solver
        self.tol = tol
        self.max_iter = max_iter
        self.remove_zero_eig = remove_zero_eig
        self.random_state = random_state
        self.copy_X = copy_X
        self.iterated_power = iterated_power

    def _gram(self, X, Y):
        """k(x_i, y_j) for the rows of X and Y (compiled, fused GEMM + kernel)."""
        if self.kernel == "precomputed":
            return X
        _decomposition = _kernels.load("_decomposition")
        dtype = np.result_type(X.dtype, Y.dtype)
        X = np.ascontiguousarray(X, dtype=dtype)
        Y = np.ascontiguousarray(Y, dtype=dtype)
        out = np.empty((X.shape[0], Y.shape[0]), dtype=dtype)
        xn = np.einsum("ij,ij->i", X, X)
        yn = xn if Y is X else np.einsum("ij,ij->i", Y, Y)
        params = {"gamma": self.gamma_, "degree": self.degree, "coef0": self.coef0,
                  **(self.kernel_params or {})}
        with _kernels.blas_single_threaded():
            _decomposition.pairwise_kernel(X, Y, xn, yn, _KERNEL_CODES[self.kernel],
                                           float(params["gamma"]), float(params["coef0"]),
                                           float(params["degree"]), out,
                                           _kernels.threads_for(X.shape[0], 64))
        return out

    def _center(self, K):
        _decomposition = _kernels.load("_decomposition")
        K = np.ascontiguousarray(K)
        _decomposition.center_kernel(K, self._fit_col_means.astype(K.dtype),
                                     self._fit_all_mean, _kernels.threads_for(K.shape[0], 64))
        return K

    _parameter_constraints = {
        "n_components": [None, Interval(numbers.Integral, 1)],
        "kernel": [Options(*_KERNEL_CODES, "precomputed")],
        "gamma": [None, Interval(numbers.Real, 0)],
        "eigen_solver": [Options("auto", "dense", "arpack", "randomized")],
        "iterated_power": [Options("auto"), Interval(numbers.Integral, 0)],
        "alpha": [Interval(numbers.Real, 0)],
    }

    def fit(self, X, y=None):
        """Eigen-decompose the centred Gram matrix of X."""
        if self.fit_inverse_transform and self.kernel == "precomputed":
            raise ValueError("Cannot fit_inverse_transform with a precomputed kernel.")
        X = validate_data(self, X)
        if self.kernel == "precomputed":
            check_square(X, "X (a precomputed kernel)")
        self.gamma_ = 1.0 / X.shape[1] if self.gamma is None else float(self.gamma)
        n = X.shape[0]
        k = n if self.n_components is None else min(n, int(self.n_components))
        K = np.array(self._gram(X, X), copy=True) if self.kernel == "precomputed" \
            else self._gram(X, X)
        self._fit_col_means = K.mean(axis=0)
        self._fit_all_mean = float(self._fit_col_means.mean())
        K = self._center(K)
        solver = self.eigen_solver
        if solver == "auto":
            solver = "arpack" if n > 200 and k < 10 else "dense"
        if solver == "arpack" and k >= n:
            solver = "dense"
        if solver == "dense":
            import scipy.linalg

            vals, vecs = scipy.linalg.eigh(K, subset_by_index=(n - k, n - 1),
                                           check_finite=False)
        elif solver == "randomized":
            import scipy.linalg

            n_iter = self.iterated_power
            if n_iter == "auto":
                n_iter = 7 if k < 0.1 * n else 4
            Q = _randomized_range(K.__matmul__, K.__matmul__, n, min(n, k + 10), n_iter,
                                  check_random_state(self.random_state), K.dtype)
            vals, w = scipy.linalg.eigh(Q.T @ K @ Q, check_finite=False)
            top = np.argsort(np.abs(vals), kind="stable")[-k:]  # by modulus, as sklearn
            vals, vecs = vals[top], Q @ w[:, top]
        else:
            from scipy.sparse.linalg import eigsh

            v0 = check_random_state(self.random_state).uniform(-1, 1, n)
            vals, vecs = eigsh(K, k, which="LA", tol=self.tol, maxiter=self.max_iter,
                               v0=v0)
        _check_psd(vals, K.dtype)
        # negative and relatively tiny eigenvalues are round-off of zeros (as scikit-learn)
        tiny = (1e-12 if K.dtype == np.float64 else 2e-7) * max(vals.max(initial=0), 0)
        vals = np.where(vals < tiny, 0, vals)
        vecs = _flip_rows(np.ascontiguousarray(vecs.T)).T
        order = np.argsort(vals, kind="stable")[::-1]
        vals, vecs = vals[order], vecs[:, order]
        if self.remove_zero_eig or self.n_components is None:
            keep = vals > 0
            vals, vecs = vals[keep], vecs[:, keep]
        self.eigenvalues_ = vals.astype(X.dtype)
        self.eigenvectors_ = np.ascontiguousarray(vecs, dtype=X.dtype)
        self.X_fit_ = X.copy() if self.copy_X else X
        if self.fit_inverse_transform:
            self._fit_inverse(self.eigenvectors_ * np.sqrt(self.eigenvalues_), X)
        return self

    def _fit_inverse(self, Z, X):
        """Kernel ridge pre-image map: dual_coef = (k(Z, Z) + alpha I)^-1 X."""
        from fastml.linalg import _cho_solve, _cholesky

        G = self._gram(Z, Z)
        G.flat[:: G.shape[0] + 1] += self.alpha
        L, _ = _cholesky(G, True, "auto")
        self.dual_coef_ = _cho_solve(L, np.array(X, dtype=L.dtype, order="C"))
        self.X_transformed_fit_ = Z

    def fit_transform(self, X, y=None):
        """Fit; the projections of the training points are a_j sqrt(lambda_j)."""
        self.fit(X)
        return self.eigenvectors_ * np.sqrt(self.eigenvalues_)

    @property
    def _n_features_out(self):
        return self.eigenvalues_.shape[0]

    def transform(self, X):
        """Projections of new points: K~(X, X_fit) a_j / sqrt(lambda_j)."""
        check_is_fitted(self, "eigenvectors_")
        X = validate_data(self, X, reset=False, dtype=self.X_fit_.dtype)
        K = self._center(self._gram(X, self.X_fit_).astype(self.X_fit_.dtype, copy=True)
                         if self.kernel == "precomputed" else self._gram(X, self.X_fit_))
        scaled = np.zeros_like(self.eigenvectors_)
        nz = self.eigenvalues_ > 0
        scaled[:, nz] = self.eigenvectors_[:, nz] / np.sqrt(self.eigenvalues_[nz])
        return K @ scaled

    def inverse_transform(self, X):
        """Pre-images k(X, Z_fit) dual_coef_ (needs ``fit_inverse_transform=True``)."""
        check_is_fitted(self, "eigenvectors_")
        if not self.fit_inverse_transform:
            raise _also_sklearns(NotFittedError)(
                "The fit_inverse_transform parameter was not set to True when "
                "instantiating and hence the inverse transform is not available.")
        Z = check_array(X, "X", ndim=2, dtype=self.X_transformed_fit_.dtype)
        check_n_features(Z.shape[1], self, self.X_transformed_fit_.shape[1], what="columns")
        return self._gram(Z, self.X_transformed_fit_) @ self.dual_coef_
