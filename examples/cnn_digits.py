"""A small LeNet-style CNN with BatchNorm and a residual block on the 8x8 digits
(>= 98% test accuracy).

    python examples/cnn_digits.py [--epochs 30]

conv 3x3 (16) -> BN -> ReLU -> residual block [conv-BN-ReLU-conv-BN] -> ReLU -> max-pool
-> conv 3x3 (32) -> BN -> ReLU -> max-pool -> flatten -> 128 -> 64 -> 10.
"""

from _digits import command_line, train_and_score

import fastml.nn as nn


def conv_bn(c_in, c_out, relu=True):
    layers = [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out)]
    return layers + [nn.ReLU()] if relu else layers


def build(seed=0, width=16, dropout=0.2):
    nn.manual_seed(seed)
    return nn.Sequential(
        *conv_bn(1, width),
        nn.Residual(nn.Sequential(*conv_bn(width, width),
                                  *conv_bn(width, width, relu=False))),
        nn.ReLU(), nn.MaxPool2d(2),                       # (width, 4, 4)
        *conv_bn(width, 2 * width), nn.MaxPool2d(2),      # (2 width, 2, 2)
        nn.Flatten(), nn.Linear(8 * width, 64), nn.ReLU(),
        nn.Dropout(dropout, random_state=seed), nn.Linear(64, 10))


def main(epochs=30, seed=0, width=16, threads=1, verbose=True):
    """Train and return the test accuracy."""
    return train_and_score(build(seed, width), images=True, lr=3e-3, epochs=epochs,
                           seed=seed, threads=threads, verbose=verbose)


if __name__ == "__main__":
    command_line(main, __doc__.splitlines()[0])
