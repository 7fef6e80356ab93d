"""Covariance functions k(x, x') for Gaussian processes, with scikit-learn's conventions.

Every kernel exposes its hyperparameters as ``theta``: the natural logarithms of the
non-fixed hyperparameter values, in alphabetical order of their names (vector-valued
ones flattened), exactly as :mod:`sklearn.gaussian_process.kernels`; ``bounds`` are the
log bounds. So the same ``theta`` gives the same matrix and the same log marginal
likelihood in both libraries.

``kernel(X)`` is K(X, X), ``kernel(X, Y)`` is K(X, Y), and
``kernel(X, eval_gradient=True)`` also returns dK/dtheta of shape (n, n, n_dims), as
scikit-learn does. The Gaussian-process estimators never build that tensor: they use
``kernel._contract(X, W)`` = [sum_ab W_ab dK_ab/dtheta_j]_j computed pair by pair in
compiled code. Stationary kernels (RBF, Matern, RationalQuadratic, ExpSineSquared) are
evaluated by ``fastml.kernels._gp`` with fused loops and OpenMP, never forming the
n x n x d difference tensor. Results have the input's float dtype.
"""

import copy
import inspect
from collections import namedtuple

import numpy as np

from fastml import _kernels
from fastml._validation import (
    check_array,
    check_bounds,
    check_option,
    check_positive,
    check_shape,
    common_float_dtype,
)

__all__ = ["RBF", "ConstantKernel", "DotProduct", "ExpSineSquared", "Hyperparameter",
           "Kernel", "Matern", "Product", "RationalQuadratic", "Sum", "WhiteKernel"]


_PAIRS_PER_THREAD = 250_000  # below this a parallel region costs more than it saves


def _n_threads(n_pairs):
    """OpenMP threads for a kernel touching ``n_pairs`` pairs of points."""
    return _kernels.threads_for(n_pairs, _PAIRS_PER_THREAD)


class Hyperparameter(namedtuple("Hyperparameter",
                                ("name", "value_type", "bounds", "n_elements", "fixed"))):
    """Specification of one kernel hyperparameter (as scikit-learn's).

    ``bounds`` is a pair (lower, upper) of positive floats, or "fixed" to exclude the
    hyperparameter from ``theta``; it is stored as an array of shape (n_elements, 2).
    """

    __slots__ = ()

    def __new__(cls, name, value_type, bounds, n_elements=1, fixed=None):
        if not isinstance(bounds, str) or bounds != "fixed":
            bounds = check_shape(np.atleast_2d(np.asarray(bounds, dtype=float)),
                                 f"bounds of {name}", ("n", 2),
                                 " (a (lower, upper) pair per entry, or 'fixed')")
            if n_elements > 1 and bounds.shape[0] == 1:
                bounds = np.repeat(bounds, n_elements, axis=0)
            elif bounds.shape[0] != n_elements:
                raise ValueError(f"bounds of {name} must have {n_elements} rows, got "
                                 f"{bounds.shape[0]}")
            check_bounds(bounds, f"bounds of {name}", low=0, closed="neither")
            if np.any(bounds[:, 0] > bounds[:, 1]):
                raise ValueError(f"bounds of {name} must have lower <= upper, got "
                                 f"{bounds.tolist()}")
        if fixed is None:
            fixed = isinstance(bounds, str) and bounds == "fixed"
        return super().__new__(cls, name, value_type, bounds, n_elements, fixed)

    def __eq__(self, other):
        return (self.name == other.name and self.value_type == other.value_type
                and np.all(self.bounds == other.bounds)
                and self.n_elements == other.n_elements and self.fixed == other.fixed)

    __hash__ = None


def _check_X(X, name="X"):
    return check_array(X, name, ndim=2)


