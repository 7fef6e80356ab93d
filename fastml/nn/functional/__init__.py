"""Stateless neural-network operations with explicit backward functions (PyTorch layouts).

Convolution and pooling live in ``_conv``, attention in ``_attention``, activations and
losses in ``_core``; this module re-exports them all.
"""

from fastml.nn.functional._attention import *  # noqa: F403
from fastml.nn.functional._attention import __all__ as _attention_all
from fastml.nn.functional._conv import *  # noqa: F403
from fastml.nn.functional._conv import __all__ as _conv_all
from fastml.nn.functional._core import *  # noqa: F403
from fastml.nn.functional._core import __all__ as _core_all
from fastml.nn.functional._positional import *  # noqa: F403
from fastml.nn.functional._positional import __all__ as _positional_all
from fastml.nn.functional._rnn import *  # noqa: F403
from fastml.nn.functional._rnn import __all__ as _rnn_all

# _core holds the unchecked elementwise/normalisation cores (fastml.models, fastml.graph)
__cores__ = ("_core",)
__all__ = [*_conv_all, *_attention_all, *_core_all, *_positional_all, *_rnn_all]
