"""Models built from :mod:`fastml.nn` layers, each with explicit forward and backward.

- :class:`GPT` / :class:`GPTConfig`: decoder-only Transformer language model (nanoGPT's
  layout and names), trained with ``forward(idx, targets)`` + ``backward()``, sampled
  with a KV cache by ``generate``.
- :class:`BERT` / :class:`BERTConfig`: bidirectional encoder with a masked-LM head and a
  sequence-classification head; :func:`mask_tokens` is BERT's 15% / 80-10-10 masking.
- :class:`Autoencoder` / :class:`VAE`: MLP autoencoder and variational autoencoder
  (reparameterised Gaussian encoder, Bernoulli or Gaussian decoder, IWAE bound).
- :class:`DiffusionMLP` / :class:`DiffusionCNN`: denoisers of :mod:`fastml.diffusion` for
  low-dimensional points and small images, optionally class-conditional.
"""

from fastml.models._autoencoder import VAE, Autoencoder
from fastml.models._bert import BERT, BERTConfig, BERTForSequenceClassification, mask_tokens
from fastml.models._conv_denoiser import DiffusionCNN
from fastml.models._diffusion import DiffusionMLP
from fastml.models._gpt import GPT, GPTConfig

__all__ = ["VAE", "Autoencoder", "BERT", "BERTConfig", "BERTForSequenceClassification",
           "DiffusionCNN", "DiffusionMLP", "GPT", "GPTConfig",
           "mask_tokens"]
