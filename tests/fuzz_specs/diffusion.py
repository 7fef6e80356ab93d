"""Fuzz specs of fastml.diffusion."""

import numpy as np

from fastml import diffusion, nn
from fastml.models import DiffusionCNN, DiffusionMLP
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


def _model(dtype, num_classes=None):
    dtype = dtype if dtype in (np.float32, np.float64) else np.float64
    return DiffusionMLP(3, hidden=8, n_blocks=1, time_dim=4, num_classes=num_classes,
                        dtype=dtype, random_state=0)


def _loss_make(rng, dtype):
    return {"model_output": rng.standard_normal((4, 3)).astype(dtype),
            "target": rng.standard_normal((4, 3)).astype(dtype)}


def _timesteps(a):
    """Per-sample timesteps for a batch of ``a``'s length (a scalar for huge or 0-d a)."""
    n = np.shape(a)[0] if np.ndim(a) else HUGE
    return np.resize([0, 3, 9, 5], n) if n < 1000 else 0


def _loss_run(model_output, target, snr_gamma=5.0):
    return diffusion.diffusion_loss(model_output, target, _timesteps(model_output),
                                    diffusion.DDPMScheduler(num_train_timesteps=10),
                                    snr_gamma=snr_gamma)


def _guidance_make(rng, dtype):
    return {"unconditional": rng.standard_normal((4, 3)).astype(dtype),
            "conditional": rng.standard_normal((4, 3)).astype(dtype)}


def _guidance_run(unconditional, conditional, guidance_scale=3.0, guidance_rescale=0.5):
    return (diffusion.guided_output(unconditional, conditional, guidance_scale,
                                    guidance_rescale),
            diffusion.rescale_guidance(unconditional, conditional, guidance_rescale))


def _sample_make(rng, dtype):
    return {"x_T": rng.standard_normal((4, 3)).astype(dtype)}


def _sample_run(x_T, num_inference_steps=3, eta=0.0):
    model = _model(x_T.dtype if isinstance(x_T, np.ndarray) else np.float64, 2)
    s = diffusion.DDIMScheduler(num_train_timesteps=10)
    return diffusion.sample(model, s, x_T=x_T, num_inference_steps=num_inference_steps,
                            eta=eta, labels=_timesteps(x_T) % 2 if np.ndim(x_T) == 2
                            else None, guidance_scale=2.0, random_state=0)


def _train_make(rng, dtype):
    return {"x0": rng.standard_normal((4, 3)).astype(dtype)}


def _train_run(x0, p_uncond=0.1, snr_gamma=None):
    model = _model(x0.dtype if isinstance(x0, np.ndarray) else np.float64)
    opt = nn.SGD(model.parameters(), lr=0.1)
    loss = diffusion.train_step(model, opt, x0, diffusion.DDPMScheduler(num_train_timesteps=10),
                                p_uncond=p_uncond, snr_gamma=snr_gamma, random_state=0)
    return loss, model.input.weight.data


def _sde_train_run(x0, eps=1e-5, beta_max=20.0):
    model = _model(x0.dtype if isinstance(x0, np.ndarray) else np.float64)
    opt = nn.SGD(model.parameters(), lr=0.1)
    sde = diffusion.VPSDE(beta_max=beta_max)
    return diffusion.sde_train_step(model, opt, x0, sde, eps=eps, random_state=0), \
        model.input.weight.data


def _sde_sample_run(x_T, num_steps=4, eps=1e-3, sigma_max=50.0, method="ode"):
    model = _model(x_T.dtype if isinstance(x_T, np.ndarray) else np.float64)
    return diffusion.sde_sample(model, diffusion.VESDE(sigma_max=sigma_max), x_T=x_T,
                                method=method, num_steps=num_steps, eps=eps, random_state=0)


def _cnn_make(rng, dtype):
    return {"x": rng.standard_normal((3, 1, 4, 4)).astype(dtype)}


def _cnn_run(x, channels=3, n_blocks=1, time_dim=4):
    dtype = x.dtype if isinstance(x, np.ndarray) and x.dtype in (np.float32, np.float64) \
        else np.float64
    model = DiffusionCNN(1, 4, channels=channels, n_blocks=n_blocks, time_dim=time_dim,
                         num_classes=2, dtype=dtype, random_state=0)
    out = model.forward(x, _timesteps(x) if np.ndim(x) else 0)
    return out, model.backward(np.ones_like(out))


SPECS = [
    Spec("fastml.models.DiffusionCNN", _cnn_make, _cnn_run, aliases={"x": ("dtype", "t")},
         nonfinite_ok=("x",),
         bad_params={"channels": [0, -1], "n_blocks": [-1], "time_dim": [0, 3]}),
    Spec("fastml.diffusion.sde_train_step", _train_make, _sde_train_run,
         also=("fastml.diffusion.VPSDE",), aliases={"x0": ("dtype",)},
         bad_params={"eps": [-1.0, 2.0, np.nan], "beta_max": [-1.0, np.nan]}),
    Spec("fastml.diffusion.sde_sample", _sample_make, _sde_sample_run,
         also=("fastml.diffusion.VESDE",), aliases={"x_T": ("dtype",)},
         bad_params={"num_steps": [0, -1, HUGE], "eps": [0.0, 1.0, np.nan],
                     "sigma_max": [0.0, np.nan], "method": ["heun"]}),
    _scheduler_spec(diffusion.DDPMScheduler, {}),
    _scheduler_spec(diffusion.DDIMScheduler, {"eta": 0.5}),
    Spec("fastml.diffusion.diffusion_loss", _loss_make, _loss_run,
         same_length=(("model_output", "target"),), aliases={"model_output": ("timesteps",),
                                                             "target": ("model_output",)},
         bad_params={"snr_gamma": [0.0, -1.0, np.nan]}),
    Spec("fastml.diffusion.guided_output", _guidance_make, _guidance_run,
         also=("fastml.diffusion.rescale_guidance",),
         same_length=(("unconditional", "conditional"),),
         aliases={"unconditional": ("conditional", "guided"),
                  "conditional": ("unconditional",)},
         bad_params={"guidance_scale": [np.nan], "guidance_rescale": [-0.1, 1.5, np.nan]}),
    Spec("fastml.diffusion.sample", _sample_make, _sample_run,
         also=("fastml.models.DiffusionMLP",), aliases={"x_T": ("labels", "dtype")},
         bad_params={"num_inference_steps": [0, -1, 11, HUGE], "eta": [-1.0, np.nan]}),
    Spec("fastml.diffusion.train_step", _train_make, _train_run, aliases={"x0": ("dtype",)},
         bad_params={"p_uncond": [-0.1, 1.5], "snr_gamma": [0.0, np.nan]}),
]

EXEMPT = {
    "fastml.diffusion.NoiseSchedule": "base of the schedulers, fuzzed through them",
    "fastml.diffusion.SchedulerOutput": "a namedtuple of results",
}