class Kernel:
    """Base class: parameters, ``theta``/``bounds`` and the algebra of kernels.

    Subclasses implement ``_matrix(X, Y)`` (Y None means K(X, X)), ``_gradient(X)``
    (all hyperparameters, theta order, shape (n, n, p)), ``_contract_all(X, W)``,
    ``diag`` and ``is_stationary``.
    """

    # ---------------------------------------------------------------- parameters
    def get_params(self, deep=True):
        """Constructor arguments (and, for composite kernels with ``deep``, theirs)."""
        names = [p.name for p in inspect.signature(type(self).__init__).parameters.values()
                 if p.name != "self" and p.kind != p.VAR_KEYWORD]
        return {name: getattr(self, name) for name in names}

    def set_params(self, **params):
        """Set parameters; ``k1__length_scale`` reaches into composite kernels."""
        valid = self.get_params(deep=True)
        for key, value in params.items():
            name, _, sub = key.partition("__")
            if name not in valid:
                raise ValueError(f"invalid parameter {name!r} for kernel {self!r}; "
                                 f"valid: {sorted(valid)}")
            if sub:
                valid[name].set_params(**{sub: value})
            else:
                setattr(self, key, value)
        return self

    def clone_with_theta(self, theta):
        """A copy of this kernel with hyperparameters ``theta`` (log space)."""
        cloned = copy.deepcopy(self)
        cloned.theta = theta
        return cloned

    @property
    def hyperparameters(self):
        """Hyperparameter specifications, sorted by name."""
        return [getattr(self, attr) for attr in dir(self) if attr.startswith("hyperparameter_")]

    @property
    def theta(self):
        """Log of the non-fixed hyperparameters (flattened, sorted by name)."""
        params = self.get_params()
        values = [params[h.name] for h in self.hyperparameters if not h.fixed]
        return np.log(np.hstack(values).astype(float)) if values else np.array([])

    @theta.setter
    def theta(self, theta):
        theta = np.asarray(theta, dtype=float).ravel()
        params = self.get_params()
        i = 0
        for h in self.hyperparameters:
            if h.fixed:
                continue
            if h.n_elements > 1:
                params[h.name] = np.exp(theta[i:i + h.n_elements])
            else:
                params[h.name] = float(np.exp(theta[i]))
            i += h.n_elements
        if i != theta.shape[0]:
            raise ValueError(f"theta has {theta.shape[0]} entries but the kernel has {i} "
                             "free hyperparameters")
        self.set_params(**params)

    @property
    def n_dims(self):
        """Number of free (non-fixed) hyperparameters."""
        return self.theta.shape[0]

    @property
    def bounds(self):
        """Log bounds of the free hyperparameters, shape (n_dims, 2)."""
        b = [h.bounds for h in self.hyperparameters if not h.fixed]
        return np.log(np.vstack(b)) if b else np.array([])

    @property
    def requires_vector_input(self):
        return True

    def _free_mask(self):
        """Boolean mask over all hyperparameter entries (theta order): not fixed."""
        return np.concatenate([np.full(h.n_elements, not h.fixed)
                               for h in self.hyperparameters] or [np.zeros(0, bool)])

    # ---------------------------------------------------------------- evaluation
    def __call__(self, X, Y=None, eval_gradient=False):
        """K(X, Y) (K(X, X) when Y is None), optionally with dK/dtheta.

        Returns K of shape (n, m) and, with ``eval_gradient`` (only for Y None), the
        gradient with respect to ``theta``, shape (n, n, n_dims).
        """
        X = _check_X(X)
        if Y is not None:
            if eval_gradient:
                raise ValueError("eval_gradient can only be used when Y is None")
            Y = _check_X(Y, "Y")
            if Y.shape[1] != X.shape[1]:
                raise ValueError(f"X and Y must have the same number of features, got "
                                 f"{X.shape[1]} and {Y.shape[1]}")
            dtype = common_float_dtype(X, Y)
            X, Y = X.astype(dtype, copy=False), Y.astype(dtype, copy=False)
        self._check_input(X)
        if not eval_gradient:
            return self._matrix(X, Y)
        K, G = self._gradient(X)
        return K, np.ascontiguousarray(G[:, :, self._free_mask()])

    def _check_input(self, X):
        """Raise if the kernel cannot be evaluated on data of this shape."""

    def _contract(self, X, W):
        """[sum_ab W_ab dK(X, X)_ab / dtheta_j] for the free hyperparameters.

        W is symmetric and only its lower triangle is read (C-contiguous, X's dtype).
        """
        return self._contract_all(X, W)[self._free_mask()]

    def diag(self, X):
        """The diagonal of K(X, X), without forming the matrix."""
        raise NotImplementedError

    def is_stationary(self):
        """True when k(x, x') depends on x - x' only."""
        raise NotImplementedError

    # ---------------------------------------------------------------- algebra
    def __add__(self, other):
        return Sum(self, other if isinstance(other, Kernel) else ConstantKernel(other))

    def __radd__(self, other):
        return Sum(other if isinstance(other, Kernel) else ConstantKernel(other), self)

    def __mul__(self, other):
        return Product(self, other if isinstance(other, Kernel) else ConstantKernel(other))

    def __rmul__(self, other):
        return Product(other if isinstance(other, Kernel) else ConstantKernel(other), self)

    def __eq__(self, other):
        if type(self) is not type(other):
            return False
        a, b = self.get_params(), other.get_params()
        return all(np.array_equal(np.asarray(a[k], dtype=object), np.asarray(b[k], dtype=object))
                   for k in a)

    __hash__ = object.__hash__

    def __repr__(self):
        args = ", ".join(f"{k}={_fmt(v)}" for k, v in self.get_params().items()
                         if not k.endswith("_bounds"))
        return f"{type(self).__name__}({args})"


