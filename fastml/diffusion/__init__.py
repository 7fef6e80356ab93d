"""Diffusion models: noise schedules, DDPM / DDIM sampling, training, score SDEs, guidance.

Schedulers follow Hugging Face diffusers' parameters and semantics (``DDPMScheduler``,
``DDIMScheduler``), so a schedule and every ``step`` can be checked against it.
"""

from fastml.diffusion._schedulers import (
    DDIMScheduler,
    DDPMScheduler,
    NoiseSchedule,
    SchedulerOutput,
)

__all__ = ["DDIMScheduler", "DDPMScheduler", "NoiseSchedule", "SchedulerOutput"]
