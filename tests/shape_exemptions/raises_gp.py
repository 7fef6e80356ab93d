"""Raises in fastml/gp/ that are not single-argument checks (see __init__.py)."""
RAISES = {
    "fastml/gp/_gpr.py": {
        "cross-argument: alpha has one entry per sample of X": 1,
        "cross-argument: n_restarts_optimizer > 0 needs the kernel's bounds finite": 1,
        "cross-argument: eval_gradient needs theta": 1,
        "cross-argument: theta vs the fitted kernel's free hyperparameters": 1,
        "cross-argument: return_std and return_cov together": 1,
        "cross-argument: alpha is required after a fit with per-sample alpha": 1,
    },
    "fastml/gp/_sparse.py": {
        "data content: the kernel's structure (a stationary kernel, optionally times a "
        "ConstantKernel)": 1,
        "data content: noise_level_bounds has low <= high": 1,
    },
    "fastml/gp/kernels.py": {
        "cross-argument: bounds rows vs the hyperparameter's n_elements": 1,
        "data content: bounds have lower <= upper in every row": 1,
        "protocol: set_params names a parameter the kernel does not have": 1,
        "cross-argument: theta vs the kernel's free hyperparameters": 2,
        "cross-argument: eval_gradient with Y": 2,
        "cross-argument: X and Y features": 1,
        "cross-argument: an anisotropic length_scale vs X's features": 1,
    },
}
