"""Fuzz specs of fastml.vi."""


from fastml import vi
from fuzz_specs import Spec


def _gauss(rng, dtype, names=("mu", "log_var", "eps")):
    return {n: (0.5 * rng.standard_normal((4, 3))).astype(dtype) for n in names}


SPECS = [
    Spec("fastml.vi.reparameterize", _gauss, lambda **kw: vi.reparameterize(**kw),
         any_ndim=("mu", "log_var", "eps"), same_length=(("mu", "log_var", "eps"),)),
    Spec("fastml.vi.reparameterize_backward",
         lambda rng, dtype: _gauss(rng, dtype, ("grad_z", "log_var", "eps")),
         lambda **kw: vi.reparameterize_backward(**kw),
         any_ndim=("grad_z", "log_var", "eps"), same_length=(("grad_z", "log_var", "eps"),)),
    Spec("fastml.vi.kl_standard_normal", lambda rng, dtype: _gauss(rng, dtype, ("mu", "log_var")),
         lambda **kw: vi.kl_standard_normal(**kw), any_ndim=("mu", "log_var"),
         same_length=(("mu", "log_var"),)),
    Spec("fastml.vi.kl_standard_normal_backward",
         lambda rng, dtype: _gauss(rng, dtype, ("mu", "log_var")),
         lambda **kw: vi.kl_standard_normal_backward(**kw), any_ndim=("mu", "log_var"),
         same_length=(("mu", "log_var"),)),
]
