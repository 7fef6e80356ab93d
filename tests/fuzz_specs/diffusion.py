"""Fuzz specs of fastml.diffusion."""

import numpy as np

from fastml import diffusion
from fuzz_specs import HUGE, Spec


def _pair(rng, dtype):
    return {"x0": rng.standard_normal((4, 3)).astype(dtype),
            "noise": rng.standard_normal((4, 3)).astype(dtype)}


def _scheduler_spec(cls, step_options):
    def run(x0, noise, **params):
        s = cls(num_train_timesteps=10, **params)
        xt = s.add_noise(x0, noise, 7)
        s.set_timesteps(5)
        out = s.step(noise, int(s.timesteps[1]), xt, variance_noise=x0, **step_options)
        return xt, s.get_velocity(x0, noise, 2), out.prev_sample, out.pred_original_sample

    return Spec(f"fastml.diffusion.{cls.__name__}", _pair, run,
                same_length=(("x0", "noise"),),
                aliases={"x0": ("original_samples", "sample", "variance_noise", "timesteps"),
                         "noise": ("noise", "model_output")},
                bad_params={"beta_schedule": ["cubic"], "prediction_type": ["score"],
                            "timestep_spacing": ["middle"], "beta_start": [0.0, np.nan, 2.0],
                            "clip_sample_range": [0.0, -1.0], "steps_offset": [-1, HUGE]})


SPECS = [
    _scheduler_spec(diffusion.DDPMScheduler, {}),
    _scheduler_spec(diffusion.DDIMScheduler, {"eta": 0.5}),
]

EXEMPT = {
    "fastml.diffusion.NoiseSchedule": "base of the schedulers, fuzzed through them",
    "fastml.diffusion.SchedulerOutput": "a namedtuple of results",
}