def _fmt(v):
    if np.iterable(v) and not isinstance(v, str):
        return "[" + ", ".join(f"{float(x):.3g}" for x in v) + "]"
    return f"{v:.3g}" if isinstance(v, float) else repr(v)


# -------------------------------------------------------------------- operators
class KernelOperator(Kernel):
    """A kernel built from two kernels ``k1`` and ``k2``; hyperparameters are
    ``k1__<name>`` then ``k2__<name>``."""

    def __init__(self, k1, k2):
        self.k1 = k1
        self.k2 = k2

    def get_params(self, deep=True):
        params = {"k1": self.k1, "k2": self.k2}
        if deep:
            for name in ("k1", "k2"):
                params.update((f"{name}__{k}", v)
                              for k, v in getattr(self, name).get_params().items())
        return params

    @property
    def hyperparameters(self):
        return [Hyperparameter(f"{name}__{h.name}", h.value_type, h.bounds, h.n_elements,
                               h.fixed)
                for name in ("k1", "k2") for h in getattr(self, name).hyperparameters]

    @property
    def theta(self):
        return np.append(self.k1.theta, self.k2.theta)

    @theta.setter
    def theta(self, theta):
        theta = np.asarray(theta, dtype=float).ravel()
        n1 = self.k1.n_dims
        if theta.shape[0] != n1 + self.k2.n_dims:
            raise ValueError(f"theta has {theta.shape[0]} entries but the kernel has "
                             f"{n1 + self.k2.n_dims} free hyperparameters")
        self.k1.theta = theta[:n1]
        self.k2.theta = theta[n1:]

    @property
    def bounds(self):
        b = [k.bounds for k in (self.k1, self.k2) if k.bounds.size]
        return np.vstack(b) if b else np.array([])

    def _check_input(self, X):
        self.k1._check_input(X)
        self.k2._check_input(X)

    def _contract(self, X, W):
        return np.append(*self._contract_parts(X, W))

    def __call__(self, X, Y=None, eval_gradient=False):
        if not eval_gradient:
            return super().__call__(X, Y)
        X = _check_X(X)
        if Y is not None:
            raise ValueError("eval_gradient can only be used when Y is None")
        self._check_input(X)
        return self._gradient(X)

    def is_stationary(self):
        return self.k1.is_stationary() and self.k2.is_stationary()

    def __eq__(self, other):
        return type(self) is type(other) and (
            (self.k1 == other.k1 and self.k2 == other.k2)
            or (self.k1 == other.k2 and self.k2 == other.k1))

    __hash__ = object.__hash__


