"""fastml.optimize's raise statements that are not single-argument checks (see
__init__.py)."""

RAISES = {
    "fastml/optimize/_constrained.py": {
        "cross-argument: A's columns and b's length against P and A; a constraint given "
        "without its Jacobian; the Jacobian's shape against the constraint's value": 3,
        "numerical: fun(x0) or a constraint at x0 is not finite (the user's function, "
        "evaluated)": 2,
    },
    "fastml/optimize/_minimize.py": {
        "cross-argument: bounds against the number of variables, lb > ub, bounds with a "
        "method or a prox that cannot take them, options unknown to the method, "
        "step='exact' without hess": 6,
        "data content: a bounds entry that is not a (lo, hi) pair, or NaN in bounds (None "
        "and +-inf are allowed)": 2,
        "numerical: fun(x0) is not finite (the user's function, evaluated)": 1,
    },
    "fastml/optimize/_qp.py": {
        "cross-argument: G without h (or A without b), their columns against q, lb/ub "
        "against n, lb > ub": 4,
        "data content: P not positive semidefinite (Cholesky of P + 1e-5 ||P|| I fails)": 1,
    },
}
