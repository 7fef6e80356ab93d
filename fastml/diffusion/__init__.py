"""Diffusion models: noise schedules, DDPM / DDIM sampling, training, guidance.

Schedulers follow Hugging Face diffusers' parameters and semantics (``DDPMScheduler``,
``DDIMScheduler``), so a schedule and every ``step`` can be checked against it.
:func:`train_step` trains a denoiser (:class:`fastml.models.DiffusionMLP`) with explicit
backward; :func:`sample` runs the batched reverse process, with classifier-free guidance.
:class:`VPSDE` / :class:`VESDE` with :func:`sde_train_step` (denoising score matching) and
:func:`sde_sample` (reverse SDE or probability-flow ODE) are the continuous-time view.
"""

from fastml.diffusion._guidance import guided_output, rescale_guidance
from fastml.diffusion._sampling import sample
from fastml.diffusion._schedulers import (
    DDIMScheduler,
    DDPMScheduler,
    NoiseSchedule,
    SchedulerOutput,
)
from fastml.diffusion._sde import VESDE, VPSDE, sde_sample, sde_train_step
from fastml.diffusion._training import diffusion_loss, train_step

__all__ = ["DDIMScheduler", "DDPMScheduler", "NoiseSchedule", "SchedulerOutput",
           "VESDE", "VPSDE", "diffusion_loss", "guided_output", "rescale_guidance", "sample",
           "sde_sample", "sde_train_step", "train_step"]