class Sum(KernelOperator):
    """k(x, x') = k1(x, x') + k2(x, x')."""

    def _matrix(self, X, Y=None):
        K = self.k1._matrix(X, Y)
        K += self.k2._matrix(X, Y)
        return K

    def _gradient(self, X):
        K1, G1 = self.k1(X, eval_gradient=True)
        K2, G2 = self.k2(X, eval_gradient=True)
        return K1 + K2, np.dstack((G1, G2))

    def _contract_parts(self, X, W):
        return self.k1._contract(X, W), self.k2._contract(X, W)

    def diag(self, X):
        return self.k1.diag(X) + self.k2.diag(X)

    def __repr__(self):
        return f"{self.k1!r} + {self.k2!r}"


class Product(KernelOperator):
    """k(x, x') = k1(x, x') k2(x, x'); dK/dtheta_1 = dK1/dtheta_1 * K2 (elementwise)."""

    def _matrix(self, X, Y=None):
        K = self.k1._matrix(X, Y)
        K *= self.k2._matrix(X, Y)
        return K

    def _gradient(self, X):
        K1, G1 = self.k1(X, eval_gradient=True)
        K2, G2 = self.k2(X, eval_gradient=True)
        return K1 * K2, np.dstack((G1 * K2[:, :, None], G2 * K1[:, :, None]))

    def _contract_parts(self, X, W):
        # sum_ab W_ab (dK1 K2)_ab = contraction of dK1 with W * K2; constants scale W.
        parts = []
        for this, other in ((self.k1, self.k2), (self.k2, self.k1)):
            if this.n_dims == 0:
                parts.append(np.zeros(0))
            elif isinstance(other, ConstantKernel):
                parts.append(other.constant_value * this._contract(X, W))
            else:
                parts.append(this._contract(X, W * other._matrix(X)))
        return parts

    def diag(self, X):
        return self.k1.diag(X) * self.k2.diag(X)

    def __repr__(self):
        return f"{self.k1!r} * {self.k2!r}"


# -------------------------------------------------------------------- simple kernels
class ConstantKernel(Kernel):
    """k(x, x') = constant_value; dk/dlog c = c."""

    def __init__(self, constant_value=1.0, constant_value_bounds=(1e-5, 1e5)):
        self.constant_value = constant_value
        self.constant_value_bounds = constant_value_bounds

    @property
    def hyperparameter_constant_value(self):
        return Hyperparameter("constant_value", "numeric", self.constant_value_bounds)

    def _matrix(self, X, Y=None):
        m = X.shape[0] if Y is None else Y.shape[0]
        return np.full((X.shape[0], m), self.constant_value, dtype=X.dtype)

    def _gradient(self, X):
        K = self._matrix(X)
        return K, K[:, :, None].copy()

    def _contract_all(self, X, W):
        return np.array([self.constant_value * _kernels.load("_gp").lower_sym_sum(W)])

    def diag(self, X):
        X = _check_X(X)
        return np.full(X.shape[0], self.constant_value, dtype=X.dtype)

    def is_stationary(self):
        return True

    @property
    def requires_vector_input(self):
        return False


class WhiteKernel(Kernel):
    """k(x, x') = noise_level if x is x' (same sample) else 0; K(X, Y) = 0 for Y given."""

    def __init__(self, noise_level=1.0, noise_level_bounds=(1e-5, 1e5)):
        self.noise_level = noise_level
        self.noise_level_bounds = noise_level_bounds

    @property
    def hyperparameter_noise_level(self):
        return Hyperparameter("noise_level", "numeric", self.noise_level_bounds)

    def _matrix(self, X, Y=None):
        if Y is not None:
            return np.zeros((X.shape[0], Y.shape[0]), dtype=X.dtype)
        K = np.zeros((X.shape[0], X.shape[0]), dtype=X.dtype)
        K.flat[:: X.shape[0] + 1] = self.noise_level
        return K

    def _gradient(self, X):
        K = self._matrix(X)
        return K, K[:, :, None].copy()

    def _contract_all(self, X, W):
        return np.array([self.noise_level * float(np.trace(W))])

    def diag(self, X):
        X = _check_X(X)
        return np.full(X.shape[0], self.noise_level, dtype=X.dtype)

    def is_stationary(self):
        return True

    @property
    def requires_vector_input(self):
        return False


