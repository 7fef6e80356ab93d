"""RLHF on :class:`fastml.models.GPT`: reward model from preferences, PPO with a KL
penalty, and the DPO family, checkable end to end on a synthetic task with a known rule.

- Losses with gradients: :func:`dpo_loss` (sigmoid, hinge, ipo, robust, reference-free),
  :func:`bradley_terry_loss` (margin, reward centering), :func:`gae`,
  :func:`ppo_policy_loss`, :func:`ppo_value_loss`, :func:`whiten`,
  :class:`AdaptiveKLController`.
"""

from fastml.rlhf._losses import (
    AdaptiveKLController,
    bradley_terry_loss,
    dpo_loss,
    gae,
    ppo_policy_loss,
    ppo_value_loss,
    whiten,
)

__all__ = ["AdaptiveKLController", "bradley_terry_loss", "dpo_loss", "gae",
           "ppo_policy_loss", "ppo_value_loss", "whiten"]
