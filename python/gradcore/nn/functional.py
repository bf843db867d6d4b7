"""Differentiable operations with PyTorch's names, arguments and defaults: an import-only
facade over gradcore.ops (one module per op family; see gradcore/ops/__init__.py)."""

from gradcore.ops.activation import gelu, leaky_relu, relu, sigmoid, silu, tanh
from gradcore.ops.conv import conv2d
from gradcore.ops.conv_transpose import conv_transpose2d
from gradcore.ops.dropout import dropout
from gradcore.ops.linear import linear
from gradcore.ops.loss import (
    binary_cross_entropy_with_logits,
    cross_entropy,
    l1_loss,
    mse_loss,
    nll_loss,
)
from gradcore.ops.matmul import matmul
from gradcore.ops.norm import batch_norm
from gradcore.ops.pool import adaptive_avg_pool2d, avg_pool2d, max_pool2d
from gradcore.ops.shape import flatten
from gradcore.ops.softmax import log_softmax, softmax
from gradcore.ops.window import window_out_size as pad_size_out

__all__ = [
    "conv2d",
    "conv_transpose2d",
    "max_pool2d",
    "avg_pool2d",
    "adaptive_avg_pool2d",
    "linear",
    "relu",
    "leaky_relu",
    "sigmoid",
    "tanh",
    "gelu",
    "silu",
    "softmax",
    "log_softmax",
    "dropout",
    "batch_norm",
    "cross_entropy",
    "nll_loss",
    "mse_loss",
    "l1_loss",
    "binary_cross_entropy_with_logits",
    "flatten",
    "matmul",
    "pad_size_out",
]