class DotProduct(Kernel):
    """k(x, x') = sigma_0^2 + x . x'; dk/dlog sigma_0 = 2 sigma_0^2."""

    def __init__(self, sigma_0=1.0, sigma_0_bounds=(1e-5, 1e5)):
        self.sigma_0 = sigma_0
        self.sigma_0_bounds = sigma_0_bounds

    @property
    def hyperparameter_sigma_0(self):
        return Hyperparameter("sigma_0", "numeric", self.sigma_0_bounds)

    def _matrix(self, X, Y=None):
        K = X @ (X if Y is None else Y).T
        K += X.dtype.type(self.sigma_0 ** 2)
        return K

    def _gradient(self, X):
        K = self._matrix(X)
        return K, np.full(K.shape + (1,), 2 * self.sigma_0 ** 2, dtype=K.dtype)

    def _contract_all(self, X, W):
        return np.array([2 * self.sigma_0 ** 2 * _kernels.load("_gp").lower_sym_sum(W)])

    def diag(self, X):
        X = _check_X(X)
        return np.einsum("ij,ij->i", X, X) + X.dtype.type(self.sigma_0 ** 2)

    def is_stationary(self):
        return False


# -------------------------------------------------------------------- stationary
class _Stationary(Kernel):
    """Kernels evaluated pair by pair in ``fastml.kernels._gp`` (see its docstring)."""

    _ard_allowed = True

    def _kind(self):
        raise NotImplementedError

    def _p(self):
        """(p0, p1): extra scalar parameters of the compiled kernel."""
        return 0.0, 0.0

    @property
    def anisotropic(self):
        return np.iterable(self.length_scale) and len(self.length_scale) > 1

    @property
    def hyperparameter_length_scale(self):
        n = len(self.length_scale) if self.anisotropic else 1
        return Hyperparameter("length_scale", "numeric", self.length_scale_bounds, n)

    def _length_scale(self, X):
        name = "length_scale" if self._ard_allowed else \
            f"length_scale of {type(self).__name__} (an isotropic kernel: a scalar)"
        ls = check_array(np.squeeze(np.asarray(self.length_scale, dtype=float)), name,
                         ndim=(0, 1) if self._ard_allowed else 0, dtype=None, order=None)
        if ls.ndim == 1 and X.shape[1] != ls.shape[0]:
            raise ValueError(f"Anisotropic kernel must have the same number of dimensions "
                             f"as data ({ls.shape[0]}!={X.shape[1]})")
        return check_bounds(ls, "length_scale", low=0, closed="neither")

    def _check_input(self, X):
        self._length_scale(X)

    def _scaled(self, X):
        """X / length_scale as a C-contiguous array of X's dtype."""
        return np.ascontiguousarray(X / self._length_scale(X).astype(X.dtype))

    def _matrix(self, X, Y=None):
        ops = _kernels.load("_gp")
        Xs = self._scaled(X)
        Ys = Xs if Y is None else self._scaled(Y)
        K = np.empty((X.shape[0], Ys.shape[0]), dtype=X.dtype)
        ops.kernel_matrix(self._kind(), Xs, Ys, *self._p(), K, Y is None,
                          _n_threads(K.size // (2 if Y is None else 1)))
        return K

    def _gradient(self, X):
        ops = _kernels.load("_gp")
        Xs = self._scaled(X)
        n = X.shape[0]
        K = np.empty((n, n), dtype=X.dtype)
        G = np.empty((n, n, ops.n_gradients(self._kind(), X.shape[1], self.anisotropic)),
                     dtype=X.dtype)
        ops.kernel_gradient(self._kind(), Xs, *self._p(), bool(self.anisotropic), K, G,
                            _n_threads(K.size))
        return K, G

    def _contract_all(self, X, W):
        ops = _kernels.load("_gp")
        Xs = self._scaled(X)
        out = np.zeros(ops.n_gradients(self._kind(), X.shape[1], self.anisotropic))
        ops.contract_lower(self._kind(), Xs, np.ascontiguousarray(W, dtype=X.dtype),
                           *self._p(), bool(self.anisotropic), out,
                           _n_threads(X.shape[0] ** 2 // 2))
        return out

    def diag(self, X):
        X = _check_X(X)
        return np.ones(X.shape[0], dtype=X.dtype)

    def is_stationary(self):
        return True


class RBF(_Stationary):
    """Squared exponential: k(x, x') = exp(-||(x - x') / l||^2 / 2).

    ``length_scale`` is a float (isotropic) or an array with one entry per feature (ARD).
    """

    def __init__(self, length_scale=1.0, length_scale_bounds=(1e-5, 1e5)):
        self.length_scale = length_scale
        self.length_scale_bounds = length_scale_bounds

    def _kind(self):
        return _kernels.load("_gp").KINDS["rbf"]


class Matern(_Stationary):
    """Matern kernel with r = ||(x - x') / l|| and smoothness nu in {0.5, 1.5, 2.5, inf}:

    nu=0.5: exp(-r); nu=1.5: (1 + sqrt(3) r) exp(-sqrt(3) r);
    nu=2.5: (1 + sqrt(5) r + 5 r^2 / 3) exp(-sqrt(5) r); nu=inf: the RBF kernel.
    ``nu`` is not a hyperparameter (it is not optimised).
    """

    def __init__(self, length_scale=1.0, length_scale_bounds=(1e-5, 1e5), nu=1.5):
        self.length_scale = length_scale
        self.length_scale_bounds = length_scale_bounds
        self.nu = nu

    def _kind(self):
        if self.nu == np.inf:
            return _kernels.load("_gp").KINDS["rbf"]
        check_option(self.nu, "nu", (0.5, 1.5, 2.5, np.inf))
        return _kernels.load("_gp").KINDS[f"matern{self.nu}"]

    def _check_input(self, X):
        super()._check_input(X)
        self._kind()


class RationalQuadratic(_Stationary):
    """k(x, x') = (1 + d^2 / (2 alpha l^2))^-alpha, d = ||x - x'||; isotropic only.

    theta = [log alpha, log l] (scikit-learn's alphabetical order).
    """

    _ard_allowed = False

    def __init__(self, length_scale=1.0, alpha=1.0, length_scale_bounds=(1e-5, 1e5),
                 alpha_bounds=(1e-5, 1e5)):
        self.length_scale = length_scale
        self.alpha = alpha
        self.length_scale_bounds = length_scale_bounds
        self.alpha_bounds = alpha_bounds

    @property
    def hyperparameter_alpha(self):
        return Hyperparameter("alpha", "numeric", self.alpha_bounds)

    def _kind(self):
        return _kernels.load("_gp").KINDS["rq"]

    def _check_input(self, X):
        super()._check_input(X)
        check_positive(self.alpha, "alpha")

    def _p(self):
        return float(self.alpha), 0.0


class ExpSineSquared(_Stationary):
    """Periodic kernel k(x, x') = exp(-2 sin^2(pi d / p) / l^2), d = ||x - x'||.

    theta = [log l, log p]; isotropic only.
    """

    _ard_allowed = False

    def __init__(self, length_scale=1.0, periodicity=1.0, length_scale_bounds=(1e-5, 1e5),
                 periodicity_bounds=(1e-5, 1e5)):
        self.length_scale = length_scale
        self.periodicity = periodicity
        self.length_scale_bounds = length_scale_bounds
        self.periodicity_bounds = periodicity_bounds

    @property
    def hyperparameter_periodicity(self):
        return Hyperparameter("periodicity", "numeric", self.periodicity_bounds)

    def _kind(self):
        return _kernels.load("_gp").KINDS["expsine"]

    def _check_input(self, X):
        super()._check_input(X)
        check_positive(self.periodicity, "periodicity")

    def _scaled(self, X):
        self._length_scale(X)
        return X  # distances are unscaled; l and p enter through _p

    def _p(self):
        return float(self.length_scale), float(self.periodicity)
