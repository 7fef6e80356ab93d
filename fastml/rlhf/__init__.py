"""RLHF on :class:`fastml.models.GPT`: reward model from preferences, PPO with a KL
penalty, and the DPO family, checkable end to end on a synthetic task with a known rule.

- Task: :class:`CharCountTask` (Markov-chain text, true reward = count of a target
  character, Bradley-Terry labelled :class:`PreferencePairs`), :func:`sft_train`.
- :func:`sequence_logprobs`: per-token and summed completion log-probs, with backward.
- Reward model: :class:`RewardModel` (GPT backbone + scalar head), :class:`RewardTrainer`.
- :class:`PPOTrainer` (per-token KL penalty, GAE, clipped losses, adaptive KL) and
  :class:`DPOTrainer` (reference log-probs precomputed once).
- Losses with gradients: :func:`dpo_loss` (sigmoid, hinge, ipo, robust, reference-free),
  :func:`bradley_terry_loss` (margin, reward centering), :func:`gae`,
  :func:`ppo_policy_loss`, :func:`ppo_value_loss`, :func:`whiten`,
  :class:`AdaptiveKLController`.
"""

from fastml.rlhf._dpo import DPOTrainer
from fastml.rlhf._logprobs import SequenceLogprobs, sequence_logprobs
from fastml.rlhf._losses import (
    AdaptiveKLController,
    bradley_terry_loss,
    dpo_loss,
    gae,
    ppo_policy_loss,
    ppo_value_loss,
    whiten,
)
from fastml.rlhf._ppo import PPOTrainer
from fastml.rlhf._reward import RewardModel, RewardTrainer
from fastml.rlhf._sft import sft_train
from fastml.rlhf._task import CharCountTask, PreferencePairs

__all__ = ["AdaptiveKLController", "CharCountTask", "DPOTrainer", "PPOTrainer",
           "PreferencePairs", "RewardModel", "RewardTrainer", "SequenceLogprobs",
           "bradley_terry_loss", "dpo_loss", "gae", "ppo_policy_loss", "ppo_value_loss",
           "sequence_logprobs", "sft_train", "whiten"]
