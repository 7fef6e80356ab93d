"""Raises in fastml/diffusion/ that are not single-argument checks (see __init__.py)."""
RAISES = {
    "fastml/diffusion/_sampling.py": {
        "cross-argument: give n_samples or x_T": 1,
        "cross-argument: guidance_scale needs a conditional model and labels": 1,
    },
    "fastml/diffusion/_schedulers.py": {
        "data content: timesteps must be whole numbers (integer-valued floats are accepted, "
        "as diffusers)": 1,
        "cross-argument: timesteps vs the batch size": 1,
        "cross-argument: model_output's shape vs sample's (and the learned-variance "
        "channels)": 1,
        "state: step before set_timesteps": 1,
        "cross-argument: a timestep that is not one of the inference timesteps set by "
        "set_timesteps": 1,
    },
    "fastml/diffusion/_sde.py": {
        "cross-argument: give n_samples or x_T": 1,
    },
    "fastml/diffusion/_training.py": {
        "cross-argument: labels given to a model without class conditioning": 1,
    },
}
