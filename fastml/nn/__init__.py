"""Neural networks with explicit forward and backward passes (PyTorch-like API).

Each :class:`Module` implements ``forward(x)`` and ``backward(grad_out) -> grad_in``
(adding parameter gradients to ``param.grad``): backpropagation written out, no tape.
Names, shapes and defaults follow PyTorch, so ``load_state_dict`` accepts a
``torch.nn`` module's ``state_dict()``. Layers default to float32.

A training step, for float32 inputs ``x`` (batch, 64) and integer labels ``y``::

    import fastml.nn as nn
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    loss_fn, opt = nn.CrossEntropyLoss(), nn.Adam(model.parameters(), lr=1e-3)
    loss = loss_fn(model(x), y)            # forward, returns a float
    opt.zero_grad()
    model.backward(loss_fn.backward())     # d loss / d logits, back through every layer
    opt.step()

Compiled kernels (``fastml.kernels._nn``) are loaded on first use, so importing this
package is cheap.
"""

from fastml.nn import functional, init, optim, utils
from fastml.nn._attention import MultiheadAttention
from fastml.nn._gradcheck import GradcheckError, gradcheck
from fastml.nn._layers import (
    GELU,
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    Conv1d,
    Conv2d,
    Dropout,
    Embedding,
    Flatten,
    Identity,
    LayerNorm,
    LeakyReLU,
    Linear,
    MaxPool2d,
    ReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Tanh,
)
from fastml.nn._loss import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss
from fastml.nn._module import Module, Parameter, Residual, Sequential
from fastml.nn._rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from fastml.nn._transformer import (
    PackedSelfAttention,
    RMSNorm,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
)
from fastml.nn.init import manual_seed
from fastml.nn.optim import (
    SGD,
    Adam,
    AdamW,
    CosineAnnealingLR,
    LinearLR,
    SequentialLR,
    StepLR,
)
from fastml.nn.utils import clip_grad_norm_

__all__ = [
    "GELU", "SGD", "Adam", "AdamW", "AvgPool2d", "BCEWithLogitsLoss", "BatchNorm1d",
    "BatchNorm2d", "Conv1d", "Conv2d", "CosineAnnealingLR", "CrossEntropyLoss", "Dropout",
    "Embedding", "Flatten", "GradcheckError", "Identity", "LayerNorm", "LeakyReLU", "Linear",
    "LinearLR", "MSELoss", "MaxPool2d", "Module", "MultiheadAttention", "Parameter",
    "Perceptron", "ReLU", "Residual", "SequentialLR", "Sequential", "Sigmoid", "SiLU", "Softmax",
    "StepLR", "Tanh",
    "GRU", "GRUCell", "LSTM", "LSTMCell", "RNN", "RNNCell",
    "PackedSelfAttention", "RMSNorm", "TransformerDecoderLayer", "TransformerEncoder",
    "TransformerEncoderLayer",
    "clip_grad_norm_", "functional", "gradcheck", "init", "manual_seed", "optim", "utils",
]


def __getattr__(name):
    # The Rosenblatt perceptron lives with the other linear models; re-exported lazily.
    if name == "Perceptron":
        from fastml.linear_model import Perceptron

        return Perceptron
    raise AttributeError(f"module 'fastml.nn' has no attribute {name!r}")
